"""What the benchmarks share: a PostgreSQL server to measure against and a fresh, migrated
database on it.

``DATABASE_URL``, if set, names a server to use (it must allow CREATE DATABASE); otherwise a
throwaway cluster is started under a temporary directory and removed afterwards. Used by
``bench.account_manager``, ``bench.community``, ``bench.dispatch`` and ``bench.load``; and the
whole local stack started in a throwaway directory (``local_stack``), used by ``bench.pipeline``
and ``bench.load``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared import config
from shared.adapters import postgres
from tools.localstack.migrate import migrate
from tools.localstack.pgcluster import PgCluster, create_database, free_port
from tools.localstack.stack_info import StackInfo, stack_file

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def postgres_server() -> Iterator[str]:
    """The admin URL of ``DATABASE_URL``'s server, or of a private throwaway cluster."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    base = Path(tempfile.mkdtemp(prefix="yp-bench-pg-"))
    base.chmod(0o755)  # the cluster runs as the postgres user when we are root
    cluster = PgCluster(datadir=base / "data", port=free_port())
    try:
        cluster.init()
        cluster.start(fast=True)
        yield cluster.admin_url
    finally:
        postgres.close_pool()
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(admin_url: str, prefix: str = "bench", *, pool_max: int | None = None) -> str:
    """A new migrated database on ``admin_url``'s server; ``DATABASE_URL`` (and the pool size,
    when given) now point this process's settings at it."""
    url = create_database(admin_url, f"{prefix}_{uuid.uuid4().hex[:8]}")
    migrate(url)
    os.environ["DATABASE_URL"] = url
    if pool_max is not None:
        os.environ["DATABASE_POOL_MAX"] = str(pool_max)
    config.reset_settings_cache()
    postgres.close_pool()
    return url


@contextmanager
def bench_database(prefix: str = "bench", *, pool_max: int | None = None) -> Iterator[str]:
    """A fresh migrated database on a server as ``postgres_server`` finds one (its URL)."""
    with postgres_server() as admin_url:
        try:
            yield fresh_database(admin_url, prefix, pool_max=pool_max)
        finally:
            postgres.close_pool()


def start_stack(
    state_dir: Path, env: dict[str, str], *, echo: bool = True, push: str = "emulator"
) -> tuple[subprocess.Popen[str], StackInfo]:
    """Start the whole local stack (``python -m tools.localstack --no-chat``) as its own process
    group, wait until it says it is running, and attach through its ``stack.json``. ``push``:
    who delivers Pub/Sub messages to the functions (``--push emulator|direct``)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.localstack",
            "--no-chat",
            "--state-dir",
            str(state_dir),
            "--push",
            push,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line.rstrip())
        if echo:
            print("  " + line.rstrip(), flush=True)
        if "running; press Ctrl-C" in line:
            break
    else:
        raise SystemExit("the local stack did not start:\n" + "\n".join(seen[-40:]))
    threading.Thread(target=_keep_output, args=(proc, state_dir / "logs" / "runner.log"), daemon=True).start()
    return proc, StackInfo.load(stack_file(state_dir))


def _keep_output(proc: subprocess.Popen[str], path: Path) -> None:
    """The runner's own lines after start-up (the relay's and scheduler's warnings) into its log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for line in proc.stdout or []:
            out.write(line)
            out.flush()


@contextmanager
def local_stack(
    env: dict[str, str], *, echo: bool = True, push: str = "emulator"
) -> Iterator[tuple[StackInfo, Path]]:
    """The local stack in a throwaway state directory (its own private cluster), stopped after."""
    state_dir = Path(tempfile.mkdtemp(prefix="yp-bench-"))
    state_dir.chmod(0o755)
    proc, info = start_stack(state_dir, env, echo=echo, push=push)
    try:
        yield info, state_dir
    finally:
        stop_stack(proc)
        shutil.rmtree(state_dir, ignore_errors=True)


def stop_stack(proc: subprocess.Popen[str], timeout: float = 300.0) -> None:
    """Stop a stack from ``start_stack``: SIGTERM, which the runner always handles (SIGINT is
    ignored in a process started in the background by a non-interactive shell), then SIGKILL.
    The wait is long: the runner gives its functions 10 s together, then stops the emulator and
    the cluster; a SIGKILL would leave the emulator and the functions, in sessions of their own,
    running."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
