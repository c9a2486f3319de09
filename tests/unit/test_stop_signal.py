"""The local stack runner stops on SIGTERM however many arrive (tools/localstack/stop_signal.py).

``make run`` stopped by a kill of its process group gets two SIGTERMs close together: the kill's,
and the one make forwards to its child. With the runner's previous ``threading.Event`` (``set`` in
the handler, ``wait`` in the loop), some pairs deadlocked its main thread: this test run on that
code hung at trial 22, 23 and 31 of three runs, and a separate script sending pairs to a fresh
process each time hung 11 times in 200. Each trial sends the pair with a random gap and needs the
child to stop.
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 200
STOP_TIMEOUT = 5.0  # seconds a trial may take to see its stop; a deadlock never does

CHILD = """
import signal, sys
from tools.localstack.stop_signal import StopRequest
for _ in sys.stdin:
    stop = StopRequest()
    stop.install(signal.SIGTERM)
    print("ready", flush=True)
    while not stop.wait(0.01):
        pass
    print("stopped", flush=True)
"""


def _line(proc: subprocess.Popen[str], selector: selectors.BaseSelector) -> str | None:
    assert proc.stdout is not None
    if not selector.select(STOP_TIMEOUT):
        return None
    return proc.stdout.readline().strip()


def _busy_wait(seconds: float) -> None:
    import time

    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass


def test_two_sigterms_close_together_always_stop_the_runner_loop() -> None:
    rng = random.Random(15)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    try:
        for trial in range(TRIALS):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert _line(proc, selector) == "ready"
            _busy_wait(rng.uniform(0.0, 0.005))  # the loop is asleep, or just waking
            os.kill(proc.pid, signal.SIGTERM)
            _busy_wait(rng.uniform(0.0, 0.0005))  # make forwarding the group's SIGTERM
            os.kill(proc.pid, signal.SIGTERM)
            # A stray second signal may stop the next trial at once; that one still says "stopped".
            assert _line(proc, selector) == "stopped", f"trial {trial}: the loop hung after two SIGTERMs"
    finally:
        proc.kill()
        proc.wait()
