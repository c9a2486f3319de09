"""A private PostgreSQL 15 cluster from the machine's server binaries.

Used by the test suite (a throwaway cluster per session) and by the local stack (a
persistent cluster under ``.local/pg``). ``initdb`` refuses to run as root, so when we are
root the cluster belongs to the ``postgres`` system user.

Wherever the repository is cloned: the ``postgres`` user must be able to reach its data
directory, and a clone under a directory only root may enter (``/root``, a 0700 temp dir)
would refuse it ("initdb: could not access directory ... Permission denied"). So when the
cluster's user cannot traverse the path asked for, the data lives in a directory that user
owns, under ``$YACHTPARTY_PG_HOME`` (default ``/var/lib/yachtparty-pg``), one per requested
path (``<name>-<hash of the path>``), and the requested path becomes a symlink to it, so
``.local/pg`` still shows where the data is.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.localstack.procfs import PID_LIMIT, live_processes


def find_pg_bin() -> Path:
    """Directory holding initdb/pg_ctl: $PG_BIN, else the newest /usr/lib/postgresql/*/bin."""
    env = os.environ.get("PG_BIN")
    if env:
        return Path(env)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server binaries not found: install postgresql-15 or set PG_BIN to the folder "
            "holding initdb and pg_ctl"
        )
    return Path(candidates[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# tmpfs on Linux; throwaway clusters go there (mkdtemp: a private directory of our own) when it has room
MEMORY_SCRATCH = Path("/dev/shm")  # noqa: S108
MEMORY_SCRATCH_MIN_FREE = 2 * 1024**3  # bytes free it must have (a test cluster uses well under 1 GiB)


def scratch_dir() -> str | None:
    """Where a throwaway cluster's data should go: ``$YACHTPARTY_SCRATCH`` if set, else
    ``/dev/shm`` when it is a writable directory with 2 GiB free, else None (the system's temp
    directory, for ``tempfile.mkdtemp(dir=...)``).

    Why: each test clones the migrated template (``CREATE DATABASE ... TEMPLATE``), which creates
    about 550 files. On the development machine's ext4 root (mounted with ``discard``) a clone took
    300-600 ms, against about 30 ms on tmpfs; with some 800 such tests that was about 5 minutes of the suite.
    A throwaway cluster runs with durability off anyway (``start(fast=True)``), so memory loses
    nothing it would keep. Never for ``make run``'s cluster, whose data must survive a reboot."""
    override = os.environ.get("YACHTPARTY_SCRATCH")
    if override:
        return override
    try:
        usage = shutil.disk_usage(MEMORY_SCRATCH)
    except OSError:
        return None
    if not os.access(MEMORY_SCRATCH, os.W_OK | os.X_OK) or usage.free < MEMORY_SCRATCH_MIN_FREE:
        return None
    return str(MEMORY_SCRATCH)


SCRATCH_PREFIX = "yp-pg-"  # a throwaway cluster's directory: yp-pg-<owner pid>-<random>


def make_scratch_base() -> Path:
    """A private directory for a throwaway cluster (``<base>/data``), under ``scratch_dir()``,
    named for this process; first, the directories of owners that died are reclaimed
    (``reclaim_abandoned``). The name carries the pid, so the owner is known from the moment the
    directory exists: another session sweeping at the same instant sees a live owner."""
    root = scratch_dir()
    reclaim_abandoned(Path(root or tempfile.gettempdir()))
    base = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=root))
    base.chmod(0o755)  # the cluster runs as the postgres user when we are root
    return base


_MKDTEMP_NAME = "[a-z0-9_]{8}"  # what tempfile.mkdtemp adds after the prefix
_MARKED = re.compile(rf"{SCRATCH_PREFIX}(\d+)-{_MKDTEMP_NAME}")
_UNMARKED = re.compile(rf"{SCRATCH_PREFIX}{_MKDTEMP_NAME}")  # made before names carried the owner


def scratch_owner(base: Path) -> int | None:
    """The owner's pid from a directory's name (``yp-pg-<pid>-<random>``); None for any other name."""
    marked = _MARKED.fullmatch(base.name)
    return int(marked[1]) if marked else None


def reclaim_abandoned(root: Path) -> list[Path]:
    """Stop and delete the throwaway clusters under ``root`` whose owner has died. A test session
    killed outright (SIGKILL, a CI timeout) leaves its server running and its data behind, in
    ``/dev/shm`` holding memory until someone removes it. An unmarked directory (made before
    names carried the owner) is deleted only when no server runs in it. Returns what was removed."""
    removed: list[Path] = []
    live = live_processes()
    for base in sorted(root.glob(f"{SCRATCH_PREFIX}*")):
        if base.is_symlink() or not base.is_dir():
            continue
        owner = scratch_owner(base)
        if owner is None and not _UNMARKED.fullmatch(base.name):
            continue  # not a throwaway cluster's directory (yp-pg-home-..., a test's own)
        if owner in live:
            continue
        datadir = str(base / "data")
        if cluster_postmaster(datadir) is not None:
            if owner is None:
                continue  # an unmarked directory's server may have a live owner: leave it
            pg_ctl = str(find_pg_bin() / "pg_ctl")
            subprocess.run(
                _as_owner([pg_ctl, "-D", datadir, "-m", "immediate", "-w", "stop"]),
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if cluster_postmaster(datadir) is not None:
                continue
        shutil.rmtree(base, ignore_errors=True)
        removed.append(base)
    return removed


CLUSTER_USER_WHEN_ROOT = "postgres"
DEFAULT_PG_HOME = Path("/var/lib/yachtparty-pg")  # root-owned; used only when we run as root


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", CLUSTER_USER_WHEN_ROOT, "--", *cmd]
    return cmd


def pg_home() -> Path:
    """Where data directories go when the requested path is out of the cluster user's reach."""
    return Path(os.environ.get("YACHTPARTY_PG_HOME") or DEFAULT_PG_HOME)


def cluster_user_can_reach(path: Path) -> bool:
    """Can the cluster's user traverse every directory down to ``path`` (its nearest existing part)?"""
    if os.geteuid() != 0:
        return True  # the cluster runs as us
    existing = path
    while not existing.exists():
        existing = existing.parent
    probe = _as_owner(["test", "-x", str(existing)])
    return subprocess.run(probe, check=False, capture_output=True).returncode == 0


def resolve_datadir(requested: Path) -> Path:
    """The data directory to use for ``requested``: itself when the cluster's user can reach it,
    else a directory that user owns under ``pg_home()`` (the requested path links to it)."""
    requested = requested.absolute()
    if requested.is_symlink():
        return requested.resolve()
    if (requested / "PG_VERSION").exists() or cluster_user_can_reach(requested):
        return requested
    digest = hashlib.sha256(str(requested).encode()).hexdigest()[:12]
    home = pg_home()
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o711)  # others may pass through to their own cluster, not list the clusters
    target = home / f"{requested.name}-{digest}"
    requested.parent.mkdir(parents=True, exist_ok=True)
    if not requested.exists():
        requested.symlink_to(target, target_is_directory=True)
    return target


def read_postmaster_pid(datadir: Path) -> int | None:
    """The pid on the first line of a data directory's ``postmaster.pid``; None when there is no
    such file or it does not start with a number (the server is not running, or not yet)."""
    try:
        return int((datadir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cluster_postmaster(datadir: str) -> int | None:
    """The running postmaster of this data directory: the pid in its ``postmaster.pid`` when that
    process runs ``postgres`` with ``-D <datadir>``; None otherwise (not started, stopped, or a
    stale pid file whose pid now belongs to something else)."""
    pid = read_postmaster_pid(Path(datadir))
    if pid is None or not 1 < pid < PID_LIMIT:
        return None
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if not argv[0].endswith(b"postgres"):
        return None
    wanted = os.fsencode(datadir).rstrip(b"/")
    ours = any(flag == b"-D" and value.rstrip(b"/") == wanted for flag, value in itertools.pairwise(argv))
    return pid if ours else None


@dataclass
class PgCluster:
    """A cluster whose data is at ``datadir`` (resolved by ``resolve_datadir``; ``requested`` is
    the path the caller asked for)."""

    datadir: Path
    port: int

    def __post_init__(self) -> None:
        self.requested = self.datadir
        self.datadir = resolve_datadir(self.datadir)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def init(self) -> None:
        if (self.datadir / "PG_VERSION").exists():
            return
        self.datadir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.datadir, CLUSTER_USER_WHEN_ROOT, CLUSTER_USER_WHEN_ROOT)
        self.datadir.chmod(0o700)
        subprocess.run(
            _as_owner(
                [
                    str(find_pg_bin() / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self, fast: bool = False) -> None:
        """Start on loopback. ``fast`` turns durability off (tests only)."""
        opts = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.datadir}",
            "-c max_connections=300",
            "-c shared_buffers=256MB",
        ]
        if fast:
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        subprocess.run(
            _as_owner(
                [
                    str(find_pg_bin() / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.datadir / "server.log"),
                    "-o",
                    " ".join(opts),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def is_running(self) -> bool:
        result = subprocess.run(
            _as_owner([str(find_pg_bin() / "pg_ctl"), "-D", str(self.datadir), "status"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return result.returncode == 0

    def postmaster_pid(self) -> int | None:
        """The server's process id: the first line of ``postmaster.pid``, None when there is none."""
        return read_postmaster_pid(self.datadir)

    def stop(self) -> bool:
        """Fast shutdown; True when the server is stopped (or was not running)."""
        result = subprocess.run(
            _as_owner([str(find_pg_bin() / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return result.returncode == 0 or not self.is_running()

    def create_database(self, name: str, template: str | None = None) -> str:
        create_database(self.admin_url, name, template=template)
        return self.url(name)


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` pointing at database ``name`` instead."""
    from urllib.parse import urlparse, urlunparse

    return urlunparse(urlparse(admin_url)._replace(path="/" + name))


def create_database(admin_url: str, name: str, *, template: str | None = None, replace: bool = False) -> str:
    """Create database ``name`` (from ``template``) unless it exists; ``replace`` drops it first."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if replace:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            conn.execute(stmt)
    return database_url(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, closing its connections."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def accepts_connections(url: str) -> bool:
    """True when the database at ``url`` answers a trivial query."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def listen(conn: Any, channel: str) -> None:
    """Subscribe an autocommit connection to NOTIFY ``channel``."""
    from psycopg import sql

    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
