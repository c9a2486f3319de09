"""The Account Manager's 6-hourly review at scale, against the naive review, in one run.

    python -m bench.account_manager [--members 10000] [--news 0.05] [--asks 2] [--workers 4]

Seeds ``--members`` verified members, each with an intro opportunity, a connection request,
``--asks`` community requests routed to them and a stated goal, all already reviewed (the
watermark is set). A ``--news`` share of them (5%) is warmed up (their current items scored
once), then gets news: an inbound message with a goal ("Looking for ...") and its
``message.received`` event, and a new community request.

Measured:
- **the review**: ``account_manager_schedule_reviews`` picks the members with events since their
  watermark or expired items (one statement), then each picked member's run
  (``run_for_member``) on ``--workers`` threads, with the real ``AnthropicLlm`` and SDK against
  the loopback Messages API of ``tools/fakes/anthropic_api.py`` answering instantly (its prompt cache
  bills cache writes and reads). Reported: wall time, LLM calls, tokens, USD at list prices
  (``shared/adapters/llm_prices.py``), and DB time per member (time inside named queries and
  the commit);
- **the naive baseline**: every member, every item the LLM scores, one call per item, priced with
  the same cache accounting (the same static prefix, so it is cached too; requests built by the
  real ``build_request``, not sent).

The Pub/Sub hop from the sweeper to ``agent_account_manager`` is not in the wall time (bench.dispatch
measures the backbone). Uses ``DATABASE_URL`` if set (it must allow CREATE DATABASE), else a
throwaway cluster. Figures are printed, never asserted. Targets (issue 10): >= 10x fewer LLM
calls than the naive review; the review within 5 minutes.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from bench._stack import bench_database
from bench.queries import bench_sql
from shared import config
from shared.adapters.llm import AnthropicLlm, CallRecord, build_client, build_params
from shared.adapters.llm_prices import cost_usd, price_for
from shared.adapters.postgres import Row, Sql
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.account_manager.scoring import build_request
from shared.domain.priorities import Candidate, ItemType, Member, ScoreSource
from shared.service_layer.account_manager import RunInputs, run_for_member, schedule_reviews
from tools.fakes.anthropic_api import AnthropicFake, FakeReply, PromptCache, estimate_tokens, prompt_blocks

CATEGORIES = ["finance", "sales", "hiring", "pricing", "security", "ai", "marketing", "legal"]
REVIEWS_PER_DAY = 4  # every 6 hours
REASON = "Strong match with the member's stated expertise and current goal."


# --- Timing ---------------------------------------------------------------------------------------


class DbClock:
    """Seconds spent in named queries and commits, per thread (one member's run at a time), and
    in total per query name."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.by_name: dict[str, float] = {}

    def add_named(self, name: str, seconds: float) -> None:
        self.add(seconds)
        with self._lock:
            self.by_name[name] = self.by_name.get(name, 0.0) + seconds

    def reset(self) -> None:
        self._local.seconds = 0.0

    def add(self, seconds: float) -> None:
        self._local.seconds = getattr(self._local, "seconds", 0.0) + seconds

    @property
    def seconds(self) -> float:
        return float(getattr(self._local, "seconds", 0.0))


class TimedSql(Sql):
    def __init__(self, conn: Any, clock: DbClock) -> None:
        super().__init__(conn)
        self._clock = clock

    def _execute(self, name: str, params: Any) -> psycopg.Cursor[Row]:
        started = time.perf_counter()
        try:
            return super()._execute(name, params)
        finally:
            self._clock.add_named(name, time.perf_counter() - started)


class TimedUnitOfWork(PostgresUnitOfWork):
    clock = DbClock()

    def _make_sql(self, conn: Any) -> Sql:
        return TimedSql(conn, self.clock)  # every repository of the unit of work runs through it

    def commit(self) -> list[UUID]:
        started = time.perf_counter()
        try:
            return super().commit()
        finally:
            self.clock.add_named("commit", time.perf_counter() - started)


class Ledger:
    """The adapter's call log, kept in memory: usage and cost of every call."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self._lock = threading.Lock()

    def record(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)


# --- The fake's answers -----------------------------------------------------------------------------

KEY = re.compile(r'"key": "(i\d+)"')


def score_everything(body: dict[str, Any]) -> FakeReply:
    """An instant, valid score_items call covering every key in the request."""
    content = body["messages"][-1]["content"]
    text = content if isinstance(content, str) else json.dumps(content)
    keys = KEY.findall(text)
    scores = [{"key": k, "score": 40 + (hash(k) % 55), "reason": REASON} for k in keys]
    return FakeReply(tool_uses=[("score_items", {"scores": scores})])


# --- Seeding ----------------------------------------------------------------------------------------


def seed(url: str, members: int, asks: int) -> list[UUID]:
    cats = list(CATEGORIES)
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        sql = bench_sql(conn)
        sql.run("bench_seed_members", cats=cats, members=members)
        sql.run("bench_number_members")
        sql.run("bench_seed_community_requests", cats=cats, members=members, asks=asks)
        sql.run("bench_seed_intro_opportunities")
        sql.run("bench_seed_connection_requests", members=members)
        sql.run("bench_seed_goals", cats=cats)
        sql.run("bench_seed_account_manager_members")
        sql.run("bench_analyze")
        return [r["id"] for r in sql.all("bench_numbered_member_ids")]


def add_news(url: str, users: list[UUID]) -> None:
    """An inbound goal and its event, and a new community request, for each of these members."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        sql = bench_sql(conn)
        sql.run("bench_number_news_members", users=users)
        sql.run("bench_seed_news_conversations")
        sql.run("bench_seed_news_texts")
        sql.run("bench_seed_news_requests")


# --- The review -------------------------------------------------------------------------------------


@dataclass
class ReviewFigures:
    selected: int = 0
    select_seconds: float = 0.0
    wall_seconds: float = 0.0
    db_seconds: list[float] = field(default_factory=list)
    run_seconds: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)


def run_members(
    users: list[UUID], llm: AnthropicLlm, workers: int, now: datetime, figures: ReviewFigures
) -> None:
    lock = threading.Lock()

    def one(user_id: UUID) -> None:
        TimedUnitOfWork.clock.reset()
        started = time.perf_counter()
        with TimedUnitOfWork() as uow:
            result = run_for_member(uow, user_id, RunInputs("scheduled"), llm=llm, now=now)
            uow.commit()
        elapsed = time.perf_counter() - started
        with lock:
            figures.run_seconds.append(elapsed)
            figures.db_seconds.append(TimedUnitOfWork.clock.seconds)
            figures.statuses[result.status] = figures.statuses.get(result.status, 0) + 1

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, users))


def review(llm: AnthropicLlm, workers: int) -> ReviewFigures:
    figures = ReviewFigures()
    TimedUnitOfWork.clock.by_name.clear()
    now = datetime.now(UTC)
    started = time.perf_counter()
    with TimedUnitOfWork() as uow:
        due = schedule_reviews(uow, now)
        uow.commit()
    figures.select_seconds = time.perf_counter() - started
    figures.selected = len(due)
    run_members(due, llm, workers, now, figures)
    figures.wall_seconds = time.perf_counter() - started
    return figures


# --- The naive baseline --------------------------------------------------------------------------------


@dataclass
class Priced:
    calls: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    usd: Decimal = Decimal(0)


def naive_items(url: str) -> Iterator[tuple[Member, Candidate]]:
    """Every member's LLM-scored items today: open asks routed to them, their goals (stored and new)."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        sql = bench_sql(conn)
        members = {
            r["id"]: Member(r["id"], expertise=tuple(r["expertise"]), title=r["title"], company=r["company"])
            for r in sql.all("bench_verified_members")
        }
        asks = sql.all("bench_open_asks_by_target")
        for r in asks:
            yield (
                members[r["user_id"]],
                Candidate(
                    ItemType.COMMUNITY_REQUEST,
                    r["id"],
                    r["created_at"],
                    text=f"{r['question']} (urgency: {r['urgency']})",
                    category=r["category"],
                    expertise=tuple(r["expertise_needed"]),
                    source=ScoreSource.LLM,
                ),
            )
        goals = sql.all("bench_goals_and_unstored_texts")
        for r in goals:
            yield (
                members[r["user_id"]],
                Candidate(ItemType.GOAL, r["id"], r["created_at"], text=r["content"], source=ScoreSource.LLM),
            )


def price_naive(url: str, model: str, now: datetime) -> Priced:
    cache = PromptCache()
    out = Priced()
    answer_tokens = estimate_tokens(json.dumps({"scores": [{"key": "i1", "score": 70, "reason": REASON}]}))
    for member, item in naive_items(url):
        request = build_request(member, [("i1", item)], now)
        usage = cache.account(model, prompt_blocks(build_params(request, request.settings)))
        out.calls += 1
        out.input_tokens += usage.input_tokens
        out.cache_read_tokens += usage.cache_read_input_tokens
        out.cache_write_tokens += usage.cache_creation_input_tokens
        out.output_tokens += answer_tokens
        out.usd += cost_usd(
            model,
            input_tokens=usage.input_tokens,
            output_tokens=answer_tokens,
            cache_read_tokens=usage.cache_read_input_tokens,
            cache_write_tokens=usage.cache_creation_input_tokens,
        )
    return out


def price_log(log: Ledger) -> Priced:
    out = Priced()
    for record in log.records:
        out.calls += 1
        out.input_tokens += record.usage.input_tokens
        out.cache_read_tokens += record.usage.cache_read_tokens
        out.cache_write_tokens += record.usage.cache_write_tokens
        out.output_tokens += record.usage.output_tokens
        out.usd += record.cost_usd
    return out


# --- Report -----------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def report(
    args: argparse.Namespace, model: str, figures: ReviewFigures, smart: Priced, naive: Priced
) -> None:
    db = sorted(figures.db_seconds) or [0.0]
    runs = sorted(figures.run_seconds) or [0.0]
    p95 = db[min(len(db) - 1, int(len(db) * 0.95))]
    ratio = naive.calls / smart.calls if smart.calls else float("inf")
    price = price_for(model)
    per_day_calls = smart.calls * REVIEWS_PER_DAY
    per_day_usd = smart.usd * REVIEWS_PER_DAY
    print(
        f"Account Manager review: {args.members} members, {args.news:.0%} with news, {args.workers} workers"
    )
    print(
        f"model {model}: input ${price.input}/M, output ${price.output}/M, cache read ${price.cache_read}/M"
    )
    print(f"  selected for review    {figures.selected} members (select {_ms(figures.select_seconds)})")
    print(f"  run outcomes           {figures.statuses}")
    print(f"  wall time              {figures.wall_seconds:.1f} s (target < 300 s)")
    print(
        f"  DB time per member     mean {_ms(statistics.fmean(db))}, p95 {_ms(p95)};"
        f" whole run mean {_ms(statistics.fmean(runs))}"
    )
    print(f"  LLM calls              {smart.calls} (naive {naive.calls}: {ratio:.0f}x fewer; target >= 10x)")
    for name, p in (("review", smart), ("naive", naive)):
        print(
            f"  {name:<7} tokens        input {p.input_tokens}, cache read {p.cache_read_tokens},"
            f" cache write {p.cache_write_tokens}, output {p.output_tokens}; USD {p.usd:.4f}"
        )
    print(
        f"  per day (4 reviews)    {per_day_calls} calls, ${per_day_usd:.4f}"
        f" (naive {naive.calls * REVIEWS_PER_DAY} calls, ${naive.usd * REVIEWS_PER_DAY:.2f})"
    )
    slowest = sorted(TimedUnitOfWork.clock.by_name.items(), key=lambda kv: -kv[1])[:5]
    print(
        "  DB time by query       "
        + ", ".join(f"{n} {_ms(t / max(1, figures.selected))}" for n, t in slowest)
    )
    per_member_month = per_day_usd * 30 / args.members if args.members else Decimal(0)
    print(f"  per member per month   ${per_member_month:.6f} (reviews only)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--news", type=float, default=0.05)
    parser.add_argument("--asks", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    with (
        bench_database("bench_am", pool_max=args.workers + 2) as url,
        AnthropicFake(responder=score_everything) as fake,
    ):
        model = config.get_settings().anthropic_model

        started = time.perf_counter()
        users = seed(url, args.members, args.asks)
        with_news = users[:: max(1, round(1 / args.news))] if args.news > 0 else []
        warm = Ledger()
        client = build_client("bench-key", fake.base_url, timeout=10, max_retries=0)
        run_members(with_news, AnthropicLlm(client, warm), args.workers, datetime.now(UTC), ReviewFigures())
        add_news(url, with_news)
        print(
            f"seeded {len(users)} members, warmed {len(with_news)} ({len(warm.records)} calls)"
            f" in {time.perf_counter() - started:.1f} s"
        )

        log = Ledger()
        figures = review(AnthropicLlm(client, log), args.workers)
        naive = price_naive(url, model, datetime.now(UTC) + timedelta(seconds=1))
        report(args, model, figures, price_log(log), naive)


if __name__ == "__main__":
    main()
