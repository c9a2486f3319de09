"""Community routing throughput and matching latency on a real PostgreSQL with 10,000 experts.

    python -m bench.community [--experts 10000] [--requests 1000] [--queries 500] [--threads 1]

Prints:
- baseline: the bare ``expertise_words && $1`` index scan (``community_match_baseline``), p50 / p99;
- matching: the matching query the router runs (``community_match_experts``: tags and their
  words, the tags each expert covers, at least half the best's, verified, not opted out, the last
  two days' asks joined, ranked, 50 candidates), p50 / p99, and its p99 as a multiple of the
  baseline's (target, issue 9: <= 3x);
- routing: requests routed per second end to end (de-duplication lock, matching, the load cap
  and quiet hours, the request, one ask and one task per expert, the outbox event, commit).

Uses ``DATABASE_URL`` if set (it must allow CREATE DATABASE), else a throwaway cluster.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row

from bench._stack import bench_database
from bench.queries import bench_sql
from shared.adapters import postgres
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.community import normalize_expertise
from shared.domain.constants import COMMUNITY_CANDIDATE_POOL, COMMUNITY_MIN_OVERLAP_SHARE
from shared.service_layer.community import RequestNeeded, route_request

TAGS = [f"topic {i:03d}" for i in range(100)]
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Asia/Singapore"]


def _experts(url: str, n: int, rng: random.Random) -> None:
    rows = [
        (
            f"+1415{i:07d}",
            [t.title() if rng.random() < 0.3 else t for t in rng.sample(TAGS, 4)],
            rng.choice(ZONES),
            rng.random() < 0.7,  # most have no quiet hours configured away (00:00-00:00: none)
        )
        for i in range(n)
    ]
    with psycopg.connect(url, row_factory=dict_row) as conn, conn.cursor() as cur:
        sql = bench_sql(conn)
        with cur.copy(cast(Any, sql.text("bench_copy_members"))) as copy:
            for phone, tags, zone, awake in rows:
                quiet = ("00:00", "00:00") if awake else (None, None)
                copy.write_row((phone, tags, zone, True, "concierge", *quiet))
        sql.run("bench_analyze_users")
        conn.commit()


def _tag_set(rng: random.Random) -> list[str]:
    return list(normalize_expertise(rng.sample(TAGS, 2)))


def route_throughput(n: int, threads: int, rng: random.Random) -> tuple[float, int]:
    with postgres.connect() as conn:
        askers = [r["id"] for r in bench_sql(conn).all("bench_some_member_ids", limit=threads * 10)]
    work = [
        RequestNeeded(
            requesting_agent_type="concierge",
            requesting_user_id=rng.choice(askers),
            question=f"Question {i}?",
            category=f"category {i}",  # distinct: every request is routed, none absorbed
            expertise_needed=tuple(_tag_set(rng)),
        )
        for i in range(n)
    ]
    chunks = [work[i::threads] for i in range(threads)]
    routed: list[int] = []
    barrier = threading.Barrier(threads + 1)

    def run(items: list[RequestNeeded]) -> None:
        barrier.wait()
        experts = 0
        for request in items:
            with PostgresUnitOfWork() as uow:
                experts += len(route_request(uow, request, now=datetime.now(UTC)).expert_ids)
                uow.commit()
        routed.append(experts)

    pool = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    return n / (time.perf_counter() - start), sum(routed)


def query_latencies(queries: int, rng: random.Random) -> tuple[list[float], list[float]]:
    baseline: list[float] = []
    matching: list[float] = []
    with postgres.connect() as conn:
        sql = postgres.Sql(conn)
        for _ in range(queries):
            tags = _tag_set(rng)
            start = time.perf_counter()
            sql.all("community_match_baseline", expertise=tags)
            baseline.append(time.perf_counter() - start)
            start = time.perf_counter()
            sql.all(
                "community_match_experts",
                expertise=tags,
                exclude=[uuid.uuid4()],
                now=datetime.now(UTC),
                limit=COMMUNITY_CANDIDATE_POOL,
                min_share=COMMUNITY_MIN_OVERLAP_SHARE,
            )
            matching.append(time.perf_counter() - start)
            conn.rollback()
    return baseline, matching


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(9)

    with bench_database("bench_community", pool_max=max(4, args.threads + 1)) as url:
        _experts(url, args.experts, rng)
        rate, asked = route_throughput(args.requests, args.threads, rng)
        baseline, matching = query_latencies(args.queries, rng)
        b50, b99 = _pct(baseline, 50), _pct(baseline, 99)
        m50, m99 = _pct(matching, 50), _pct(matching, 99)
        print(f"experts: {args.experts}; routed {args.requests} requests ({asked} asks)")
        print(f"routing: {rate:.0f} requests/s")
        print(f"baseline (expertise_words && $1): p50 {b50:.2f} ms, p99 {b99:.2f} ms")
        print(
            f"matching query:             p50 {m50:.2f} ms, p99 {m99:.2f} ms ({m99 / b99:.2f}x baseline p99)"
        )


if __name__ == "__main__":
    main()
