"""Throwaway clusters left by owners that died are reclaimed (``pgcluster.reclaim_abandoned``).

The directory's name carries its owner's pid (``yp-pg-<pid>-...``). These cover the decisions
without a server; ``tests/integration/test_pgcluster_reclaim.py`` stops a real one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.localstack import pgcluster
from tools.localstack.procfs import live_processes


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _base(root: Path, name: str, *, server_pid: int | None = None) -> Path:
    base = root / name
    (base / "data").mkdir(parents=True)
    if server_pid is not None:
        (base / "data" / "postmaster.pid").write_text(f"{server_pid}\n/some/data\n")
    return base


def test_the_owner_is_read_from_the_name() -> None:
    assert pgcluster.scratch_owner(Path("/dev/shm/yp-pg-4242-x1y2z3_4")) == 4242
    assert pgcluster.scratch_owner(Path("/dev/shm/yp-pg-a1b2c3d4")) is None
    assert pgcluster.scratch_owner(Path("/dev/shm/yp-pg-12345678")) is None  # unmarked, all digits
    assert pgcluster.scratch_owner(Path("/dev/shm/yp-pg-4242-home")) is None


def test_a_dead_owners_directory_is_removed_and_a_live_owners_kept(tmp_path: Path) -> None:
    dead = _base(tmp_path, f"yp-pg-{_dead_pid()}-abcdefgh")
    mine = _base(tmp_path, f"yp-pg-{os.getpid()}-abcdefgh")
    assert pgcluster.reclaim_abandoned(tmp_path) == [dead]
    assert not dead.exists()
    assert mine.exists()


def test_an_unmarked_directory_goes_only_when_no_server_runs_in_it(tmp_path: Path) -> None:
    idle = _base(tmp_path, "yp-pg-idle0001")
    stale = _base(tmp_path, "yp-pg-stale001", server_pid=_dead_pid())
    serving = _base(tmp_path, "yp-pg-serving1")
    assert len(serving.name) == len("yp-pg-") + 8
    # a live process named postgres, started with "-D <its data directory>", as pg_ctl starts the server
    pretend = ["postgres", "-c", "import time; time.sleep(30)", "-D", str(serving / "data")]
    server = subprocess.Popen(pretend, executable=sys.executable)
    (serving / "data" / "postmaster.pid").write_text(f"{server.pid}\n")
    reused = _base(tmp_path, "yp-pg-reused01", server_pid=os.getpid())  # the pid now serves no cluster
    try:
        assert sorted(pgcluster.reclaim_abandoned(tmp_path)) == sorted([idle, stale, reused])
        assert serving.exists()
    finally:
        server.kill()
        server.wait()


def test_other_names_and_links_are_left_alone(tmp_path: Path) -> None:
    other = _base(tmp_path, "yp-bench-pg-123-abcdefgh")
    home = _base(tmp_path, "yp-pg-home-abcdefgh")  # tests/integration/test_pgcluster_location.py
    target = _base(tmp_path, "elsewhere")
    (tmp_path / f"yp-pg-{_dead_pid()}-linklink").symlink_to(target)
    assert pgcluster.reclaim_abandoned(tmp_path) == []
    assert other.exists()
    assert home.exists()
    assert target.exists()


def test_a_new_base_is_named_for_this_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("YACHTPARTY_SCRATCH", str(tmp_path))
    leftover = _base(tmp_path, f"yp-pg-{_dead_pid()}-oldoldol")
    base = pgcluster.make_scratch_base()
    assert base.parent == tmp_path
    assert pgcluster.scratch_owner(base) == os.getpid()
    assert oct(base.stat().st_mode & 0o777) == "0o755"
    assert not leftover.exists()


def test_a_zombie_is_not_alive() -> None:
    """A stopped server stays a zombie until init reaps it (seconds, in some containers)."""
    child = subprocess.Popen(["true"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
        assert child.pid not in live_processes()
    finally:
        child.wait()
    assert os.getpid() in live_processes()
