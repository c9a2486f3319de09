"""The local stack's orphan guard: the stack's child processes die with the runner, however it dies.

The runner (``tools/localstack/runner.py``) starts this watchdog first, in a session of its own
(so it survives a SIGKILL to the runner's process group), with a pipe on its stdin, and writes
one line per child process as it starts it:

- ``group <pgid>``: a child in its own session (a function, the Pub/Sub emulator);
- ``postmaster <pid>``: the private PostgreSQL cluster's postmaster (run by ``pg_ctl``, which
  puts it in a session of its own);
- ``cluster <data directory>``: that cluster, sent before ``pg_ctl`` starts it: a runner killed
  while ``pg_ctl`` waits for the server has not registered its pid yet, so the guard reads it
  from ``postmaster.pid`` when it acts (and signals it only when that process is a postmaster
  of that directory: a pid file left by a crash may name a pid reused since);
- ``forget <id>``: the runner stopped that child itself (so a reused id is never signalled);
- ``exit``: a clean stop; the guard exits without signalling anything.

When stdin reaches end of file without ``exit`` (the kernel closes the runner's end of the pipe
when the runner dies, also by SIGKILL), the guard sends SIGTERM to every registered group and
SIGINT (fast shutdown) to the postmaster, waits up to ``GRACE_SECONDS`` for them to go, then
sends SIGKILL to the groups still there and SIGQUIT (immediate shutdown) to a postmaster still
there, and exits. The guard ignores SIGINT: a Ctrl-C to the terminal must leave the stop to the
runner. Any other line is logged and ignored. It logs one JSON line per action to its log file
(``<state-dir>/logs/guard.log``). Standard library only, and ``pgcluster``'s pid-file reader
(which imports nothing else at import time).

Usage (the runner does this through ``start_guard``): ``python -m tools.localstack.guard --log PATH``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from tools.localstack.pgcluster import cluster_postmaster
from tools.localstack.procfs import PID_LIMIT, live_processes

GRACE_SECONDS = 10.0  # how long registered children get to stop after SIGTERM / SIGINT
POLL_SECONDS = 0.2  # how often the guard looks whether they have gone

ROOT = Path(__file__).resolve().parents[2]
LOGGER = "tools.localstack.guard"


class GuardLog:
    """One JSON object per line, in the structure of ``shared.logs`` (severity, message, time)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, message: str, severity: str = "INFO", **fields: Any) -> None:
        entry = {
            "severity": severity,
            "message": message,
            "time": datetime.now(UTC).isoformat(),
            "logger": LOGGER,
            **fields,
        }
        self._stream.write(json.dumps(entry, default=str) + "\n")
        self._stream.flush()


def _live_processes() -> dict[int, int]:
    """pid -> process group of every process on the machine that is not a zombie (/proc)."""
    return {pid: proc.pgrp for pid, proc in live_processes().items()}


def group_alive(pgid: int) -> bool:
    """Does any live (not zombie) process still belong to process group ``pgid``?"""
    return pgid in _live_processes().values()


class Guard:
    """What the guard has been told: the registered groups and postmaster."""

    def __init__(self, log: GuardLog, grace: float = GRACE_SECONDS) -> None:
        self.log = log
        self.grace = grace
        self.groups: set[int] = set()
        self.postmasters: set[int] = set()
        self.clusters: set[str] = set()

    def handle(self, line: str) -> bool:
        """Apply one line; True when it was ``exit``."""
        words = line.split()
        if words == ["exit"]:
            return True
        command, _, path = line.strip().partition(" ")
        if command == "cluster" and os.path.isabs(path) and "\0" not in path:
            self.clusters.add(path)
            return False
        if len(words) == 2 and words[0] in ("group", "postmaster", "forget") and words[1].isascii():
            command, target = words[0], int(words[1]) if words[1].isdigit() else 0
            if 1 < target < PID_LIMIT:  # never 0 or 1: killpg(0) is our own group, 1 is init
                if command == "group":
                    self.groups.add(target)
                elif command == "postmaster":
                    self.postmasters.add(target)
                else:
                    self.groups.discard(target)
                    self.postmasters.discard(target)
                return False
        self.log("ignored a line the guard does not understand", "WARNING", line=line[:200])
        return False

    def run(self, stdin: IO[bytes]) -> int:
        for raw in stdin:
            if self.handle(raw.decode("utf-8", errors="replace")):
                self.log("the runner stopped cleanly; the guard exits", registered=self.registered())
                return 0
        self.log("the runner is gone without a clean stop", "WARNING", registered=self.registered())
        for datadir in sorted(self.clusters):
            pid = cluster_postmaster(datadir)
            if pid is not None and pid not in self.postmasters:
                self.log("postmaster found in its data directory", pid=pid, datadir=datadir)
                self.postmasters.add(pid)
        self.stop_all()
        return 0

    def registered(self) -> dict[str, list[int] | list[str]]:
        return {
            "groups": sorted(self.groups),
            "postmasters": sorted(self.postmasters),
            "clusters": sorted(self.clusters),
        }

    def stop_all(self) -> None:
        """SIGTERM the groups and SIGINT the postmasters; after the grace period SIGKILL / SIGQUIT."""
        for pgid in sorted(self.groups):
            if self._signal(os.killpg, pgid, signal.SIGTERM):
                self.log("SIGTERM to process group", pgid=pgid)
        for pid in sorted(self.postmasters):
            if self._signal(os.kill, pid, signal.SIGINT):
                self.log("SIGINT (fast shutdown) to postmaster", pid=pid)
        deadline = time.monotonic() + self.grace
        groups, postmasters = self.still_there()
        while (groups or postmasters) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            groups, postmasters = self.still_there()
        for pgid in groups:
            if self._signal(os.killpg, pgid, signal.SIGKILL):
                self.log("SIGKILL to process group still there after the grace period", pgid=pgid)
        for pid in postmasters:
            if self._signal(os.kill, pid, signal.SIGQUIT):
                self.log("SIGQUIT (immediate shutdown) to postmaster still there after the grace", pid=pid)
        self.log("done", left_after_grace={"groups": groups, "postmasters": postmasters})

    def _signal(self, send: Callable[[int, int], None], target: int, signum: int) -> bool:
        """Send ``signum``; False when the target is already gone (ESRCH) or may not be signalled."""
        try:
            send(target, signum)
        except ProcessLookupError:
            return False
        except OSError as exc:  # EPERM: not ours (any more); nothing to do but say so
            self.log("could not signal", "ERROR", target=target, signal=signum, error=str(exc))
            return False
        return True

    def still_there(self) -> tuple[list[int], list[int]]:
        live = _live_processes()
        present = set(live.values())
        return sorted(self.groups & present), sorted(self.postmasters & set(live))


class GuardClient:
    """The runner's end: the guard process and the pipe to its stdin."""

    def __init__(self, process: subprocess.Popen[str], grace: float) -> None:
        self.process = process
        self.grace = grace
        self.pending: set[int] = set()  # registered and not yet forgotten
        self._broken = False

    def _send(self, line: str) -> None:
        if self._broken or self.process.stdin is None:
            return
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except OSError:  # the guard died: keep the stack running, there is nothing to tell
            self._broken = True

    def group(self, pgid: int) -> None:
        self.pending.add(pgid)
        self._send(f"group {pgid}")

    def postmaster(self, pid: int) -> None:
        self.pending.add(pid)
        self._send(f"postmaster {pid}")

    def cluster(self, datadir: Path) -> None:
        """Before ``pg_ctl start``: the guard finds the postmaster from the data directory."""
        self._send(f"cluster {datadir}")

    def forget(self, target: int) -> None:
        self.pending.discard(target)
        self._send(f"forget {target}")

    def close(self) -> None:
        """End of the runner's stop: ``exit`` when it stopped every child it registered; otherwise
        end of file, so the guard stops those still registered (a stop step failed or was cut short)."""
        if not self.pending:
            self._send("exit")
        self._broken = True  # nothing more to say
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=self.grace + 5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_guard(log_path: Path, grace: float = GRACE_SECONDS) -> GuardClient:
    """Start the guard in a session of its own, logging to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.localstack.guard", "--log", str(log_path), "--grace", str(grace)],
            stdin=subprocess.PIPE,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            text=True,
            start_new_session=True,
        )
    return GuardClient(process, grace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.localstack.guard", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--log", required=True, help="the JSON-lines log file (appended)")
    parser.add_argument("--grace", type=float, default=GRACE_SECONDS, help="seconds before SIGKILL")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with open(args.log, "a", encoding="utf-8") as stream:
        log = GuardLog(stream)
        log("guard started", pid=os.getpid(), runner=os.getppid())
        return Guard(log, args.grace).run(sys.stdin.buffer)


if __name__ == "__main__":
    sys.exit(main())
