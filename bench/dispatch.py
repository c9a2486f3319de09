"""Backbone throughput and latency on the real Pub/Sub emulator and a real PostgreSQL.

    python -m bench.dispatch [--events 5000] [--tasks 10000] [--sweepers 4] [--latency-events 200]

Prints:
- baseline: the raw claim query alone (``tasks_claim_due``, no publishing), tasks/s;
- tasks/s from commit to published: concurrent sweepers claiming and publishing;
- events/s from commit to published: the dispatcher draining a backlog;
- latency from commit to push received (p50 / p99): events committed one by one, each followed
  by the dispatcher run the database webhook triggers, delivered by the emulator's push
  subscription to a local HTTP receiver.

Uses ``DATABASE_URL`` if set (it must allow CREATE DATABASE), else a throwaway cluster.
Target (issue 3): >= 2,000 tasks/s claimed and published. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from uuid import UUID

from bench._stack import fresh_database, postgres_server
from shared.adapters import postgres
from shared.adapters.pubsub import GooglePublisher
from shared.adapters.tasks import create_task
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import PRIORITY_RANK, TASK_LEASE
from shared.domain.events import Event
from shared.service_layer.dispatch_events import dispatch_events
from shared.service_layer.sweep_tasks import sweep_tasks
from tools.fakes.loopback_http import StandinHTTPServer, serve_in_thread
from tools.localstack import pubsub_emulator

PRIORITIES = sorted(PRIORITY_RANK, key=PRIORITY_RANK.__getitem__)  # urgent, high, medium, low


class PushLog:
    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.lock = threading.Lock()
        self.server = StandinHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        serve_in_thread(self.server, "push-log")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        log = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                now = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    attributes = json.loads(body)["message"].get("attributes", {})
                    key = attributes.get("event_id") or attributes.get("task_id") or ""
                    with log.lock:
                        log.received.setdefault(key, now)
                except (ValueError, KeyError):
                    pass
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        return Handler


def _insert_tasks(n: int) -> None:
    """``n`` due tasks of mixed priority, created the way agents create them."""
    due = datetime.now(UTC) - timedelta(seconds=1)
    run = uuid.uuid4().hex[:8]
    with PostgresUnitOfWork() as uow:
        for g in range(1, n + 1):
            create_task(
                uow,
                task_type="re_engagement_check",
                agent_type="bouncer",
                user_id=None,
                scheduled_for=due,
                priority=PRIORITIES[g % len(PRIORITIES)],
                context_json={"n": g},
                dedupe_key=f"bench:{run}:{g}",
                created_by="bench",
            )
        uow.commit()


def _users(n: int) -> list[UUID]:
    """``n`` members, created the way their first text creates them."""
    with PostgresUnitOfWork() as uow:
        ids = [uow.users.upsert_by_phone(f"+1415{g:07d}", timezone=None).id for g in range(1, n + 1)]
        uow.commit()
    return ids


def _message_received(user_id: UUID, payload: dict[str, Any]) -> Event:
    return Event("message.received", "user", user_id, payload, created_by="bench")


def baseline_claim(url: str, n: int, batch: int) -> float:
    _insert_tasks(n)
    start = time.perf_counter()
    claimed = 0
    with postgres.connect(url) as conn:
        sql = postgres.Sql(conn)
        while True:
            rows = sql.all("tasks_claim_due", limit=batch, lease=TASK_LEASE)
            conn.commit()
            if not rows:
                break
            claimed += len(rows)
    elapsed = time.perf_counter() - start
    assert claimed == n, claimed
    return n / elapsed


def sweep_throughput(url: str, project: str, n: int, sweepers: int, batch: int) -> tuple[float, int]:
    _insert_tasks(n)
    publishers = [GooglePublisher(project) for _ in range(sweepers)]
    published: list[int] = []
    barrier = threading.Barrier(sweepers + 1)

    def run(publisher: GooglePublisher) -> None:
        barrier.wait()
        total = 0
        while True:
            report = sweep_tasks(publisher, batch_size=batch, max_batches=1000)
            total += report.published
            if report.claimed == 0:
                break
        published.append(total)

    threads = [threading.Thread(target=run, args=(p,)) for p in publishers]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    for p in publishers:
        p.close()
    return sum(published) / elapsed, sum(published)


def event_throughput(url: str, project: str, n: int, users: list[UUID]) -> tuple[float, int]:
    with PostgresUnitOfWork() as uow:
        for g in range(1, n + 1):
            uow.emit(_message_received(users[g % len(users)], {"n": g}))
        uow.commit()
    publisher = GooglePublisher(project)
    start = time.perf_counter()
    published = 0
    while True:
        report = dispatch_events(publisher, max_batches=1000)
        published += report.published
        if report.claimed == 0:
            break
    elapsed = time.perf_counter() - start
    publisher.close()
    return published / elapsed, published


def latency(url: str, project: str, n: int, users: list[UUID], push: PushLog) -> list[float]:
    publisher = GooglePublisher(project)
    committed: dict[str, float] = {}
    for i in range(n):
        with PostgresUnitOfWork() as uow:
            uow.emit(_message_received(users[i % len(users)], {}))
            [event_id] = uow.commit()
        committed[str(event_id)] = time.perf_counter()
        dispatch_events(publisher)  # what the event-insert webhook triggers
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(k in push.received for k in committed):
        time.sleep(0.05)
    publisher.close()
    return sorted((push.received[k] - t) * 1000 for k, t in committed.items() if k in push.received)


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def run_all(
    args: argparse.Namespace,
    url: str,
    emulator: pubsub_emulator.PubSubEmulator,
    push: PushLog,
    users: list[UUID],
) -> None:
    print(f"PostgreSQL + Pub/Sub emulator {emulator.host_port}; batch {args.batch}")
    base_rate = baseline_claim(url, args.tasks, args.batch)
    print(f"baseline  raw claim query (tasks_claim_due, no publish): {base_rate:10,.0f} tasks/s")
    rate, n = sweep_throughput(url, emulator.project, args.tasks, args.sweepers, args.batch)
    print(
        f"tasks     {args.sweepers} sweepers, commit -> published:      {rate:10,.0f} tasks/s "
        f"({n} tasks; {rate / base_rate:.0%} of the claim baseline; target >= 2,000)"
    )
    rate, n = event_throughput(url, emulator.project, args.events, users)
    print(f"events    dispatcher, commit -> published:           {rate:10,.0f} events/s ({n} events)")
    expected = 2 * args.tasks + args.events  # the baseline's tasks were claimed, never published
    expected -= args.tasks
    start = time.perf_counter()
    deadline = time.monotonic() + 300
    while len(push.received) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    drained = time.perf_counter() - start
    print(
        f"push      backlog drained to the receiver:            {len(push.received):10,} messages "
        f"({drained:.1f} s after the last publish)"
    )
    lat = latency(url, emulator.project, args.latency_events, users, push)
    if lat:
        print(
            f"latency   commit -> push received ({len(lat)} events):  "
            f"p50 {_pct(lat, 50):.1f} ms, p99 {_pct(lat, 99):.1f} ms, max {lat[-1]:.1f} ms"
        )
    else:
        print("latency   no push arrived")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--sweepers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--latency-events", type=int, default=200)
    args = parser.parse_args()

    emulator = pubsub_emulator.start(project=f"yp-bench-{uuid.uuid4().hex[:6]}")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host_port
    os.environ["GOOGLE_CLOUD_PROJECT"] = emulator.project
    push = PushLog()
    try:
        with postgres_server() as admin_url:
            url = fresh_database(admin_url, pool_max=max(4, args.sweepers + 1))
            pubsub_emulator.ensure_topology(
                emulator.project, lambda consumer: f"{push.url}/{consumer.function}"
            )
            users = _users(200)
            run_all(args, url, emulator, push, users)
    finally:
        postgres.close_pool()
        push.server.shutdown()
        pubsub_emulator.stop(emulator)
        if emulator.data_dir is not None:
            shutil.rmtree(emulator.data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
