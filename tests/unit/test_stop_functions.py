"""The runner stops its functions against one deadline (tools/localstack/serve.py,
``stop_functions``): SIGTERM to every group, one shared grace, then SIGKILL to the
groups still running. Waiting the grace for each function in turn held a CI run's stop for
more than 180 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tools.localstack.serve import stop_functions

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
    "time.sleep(60)"
)
STOPS_ON_SIGTERM = "import time; print('ready', flush=True); time.sleep(60)"


class SlowToStop:
    """A Popen stand-in that never exits on SIGTERM, recording the waits it is given."""

    def __init__(self, pid: int, clock: list[float]) -> None:
        self.pid = pid
        self.clock = clock
        self.waits: list[float] = []
        self.killed = False

    def poll(self) -> int | None:
        return -9 if self.killed else None

    def wait(self, timeout: float | None = None) -> int:
        if self.killed:
            return -9
        assert timeout is not None
        self.waits.append(timeout)
        self.clock[0] += timeout  # the time passes while it refuses to stop
        raise subprocess.TimeoutExpired("function", timeout)


def test_every_function_shares_one_grace_before_sigkill(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    procs = {f"f{i}": SlowToStop(1000 + i, clock) for i in range(22)}
    sent: list[tuple[int, int]] = []

    def killpg(pid: int, sig: int) -> None:
        sent.append((pid, sig))
        if sig == signal.SIGKILL:
            procs[f"f{pid - 1000}"].killed = True

    monkeypatch.setattr(os, "killpg", killpg)
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    forgotten: list[int] = []
    killed = stop_functions(procs, grace=10.0, forget=forgotten.append)  # type: ignore[arg-type]

    assert killed == list(procs)
    assert sum(sum(p.waits) for p in procs.values()) == 10.0  # one grace in all, not 22 of them
    assert [sig for _, sig in sent] == [signal.SIGTERM] * 22 + [signal.SIGKILL] * 22
    assert forgotten == [p.pid for p in procs.values()]


def _start(code: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"  # its handler is set
    return proc


def test_real_processes_stop_and_the_stubborn_ones_are_killed() -> None:
    procs: dict[str, Any] = {
        "polite": _start(STOPS_ON_SIGTERM),
        "stubborn": _start(IGNORES_SIGTERM),
        "also_stubborn": _start(IGNORES_SIGTERM),
    }
    try:
        killed = stop_functions(procs, grace=1.0)
        assert killed == ["stubborn", "also_stubborn"]
        assert procs["polite"].returncode == -signal.SIGTERM
        assert procs["stubborn"].returncode == procs["also_stubborn"].returncode == -signal.SIGKILL
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()


def test_an_already_exited_function_is_not_signalled(monkeypatch: pytest.MonkeyPatch) -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    done.wait()
    sent: list[int] = []
    monkeypatch.setattr(os, "killpg", lambda pid, sig: sent.append(sig))
    assert stop_functions({"done": done}, grace=1.0) == []
    assert sent == []
