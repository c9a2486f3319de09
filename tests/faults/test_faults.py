"""The fault table of issue 15 §2, each fault injected for real against a ``FaultStack``.

Every test ends with ``FaultStack.invariants()`` over the whole database and the Twilio
stand-in's log (no SID stored twice, no SMS sent more often than it has a ``messages`` row, no
delivery marked twice) besides its own row's assertions. Each docstring says how the row was
shown to fail on deliberately broken code.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import requests
from twilio.request_validator import RequestValidator

from shared import config
from shared.domain.constants import SMS_SEND_MAX_ATTEMPTS
from shared.routing import CONSUMERS
from tests.backbone_support import unique_phone
from tools.fakes.anthropic_api import AnthropicFake, FakeDelay, FakeError, instant_responder
from tools.fakes.loopback_http import serve_in_thread
from tools.localstack.phone import new_message_sid, send_sms

from .stack import FaultStack, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.pubsub,
    pytest.mark.xdist_group("faults"),
    pytest.mark.usefixtures("stack_settings"),
]

BOUNCER = CONSUMERS["bouncer"]


def _phone() -> str:
    return unique_phone()


def _user(stack: FaultStack, phone: str) -> dict[str, Any]:
    (row,) = stack.query("SELECT * FROM users WHERE phone_number = %s", phone)
    return row


def _turns(stack: FaultStack, phone: str) -> int:
    rows = stack.query(
        "SELECT count(*) AS n FROM agent_turns t JOIN users u ON u.id = t.user_id WHERE u.phone_number = %s",
        phone,
    )
    return int(rows[0]["n"])


def _outbound(stack: FaultStack, phone: str) -> list[dict[str, Any]]:
    return stack.query(
        "SELECT m.* FROM messages m JOIN users u ON u.id = m.user_id "
        "WHERE u.phone_number = %s AND m.direction = 'outbound' ORDER BY m.created_at",
        phone,
    )


def _unprocessed(stack: FaultStack, phone: str) -> list[dict[str, Any]]:
    return stack.query(
        "SELECT e.* FROM events e JOIN users u ON u.id = e.aggregate_id "
        "WHERE u.phone_number = %s AND NOT e.processed",
        phone,
    )


def _events(stack: FaultStack, phone: str) -> list[dict[str, Any]]:
    return stack.query(
        "SELECT e.* FROM events e JOIN users u ON u.id = e.aggregate_id WHERE u.phone_number = %s",
        phone,
    )


def _delivered_once(stack: FaultStack, phone: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait for the reply, let late work land, and check each outbound row reached the phone once."""
    stack.replies(phone, timeout=timeout)
    stack.settle()
    sent = stack.sent(phone)
    rows = _outbound(stack, phone)
    assert sorted(m["body"] for m in sent) == sorted(r["content"] for r in rows), (sent, rows)
    return sent


@contextmanager
def _tap(stack: FaultStack, topic: str) -> Iterator[Any]:
    """A pull subscription on ``topic``: what was published to it, to deliver it again."""
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(stack.emulator.project, f"tap-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(name=path, topic=f"projects/{stack.emulator.project}/topics/{topic}")
    try:
        yield lambda: _pull(subscriber, path)
    finally:
        subscriber.delete_subscription(subscription=path)
        subscriber.close()


def _pull(subscriber: Any, path: str) -> list[Any]:
    response = subscriber.pull(subscription=path, max_messages=50, timeout=10)
    if response.received_messages:
        subscriber.acknowledge(subscription=path, ack_ids=[r.ack_id for r in response.received_messages])
    return [r.message for r in response.received_messages]


def _push(stack: FaultStack, function: str, message: Any, subscription: str) -> int:
    """Post ``message`` to the consumer exactly as a push subscription does (a redelivery)."""
    body = {
        "message": {
            "data": base64.b64encode(message.data).decode(),
            "attributes": dict(message.attributes),
            "messageId": message.message_id,
            "publishTime": message.publish_time.isoformat().replace("+00:00", "Z"),
        },
        "subscription": f"projects/{stack.emulator.project}/subscriptions/{subscription}",
    }
    return requests.post(stack.url(function) + "/", json=body, timeout=120).status_code


def _three_times(call: Any) -> list[Any]:
    with ThreadPoolExecutor(3) as pool:
        return list(pool.map(lambda _: call(), range(3)))


# --- a crash between the state commit and the publish -------------------------------------


def test_a_crash_between_the_commit_and_the_publish_is_delivered_by_the_sweep(fault_stack: FaultStack):
    """The inbound SMS commits its row and its event; the event dispatcher's process is killed
    (SIGKILL), so the after-commit webhook reaches nobody. The next scheduler sweep, once the
    dispatcher is back, publishes the event: the member gets exactly one reply, 0 lost.

    Shown to fail on broken code: with the dispatcher's sweep made a no-op (the
    ``event_dispatcher`` entry point returning before ``dispatch_events`` on a sweep) the event
    stays unprocessed and no reply comes."""
    stack = fault_stack
    stack.start_process("event_dispatcher")
    stack.kill("event_dispatcher")
    phone = _phone()
    assert "event_dispatcher" in stack.ports  # still its address: the relay posts into a dead port
    assert send_sms(stack.info, phone, "hi, Maya Chen told me to text this number").status_code == 200
    stack.settle(1.5)
    assert len(_unprocessed(stack, phone)) == 1, "the event must wait in the outbox"
    assert stack.sent(phone) == []

    stack.start_process("event_dispatcher")
    assert stack.tick("event_dispatcher") == 200
    sent = _delivered_once(stack, phone)
    assert len(sent) >= 1 and _turns(stack, phone) == 1
    assert _unprocessed(stack, phone) == []
    stack.invariants()


# --- Pub/Sub and Twilio redeliveries ------------------------------------------------------


def _replay_callbacks(stack: FaultStack, sid: str) -> None:
    """Post the stand-in's status callbacks for ``sid`` again (Twilio retries them)."""
    for posted in [c for c in stack.standin.callbacks if c["sid"] == sid]:
        (row,) = stack.query("SELECT * FROM messages WHERE twilio_message_sid = %s", sid)
        params = {
            "AccountSid": stack.info.twilio_account_sid,
            "ApiVersion": "2010-04-01",
            "From": stack.info.twilio_number,
            "MessageSid": sid,
            "MessageStatus": posted["status"],
            "SmsSid": sid,
            "SmsStatus": posted["status"],
            "To": _phone_of(stack, row["user_id"]),
        }
        signature = RequestValidator(stack.auth_token).compute_signature(posted["url"], params)

        def post(url: str = posted["url"], p: dict[str, str] = params, s: str = signature) -> int:
            return requests.post(url, data=p, headers={"X-Twilio-Signature": s}, timeout=30).status_code

        assert _three_times(post) == [200, 200, 200]


def _phone_of(stack: FaultStack, user_id: Any) -> str:
    (row,) = stack.query("SELECT phone_number FROM users WHERE id = %s", user_id)
    return str(row["phone_number"])


def test_every_delivery_redelivered_three_times_makes_no_duplicate_row_or_sms(fault_stack: FaultStack):
    """Each kind of delivery arrives three more times, concurrently: Twilio's inbound webhook
    (same MessageSid), the ``message.received`` push, the sender's messages-insert webhook,
    Twilio's status callbacks and a task's push. Afterwards: one inbound row, one turn, each
    reply sent once, one mark per delivery, one task completion.

    Shown to fail on broken code (``python -m tests.faults.break_check``): with the sender's
    guarded ``pending -> sending`` claim made to accept a message in any status, the replayed
    sender webhooks send the reply again."""
    stack = fault_stack
    phone = _phone()
    sid = new_message_sid()
    with _tap(stack, BOUNCER.topic) as published:
        statuses = _three_times(
            lambda: send_sms(stack.info, phone, "hello, Maya Chen sent me", sid).status_code
        )
        assert statuses == [200, 200, 200]
        first = _delivered_once(stack, phone)
        [event] = wait_for(published, 20, "the message.received publish")
        assert event.attributes["event_type"] == "message.received"
        redelivered = _three_times(lambda: _push(stack, BOUNCER.function, event, f"{BOUNCER.topic}-push"))
        assert all(code in (200, 204) for code in redelivered), redelivered

        # The sender's webhook, three more times for every reply.
        rows = _outbound(stack, phone)
        for row in rows:
            webhook = {"table": "messages", "type": "INSERT", "record_id": str(row["id"])}
            codes = _three_times(lambda w=webhook: stack.tick("sms_sender", w))
            assert codes == [200, 200, 200], codes
            _replay_callbacks(stack, row["twilio_message_sid"])

        # A task's delivery: the Bouncer's follow-up, made due and swept, then pushed three more times.
        user = _user(stack, phone)
        tasks = stack.query(
            "UPDATE agent_tasks SET scheduled_for = now() - interval '1 second' "
            "WHERE user_id = %s AND status = 'pending' RETURNING id",
            user["id"],
        )
        if not tasks:
            tasks = stack.query(
                "INSERT INTO agent_tasks (task_type, agent_type, user_id, priority, scheduled_for, "
                "context_json, created_by) VALUES ('re_engagement_check', 'bouncer', %s, 'medium', "
                "now() - interval '1 second', '{}'::jsonb, 'fault-suite') RETURNING id",
                user["id"],
            )
        assert stack.tick("task_sweeper") == 200
        task_messages = wait_for(published, 20, "the task's publish")
        for message in task_messages:
            codes = _three_times(lambda m=message: _push(stack, BOUNCER.function, m, f"{BOUNCER.topic}-push"))
            assert all(code in (200, 204) for code in codes), codes

    stack.settle(3)
    assert stack.query("SELECT count(*) AS n FROM messages WHERE twilio_message_sid = %s", sid) == [{"n": 1}]
    answered_by = stack.query(
        "SELECT DISTINCT answered_by_turn_id FROM messages WHERE user_id = %s AND direction = 'inbound' "
        "AND role = 'user'",
        user["id"],
    )
    assert len(answered_by) == 1 and answered_by[0]["answered_by_turn_id"] is not None
    assert _turns(stack, phone) <= 2, "one reply turn, and at most one follow-up turn for the one task"
    marks = stack.query(
        "SELECT delivery_key FROM processed_deliveries "
        "WHERE delivery_key LIKE 'task:%%' AND delivery_key LIKE %s",
        f"%{tasks[0]['id'] if tasks else ''}%",
    )
    assert len(marks) <= 1
    assert len(stack.sent(phone)) == len(_outbound(stack, phone)) >= len(first)
    stack.invariants()


# --- Twilio 429 and 500 bursts ------------------------------------------------------------


def test_twilio_429_and_500_bursts_end_with_every_reply_delivered_once(fault_stack: FaultStack):
    """The stand-in answers 429 then 500 to the sender's first calls (within the sender's
    retries); five members text at once. Every reply is delivered after the burst, once.

    Shown to fail on broken code: with ``retryable`` computed as ``status >= 500`` only (429
    not retried) the first reply is marked failed and never sent."""
    stack = fault_stack
    phones = [_phone() for _ in range(5)]
    stack.standin.fail(1, status=429, code=20429)
    stack.standin.fail(1, status=500, code=20500)
    stack.standin.fail(1, status=429, code=20429)
    with ThreadPoolExecutor(5) as pool:
        codes = list(
            pool.map(
                lambda p: send_sms(stack.info, p, "hi, a friend gave me this number").status_code, phones
            )
        )
    assert codes == [200] * 5
    for phone in phones:
        _delivered_once(stack, phone, timeout=90)
        assert all(r["status"] in ("sent", "delivered", "queued") for r in _outbound(stack, phone))
    stack.invariants()


def test_a_twilio_outage_longer_than_the_senders_retries_is_delivered_after_recovery(fault_stack: FaultStack):
    """Twilio answers 500 six times in a row (longer than one claim's in-call retries). Each claim
    that outlasts its tries gives the row back to ``pending`` (never ``failed`` below
    SMS_MAX_TOTAL_ATTEMPTS); after recovery the sweep delivers the reply, once (issue 15 §1)."""
    stack = fault_stack
    phone = _phone()
    stack.standin.fail(6, status=500, code=20500)
    assert send_sms(stack.info, phone, "hi, a friend gave me this number").status_code == 200
    wait_for(lambda: _outbound(stack, phone), 60, "the reply row")
    wait_for(lambda: _outbound(stack, phone)[0]["attempts"] >= SMS_SEND_MAX_ATTEMPTS, 60, "the first claim")
    stack.settle(1)
    [row] = _outbound(stack, phone)
    assert (row["status"], row["attempts"]) == ("pending", SMS_SEND_MAX_ATTEMPTS)
    stack.query(
        "UPDATE messages SET created_at = created_at - interval '1 hour' WHERE direction = 'outbound'"
    )
    assert stack.tick("sms_sender") == 200  # the outage outlasts this claim too: back to pending
    [row] = _outbound(stack, phone)
    assert (row["status"], row["attempts"]) == ("pending", 2 * SMS_SEND_MAX_ATTEMPTS)
    assert stack.sent(phone) == []
    assert stack.tick("sms_sender") == 200  # Twilio has recovered
    _delivered_once(stack, phone, timeout=20)
    [row] = _outbound(stack, phone)
    assert row["status"] in ("queued", "sent", "delivered")
    assert row["attempts"] == 2 * SMS_SEND_MAX_ATTEMPTS + 1
    stack.invariants()


# --- Anthropic 529 and timeouts -----------------------------------------------------------


@contextmanager
def _llm(stack: FaultStack, monkeypatch: pytest.MonkeyPatch, timeout: float = 1.0) -> Iterator[AnthropicFake]:
    """The in-process functions talk to a loopback Messages API (one SDK retry, short timeout)."""
    from shared import bootstrap

    with AnthropicFake(responder=instant_responder) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "fault-suite-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        monkeypatch.setenv("ANTHROPIC_TIMEOUT_SECONDS", str(timeout))
        monkeypatch.setenv("ANTHROPIC_MAX_RETRIES", "1")
        config.reset_settings_cache()
        bootstrap.reset()
        try:
            yield fake
        finally:
            for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
                monkeypatch.delenv(var)
            config.reset_settings_cache()
            bootstrap.reset()


@pytest.mark.parametrize("fault", ["overloaded_529", "timeout"])
def test_an_unavailable_llm_still_answers_the_member_once(
    fault_stack: FaultStack, monkeypatch: pytest.MonkeyPatch, fault: str
):
    """Every call to the Messages API answers 529 (or outlasts the client's timeout), through
    the SDK's retry. The member still gets an answer (the offline brain's), once; a redelivery
    of the event afterwards does not answer again.

    Shown to fail on broken code: with the turn answering an unavailable LLM with silence
    (``TurnResult(status='silent')`` instead of the fallback brain) the member hears nothing.
    (Re-raising there is not enough to break it: the turn's graceful path still answers.)"""
    stack = fault_stack
    phone = _phone()
    with _llm(stack, monkeypatch, timeout=1.0) as fake, _tap(stack, BOUNCER.topic) as published:
        failing = (
            FakeError(529, "overloaded_error", "Overloaded")
            if fault == "overloaded_529"
            else FakeDelay(2.5, None)
        )
        fake.push(*[failing] * 12)
        assert send_sms(stack.info, phone, "hi, Maya Chen told me to text this number").status_code == 200
        _delivered_once(stack, phone, timeout=90)
        assert fake.requests, "the LLM was never asked"
        [event] = wait_for(published, 20, "the message.received publish")
        assert _push(stack, BOUNCER.function, event, f"{BOUNCER.topic}-push") in (200, 204)
        stack.settle(2)
    assert _turns(stack, phone) == 1
    assert len(stack.sent(phone)) == len(_outbound(stack, phone)) == 1
    stack.invariants()


# --- the database connection dropped mid-turn ---------------------------------------------


def _terminate_backends(database_url: str) -> int:
    """pg_terminate_backend on every other session of this database: the connections die."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        ).fetchall()
    return len(rows)


def test_the_database_connection_dropped_mid_turn_reruns_the_turn_with_exactly_one_reply(
    fault_stack: FaultStack, monkeypatch: pytest.MonkeyPatch
):
    """The turn holds its member's lock while it asks the LLM; the fake LLM stalls that first
    call, and meanwhile every connection to the database is terminated. The turn fails, the
    delivery is retried (Pub/Sub redelivers), the turn reruns: exactly one reply, one turn.

    Shown to fail on broken code: with the consumer acknowledging (200) a delivery whose handler
    raised a transient database error, the event is marked done by nobody's commit, nothing
    retries and the member gets no reply."""
    stack = fault_stack
    phone = _phone()
    with _llm(stack, monkeypatch, timeout=10.0) as fake:
        fake.push(FakeDelay(3.0, None))
        assert send_sms(stack.info, phone, "hi, Maya Chen told me to text this number").status_code == 200
        wait_for(lambda: fake.requests, 60, "the turn to reach the LLM")
        time.sleep(0.5)
        assert _terminate_backends(stack.database_url) >= 1
        _delivered_once(stack, phone, timeout=90)
        stack.settle(3)
    assert _turns(stack, phone) == 1
    assert len(stack.sent(phone)) == len(_outbound(stack, phone)) == 1
    stack.invariants()


# --- the emulator restarted ---------------------------------------------------------------


def test_the_backlog_drains_after_the_emulator_restarts(fault_stack: FaultStack):
    """The Pub/Sub emulator is stopped; three members text (their events cannot be published);
    it is started again (empty: topics and subscriptions are recreated). The backlog drains:
    each member gets one reply, no event is left unprocessed or dead-lettered.

    Shown to fail on broken code: with the dispatcher marking an event processed although its
    publish failed (``if outcome.ok`` made ``if True``), no failure is recorded and the event
    is no longer in the outbox (the Pub/Sub client's own background retry may still deliver
    that one message once the emulator is back, so the outbox row is what the test checks)."""
    stack = fault_stack
    phones = [_phone() for _ in range(3)]

    def while_down() -> None:
        for phone in phones:
            assert send_sms(stack.info, phone, "hi, a friend gave me this number").status_code == 200
        # The dispatcher's publish fails (after its publish timeout): the events are kept, with
        # the failure recorded for a retry, never marked processed.
        wait_for(
            lambda: all(
                [(e["attempts"], e["processed"]) for e in _events(stack, p)] == [(1, False)] for p in phones
            ),
            120,
            "the failed publishes to be recorded",
            every=1.0,
        )

    stack.restart_emulator(down_for=while_down)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(not stack.sent(p) or _unprocessed(stack, p) for p in phones):
        # The scheduler's ticks; a publish that failed while the emulator was down waits for its
        # backoff, which the test lets pass at once (the clock moving on). A member may have their
        # reply while their event is still in the outbox: a publish that timed out just after the
        # restart can still have reached Pub/Sub through the client's own retry; the outbox row
        # is published again (the consumer drops the copy) and only then marked processed.
        stack.query(
            "UPDATE events SET next_attempt_at = now() WHERE NOT processed AND next_attempt_at > now()"
        )
        stack.tick("event_dispatcher")
        time.sleep(2)
    for phone in phones:
        _delivered_once(stack, phone, timeout=5)
        assert _unprocessed(stack, phone) == []
    assert stack.query("SELECT count(*) AS n FROM event_dead_letters") == [{"n": 0}]
    stack.invariants()


# --- sms_sender killed mid-send -----------------------------------------------------------


class _HangingTwilio:
    """Stands between the sender and the stand-in and never answers: ``forward`` first hands the
    message to the stand-in (without its status callback: Twilio has it, nobody was told)."""

    def __init__(self, target: str, forward: bool) -> None:
        from http.server import BaseHTTPRequestHandler
        from urllib.parse import parse_qsl, urlencode

        from tools.fakes.loopback_http import StandinHTTPServer

        hang = threading.Event()
        self.hang = hang
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if forward:
                    form = [(k, v) for k, v in parse_qsl(raw.decode()) if k != "StatusCallback"]
                    requests.post(
                        target + self.path,
                        data=urlencode(form),
                        headers={
                            "Authorization": self.headers["Authorization"],
                            "Content-Type": "application/x-www-form-urlencoded",
                        },
                        timeout=10,
                    )
                outer.arrived.set()
                hang.wait(120)

        self.server = StandinHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        serve_in_thread(self.server, "hanging-twilio")

    def close(self) -> None:
        self.hang.set()
        self.server.shutdown()
        self.server.server_close()


def _age_sending_claims(stack: FaultStack) -> None:
    """Let the claim's lease run out: every timestamp of rows stranded in 'sending' moves back an
    hour (whatever column the lease is kept in)."""
    columns = stack.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'messages' "
        "AND data_type LIKE 'timestamp%%'"
    )
    sets = ", ".join(f"{c['column_name']} = {c['column_name']} - interval '1 hour'" for c in columns)
    stack.query(f"UPDATE messages SET {sets} WHERE status = 'sending'")


@pytest.mark.parametrize("twilio_got_it", [False, True], ids=["before-twilio", "after-twilio"])
def test_sms_sender_killed_mid_send_loses_nothing_and_sends_nothing_twice(
    fault_stack: FaultStack, twilio_got_it: bool
):
    """The sender's process is killed (SIGKILL) while its Twilio call is in flight: before
    Twilio had the message, or after (Twilio has it, its status callback never came). Once the
    claim's lease runs out, a restarted sender's sweep reconciles: the first is sent once, the
    second is not sent again (Twilio's message list witnesses it).

    Before the reliability branch's reconciliation the row stayed ``sending`` forever (this
    test failed on that code: no SMS within the wait)."""
    stack = fault_stack
    hanging = _HangingTwilio(stack.standin.url, forward=twilio_got_it)
    stack.start_process("sms_sender", {"TWILIO_API_BASE_URL": hanging.url})
    try:
        phone = _phone()
        assert send_sms(stack.info, phone, "hi, a friend gave me this number").status_code == 200
        assert hanging.arrived.wait(60), "the sender never called Twilio"
        stack.kill("sms_sender")
        assert [r["status"] for r in _outbound(stack, phone)] == ["sending"]
        _age_sending_claims(stack)
        stack.start_process("sms_sender")
        assert stack.tick("sms_sender") == 200
        sent = wait_for(lambda: stack.sent(phone), 30, "the reconciled SMS")
        stack.settle(2)
        assert len(stack.sent(phone)) == len(sent) == 1
        assert [r["status"] for r in _outbound(stack, phone)] != ["sending"]
        stack.invariants()
    finally:
        stack.stop_processes()
        hanging.close()
