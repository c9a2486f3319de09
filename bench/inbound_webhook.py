"""Inbound SMS webhook throughput and latency against a bare one-INSERT transaction.

    python -m bench.inbound_webhook [--requests 2000] [--concurrency 1 16] [--fast]

Serves ``twilio_inbound`` the way Cloud Functions does (functions-framework under gunicorn,
one worker, gthread) on loopback in a subprocess, against a throwaway PostgreSQL
(``tools.localstack.pgcluster`` + ``tools.localstack.migrate``) with durable commits unless
``--fast``. Sends correctly signed Twilio requests (a unique MessageSid each, from a pool of
numbers so both new and returning users occur) at each concurrency, and in the same run times
a bare transaction with one INSERT on the same database at the same concurrency. Prints req/s,
p50 and p99 for both and the p99 ratio. Targets (issue 2): p99 within 5x the baseline p99,
>= 200 req/s. Never asserted.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import psycopg
import requests
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from twilio.request_validator import RequestValidator

from bench.queries import bench_queries, bench_sql
from tools.localstack import serve
from tools.localstack.migrate import migrate
from tools.localstack.pgcluster import PgCluster, free_port

ROOT = Path(__file__).resolve().parent.parent
AUTH_TOKEN = "bench-" + secrets.token_hex(8)
PHONES = [f"+1415555{n:04d}" for n in range(500)]


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_load(n: int, concurrency: int, op: Callable[[int], None]) -> tuple[float, list[float]]:
    """Run ``op(i)`` n times over ``concurrency`` threads; return (wall seconds, per-op latencies)."""
    latencies: list[float] = [0.0] * n
    counter = iter(range(n))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            start = time.perf_counter()
            op(i)
            latencies[i] = time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    return time.perf_counter() - start, latencies


def report(label: str, wall: float, latencies: list[float]) -> dict[str, float]:
    figures = {
        "rps": len(latencies) / wall,
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "mean": statistics.fmean(latencies) * 1000,
    }
    print(
        f"  {label:<34} {figures['rps']:>8.0f} req/s   p50 {figures['p50']:>7.2f} ms   "
        f"p99 {figures['p99']:>7.2f} ms"
    )
    return figures


def start_function(
    database_url: str, listen: socket.socket, threads: int, prepare_threshold: int | None
) -> subprocess.Popen[bytes]:
    port = serve.port_of(listen)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "PUBLIC_BASE_URL"))},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "DATABASE_POOL_MAX": str(threads),
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        "WORKERS": "1",
        "THREADS": str(threads),
    }
    if prepare_threshold is not None:
        env["DATABASE_PREPARE_THRESHOLD"] = str(prepare_threshold)
    proc = serve.start_function("twilio_inbound", listen, env, new_session=False)
    listen.close()  # the function holds the port now
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("twilio_inbound did not start")


def signed_requests(n: int, url: str) -> list[tuple[bytes, dict[str, str]]]:
    validator = RequestValidator(AUTH_TOKEN)
    prepared = []
    for i in range(n):
        params = {
            "AccountSid": "AC" + "0" * 32,
            "Body": f"bench message {i} — with an em dash and an emoji 🎉",
            "From": PHONES[i % len(PHONES)],
            "To": "+14155550100",
            "MessageSid": "SM" + secrets.token_hex(16),
            "NumMedia": "0",
        }
        headers = {
            "X-Twilio-Signature": validator.compute_signature(url, params),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        prepared.append((urlencode(params).encode(), headers))
    return prepared


def bench_webhook(url: str, n: int, concurrency: int) -> tuple[float, list[float]]:
    prepared = signed_requests(n, url)
    local = threading.local()

    def op(i: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        body, headers = prepared[i]
        response = session.post(url, data=body, headers=headers, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:200]}")

    return run_load(n, concurrency, op)


def bench_http_floor(url: str, n: int, concurrency: int) -> tuple[float, list[float]]:
    """The same server answering without any database work (GET is refused with 405 up front)."""
    local = threading.local()

    def op(i: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.get(url, timeout=30)
        if response.status_code != 405:
            raise RuntimeError(f"expected 405, got {response.status_code}")

    return run_load(n, concurrency, op)


def bench_baseline(
    database_url: str, n: int, concurrency: int, prepare_threshold: int | None
) -> tuple[float, list[float]]:
    # The same prepared-statement setting as the function, so the comparison is like for like.
    with ConnectionPool(
        database_url,
        min_size=concurrency,
        max_size=concurrency,
        open=True,
        kwargs={"prepare_threshold": prepare_threshold},
    ) as pool:
        pool.wait()
        insert = cast(Any, bench_queries()["bench_baseline_insert"])

        def op(i: int) -> None:
            with pool.connection() as conn:  # one transaction, one INSERT, commit
                conn.execute(insert, {"body": f"baseline {i}"})

        return run_load(n, concurrency, op)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inbound_webhook")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--fast", action="store_true", help="turn durability off in the throwaway cluster")
    parser.add_argument(
        "--prepared",
        action="store_true",
        help="prepared statements on both sides (a direct or session-mode connection; Supabase's "
        "transaction pooler, the production default, needs them off)",
    )
    args = parser.parse_args(argv)

    base = Path(tempfile.mkdtemp(prefix="yp-bench-"))
    base.chmod(0o755)
    cluster = PgCluster(datadir=base / "data", port=free_port())
    cluster.init()
    cluster.start(fast=args.fast)
    proc: subprocess.Popen[bytes] | None = None
    try:
        database_url = cluster.create_database("bench")
        migrate(database_url)
        with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
            bench_sql(conn).run("bench_create_baseline_table")
        listen = serve.bind_loopback()  # bound here and handed over (tools/localstack/serve.py)
        port = serve.port_of(listen)
        prepare = 1 if args.prepared else None
        proc = start_function(database_url, listen, threads=max(args.concurrency), prepare_threshold=prepare)
        url = f"http://127.0.0.1:{port}/"
        bench_webhook(url, 100, max(args.concurrency))  # warm up: pool, imports, first users
        print(
            f"inbound webhook vs one-INSERT transaction: {args.requests} requests per run, "
            f"{os.cpu_count()} CPUs, durable commits: {not args.fast}, prepared statements: {args.prepared}"
        )
        for concurrency in args.concurrency:
            print(f"concurrency {concurrency}:")
            base_figures = report(
                "baseline: BEGIN; INSERT; COMMIT",
                *bench_baseline(database_url, args.requests, concurrency, prepare),
            )
            floor = report(
                "HTTP floor: same server, no DB", *bench_http_floor(url, args.requests, concurrency)
            )
            hook = report("twilio_inbound (signed POST)", *bench_webhook(url, args.requests, concurrency))
            print(
                f"  p99 ratio webhook/baseline: {hook['p99'] / base_figures['p99']:.1f}x (target <= 5x); "
                f"throughput {hook['rps']:.0f} req/s (target >= 200); "
                f"database share of the webhook's p50: {max(hook['p50'] - floor['p50'], 0):.2f} ms"
            )
        with psycopg.connect(database_url, row_factory=dict_row) as conn:
            row = bench_sql(conn).one("bench_written_counts") or {}
        print("written: " + ", ".join(f"{table} {count}" for table, count in row.items()))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
