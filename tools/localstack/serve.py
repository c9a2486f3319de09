"""One way to start a function as its own process: functions-framework's own command line, on a
listening socket the parent bound first.

Picking a free port (bind to port 0, close, pass the number on) leaves a window between the
close and the function's own bind, and on a busy machine that window is long: functions-framework
imports the function (tens of seconds while 22 functions start at once) before gunicorn binds.
Another process could take the port meanwhile (a test's stack starting beside this one), and
then the readiness probe was answered by that other server while this function died a few
seconds later with gunicorn's "Connection in use". Here the parent binds ``127.0.0.1:0`` itself
and hands the bound socket to the child, so the port is the function's from the start.

The hand-over is gunicorn's socket activation (the systemd protocol, ``LISTEN_FDS`` and
``LISTEN_PID``, the socket on fd 3): ``python -m tools.localstack.serve <functions-framework
arguments>`` moves the inherited socket to fd 3, sets the two variables for its own pid, and runs
``python -m functions_framework`` in the same process. Stdlib only: it runs before the function's
imports.
"""

from __future__ import annotations

import errno
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
LISTEN_FD_ENV = "YP_LISTEN_FD"  # the inherited socket's fd number, for this module's main only
REBIND_TIMEOUT = 10.0  # seconds a restart tries its old port again (gunicorn tries 5 times, 1 s apart)
SD_LISTEN_FDS_START = 3  # where socket activation puts the first socket (gunicorn/systemd.py)
FUNCTION_STOP_GRACE = 10.0  # seconds all functions together get to exit on SIGTERM before SIGKILL


def bind_loopback(port: int = 0) -> socket.socket:
    """A TCP socket bound to 127.0.0.1, not listening yet: until gunicorn listens on it, a probe
    is refused rather than left waiting. With ``port`` 0 the kernel picks a free port and the
    socket has no SO_REUSEADDR, so no other socket can bind that port while it is held (sharing a
    port takes SO_REUSEADDR on both). A given ``port`` (a function restarted where it was) sets
    SO_REUSEADDR, as gunicorn does, and is tried again for a few seconds, as gunicorn does: the
    killed process's worker may still be on its way out."""
    deadline = time.monotonic() + REBIND_TIMEOUT
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            return sock
        except OSError as exc:
            sock.close()
            if not port or exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def start_function(
    name: str,
    sock: socket.socket,
    env: Mapping[str, str],
    *,
    stdout: IO[bytes] | int | None = subprocess.DEVNULL,
    new_session: bool = True,
) -> subprocess.Popen[bytes]:
    """Start ``functions/<name>`` under functions-framework, serving on ``sock`` (bound by
    :func:`bind_loopback`). The caller keeps ``sock`` only as long as it wants the port held:
    closing it after this call leaves the child the only holder, so the port is freed when the
    child dies."""
    fd = sock.fileno()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.localstack.serve",
            "--target",
            name,
            "--source",
            str(FUNCTIONS_DIR / name / "main.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port_of(sock)),  # shown in functions-framework's own messages; the socket decides
        ],
        env={**env, LISTEN_FD_ENV: str(fd)},
        stdout=stdout,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        pass_fds=(fd,),
        start_new_session=new_session,
    )
    return proc


def adopt_listen_socket(environ: dict[str, str] | os._Environ[str]) -> None:
    """In the child: the inherited socket to fd 3 and the socket-activation variables for this
    process (gunicorn's arbiter reads and removes them, so its workers do not see them)."""
    fd = int(environ.pop(LISTEN_FD_ENV))
    if fd != SD_LISTEN_FDS_START:
        try:
            os.fstat(SD_LISTEN_FDS_START)
        except OSError:
            pass  # free, as it should be in a process that has just started
        else:
            raise SystemExit(f"fd {SD_LISTEN_FDS_START} is already open: cannot adopt the listening socket")
        os.dup2(fd, SD_LISTEN_FDS_START)  # inheritable by default, as gunicorn's workers need
        os.close(fd)
    environ["LISTEN_FDS"] = "1"
    environ["LISTEN_PID"] = str(os.getpid())


def stop_functions(
    procs: Mapping[str, subprocess.Popen[bytes]],
    *,
    grace: float = FUNCTION_STOP_GRACE,
    forget: Callable[[int], None] = lambda _pid: None,
) -> list[str]:
    """SIGTERM every function's process group, wait for them all against one deadline, then
    SIGKILL the groups still running; returns their names. One deadline for all: each function
    waited ``grace`` in turn before, so 22 functions slow to stop on a loaded machine could hold a
    stop for minutes (one CI run's stack took over 180 s to stop; what held it was not captured).
    The guard's ``stop_all`` does the same for a runner that died, from its own process."""
    for proc in procs.values():
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs.values():
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    killed = [name for name, proc in procs.items() if proc.poll() is None]
    for name in killed:
        with suppress(ProcessLookupError):
            os.killpg(procs[name].pid, signal.SIGKILL)
    for proc in procs.values():
        with suppress(subprocess.TimeoutExpired):  # SIGKILL is not refused; reaped here
            proc.wait(timeout=grace)
        forget(proc.pid)
    return killed


def main() -> None:
    if LISTEN_FD_ENV not in os.environ:
        raise SystemExit(
            f"{LISTEN_FD_ENV} is not set: start functions with tools.localstack.serve.start_function"
        )
    adopt_listen_socket(os.environ)
    sys.argv = ["functions_framework", *sys.argv[1:]]
    runpy.run_module("functions_framework", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
