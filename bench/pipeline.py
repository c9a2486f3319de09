"""The platform's own latency, with the LLM taken out.

Drives the full local stack (``python -m tools.localstack``): the signed inbound webhook,
the NOTIFY relay, the dispatcher, Pub/Sub (emulator), the Bouncer (real ``anthropic``
client against a scripted endpoint that answers instantly), the outbound row, the relay,
the SMS sender and the Twilio stand-in. Prints p50 and p99 of the time from the webhook
request to the Twilio API call, at 1 and at 20 concurrent simulated users.

As a same-run baseline it also times the bare signed webhook round trip (request to empty
TwiML), which every reply has to include.

``--path concierge`` (issue 16) times the same round trip for approved members: the text is
routed to ``agent_concierge``, whose turn loads the member's context (goal, priorities, open
requests), makes its two calls (answered instantly), runs the guards and writes the reply. The
simulated users are made members beforehand through the same repository calls onboarding and
an operator's approval make (no welcome is queued, so only replies reach the stand-in).

Usage: ``python -m bench.pipeline [--messages 5] [--concurrency 1 20] [--path bouncer concierge]``
Target (issue 4): p50 <= 150 ms and p99 <= 500 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench._stack import start_stack
from shared import config
from shared.adapters.repositories.users import ProfileFields
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.phone import guess_timezone
from tools.fakes.anthropic_api import AnthropicFake, instant_responder
from tools.localstack.phone import send_sms, sent_messages, wait_for_replies
from tools.localstack.stack_info import StackInfo

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def one_user(info: StackInfo, phone: str, messages: int) -> tuple[list[float], list[float]]:
    """Send messages one after another, each after the previous reply; return latencies (s)."""
    to_twilio: list[float] = []
    webhook: list[float] = []
    seen = len(sent_messages(info, phone))
    for i in range(messages):
        started = time.time()
        response = send_sms(info, phone, f"message {i} from the benchmark")
        webhook.append(time.time() - started)
        response.raise_for_status()
        # A long poll: the stand-in answers when the reply arrives; its own clock stamps it.
        new = wait_for_replies(info, phone, seen, timeout=60)
        if not new:
            raise SystemExit(f"{phone}: no reply within 60 s to message {i}")
        to_twilio.append(float(new[0]["received_at"]) - started)
        time.sleep(0.05)  # let any second part of a sequence land before the next message
        seen = len(sent_messages(info, phone))
    return to_twilio, webhook


def make_members(info: StackInfo, phones: list[str]) -> None:
    """Onboarded, email-verified members approved for the Concierge, in the stack's database."""
    os.environ["DATABASE_URL"] = info.database_url
    config.reset_settings_cache()
    with PostgresUnitOfWork() as uow:
        for i, phone in enumerate(phones):
            user = uow.users.upsert_by_phone(phone, timezone=guess_timezone(phone))
            uow.users.update_profile(
                user.id,
                ProfileFields(first_name="Bench", last_name=f"Member{i}", company="Globex", title="CTO"),
            )
            uow.users.mark_email_verified(user.id, f"bench{i}@globex.example")
            uow.users.complete_onboarding(user.id)
            uow.users.approve(user.id, "concierge")
        uow.commit()


def phones_for(path: str, users: int, offset: int) -> list[str]:
    exchange = "556" if path == "bouncer" else "557"
    return [f"+1415{exchange}{offset + i:04d}" for i in range(users)]


def run_level(
    info: StackInfo, users: int, messages: int, offset: int, path: str = "bouncer"
) -> tuple[list[float], list[float]]:
    phones = phones_for(path, users, offset)
    if path == "concierge":
        make_members(info, phones)
    to_twilio: list[float] = []
    webhook: list[float] = []
    with ThreadPoolExecutor(max_workers=users) as pool:
        for a, b in pool.map(lambda p: one_user(info, p, messages), phones):
            to_twilio += a
            webhook += b
    return to_twilio, webhook


def emulator_push_ceiling(info: StackInfo, pushes: int = 20, hold: float = 0.1) -> int:
    """How many pushes the Pub/Sub emulator keeps in flight for one subscription (a slow
    endpoint, many ordering keys). Production Pub/Sub scales push delivery out; the emulator
    does not, and every agent turn locally waits behind this ceiling."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from google.cloud import pubsub_v1

    from tools.localstack.stack_info import PROJECT

    os.environ["PUBSUB_EMULATOR_HOST"] = info.pubsub_emulator_host
    state = {"active": 0, "peak": 0, "done": 0}
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                state["active"] += 1
                state["peak"] = max(state["peak"], state["active"])
            time.sleep(hold)
            with lock:
                state["active"] -= 1
                state["done"] += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, "bench-push-ceiling")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(
        request={
            "name": subscriber.subscription_path(PROJECT, "bench-push-ceiling"),
            "topic": topic,
            "push_config": {"push_endpoint": f"http://127.0.0.1:{server.server_address[1]}/"},
        }
    )
    for future in [publisher.publish(topic, b"x") for _ in range(pushes)]:
        future.result()
    deadline = time.monotonic() + 60
    while state["done"] < pushes and time.monotonic() < deadline:
        time.sleep(0.05)
    server.shutdown()
    return state["peak"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    parser.add_argument("--messages", type=int, default=5, help="messages per simulated user")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20])
    parser.add_argument(
        "--path", nargs="+", choices=("bouncer", "concierge"), default=["bouncer", "concierge"]
    )
    args = parser.parse_args(argv)

    fake = AnthropicFake(responder=instant_responder).start()
    state_dir = Path(tempfile.mkdtemp(prefix="yp-bench-"))
    state_dir.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"ANTHROPIC_API_KEY": "bench-key-not-secret", "ANTHROPIC_BASE_URL": fake.base_url})
    # Time the machinery, not the deliberate pause that lets a burst of texts settle (BURST_QUIET_GAP).
    env["BURST_QUIET_GAP_SECONDS"] = "0"
    proc, info = start_stack(state_dir, env)
    try:
        for path in args.path:  # warm-up: first requests pay imports and connection set-up
            run_level(info, 2, 2, 9000, path)
        header = ("path", "users", "msgs", "p50 ms", "p99 ms", "webhook p50", "webhook p99")
        print("\n{:>9} {:>6} {:>6} {:>8} {:>8} {:>12} {:>12}".format(*header))
        for path in args.path:
            for i, users in enumerate(args.concurrency):
                to_twilio, webhook = run_level(info, users, args.messages, i * 100, path)
                print(
                    f"{path:>9} {users:>6} {len(to_twilio):>6} {statistics.median(to_twilio) * 1000:>8.1f} "
                    f"{percentile(to_twilio, 99) * 1000:>8.1f} {statistics.median(webhook) * 1000:>12.1f} "
                    f"{percentile(webhook, 99) * 1000:>12.1f}"
                )
        print("\ntarget: p50 <= 150 ms, p99 <= 500 ms (webhook request -> Twilio API call)")
        print(
            f"Pub/Sub emulator push ceiling, same run: {emulator_push_ceiling(info)} request(s) in flight "
            "per subscription (every agent turn waits behind it locally; Pub/Sub in production scales out)"
        )
        print(f"LLM calls answered by the scripted endpoint: {len(fake.requests)}")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        fake.stop()
    shutil.rmtree(state_dir, ignore_errors=True)  # kept for inspection when the run failed
    return 0


if __name__ == "__main__":
    sys.exit(main())
