"""The sender's retries, sequences and the full loop: inbound -> outbound -> stand-in -> status callback."""

import time
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler

import pytest
from werkzeug.serving import make_server

from shared.adapters.twilio_sms import GatewayError, TwilioSmsGateway, default_gateway
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import SMS_MAX_TOTAL_ATTEMPTS, SMS_RETRY_AFTER_MAX, SMS_SEND_JITTER
from shared.domain.opt_out import HELP_TEXT
from shared.service_layer.inbound_sms import InboundSms, record_inbound_sms
from shared.service_layer.send_sms import SendOutcome, backoff_wait, deliver_message
from tests.sms_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    add_outbound,
    configure,
    make_user,
    new_sid,
)
from tools.fakes.loopback_http import serve_in_thread
from tools.fakes.twilio_api import start_in_thread
from tools.localstack.pgcluster import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def standin():
    with start_in_thread(auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID) as server:
        yield server


@pytest.fixture
def env(database_url, monkeypatch, standin):
    configure(
        monkeypatch,
        TWILIO_API_BASE_URL=standin.url,
        TWILIO_STATUS_CALLBACK_URL=f"http://127.0.0.1:{free_port()}/",
    )


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds):
        self.waits.append(seconds)


def msg(db: Any, message_id: Any) -> Any:
    return db.execute("SELECT * FROM messages WHERE id = %s", (message_id,)).fetchone()


def test_429_and_5xx_are_retried_with_backoff_then_sent(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["persist"])
    standin.fail(1, status=429)
    standin.fail(1, status=503)
    sleeps = Sleeps()
    [report] = deliver_message(message_id, sleep=sleeps, gateway=default_gateway(), jitter=lambda: 1.0)
    assert report.outcome is SendOutcome.SENT
    assert sleeps.waits == [0.5, 2.0]
    row = msg(db, message_id)
    assert row["attempts"] == 3
    assert row["status"] == "queued"
    assert len(standin.sent) == 1


def test_backoff_waits_are_jittered_around_the_base_waits(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["jitter"])
    standin.fail(2, status=500)
    sleeps = Sleeps()
    deliver_message(message_id, sleep=sleeps, gateway=default_gateway())
    low, high = 1 - SMS_SEND_JITTER, 1 + SMS_SEND_JITTER
    assert 0.5 * low <= sleeps.waits[0] <= 0.5 * high
    assert 2.0 * low <= sleeps.waits[1] <= 2.0 * high
    assert backoff_wait(1, None, lambda: low) == pytest.approx(0.5 * low)


def test_retry_after_is_honoured(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["patience"])
    standin.fail(1, status=429, retry_after=3)
    standin.fail(1, status=503, retry_after=1)
    sleeps = Sleeps()
    [report] = deliver_message(message_id, sleep=sleeps, gateway=default_gateway(), jitter=lambda: 1.0)
    assert report.outcome is SendOutcome.SENT
    assert sleeps.waits == [3.0, 1.0]
    assert len(standin.sent) == 1


def test_a_retry_after_longer_than_the_cap_hands_the_row_to_the_sweep(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["later"])
    standin.fail(1, status=429, retry_after=SMS_RETRY_AFTER_MAX.total_seconds() + 60)
    sleeps = Sleeps()
    [report] = deliver_message(message_id, sleep=sleeps, gateway=default_gateway())
    assert report.outcome is SendOutcome.RETRY_LATER
    assert sleeps.waits == []
    row = msg(db, message_id)
    assert (row["status"], row["attempts"], row["error_code"]) == ("pending", 1, 20429)


def test_transient_errors_go_back_to_pending_then_fail_after_the_total_attempts(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["doomed"])
    standin.fail(SMS_MAX_TOTAL_ATTEMPTS, status=500)
    sleeps = Sleeps()
    [report] = deliver_message(message_id, sleep=sleeps, gateway=default_gateway())
    assert report.outcome is SendOutcome.RETRY_LATER
    assert len(sleeps.waits) == 2
    row = msg(db, message_id)
    assert (row["status"], row["attempts"], row["error_code"]) == ("pending", 3, 20500)
    outcomes = [
        deliver_message(message_id, sleep=sleeps, gateway=default_gateway())[0].outcome for _ in range(2)
    ]
    assert outcomes == [SendOutcome.RETRY_LATER, SendOutcome.FAILED]
    row = msg(db, message_id)
    assert row["status"] == "failed"
    assert row["attempts"] == SMS_MAX_TOTAL_ATTEMPTS
    assert row["error_code"] == 20500
    assert row["error_message"]
    assert standin.sent == []


def test_a_burst_of_429_then_recovery_delivers_once(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["after the storm"])
    standin.fail(4, status=429)
    sleeps = Sleeps()
    first = deliver_message(message_id, sleep=sleeps, gateway=default_gateway())
    assert first[0].outcome is SendOutcome.RETRY_LATER
    again = deliver_message(message_id, sleep=sleeps, gateway=default_gateway())
    assert again[0].outcome is SendOutcome.SENT
    assert [m["body"] for m in standin.sent] == ["after the storm"]
    assert msg(db, message_id)["attempts"] == 5


def test_unreachable_twilio_is_retried_then_handed_back(database_url, monkeypatch, db):
    configure(monkeypatch, TWILIO_API_BASE_URL=f"http://127.0.0.1:{free_port()}")
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["nobody home"])
    sleeps = Sleeps()
    [report] = deliver_message(message_id, sleep=sleeps, gateway=default_gateway())
    assert report.outcome is SendOutcome.RETRY_LATER
    assert len(sleeps.waits) == 2
    assert msg(db, message_id)["status"] == "pending"


def test_messaging_service_sid_is_used_when_configured(database_url, monkeypatch, db, standin):
    configure(
        monkeypatch,
        TWILIO_API_BASE_URL=standin.url,
        TWILIO_MESSAGING_SERVICE_SID="MG" + "2" * 32,
        TWILIO_STATUS_CALLBACK_URL=f"http://127.0.0.1:{free_port()}/",
    )
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["via service"])
    deliver_message(message_id, sleep=Sleeps(), gateway=default_gateway())
    [sent] = standin.sent
    assert sent["messaging_service_sid"] == "MG" + "2" * 32
    assert sent["from"] is None
    assert msg(db, message_id)["status"] == "queued"  # Twilio's "accepted"


def test_sequence_parts_go_out_in_order_from_one_call(env, db, standin):
    user_id, conversation_id = make_user(db)
    ids = add_outbound(user_id, conversation_id, ["first", "second", "third"])
    rows = [msg(db, i) for i in ids]
    assert len({r["sequence_id"] for r in rows}) == 1
    assert [(r["sequence_position"], r["sequence_total"]) for r in rows] == [(1, 3), (2, 3), (3, 3)]

    # The webhook for a later part arrives first: it waits for the earlier parts.
    [early] = deliver_message(ids[2], sleep=Sleeps(), gateway=default_gateway())
    assert early.outcome is SendOutcome.DEFERRED
    assert standin.sent == []

    sleeps = Sleeps()
    reports = deliver_message(ids[0], sleep=sleeps, gateway=default_gateway())
    assert [r.outcome for r in reports] == [SendOutcome.SENT] * 3
    assert [m["body"] for m in standin.sent] == ["first", "second", "third"]
    assert sleeps.waits == [1.0, 1.0]  # SEQUENCE_PART_DELAY between parts
    # The webhooks for parts 2 and 3 arriving late send nothing.
    assert (
        deliver_message(ids[1], sleep=Sleeps(), gateway=default_gateway())[0].outcome
        is SendOutcome.NOT_PENDING
    )


def test_long_body_becomes_an_ordered_sequence_and_nothing_is_truncated(env, db, standin):
    user_id, conversation_id = make_user(db)
    text = " ".join(f"sentence{i}." for i in range(500))  # ~6,000 characters
    ids = add_outbound(user_id, conversation_id, [text])
    assert len(ids) == 4
    deliver_message(ids[0], sleep=Sleeps(), gateway=default_gateway())
    bodies = [m["body"] for m in standin.sent]
    assert all(len(b) <= 1600 for b in bodies)
    assert " ".join(bodies) == text
    assert all(msg(db, i)["num_segments"] > 1 for i in ids)


def test_blank_bodies_write_nothing(env, db):
    user_id, conversation_id = make_user(db)
    assert add_outbound(user_id, conversation_id, ["", "   "]) == []
    with pytest.raises(ValueError, match="role"):
        add_outbound(user_id, conversation_id, ["x"], role="user")


def test_gateway_classifies_errors(standin):
    gateway = TwilioSmsGateway(
        account_sid=ACCOUNT_SID, auth_token="wrong", from_number=FROM_NUMBER, api_base_url=standin.url
    )
    with pytest.raises(GatewayError) as info:
        gateway.send(to="+14155550123", body="x", status_callback=None)
    assert info.value.status == 401
    assert info.value.code == 20003
    assert info.value.retryable is False


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def test_full_loop_help_reply_is_delivered_and_tracked(database_url, monkeypatch, db, standin):
    """Inbound HELP -> outbound row -> sender -> stand-in -> signed callbacks -> twilio_status."""
    import functions_framework

    from tests.sms_support import ROOT

    status_port = free_port()
    status_url = f"http://127.0.0.1:{status_port}"
    configure(monkeypatch, TWILIO_API_BASE_URL=standin.url, PUBLIC_BASE_URL=status_url)
    app = functions_framework.create_app(  # type: ignore[no-untyped-call]
        "twilio_status", str(ROOT / "functions/twilio_status/main.py")
    )
    server = make_server("127.0.0.1", status_port, app, threaded=True)
    thread = serve_in_thread(server, "status-callbacks")
    try:
        result = record_inbound_sms(InboundSms("+14155550123", "help", new_sid()), PostgresUnitOfWork())
        reply = db.execute(
            "SELECT id FROM messages WHERE direction = 'outbound' AND user_id = %s", (result.user_id,)
        ).fetchone()
        [report] = deliver_message(reply["id"], sleep=Sleeps(), gateway=default_gateway())
        assert report.outcome is SendOutcome.SENT
        [sent] = standin.sent
        assert sent["body"] == HELP_TEXT
        assert sent["status_callback"] == f"{status_url}/twilio_status?message_id={reply['id']}"
        deadline = time.monotonic() + 10
        # the stand-in records a callback after its POST returns, a moment after the row changes
        while time.monotonic() < deadline and (
            msg(db, reply["id"])["status"] != "delivered" or len(standin.callbacks) < 2
        ):
            time.sleep(0.05)
        final = msg(db, reply["id"])
        assert final["status"] == "delivered"
        assert final["delivered_at"] is not None
        assert [c["http_status"] for c in standin.callbacks] == [200, 200]
    finally:
        server.shutdown()
        thread.join(timeout=5)
