"""The whole local stack, started with the README's run command (``make run``).

A stack costs minutes to start on a busy 2-core machine (22 functions import their libraries at
once), so the e2e tests share two, each started on first use and stopped as soon as the next
test to run no longer needs it:
- ``local_stack``: no API key (every agent on its offline brain), for every test that can run on it;
- ``keyed_stack``: ``ANTHROPIC_API_KEY`` set and the model a loopback Messages API that plays each
  agent's model deterministically (``tests/e2e/models.py``).
The e2e tests are one xdist group (one worker, so one of each stack), ordered keyed first, then the
no-key tests (the member stories first: they need the seeded experts not yet asked today), and the
Ctrl-C test last, as it stops the stack it is given (then the direct-push test, on a stack of
its own). The SIGKILL test kills the keyed stack after the other keyed tests. Tests sharing a
stack use their own phones and members and filter their queries to them; a test that stops its
stack gets a fresh one next time.
"""

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

from tools.fakes.anthropic_api import AnthropicFake
from tools.localstack.stack_info import StackInfo, stack_file

from .models import keyed_model

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 420.0
# pytest-timeout's budget for each e2e test (the suite's default is 300 s). It counts fixture
# setup, and the first test on a shared stack starts that stack inside its own setup: the stack
# may take START_TIMEOUT, and the test's own steps come on top.
E2E_TEST_TIMEOUT = 900


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

    def thread_dump(self) -> list[str]:
        """The runner's threads' stacks (its faulthandler answers SIGUSR1) and the output before
        them: what a failed stop shows. The runner is the child of ``make``, ``self.proc``."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        for pid in children.read_text().split() if children.exists() else []:
            os.kill(int(pid), signal.SIGUSR1)
        time.sleep(2.0)  # the dump goes through the same pipe as the output
        return self.output[-120:]


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


@dataclass
class KeyedStack:
    """The keyed stack and the loopback Messages API its functions call (``fake.requests``)."""

    stack: RunningStack
    fake: AnthropicFake


class SharedStack:
    """One stack for the tests that ask for it: started on first use, again if a test stopped it."""

    def __init__(self, *, keyed: bool) -> None:
        self.keyed = keyed
        self.stack: RunningStack | None = None
        self.fake: AnthropicFake | None = None

    def get(self) -> RunningStack:
        if self.stack is not None and self.stack.proc.poll() is None:
            return self.stack
        self.close()
        env: dict[str, str] = {}
        if self.keyed:
            self.fake = AnthropicFake(responder=keyed_model).start()
            env = {"ANTHROPIC_API_KEY": "e2e-key-not-a-secret", "ANTHROPIC_BASE_URL": self.fake.base_url}
        self.stack = start_stack(env)
        return self.stack

    def close(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            shutil.rmtree(self.stack.state_dir, ignore_errors=True)
            self.stack = None
        if self.fake is not None:
            self.fake.stop()
            self.fake = None


SHARED = {"local_stack": SharedStack(keyed=False), "keyed_stack": SharedStack(keyed=True)}
MEMBER_STORIES = "test_member_stories.py"  # first on the no-key stack: the seeded experts are unasked
# Last: the Ctrl-C test stops the shared stack; then the direct-push test, on a stack of its own,
# so the shared stack is not stopped for it and started again after (a start is 30-70 s of the
# e2e worker, the suite's longest). The SIGKILL test kills the keyed stack, after the other keyed
# tests (file order within rank 0).
STOPS_ITS_STACK = {
    "test_the_readme_run_command_stops_everything_on_ctrl_c",
    "test_the_stack_starts_with_direct_push_and_a_text_is_answered_through_it",
}


@pytest.fixture
def local_stack() -> RunningStack:
    """The shared stack with no API key."""
    return SHARED["local_stack"].get()


@pytest.fixture
def keyed_stack() -> KeyedStack:
    """The shared stack with an API key and the loopback model."""
    stack = SHARED["keyed_stack"].get()
    assert SHARED["keyed_stack"].fake is not None
    return KeyedStack(stack, SHARED["keyed_stack"].fake)


@pytest.fixture(scope="session", autouse=True)
def _stop_shared_stacks() -> Iterator[None]:
    yield
    for shared in SHARED.values():
        shared.close()


def _rank(item: pytest.Item) -> int:
    names = getattr(item, "fixturenames", ())
    if "keyed_stack" in names:
        return 0
    if item.path.name == MEMBER_STORIES:
        return 1
    if getattr(item, "originalname", item.name) in STOPS_ITS_STACK:
        return 3
    return 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The e2e tests in stack order (the module docstring), each with ``E2E_TEST_TIMEOUT``; every
    other test keeps its place and its timeout."""
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if item.path.parent == here]
    for i in slots:
        if items[i].get_closest_marker("timeout") is None:
            items[i].add_marker(pytest.mark.timeout(E2E_TEST_TIMEOUT))
    ordered = sorted((items[i] for i in slots), key=_rank)  # stable: file order within a rank
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


EXITED = "function(s) exited: "  # what the runner says when a function's process is gone
OUTPUT_TAIL = 40  # lines of the runner's output in a failed test's report
LOG_TAIL = 30  # lines of each exited function's log


def stack_diagnosis(stack: RunningStack) -> str:
    """What a failed test's report shows of its stack: whether the runner still runs, the end of
    its output and, for each function it saw exit, the end of that function's log (a stack that
    died mid-test otherwise leaves only a refused connection to go on)."""
    code = stack.proc.poll()
    lines = [f"runner: {'running' if code is None else f'exited with {code}'}; state in {stack.state_dir}"]
    lines += ["--- runner output (last lines) ---", *stack.output[-OUTPUT_TAIL:]]
    for line in stack.output:
        if EXITED not in line:
            continue
        names = line.split(EXITED, 1)[1].split(";", 1)[0]
        for name in (n.strip() for n in names.split(",")):
            log = stack.state_dir / "logs" / f"{name}.log"
            text = log.read_text(errors="replace").splitlines() if log.exists() else ["(no log)"]
            lines += [f"--- {name}.log (last lines) ---", *text[-LOG_TAIL:]]
    return "\n".join(lines)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that used a shared stack reports what the stack said (``stack_diagnosis``)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed:
        return
    for fixture, shared in SHARED.items():
        if fixture in getattr(item, "fixturenames", ()) and shared.stack is not None:
            report.sections.append((f"local stack ({fixture})", stack_diagnosis(shared.stack)))


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """A shared stack stops once the next test does not need it (not at the end of the session,
    while this worker runs other tests)."""
    for fixture, shared in SHARED.items():
        uses = fixture in getattr(item, "fixturenames", ())
        next_uses = nextitem is not None and fixture in getattr(nextitem, "fixturenames", ())
        if uses and not next_uses:
            shared.close()
