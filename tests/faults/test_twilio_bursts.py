"""Fault: Twilio 429 and 500 bursts (issue 15 §2). Must hold afterwards: every message delivered
once Twilio recovers, 0 duplicates.

The stand-in answers a burst of 429s (with ``Retry-After``) and 500s to the real ``twilio``
client; the webhook calls and then the sweeps keep going (each retry waits with jitter or for
``Retry-After``; a message whose claim ran out of tries goes back to ``pending``), until the
burst is over. Then the whole database and the stand-in's log are checked.

Shown to fail on broken code: with transient errors failing the row at once (the old
behaviour: ``SMS_MAX_TOTAL_ATTEMPTS`` set to 1) messages end ``failed`` and are never delivered.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.twilio_sms import default_gateway
from shared.domain.constants import SMS_PENDING_SWEEP_AFTER
from shared.service_layer.send_sms import deliver_message, sweep_pending_messages
from tests.sms_support import ACCOUNT_SID, AUTH_TOKEN, add_outbound, configure, make_user
from tools.fakes.twilio_api import TwilioStandin, start_in_thread
from tools.localstack.pgcluster import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def standin(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioStandin]:
    with start_in_thread(auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID) as server:
        configure(
            monkeypatch,
            TWILIO_API_BASE_URL=server.url,
            TWILIO_STATUS_CALLBACK_URL=f"http://127.0.0.1:{free_port()}/",
        )
        yield server


def test_a_burst_of_429_and_500_then_recovery_delivers_everything_once(db, standin):
    waits: list[float] = []
    members = [make_user(db, f"+1415555{n:04d}") for n in range(4)]
    ids = [
        add_outbound(user, conversation, [f"hello {n}"])[0] for n, (user, conversation) in enumerate(members)
    ]
    for n in range(10):  # twenty failures in a row, alternating, some asking to wait
        standin.fail(1, status=429, retry_after=1 if n % 3 == 0 else None)
        standin.fail(1, status=500 if n % 2 else 503)

    for message_id in ids:  # the database webhooks
        deliver_message(message_id, gateway=default_gateway(), sleep=waits.append)
    clock = datetime.now(UTC)
    for _ in range(8):  # the scheduler's sweeps, each one sweep period later
        clock += SMS_PENDING_SWEEP_AFTER + timedelta(seconds=1)
        sweep_pending_messages(gateway=default_gateway(), sleep=waits.append, now=clock)
        if not db.execute("SELECT 1 FROM messages WHERE status IN ('pending', 'sending')").fetchone():
            break

    assert standin.state.failures == []  # the burst is over
    rows = db.execute("SELECT id, status, twilio_message_sid FROM messages ORDER BY content").fetchall()
    assert [r["status"] for r in rows] == ["queued"] * 4  # all delivered
    sent = standin.sent
    assert sorted(m["body"] for m in sent) == [f"hello {n}" for n in range(4)]  # each once
    assert {r["twilio_message_sid"] for r in rows} == {m["sid"] for m in sent}
    assert 1.0 in waits  # Retry-After honoured
    assert any(0.25 <= w <= 0.75 and w != 0.5 for w in waits)  # jittered backoff
