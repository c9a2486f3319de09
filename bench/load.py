"""Load with invariants: many simulated members texting in bursts through the whole local stack.

    python -m bench.load [--members 1000] [--messages 10] [--burst 2] [--concurrency 50]

Starts the local stack (``python -m tools.localstack``, its own private cluster) with no API
key, so every agent answers with its offline brain. Each member sends ``--messages`` texts in
bursts of ``--burst`` (rapid-fire, one signed Twilio webhook each), waits for the reply to the
burst, then sends the next burst; ``--concurrency`` members text at once. Then it waits for the
stack to drain and checks, over the whole database and the Twilio stand-in's log:

- exactly one reply turn per inbound burst;
- no member over the proactive budget (B1: 5 a local day, 2 an hour) or messaged in quiet
  hours (22:00-08:00 local) by a queued (proactive) message;
- no SMS sent twice (a Twilio SID stored once; no (phone, body) sent more often than there are
  ``messages`` rows for it);
- no event left unprocessed;
- no dead letter that is not explained (work for an agent not deployed yet is explained).

It prints each invariant as checked, and: throughput (inbound texts/s and replies/s), p50/p99
from a burst's first text to its reply reaching the Twilio stand-in, the time to drain after
the last text, the peak number of connections to Postgres, the load average; and, as the
same-run baseline, the inbound webhook alone (``twilio_inbound`` on its own, on a fresh
database) at the same arrival rate. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import requests
from psycopg.rows import dict_row
from twilio.request_validator import RequestValidator

from bench._stack import bench_database, local_stack
from bench.queries import bench_sql
from shared.domain.constants import (
    BURST_QUIET_GAP,
    DAILY_PROACTIVE_LIMIT,
    DEFAULT_TIMEZONE,
    HOURLY_BUDGET_WINDOW,
    HOURLY_PROACTIVE_LIMIT,
    QUIET_HOURS_END_HOUR,
    QUIET_HOURS_START_HOUR,
)
from tools.fakes.loopback_http import post_form
from tools.localstack import serve
from tools.localstack.phone import send_sms, sent_messages, wait_for_replies
from tools.localstack.stack_info import StackInfo

ROOT = Path(__file__).resolve().parent.parent
REPLY_TIMEOUT = 180.0
DRAIN_TIMEOUT = 600.0
EXPLAINED_DEAD_LETTER = "not deployed yet"
STORIES_SHOWN = 3  # members whose story is printed when their bursts went unanswered


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)  # burst's first text -> reply at Twilio (s)
    webhook: list[float] = field(default_factory=list)  # inbound webhook request -> response (s)
    bursts: Counter[str] = field(default_factory=Counter)  # phone -> bursts sent
    missing: list[str] = field(default_factory=list)  # bursts that got no reply in time
    texts: int = 0
    first_send: float = 0.0
    last_send: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def one_member(info: StackInfo, phone: str, messages: int, burst: int, figures: Figures) -> None:
    seen = 0
    for start in range(0, messages, burst):
        began = time.time()
        count = min(burst, messages - start)
        for i in range(count):
            t0 = time.perf_counter()
            response = send_sms(info, phone, f"text {start + i} from {phone[-4:]}: hello there")
            elapsed = time.perf_counter() - t0
            response.raise_for_status()
            with figures.lock:
                figures.webhook.append(elapsed)
                figures.texts += 1
                figures.first_send = figures.first_send or began
                figures.last_send = max(figures.last_send, time.time())
        with figures.lock:
            figures.bursts[phone] += 1
        # One long poll: the stand-in answers when the reply arrives and stamps it on its own clock.
        new = wait_for_replies(info, phone, seen, timeout=REPLY_TIMEOUT)
        if not new:
            with figures.lock:
                figures.missing.append(f"{phone} burst {start // burst}")
            continue
        with figures.lock:
            figures.latencies.append(float(new[0]["received_at"]) - began)
        time.sleep(0.3)  # let the other parts of a split reply land before the next burst
        seen = len(sent_messages(info, phone))


class ConnectionPeak:
    """Samples the number of client connections to the server every 0.2 s."""

    def __init__(self, url: str) -> None:
        self.peak = 0
        self._url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConnectionPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with psycopg.connect(self._url, autocommit=True, row_factory=dict_row) as conn:
            while not self._stop.is_set():
                row = bench_sql(conn).one("bench_load_client_connections")
                self.peak = max(self.peak, int(row["n"]) - 1 if row else 0)  # not counting this sampler
                self._stop.wait(0.2)


def rows(url: str, name: str, **params: object) -> list[dict[str, Any]]:
    """A named bench query's rows (``bench/sql/load.sql``), on a connection of its own."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        return [dict(r) for r in bench_sql(conn).all(name, **params)]


def backlog(url: str) -> dict[str, int]:
    (row,) = rows(url, "bench_load_backlog")
    return {k: int(v) for k, v in row.items()}


def drain(url: str, info: StackInfo) -> tuple[float, dict[str, int]]:
    """Seconds until nothing due is left (events, SMS, queue, tasks) and the SMS count is still."""
    started = time.monotonic()
    last_count = -1
    while time.monotonic() - started < DRAIN_TIMEOUT:
        left = backlog(url)
        count = len(sent_messages(info, None, timeout=30.0))
        if not any(left.values()) and count == last_count:
            return time.monotonic() - started, left
        last_count = count
        time.sleep(1.0)
    return time.monotonic() - started, backlog(url)


def received_bursts(texts: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each member's texts grouped into bursts as the platform sees them: a text more than
    ``BURST_QUIET_GAP`` after the one before starts a new burst (server-side times, so a webhook
    slowed by load does not split a burst the member sent at once, nor join two)."""
    bursts: list[tuple[str, list[dict[str, Any]]]] = []
    for text in texts:  # ordered by member, then time
        last = bursts[-1] if bursts else None
        if (
            last is None
            or last[0] != text["phone_number"]
            or text["created_at"] - last[1][-1]["created_at"] > BURST_QUIET_GAP
        ):
            bursts.append((text["phone_number"], [text]))
        else:
            last[1].append(text)
    return bursts


def check(label: str, violations: list[Any]) -> bool:
    mark = "ok  " if not violations else "FAIL"
    print(f"  [{mark}] {label}" + ("" if not violations else f": {len(violations)} e.g. {violations[:3]}"))
    return not violations


def invariants(url: str, info: StackInfo, figures: Figures) -> bool:
    print("\ninvariants over the whole database and the Twilio stand-in's log:")
    ok = True
    bursts = received_bursts(rows(url, "bench_load_inbound_texts"))
    sent_bursts = sum(figures.bursts.values())
    wrong = [
        f"{phone} burst at {texts[0]['created_at']:%H:%M:%S}: turns {sorted({str(t) for t in answered})}"
        for phone, texts in bursts
        if len(answered := {t["answered_by_turn_id"] for t in texts}) != 1 or None in answered
    ]
    ok &= check(
        f"exactly one reply turn per inbound burst ({len(bursts)} bursts as received, {sent_bursts} as sent)",
        wrong,
    )
    turns = rows(url, "bench_load_reply_turns")
    silent = [
        f"{t['phone_number']}: turn {t['id']} wrote {t['replies']} replies" for t in turns if not t["replies"]
    ]
    ok &= check(f"every reply turn wrote its reply ({len(turns)} turns)", silent)
    covering = Counter(str(t["answered_by_turn_id"]) for _, texts in bursts for t in texts[:1])
    late = sum(1 for n in covering.values() if n > 1)
    print(f"         ({late} turns answered two bursts at once: they ran after the next burst had arrived)")

    proactive = rows(url, "bench_load_proactive_deliveries")
    over: list[str] = []
    quiet: list[str] = []
    per_member: dict[str, list[datetime]] = {}
    for r in proactive:
        tz = ZoneInfo(r["timezone"] or DEFAULT_TIMEZONE)
        local = r["created_at"].astimezone(tz)
        if local.hour >= QUIET_HOURS_START_HOUR or local.hour < QUIET_HOURS_END_HOUR:
            quiet.append(f"{r['phone_number']} at {local:%H:%M}")
        per_member.setdefault(r["phone_number"], []).append(local)
    for phone, times in per_member.items():
        by_day = Counter(t.date() for t in times)
        if max(by_day.values()) > DAILY_PROACTIVE_LIMIT:
            over.append(f"{phone}: {max(by_day.values())} in a day")
        for t in times:
            in_hour = [u for u in times if t <= u < t + HOURLY_BUDGET_WINDOW]
            if len(in_hour) > HOURLY_PROACTIVE_LIMIT:
                over.append(f"{phone}: {len(in_hour)} within an hour")
                break
    ok &= check(
        f"no member over budget B1 ({DAILY_PROACTIVE_LIMIT}/day, {HOURLY_PROACTIVE_LIMIT}/hour; "
        f"{len(proactive)} proactive messages)",
        over,
    )
    ok &= check("no member messaged in quiet hours", quiet)

    twice = rows(url, "bench_load_duplicate_sids")
    sent = Counter((m["to"], m["body"]) for m in sent_messages(info, None, timeout=60.0))
    allowed = {
        (r["phone_number"], r["content"]): int(r["n"]) for r in rows(url, "bench_load_outbound_counts")
    }
    extra = [f"{k[0]}: {k[1][:30]!r} x{n}" for k, n in sent.items() if n > allowed.get(k, 0)]
    ok &= check(f"no SMS sent twice ({sum(sent.values())} SMS)", [*twice, *extra])

    unprocessed = rows(url, "bench_load_unprocessed_events")
    ok &= check("no event left unprocessed", unprocessed)

    dead = rows(url, "bench_load_dead_letters")
    explained = [d for d in dead if EXPLAINED_DEAD_LETTER in (d["error_message"] or "")]
    unexplained = [d for d in dead if d not in explained]
    ok &= check(
        f"no unexplained dead letter ({len(explained)} explained: agent not deployed yet)", unexplained
    )
    if figures.missing:  # answered later (the check above), by the turn that answered the next burst too
        print(f"         ({len(figures.missing)} bursts waited over {REPLY_TIMEOUT:.0f} s for their reply)")
    stories = sorted({w.split(" ")[0] for w in wrong} | {m.split(" ")[0] for m in figures.missing})
    for phone in stories[:STORIES_SHOWN]:
        print(f"\n  {phone}, oldest first:")
        for r in rows(url, "bench_load_member_timeline", phone=phone):
            print(f"    {r['at']:%H:%M:%S.%f}  {r['kind']:<34} {r['detail']}")
    return ok


def open_loop(call: Callable[[int], None], rate: float, count: int) -> list[str]:
    """``call(0)`` .. ``call(count - 1)`` started at ``rate`` a second (all at once when 0), each on
    a pool thread, whether or not the earlier ones have answered; the errors raised, as text."""
    interval = 1.0 / rate if rate > 0 else 0.0
    start = time.perf_counter()
    with ThreadPoolExecutor(64) as pool:
        calls = []
        for i in range(count):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            calls.append(pool.submit(call, i))
    return [str(c.exception()) for c in calls if c.exception() is not None]


def baseline_webhook(rate: float, count: int) -> list[float]:
    """``twilio_inbound`` alone (nothing downstream: no relay, no dispatcher) on a fresh database,
    driven open-loop at ``rate`` requests/s; the request latencies (s)."""
    token = "bench-baseline-token"
    listen = serve.bind_loopback()  # bound here and handed over (tools/localstack/serve.py)
    port = serve.port_of(listen)
    with listen, bench_database("bench_load_baseline") as url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "PUBLIC_BASE_URL"))},
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": url,
            "TWILIO_AUTH_TOKEN": token,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "WARNING",
            "THREADS": "8",
            "DATABASE_POOL_MAX": "8",
        }
        proc = serve.start_function("twilio_inbound", listen, env, new_session=False)
        listen.close()
        try:
            target = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 120
            while True:
                try:
                    requests.get(target, timeout=2)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline:
                        raise SystemExit("baseline twilio_inbound did not start") from None
                    time.sleep(0.2)
            validator = RequestValidator(token)
            latencies: list[float] = []
            lock = threading.Lock()

            def one(i: int) -> None:
                params = {
                    "MessageSid": f"SM{i:032x}",
                    "AccountSid": "AC" + "0" * 32,
                    "From": f"+1415{3_000_000 + i % 1000:07d}",
                    "To": "+15005550006",
                    "Body": f"baseline {i}",
                    "NumMedia": "0",
                }
                headers = {"X-Twilio-Signature": validator.compute_signature(target, params)}
                t0 = time.perf_counter()
                answer = post_form(target, params, headers=headers, timeout=60)  # as phone.send_sms
                with lock:
                    latencies.append(time.perf_counter() - t0)
                answer.raise_for_status()  # a refused webhook is not a baseline: counted below

            one(10**9)  # warm-up: imports and the first connection
            latencies.clear()
            failed = open_loop(one, rate, count)
            if failed:
                raise SystemExit(
                    f"baseline: {len(failed)} of {count} webhook requests failed (first: {failed[0]}); "
                    "its latencies would not be the webhook's"
                )
            return latencies
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a loaded machine: a slow stop is not a failed run
                proc.kill()
                proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=10, help="texts per member")
    parser.add_argument("--burst", type=int, default=2, help="texts per burst (sent back to back)")
    parser.add_argument("--concurrency", type=int, default=50, help="members texting at once")
    parser.add_argument("--quiet", action="store_true", help="do not echo the stack's start-up")
    parser.add_argument(
        "--push",
        choices=("emulator", "direct"),
        default="emulator",
        help="who delivers Pub/Sub pushes: the emulator, or direct push without its ceiling",
    )
    args = parser.parse_args(argv)

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ANTHROPIC_API_KEY")}
    env["LOG_LEVEL"] = env.get("LOG_LEVEL", "WARNING")
    phones = [f"+1415{2_000_000 + i:07d}" for i in range(args.members)]
    figures = Figures()
    with local_stack(env, echo=not args.quiet, push=args.push) as (info, state):
        url = info.database_url
        print(
            f"\n{args.members} members x {args.messages} texts in bursts of {args.burst}, "
            f"{args.concurrency} at once; Pub/Sub push: {args.push}; brain: {info.brain}"
        )
        with ConnectionPeak(url) as peak:
            started = time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                for future in [
                    pool.submit(one_member, info, p, args.messages, args.burst, figures) for p in phones
                ]:
                    future.result()
            answered = time.monotonic() - started
            drain_s, left = drain(url, info)
        send_window = max(figures.last_send - figures.first_send, 1e-9)
        rate = figures.texts / send_window
        replies = len(sent_messages(info, None, timeout=60.0))
        ok = invariants(url, info, figures)
        if not ok or figures.missing:  # the state directory goes with the stack: keep its logs
            kept = Path(tempfile.mkdtemp(prefix="yp-load-logs-"))
            shutil.copytree(state / "logs", kept, dirs_exist_ok=True)
            print(f"  the stack's logs are kept in {kept}")

    base = baseline_webhook(rate, min(figures.texts, 2000))
    print("\nfigures:")
    print(f"  inbound texts: {figures.texts} over {send_window:.1f} s = {rate:.1f}/s arrival rate")
    print(
        f"  throughput: {figures.texts / answered:.1f} texts/s, {replies / answered:.1f} SMS/s end to end "
        f"({answered:.1f} s until every burst was answered)"
    )
    print(
        f"  burst -> reply at Twilio: p50 {statistics.median(figures.latencies) * 1000:.0f} ms, "
        f"p99 {percentile(figures.latencies, 99) * 1000:.0f} ms, {len(figures.latencies)} bursts"
    )
    print(f"  time to drain after the last burst was answered: {drain_s:.1f} s (left: {left})")
    print(f"  peak connections to Postgres: {peak.peak}")
    print(
        f"  inbound webhook under load: p50 {statistics.median(figures.webhook) * 1000:.1f} ms, "
        f"p99 {percentile(figures.webhook, 99) * 1000:.1f} ms"
    )
    print(
        f"  baseline, inbound webhook alone at {rate:.1f}/s: p50 {statistics.median(base) * 1000:.1f} ms, "
        f"p99 {percentile(base, 99) * 1000:.1f} ms ({len(base)} requests)"
    )
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(f"\ninvariants: {'all held' if ok else 'VIOLATED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
