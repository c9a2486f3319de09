"""The local cluster starts wherever the repository is cloned (issue 15 §8): a checkout under a
directory only its owner may enter (0700, like /root) still gets a working cluster, its data in
a directory the cluster's user owns, linked from the requested path."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from tools.localstack.pgcluster import PgCluster, cluster_user_can_reach, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def private_parent(monkeypatch: pytest.MonkeyPatch):
    parent = Path(tempfile.mkdtemp(prefix="yp-clone-"))  # mkdtemp makes it 0700
    home = Path(tempfile.mkdtemp(prefix="yp-pg-home-"))
    home.chmod(0o755)
    monkeypatch.setenv("YACHTPARTY_PG_HOME", str(home / "clusters"))
    yield parent
    shutil.rmtree(parent, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


def test_a_cluster_starts_from_a_checkout_under_a_0700_parent(private_parent: Path) -> None:
    assert private_parent.stat().st_mode & 0o777 == 0o700
    requested = private_parent / "yachtparty" / ".local" / "pg"
    cluster = PgCluster(datadir=requested, port=free_port())
    cluster.init()
    cluster.start(fast=True)
    try:
        with psycopg.connect(cluster.admin_url, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        cluster.stop()
    assert (cluster.datadir / "PG_VERSION").exists()
    assert cluster_user_can_reach(cluster.datadir)
    if os.geteuid() == 0:
        # The cluster runs as postgres, who cannot enter the 0700 parent: the data moved out.
        assert not str(cluster.datadir).startswith(str(private_parent))
        assert requested.is_symlink() and requested.resolve() == cluster.datadir
        # Starting it again from the same checkout finds the same cluster.
        again = PgCluster(datadir=requested, port=free_port())
        assert again.datadir == cluster.datadir
    else:
        assert cluster.datadir == requested  # the cluster runs as us: the data stays in the clone


def test_a_reachable_path_is_used_as_it_is() -> None:
    reachable = Path(tempfile.mkdtemp(prefix="yp-open-"))
    try:
        reachable.chmod(0o755)
        requested = reachable / "data"
        assert PgCluster(datadir=requested, port=free_port()).datadir == requested
        assert not requested.exists()  # nothing created until init
    finally:
        shutil.rmtree(reachable, ignore_errors=True)
