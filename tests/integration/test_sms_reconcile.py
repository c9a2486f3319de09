"""Rows stranded in 'sending' (issue 15 §1): the lease runs out, reconciliation decides, and a
message Twilio already has is never sent twice (docs/sms.md, "Stranded sends")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from shared.adapters.twilio_sms import GatewayError, SendResult, TwilioMessage, default_gateway
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import BACKLOG_AGE_ALERT, SMS_SEND_LEASE
from shared.service_layer.backlogs import read_backlogs
from shared.service_layer.delivery_status import StatusUpdate, apply_delivery_status
from shared.service_layer.send_sms import (
    SendOutcome,
    deliver_message,
    reconcile_stranded,
    sweep_pending_messages,
)
from tests.sms_support import ACCOUNT_SID, AUTH_TOKEN, add_outbound, configure, make_user
from tools.fakes.twilio_api import start_in_thread
from tools.localstack.pgcluster import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def standin():
    with start_in_thread(auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID) as server:
        yield server


@pytest.fixture
def env(database_url, monkeypatch, standin):
    # Nothing listens at the callback URL: callbacks are lost, only the list can witness.
    configure(
        monkeypatch,
        TWILIO_API_BASE_URL=standin.url,
        TWILIO_STATUS_CALLBACK_URL=f"http://127.0.0.1:{free_port()}/",
    )


class CountingGateway:
    """The real gateway, counting the calls reconciliation makes."""

    def __init__(self, list_error: GatewayError | None = None) -> None:
        self.real = default_gateway()
        self.sends = 0
        self.lists = 0
        self.list_error = list_error

    def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult:
        self.sends += 1
        return self.real.send(to=to, body=body, status_callback=status_callback)

    def sent_messages(self, *, to: str, sent_after: datetime, limit: int) -> list[TwilioMessage]:
        self.lists += 1
        if self.list_error is not None:
            raise self.list_error
        return self.real.sent_messages(to=to, sent_after=sent_after, limit=limit)


def no_sleep(_seconds: float) -> None:
    return None


def row(db: Any, message_id: UUID) -> Any:
    return db.execute("SELECT * FROM messages WHERE id = %s", (message_id,)).fetchone()


def strand(db: Any, message_id: UUID, *, age: timedelta = SMS_SEND_LEASE + timedelta(minutes=1)) -> None:
    """The sender claimed the row and died before recording anything: 'sending', lease run out."""
    db.execute(
        "UPDATE messages SET status = 'sending', attempts = attempts + 1, claimed_at = now() - %s"
        " WHERE id = %s",
        (age, message_id),
    )


def expire_lease(db: Any, message_id: UUID) -> None:
    db.execute(
        "UPDATE messages SET claimed_at = now() - %s WHERE id = %s",
        (SMS_SEND_LEASE + timedelta(minutes=1), message_id),
    )


def test_lost_answer_leaves_the_row_sending_then_the_list_witness_records_it(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["did you get this?"])
    standin.fail(1, drop=True)  # Twilio accepts it; the answer never comes back
    [report] = deliver_message(message_id, gateway=default_gateway(), sleep=no_sleep)
    assert report.outcome is SendOutcome.UNCERTAIN
    assert row(db, message_id)["status"] == "sending"
    assert len(standin.sent) == 1

    gateway = CountingGateway()
    assert sweep_pending_messages(gateway=gateway, sleep=no_sleep) == []  # lease still running
    expire_lease(db, message_id)
    [reconciled] = sweep_pending_messages(gateway=gateway, sleep=no_sleep)
    assert reconciled.outcome is SendOutcome.RECONCILED
    assert reconciled.sid == standin.sent[0]["sid"]
    assert (gateway.lists, gateway.sends) == (1, 0)
    settled = row(db, message_id)
    assert settled["twilio_message_sid"] == standin.sent[0]["sid"]
    # Twilio's status when the list was read: the stand-in moves its record on (queued, sent,
    # delivered) after its status callbacks, lost here, 50 ms apart; under load the sweep may list
    # it at any of them (the exact mapping is pinned in tests/unit/test_mut_send_sms.py).
    assert settled["status"] in ("queued", "sent", "delivered")
    assert len(standin.sent) == 1  # never sent twice


def test_no_witness_means_it_is_sent_again_exactly_once(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["never left us"])
    strand(db, message_id)  # died after the claim, before calling Twilio
    gateway = CountingGateway()
    [report] = sweep_pending_messages(gateway=gateway, sleep=no_sleep)
    assert report.outcome is SendOutcome.SENT
    assert (gateway.lists, gateway.sends) == (1, 1)
    assert [m["body"] for m in standin.sent] == ["never left us"]
    settled = row(db, message_id)
    assert settled["status"] == "queued"
    assert settled["attempts"] == 2
    # A second sweep (or a racing one) finds nothing stranded.
    assert sweep_pending_messages(gateway=gateway, sleep=no_sleep) == []
    assert reconcile_stranded(message_id, gateway=gateway, sleep=no_sleep)[0].outcome is (
        SendOutcome.RECONCILED
    )
    assert len(standin.sent) == 1


def test_a_status_callback_is_the_first_witness(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["placed by callback"])
    strand(db, message_id)
    sid = "SM" + "a" * 32
    with PostgresUnitOfWork() as uow:
        apply_delivery_status(StatusUpdate(message_sid=sid, twilio_status="sent", message_id=message_id), uow)
    gateway = CountingGateway()
    assert sweep_pending_messages(gateway=gateway, sleep=no_sleep) == []  # no longer 'sending'
    [report] = reconcile_stranded(message_id, gateway=gateway, sleep=no_sleep)
    assert report.outcome is SendOutcome.RECONCILED
    assert report.sid == sid
    assert (gateway.lists, gateway.sends) == (0, 0)
    assert row(db, message_id)["status"] == "sent"


def test_an_earlier_message_with_the_same_body_is_not_a_witness(env, db, standin):
    user_id, conversation_id = make_user(db)
    [earlier] = add_outbound(user_id, conversation_id, ["Got it."])
    deliver_message(earlier, gateway=default_gateway(), sleep=no_sleep)
    [again] = add_outbound(user_id, conversation_id, ["Got it."])
    strand(db, again)
    gateway = CountingGateway()
    [report] = sweep_pending_messages(gateway=gateway, sleep=no_sleep)
    assert report.outcome is SendOutcome.SENT  # the only "Got it." at Twilio belongs to the earlier row
    assert [m["body"] for m in standin.sent] == ["Got it.", "Got it."]
    assert row(db, again)["twilio_message_sid"] != row(db, earlier)["twilio_message_sid"]


def test_a_different_body_or_recipient_is_not_a_witness(env, db, standin):
    user_id, conversation_id = make_user(db)
    other_id, other_conversation = make_user(db, "+14155550999")
    [theirs] = add_outbound(other_id, other_conversation, ["the exact body"])
    deliver_message(theirs, gateway=default_gateway(), sleep=no_sleep)
    [mine] = add_outbound(user_id, conversation_id, ["the exact body"])
    [near] = add_outbound(user_id, conversation_id, ["the exact body!"])
    db.execute(
        "UPDATE messages SET status = 'delivered', twilio_message_sid = %s WHERE id = %s",
        ("SM" + "b" * 32, near),
    )
    strand(db, mine)
    [report] = sweep_pending_messages(gateway=CountingGateway(), sleep=no_sleep)
    assert report.outcome is SendOutcome.SENT
    assert len(standin.sent) == 2


def test_an_unanswered_list_is_no_witness_either_way_nothing_is_resent(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["wait and see"])
    strand(db, message_id)
    down = GatewayError("Twilio answered 503", status=503, code=20503, retryable=True)
    gateway = CountingGateway(list_error=down)
    [report] = sweep_pending_messages(gateway=gateway, sleep=no_sleep)
    assert report.outcome is SendOutcome.UNCERTAIN
    assert gateway.sends == 0
    stuck = row(db, message_id)
    assert stuck["status"] == "sending"
    # The reconciler renewed the lease: the next sweep leaves it alone until it runs out again.
    assert sweep_pending_messages(gateway=CountingGateway(), sleep=no_sleep) == []
    expire_lease(db, message_id)
    [later] = sweep_pending_messages(gateway=CountingGateway(), sleep=no_sleep)
    assert later.outcome is SendOutcome.SENT
    assert len(standin.sent) == 1


def test_a_row_reconciliation_cannot_decide_ages_past_the_stuck_sms_alert(env, db, standin):
    """Each takeover renews the lease (claimed_at); the stuck-SMS backlog counts from the claim
    that moved the row to 'sending', so a row that can never be reconciled reaches the alert."""
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["stuck for good"])
    standin.fail(1, drop=True)  # Twilio has it; its answer is lost, and so are its callbacks
    [report] = deliver_message(message_id, gateway=default_gateway(), sleep=no_sleep)
    assert report.outcome is SendOutcome.UNCERTAIN
    stuck_for = BACKLOG_AGE_ALERT["sms_sending"] + timedelta(minutes=1)
    db.execute("UPDATE messages SET sending_since = now() - %s WHERE id = %s", (stuck_for, message_id))
    down = GatewayError("Twilio answered 503", status=503, code=20503, retryable=True)
    for _ in range(2):  # two sweeps after two leases: each renews claimed_at, neither can decide
        expire_lease(db, message_id)
        [report] = sweep_pending_messages(gateway=CountingGateway(list_error=down), sleep=no_sleep)
        assert report.outcome is SendOutcome.UNCERTAIN
    assert row(db, message_id)["claimed_at"] > datetime.now(UTC) - timedelta(minutes=1)
    backlog = read_backlogs(PostgresUnitOfWork)["sms_sending"]
    assert backlog.depth == 1
    assert backlog.oldest_age_seconds >= stuck_for.total_seconds()
    assert len(standin.sent) == 1  # and nothing was resent meanwhile


def test_the_claim_starts_the_time_in_sending(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["lost answer"])
    standin.fail(1, drop=True)
    deliver_message(message_id, gateway=default_gateway(), sleep=no_sleep)
    claimed = row(db, message_id)
    assert claimed["status"] == "sending"
    assert claimed["sending_since"] == claimed["claimed_at"]


def test_a_live_sender_within_its_lease_is_left_alone(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["in flight"])
    strand(db, message_id, age=timedelta(seconds=10))
    gateway = CountingGateway()
    assert (
        reconcile_stranded(message_id, gateway=gateway, sleep=no_sleep)[0].outcome is SendOutcome.NOT_PENDING
    )
    assert (gateway.lists, gateway.sends) == (0, 0)


def test_an_opted_out_member_is_not_resent_to(env, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["too late"])
    strand(db, message_id)
    db.execute("UPDATE users SET opted_out = true WHERE id = %s", (user_id,))
    [report] = sweep_pending_messages(gateway=CountingGateway(), sleep=no_sleep)
    assert report.outcome is SendOutcome.BLOCKED  # released to pending, then the claim's guards
    assert standin.sent == []
