"""A real throwaway cluster whose owner died is stopped and its directory removed.

A test session killed with SIGKILL leaves its server running and, in ``/dev/shm``, its data
holding memory. The next session's ``make_scratch_base`` reclaims it (``reclaim_abandoned``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.localstack import pgcluster
from tools.localstack.pgcluster import PgCluster, free_port
from tools.localstack.procfs import live_processes


@pytest.fixture
def scratch_root() -> Iterator[Path]:
    """A root of our own under the scratch directory, reachable by the cluster's user."""
    root = Path(tempfile.mkdtemp(prefix="yp-reclaim-", dir=pgcluster.scratch_dir()))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    return pid in live_processes()  # a stopped server may be a zombie until init reaps it


def test_a_dead_owners_running_cluster_is_stopped_and_removed(scratch_root: Path) -> None:
    owner = subprocess.Popen(["true"])
    owner.wait()
    base = Path(tempfile.mkdtemp(prefix=f"{pgcluster.SCRATCH_PREFIX}{owner.pid}-", dir=scratch_root))
    base.chmod(0o755)
    cluster = PgCluster(datadir=base / "data", port=free_port())
    cluster.init()
    cluster.start(fast=True)
    server = cluster.postmaster_pid()
    assert server is not None
    assert _alive(server)
    try:
        assert pgcluster.reclaim_abandoned(scratch_root) == [base]
        assert not _alive(server)
        assert not base.exists()
    finally:
        if base.exists():
            cluster.stop()


def test_a_live_owners_cluster_is_left_running(scratch_root: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix=f"{pgcluster.SCRATCH_PREFIX}{os.getpid()}-", dir=scratch_root))
    base.chmod(0o755)
    cluster = PgCluster(datadir=base / "data", port=free_port())
    cluster.init()
    cluster.start(fast=True)
    try:
        assert pgcluster.reclaim_abandoned(scratch_root) == []
        assert cluster.is_running()
    finally:
        cluster.stop()
