"""The CPU one request costs the server before any of the project's code runs.

    python -m bench.framework_floor [--requests 2000] [--rounds 3]

Every function of the stack is served the way Cloud Functions serves it: functions-framework
(Flask) on gunicorn's gthread worker. Each reply of ``bench.pipeline`` passes through about six
such requests (the inbound webhook, the dispatcher, the push to the agent, the sender, two
status callbacks), and on this machine they share two cores, so the framework's own CPU per
request is part of every reply's wait. This times it, in the same run, for:

- ``bare``: gunicorn's gthread worker serving a WSGI app that answers "ok" (the baseline);
- ``http``: functions-framework serving an HTTP function that answers "ok";
- ``push``: functions-framework serving a CloudEvent function that does nothing, sent a Pub/Sub
  push body (converted to a CloudEvent first, as every push handler's is).

Each is timed with one kept-alive connection and with a connection per request (what the local
stack's relay, direct push and stand-ins' callbacks open: ``tools/fakes/loopback_http.py``).
The figure is the server process tree's user + system CPU (``/proc``) over ``--requests``
requests sent one after another, median of ``--rounds``; the client's CPU is not counted. The
servers are in ``bench/framework_floor_app.py``. The machine's state is printed before and after:
the load average and ``bench.pipeline``'s two speed probes (one core, every core), so a figure
taken on a busy host reads as such. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.pipeline import parallel_speed_probe, speed_probe, stack_cpu_seconds
from tools.localstack.pgcluster import free_port

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "bench" / "framework_floor_app.py"
THREADS = 8  # functions-framework's default on two cores (4 per core), and the baseline's
START_TIMEOUT = 30.0  # seconds a server has to answer its first request
WARM_UP_REQUESTS = 100  # sent before each timing: imports, thread pool, first connections

PUSH_BODY = json.dumps(
    {
        "message": {
            "data": base64.b64encode(b'{"event_id": "floor"}').decode(),
            "messageId": "1",
            "publishTime": "2026-12-01T00:00:00Z",
            "attributes": {"kind": "event"},
        },
        "subscription": "projects/local/subscriptions/floor",
    }
).encode()


@dataclass(frozen=True)
class Server:
    name: str
    label: str
    argv: list[str]  # after ``python``; "{port}" stands for the port it serves on
    env: dict[str, str]
    body: bytes  # what each request POSTs


def _function(name: str, label: str, target: str, body: bytes) -> Server:
    """A function of ``bench/framework_floor_app.py`` served by functions-framework."""
    argv = ["-m", "functions_framework", "--target", target, "--source", str(APP), "--host", "127.0.0.1"]
    argv += ["--port", "{port}"]
    return Server(name, label, argv, {"WORKERS": "1", "THREADS": str(THREADS)}, body)


SERVERS = {
    "bare": Server(
        "bare",
        "gunicorn gthread, bare WSGI app (baseline)",
        [
            *("-m", "gunicorn", "--workers", "1", "--worker-class", "gthread", "--threads", str(THREADS)),
            *("--bind", "127.0.0.1:{port}", "bench.framework_floor_app:bare"),
        ],
        {},
        b"{}",
    ),
    "http": _function("http", "functions-framework, HTTP function", "http_floor", b"{}"),
    "push": _function(
        "push", "functions-framework, Pub/Sub push to a CloudEvent function", "push_floor", PUSH_BODY
    ),
}


def server_command(server: Server, port: int) -> list[str]:
    """The command line serving ``server`` on ``127.0.0.1:port``."""
    return [sys.executable, *(arg.format(port=port) for arg in server.argv)]


def post(port: int, body: bytes, conn: http.client.HTTPConnection | None) -> None:
    """One POST; a fresh connection (closed after) when ``conn`` is None. A non-200 stops the run."""
    own = conn is None
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10) if conn is None else conn
    headers = {"Content-Type": "application/json"}
    if own:
        headers["Connection"] = "close"
    connection.request("POST", "/", body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    if own:
        connection.close()
    if response.status != 200:
        raise SystemExit(f"the server answered {response.status}: the benchmark's server is broken")


def wait_until_serving(port: int, body: bytes, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before serving")
        try:
            post(port, body, None)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server did not answer within {START_TIMEOUT:.0f} s")


def cpu_per_request(root: int, send: Callable[[], None], requests: int) -> float:
    """Server CPU milliseconds per request over ``requests`` calls of ``send``."""
    for _ in range(WARM_UP_REQUESTS):
        send()
    before = stack_cpu_seconds([root])
    for _ in range(requests):
        send()
    return (stack_cpu_seconds([root]) - before) * 1000 / requests


def measure(server: Server, requests: int) -> dict[str, float]:
    """ms of server CPU per request, kept-alive and one connection per request."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **server.env}
    proc = subprocess.Popen(
        server_command(server, port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_serving(port, server.body, proc)
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            keep_alive = cpu_per_request(proc.pid, lambda: post(port, server.body, kept), requests)
        finally:
            kept.close()
        per_call = cpu_per_request(proc.pid, lambda: post(port, server.body, None), requests)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"keep_alive": keep_alive, "per_call": per_call}


def median_rounds(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def report(results: dict[str, dict[str, float]]) -> list[str]:
    """The printed table: each server's ms per request, and the framework's over the baseline."""
    lines = [f"{'server':<58} {'kept-alive':>12} {'per call':>10}  (ms of server CPU per request)"]
    for name, figures in results.items():
        lines.append(f"{SERVERS[name].label:<58} {figures['keep_alive']:>12.3f} {figures['per_call']:>10.3f}")
    base = results.get("bare")
    if base:
        for name, figures in results.items():
            if name != "bare":
                lines.append(
                    f"{'  ' + name + ' over the baseline':<58} "
                    f"{figures['keep_alive'] - base['keep_alive']:>12.3f} "
                    f"{figures['per_call'] - base['per_call']:>10.3f}"
                )
    return lines


def machine_state() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"load average {load} ({os.cpu_count()} cores); speed probe {speed_probe() * 1000:.1f} ms, "
        f"every core {parallel_speed_probe() * 1000:.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.framework_floor")
    parser.add_argument("--requests", type=int, default=2000, help="requests per timing")
    parser.add_argument("--rounds", type=int, default=3, help="timings per server; the median is printed")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rounds < 1:
        parser.error("--requests and --rounds must be at least 1")
    print(f"before: {machine_state()}")
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in SERVERS}
    for _ in range(args.rounds):  # servers alternate within a round, so a busy spell hits all
        for name, server in SERVERS.items():
            rounds[name].append(measure(server, args.requests))
    results = {name: median_rounds(r) for name, r in rounds.items()}
    for line in report(results):
        print(line)
    print(f"after: {machine_state()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
