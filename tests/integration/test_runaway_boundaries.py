"""The runaway guard's boundary, each side (issue 15 §7; decisions B1): the tenth SMS to a member
within 10 minutes goes out, the eleventh is blocked; a send just outside the window no longer
counts, one just inside does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from shared.domain.constants import RUNAWAY_GUARD_MAX_SMS, RUNAWAY_GUARD_WINDOW
from shared.service_layer.send_sms import SendOutcome, deliver_message
from tests.fakes.sms import FakeSmsGateway
from tests.sms_support import add_outbound, configure, make_user

pytestmark = pytest.mark.integration


@pytest.fixture
def member(database_url: str, monkeypatch: pytest.MonkeyPatch, db: Any) -> tuple[UUID, UUID]:
    configure(monkeypatch)
    return make_user(db)


def earlier_sends(db: Any, user_id: UUID, conversation_id: UUID, ages: list[timedelta]) -> None:
    for n, age in enumerate(ages):
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, attempts,"
            " sent_at, created_at) VALUES (%s, %s, 'bouncer', %s, 'outbound', 'delivered', 1,"
            " now() - %s, now() - %s)",
            (conversation_id, user_id, f"earlier {n}", age, age),
        )


def send_one(user_id: UUID, conversation_id: UUID) -> SendOutcome:
    [message_id] = add_outbound(user_id, conversation_id, ["one more"])
    [report] = deliver_message(message_id, gateway=FakeSmsGateway(), sleep=lambda _s: None)
    return report.outcome


def test_the_tenth_in_ten_minutes_goes_out(member, db):
    user_id, conversation_id = member
    earlier_sends(db, user_id, conversation_id, [timedelta(minutes=1)] * (RUNAWAY_GUARD_MAX_SMS - 1))
    assert send_one(user_id, conversation_id) is SendOutcome.SENT


def test_the_eleventh_in_ten_minutes_is_blocked(member, db):
    user_id, conversation_id = member
    earlier_sends(db, user_id, conversation_id, [timedelta(minutes=1)] * RUNAWAY_GUARD_MAX_SMS)
    assert send_one(user_id, conversation_id) is SendOutcome.BLOCKED


def test_a_send_just_outside_the_window_does_not_count(member, db):
    user_id, conversation_id = member
    ages = [timedelta(minutes=1)] * (RUNAWAY_GUARD_MAX_SMS - 1) + [
        RUNAWAY_GUARD_WINDOW + timedelta(seconds=5)
    ]
    earlier_sends(db, user_id, conversation_id, ages)
    assert send_one(user_id, conversation_id) is SendOutcome.SENT


def test_a_send_just_inside_the_window_counts(member, db):
    user_id, conversation_id = member
    # 30 s inside: the row is stamped by the database's clock and the guard counts from Python's
    # a moment later, so a margin of a few seconds could pass out of the window on a stalled machine.
    ages = [timedelta(minutes=1)] * (RUNAWAY_GUARD_MAX_SMS - 1) + [
        RUNAWAY_GUARD_WINDOW - timedelta(seconds=30)
    ]
    earlier_sends(db, user_id, conversation_id, ages)
    assert send_one(user_id, conversation_id) is SendOutcome.BLOCKED
