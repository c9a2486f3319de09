"""Fault: ``sms_sender`` killed mid-send (issue 15 §2). Must hold afterwards: 0 lost, 0 duplicate SMS.

The fault is injected for real: the function runs under functions-framework in its own process,
the Twilio stand-in accepts the message and holds its answer, and the process is SIGKILLed while
it waits. The row is left ``sending``; once its lease has run out the sweep reconciles it against
the stand-in's message list (the real ``twilio`` client's ``messages.list``) and does not resend.
Then the whole database and the stand-in's log are checked.

How it was shown to fail on broken code (both tests fail in each case): with the list witness
ignored (``if free:`` in ``_settle_from_list`` made ``if False:``) the stranded row is resent, a
second SMS for one row; with the sweep no longer reading stranded rows (``stranded = []``) the
row stays ``sending`` for ever (lost).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.adapters import webhook_signing
from shared.adapters.twilio_sms import default_gateway
from shared.domain.constants import SMS_SEND_LEASE
from shared.service_layer.send_sms import SendOutcome, sweep_pending_messages
from tests.sms_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    WEBHOOK_SECRET,
    add_outbound,
    configure,
    make_user,
)
from tools.fakes.twilio_api import TwilioStandin, start_in_thread
from tools.localstack import serve
from tools.localstack.pgcluster import free_port

# As long as the local stack gives a function to start (tools/localstack/runner.py): at load 30
# the imports alone took 35 s.
SENDER_START_TIMEOUT = 300.0
# pytest-timeout's budget (the suite's default is 300 s, which counts fixture setup): above the
# sender's start, so a slow start fails with the fixture's own message, not pytest-timeout's.
SENDER_TEST_TIMEOUT = 600

pytestmark = [pytest.mark.integration, pytest.mark.timeout(SENDER_TEST_TIMEOUT)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def standin() -> Iterator[TwilioStandin]:
    with start_in_thread(auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID) as server:
        yield server


@dataclass
class Sender:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture
def sender(database_url: str, monkeypatch: pytest.MonkeyPatch, standin: TwilioStandin) -> Iterator[Sender]:
    """sms_sender under functions-framework in its own process (and process group)."""
    callback = f"http://127.0.0.1:{free_port()}/twilio_status"  # nobody listens: callbacks are lost
    configure(monkeypatch, TWILIO_API_BASE_URL=standin.url, TWILIO_STATUS_CALLBACK_URL=callback)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": standin.url,
        "TWILIO_STATUS_CALLBACK_URL": callback,
        "WEBHOOK_SIGNING_SECRET": WEBHOOK_SECRET,
        "LOG_LEVEL": "WARNING",
    }
    with serve.bind_loopback() as sock:  # bound here and handed over (tools/localstack/serve.py)
        port = serve.port_of(sock)
        proc = serve.start_function("sms_sender", sock, env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + SENDER_START_TIMEOUT
    while True:
        try:
            requests.get(url, timeout=1)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("sms_sender did not start") from None
            time.sleep(0.2)
    try:
        yield Sender(url, proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def kill_sender_mid_send(sender: Sender, message_id: Any, standin: TwilioStandin) -> None:
    """Post the webhook; once Twilio has the message (its answer held back), SIGKILL the sender."""
    body = json.dumps({"table": "messages", "type": "INSERT", "record_id": str(message_id)}).encode()
    headers = {
        webhook_signing.SIGNATURE_HEADER: webhook_signing.sign(WEBHOOK_SECRET, body),
        "Content-Type": "application/json",
    }
    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            answer = requests.post(sender.url, data=body, headers=headers, timeout=30)
            outcome["status"] = answer.status_code
        except requests.RequestException as exc:
            outcome["error"] = exc

    caller = threading.Thread(target=post, daemon=True)
    caller.start()
    deadline = time.monotonic() + 20
    while not standin.sent:
        assert time.monotonic() < deadline, "the sender never reached Twilio"
        time.sleep(0.05)
    os.killpg(sender.process.pid, signal.SIGKILL)  # mid-call: Twilio has it, the answer is held
    sender.process.wait(timeout=10)
    caller.join(timeout=10)
    assert "status" not in outcome, "the sender answered: it was not killed mid-send"


def whole_state(db: Any) -> dict[str, int]:
    row = db.execute(
        "SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')) AS unsettled,"
        " count(*) FILTER (WHERE twilio_message_sid IS NOT NULL) AS with_sid,"
        " count(*) AS outbound FROM messages WHERE direction = 'outbound'"
    ).fetchone()
    return dict(row)


def expire_leases(db: Any) -> None:
    db.execute(
        "UPDATE messages SET claimed_at = now() - %s WHERE status = 'sending'",
        (SMS_SEND_LEASE + timedelta(minutes=1),),
    )


def test_killed_after_twilio_accepted_nothing_is_lost_and_nothing_is_sent_twice(db, standin, sender):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["the one and only"])
    standin.fail(1, delay=15)  # Twilio accepts, then holds its answer: the sender dies waiting
    kill_sender_mid_send(sender, message_id, standin)
    row = db.execute(
        "SELECT status, twilio_message_sid FROM messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert (row["status"], row["twilio_message_sid"]) == ("sending", None)  # stranded

    assert sweep_pending_messages(gateway=default_gateway(), sleep=lambda _s: None) == []  # leased
    expire_leases(db)
    [report] = sweep_pending_messages(gateway=default_gateway(), sleep=lambda _s: None)
    assert report.outcome is SendOutcome.RECONCILED

    assert [m["body"] for m in standin.sent] == ["the one and only"]  # 0 duplicate SMS
    assert whole_state(db) == {"unsettled": 0, "with_sid": 1, "outbound": 1}  # 0 lost
    sid = db.execute("SELECT twilio_message_sid FROM messages WHERE id = %s", (message_id,)).fetchone()
    assert sid["twilio_message_sid"] == standin.sent[0]["sid"]


def test_killed_mid_send_among_other_messages_each_reaches_the_phone_once(db, standin, sender):
    user_id, conversation_id = make_user(db)
    [first] = add_outbound(user_id, conversation_id, ["same words"])
    standin.fail(1, delay=15)
    kill_sender_mid_send(sender, first, standin)
    # The same member is sent the same words again later, by a live sender, and a third
    # message is stranded before it ever reached Twilio.
    [second] = add_outbound(user_id, conversation_id, ["same words"])
    [third] = add_outbound(user_id, conversation_id, ["never reached Twilio"])
    db.execute(
        "UPDATE messages SET status = 'sending', attempts = 1, claimed_at = now() WHERE id = %s", (third,)
    )
    db.execute("UPDATE messages SET created_at = now() - interval '5 minutes' WHERE id = %s", (second,))
    expire_leases(db)
    reports = sweep_pending_messages(gateway=default_gateway(), sleep=lambda _s: None)
    outcomes = {r.message_id: r.outcome for r in reports}
    assert outcomes[first] is SendOutcome.RECONCILED
    assert outcomes[third] is SendOutcome.SENT
    assert outcomes[second] is SendOutcome.SENT
    bodies = sorted(m["body"] for m in standin.sent)
    assert bodies == ["never reached Twilio", "same words", "same words"]  # each row once
    assert whole_state(db) == {"unsettled": 0, "with_sid": 3, "outbound": 3}
    sids = {r["twilio_message_sid"] for r in db.execute("SELECT twilio_message_sid FROM messages").fetchall()}
    assert sids == {m["sid"] for m in standin.sent}
