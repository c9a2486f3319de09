"""The whole local stack, started with the README's run command (``make run``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.localstack.stack_info import StackInfo, stack_file

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 420.0


@dataclass
class RunningStack:
    info: StackInfo
    proc: subprocess.Popen[str]
    output: list[str]
    state_dir: Path
    reader: threading.Thread

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.reader.join(timeout=10)  # every line the stack printed is in `output` from here on
        return self.proc.returncode


def start_stack(extra_env: dict[str, str] | None = None) -> RunningStack:
    state_dir = Path(tempfile.mkdtemp(prefix="yp-stack-"))
    state_dir.chmod(0o755)  # the private cluster runs as the postgres user when we are root
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ANTHROPIC_API_KEY")}
    env.update(extra_env or {})
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"ARGS=--no-chat --state-dir {state_dir}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def _reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line.rstrip())
            if "running; press Ctrl-C" in line:
                ready.set()

    reader = threading.Thread(target=_reader, daemon=True)
    reader.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.wait(0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("local stack did not start:\n" + "\n".join(output[-60:]))
    info = StackInfo.load(stack_file(state_dir))
    return RunningStack(info=info, proc=proc, output=output, state_dir=state_dir, reader=reader)


@contextmanager
def running_stack(extra_env: dict[str, str] | None = None) -> Iterator[RunningStack]:
    stack = start_stack(extra_env)
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(stack.state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def local_stack() -> Iterator[RunningStack]:
    with running_stack() as stack:
        yield stack
