"""The local stack's orphan guard (``tools/localstack/guard.py``, issue 15 "leaked processes"):
the children a runner registered die with the runner when it is killed with SIGKILL; a clean
``exit`` and a ``forget`` leave them alone; a line the guard does not understand is logged and
ignored. Real processes throughout: ``sleep`` children in sessions of their own, like the
stack's functions and emulator."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from tools.localstack.guard import GuardClient, start_guard

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GONE_WITHIN = 30.0  # a liveness deadline, not a speed figure: the guard needs well under a second
SHORT_GRACE = 2.0  # the guard's grace period in these tests


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pid: int, timeout: float = GONE_WITHIN) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def wait_logged(path: Path, message: str, timeout: float = GONE_WITHIN) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log_lines(path) if path.exists() else []
        if any(line["message"].startswith(message) for line in lines):
            return lines
        time.sleep(0.1)
    pytest.fail(f"{message!r} not in {path}: {path.read_text() if path.exists() else '(no log)'}")


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Children the test starts (each in its own session); killed and reaped at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=10)


def sleeper(children: list[subprocess.Popen[bytes]], setup: str | None = None) -> subprocess.Popen[bytes]:
    """``sleep 300`` in a session of its own; with ``setup``, a Python sleeper that first runs it
    (returning once it has)."""
    if setup is None:
        child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    else:
        script = f"import signal, time\n{setup}\nprint('ready', flush=True)\ntime.sleep(300)"
        child = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True
        )
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    children.append(child)
    return child


@pytest.fixture
def guard(tmp_path: Path) -> Iterator[GuardClient]:
    client = start_guard(tmp_path / "guard.log", grace=SHORT_GRACE)
    yield client
    if client.process.poll() is None:
        client.process.kill()
    client.process.wait(timeout=10)


def end_of_file(guard: GuardClient) -> None:
    """What the kernel does to the pipe when the runner dies."""
    assert guard.process.stdin is not None
    guard.process.stdin.close()
    guard.process.wait(timeout=GONE_WITHIN)


PARENT = """
import subprocess, sys, time
from pathlib import Path
from tools.localstack.guard import start_guard

guard = start_guard(Path(sys.argv[1]))
child = subprocess.Popen(["sleep", "300"], start_new_session=True)
guard.group(child.pid)
print(guard.process.pid, child.pid, flush=True)
time.sleep(300)
"""


def test_a_child_dies_with_its_parent_killed_by_sigkill(tmp_path: Path) -> None:
    """The runner's case: the parent and its whole process group get SIGKILL, no cleanup runs."""
    log = tmp_path / "guard.log"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(log)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert parent.stdout is not None
    guard_pid, child_pid = (int(word) for word in parent.stdout.readline().split())
    wait_logged(log, "guard started")
    try:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert wait_gone(child_pid), f"the registered child {child_pid} outlived its parent"
        assert wait_gone(guard_pid), "the guard did not exit after stopping the children"
    finally:
        for pid in (child_pid, guard_pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    lines = log_lines(log)
    assert {"message": "SIGTERM to process group", "pgid": child_pid}.items() <= next(
        line for line in lines if line.get("pgid") == child_pid
    ).items()


def test_a_clean_exit_leaves_a_registered_child_alone(
    guard: GuardClient, children: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    child = sleeper(children)
    guard.group(child.pid)
    guard._send("exit")  # the runner's last word after its own orderly stop
    end_of_file(guard)
    assert guard.process.returncode == 0
    time.sleep(SHORT_GRACE + 0.5)  # the guard is gone: nothing can come later, but look anyway
    assert alive(child.pid), "a clean exit must not signal anything"
    assert not any("SIGTERM" in line["message"] for line in log_lines(tmp_path / "guard.log"))


def test_the_runner_side_says_exit_only_when_every_child_was_forgotten(
    guard: GuardClient, children: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """``GuardClient.close``: a child the runner did not report stopped is stopped by the guard."""
    stopped, left = sleeper(children), sleeper(children)
    guard.group(stopped.pid)
    guard.group(left.pid)
    guard.forget(stopped.pid)
    guard.close()
    assert wait_gone(left.pid)
    assert alive(stopped.pid)
    log = log_lines(tmp_path / "guard.log")
    assert [line.get("pgid") for line in log if line["message"] == "SIGTERM to process group"] == [left.pid]


def test_forget_is_honoured(guard: GuardClient, children: list[subprocess.Popen[bytes]]) -> None:
    forgotten, kept = sleeper(children), sleeper(children)
    guard.group(forgotten.pid)
    guard.group(kept.pid)
    guard.forget(forgotten.pid)
    end_of_file(guard)
    assert not alive(kept.pid)
    assert alive(forgotten.pid), "a forgotten child was signalled"


def test_garbage_lines_are_logged_and_ignored(
    guard: GuardClient, children: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    assert guard.process.stdin is not None
    garbage = [
        "",
        "group",
        "group abc",
        "group -5",
        "group 1",
        "postmaster 0",
        "cluster relative/data",
        "kill 123",
        "exit now",
        "group \u00b2",
        "group 99999999999999999999",
    ]
    for line in garbage:
        guard._send(line)
    cast(io.TextIOWrapper, guard.process.stdin).buffer.write(b"\xff\xfe not utf-8\n")
    child = sleeper(children)
    guard.group(child.pid)  # the guard still listens after all that
    end_of_file(guard)
    assert not alive(child.pid)
    ignored = [line for line in log_lines(tmp_path / "guard.log") if line["message"].startswith("ignored")]
    assert len(ignored) == len(garbage) + 1
    assert all(line["severity"] == "WARNING" for line in ignored)


def test_a_postmaster_gets_sigint_and_a_stubborn_group_sigkill(
    guard: GuardClient, children: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """SIGINT is PostgreSQL's fast shutdown; a group that ignores SIGTERM is killed after the grace."""
    # PostgreSQL's postmaster stops on SIGINT; this one exits 0 on it and ignores SIGTERM.
    postmaster = sleeper(
        children,
        "signal.signal(signal.SIGINT, lambda *_: exit(0))\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)",
    )
    stubborn = sleeper(children, "signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    guard.postmaster(postmaster.pid)
    guard.group(stubborn.pid)
    end_of_file(guard)
    assert postmaster.wait(timeout=GONE_WITHIN) == 0  # by its SIGINT handler, within the grace
    assert stubborn.wait(timeout=GONE_WITHIN) == -signal.SIGKILL
    messages = [line["message"] for line in log_lines(tmp_path / "guard.log")]
    assert "SIGINT (fast shutdown) to postmaster" in messages
    assert "SIGKILL to process group still there after the grace period" in messages


def fake_postmaster(children: list[subprocess.Popen[bytes]], datadir: Path) -> subprocess.Popen[bytes]:
    """A process that looks like PostgreSQL's postmaster of ``datadir`` to ``/proc``
    (``.../postgres ... -D <datadir>``), stops on SIGINT like it, and writes ``postmaster.pid``."""
    datadir.mkdir()
    script = "\n".join(
        [
            "import signal, time",
            "signal.signal(signal.SIGINT, lambda *_: exit(0))",
            "print('ready', flush=True)",
            "time.sleep(300)",
        ]
    )
    child = subprocess.Popen(
        ["/usr/lib/postgresql/15/bin/postgres", "-c", script, "-D", str(datadir)],
        executable=sys.executable,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    children.append(child)
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    (datadir / "postmaster.pid").write_text(f"{child.pid}\n{datadir}\n")
    return child


def test_a_cluster_registered_before_its_pid_is_known_is_stopped_through_its_pid_file(
    guard: GuardClient, children: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """The runner sends ``cluster <datadir>`` before ``pg_ctl start``; killed while pg_ctl waits, it
    never sent ``postmaster <pid>``. The guard reads the pid from the data directory."""
    postmaster = fake_postmaster(children, tmp_path / "pg")
    guard.cluster(tmp_path / "pg")
    end_of_file(guard)
    assert postmaster.wait(timeout=GONE_WITHIN) == 0  # its SIGINT: PostgreSQL's fast shutdown
    messages = [line["message"] for line in log_lines(tmp_path / "guard.log")]
    assert "postmaster found in its data directory" in messages


def test_a_stale_pid_file_naming_another_process_is_left_alone(
    guard: GuardClient, children: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """A crash leaves ``postmaster.pid`` behind; its pid may belong to anything since: here a
    ``sleep``, and a postmaster of another data directory. Neither is signalled."""
    crashed, reused = tmp_path / "crashed", tmp_path / "reused"
    crashed.mkdir()
    reused.mkdir()
    other = sleeper(children)
    (crashed / "postmaster.pid").write_text(f"{other.pid}\n{crashed}\n")
    elsewhere = fake_postmaster(children, tmp_path / "another-cluster")
    (reused / "postmaster.pid").write_text(f"{elsewhere.pid}\n{reused}\n")
    guard.cluster(crashed)
    guard.cluster(reused)
    end_of_file(guard)
    assert alive(other.pid) and alive(elsewhere.pid)
    assert "postmaster found in its data directory" not in [
        line["message"] for line in log_lines(tmp_path / "guard.log")
    ]


def test_the_guard_ignores_ctrl_c(
    guard: GuardClient, children: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """A Ctrl-C must leave the stop to the runner: the guard neither dies nor kills on SIGINT."""
    child = sleeper(children)
    guard.group(child.pid)
    wait_logged(tmp_path / "guard.log", "guard started")  # its SIGINT handler is in place
    os.kill(guard.process.pid, signal.SIGINT)
    time.sleep(0.5)
    assert guard.process.poll() is None
    assert alive(child.pid)
    end_of_file(guard)
    assert not alive(child.pid)
