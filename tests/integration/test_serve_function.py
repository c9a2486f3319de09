"""``tools/localstack/serve.py``: a function is started on a socket its parent bound first, so no
other process can take the port between the choice and the function's own start.

The CI failure this answers: a stack's function port, picked as free and closed, was taken while
the function imported its libraries; the readiness probe was answered by the other server, the
stack said it was running, and the function died seconds later on gunicorn's "Connection in use",
taking the stack with it. The tests start real functions-framework processes.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from tools.localstack import serve

pytestmark = pytest.mark.integration

START_TIMEOUT = 120.0


def wait_answering(url: str, proc: subprocess.Popen[bytes]) -> requests.Response:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.RequestException:
            assert proc.poll() is None, f"the function exited with {proc.returncode}"
            assert time.monotonic() < deadline, "the function never answered"
            time.sleep(0.2)


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def gunicorn_style_bind(port: int) -> OSError | None:
    """Bind ``port`` the way gunicorn (and most servers) do, with SO_REUSEADDR; the error, if any."""
    other = socket.socket()
    try:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", port))
    except OSError as exc:
        return exc
    finally:
        other.close()
    return None


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait(timeout=10)


def test_a_port_bound_for_a_function_cannot_be_taken_before_the_function_starts() -> None:
    with serve.bind_loopback() as held:
        taken = gunicorn_style_bind(serve.port_of(held))
    assert isinstance(taken, OSError) and taken.errno == errno.EADDRINUSE


def test_a_function_serves_on_the_socket_it_was_handed_and_frees_the_port_when_it_dies(
    started: list[subprocess.Popen[bytes]],
) -> None:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    with serve.bind_loopback() as sock:
        port = serve.port_of(sock)
        proc = serve.start_function("event_dispatcher", sock, env)
        started.append(proc)
    # The parent's copy is closed: until gunicorn listens, a probe is refused, never left waiting.
    answer = wait_answering(f"http://127.0.0.1:{port}/", proc)
    assert answer.status_code < 500 or answer.status_code == 405, answer.text
    # functions-framework under gunicorn, in the process started (no second process bound it).
    assert os.getpgid(proc.pid) == proc.pid
    os.killpg(proc.pid, 9)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not refused(port):
        assert time.monotonic() < deadline, "the port still answers after the function died"
        time.sleep(0.1)


def test_a_function_restarted_on_its_port_binds_it_again(started: list[subprocess.Popen[bytes]]) -> None:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    with serve.bind_loopback() as sock:
        port = serve.port_of(sock)
        first = serve.start_function("event_dispatcher", sock, env)
        started.append(first)
    wait_answering(f"http://127.0.0.1:{port}/", first)
    os.killpg(first.pid, 9)
    first.wait(timeout=10)
    with serve.bind_loopback(port) as again:  # the dead process's connections may be in TIME_WAIT
        second = serve.start_function("event_dispatcher", again, env)
        started.append(second)
    wait_answering(f"http://127.0.0.1:{port}/", second)


def test_serve_refuses_to_run_without_a_socket_handed_to_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != serve.LISTEN_FD_ENV}
    run = subprocess.run(
        [sys.executable, "-m", "tools.localstack.serve", "--target", "event_dispatcher"],
        env=env,
        cwd=serve.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert serve.LISTEN_FD_ENV in run.stderr
