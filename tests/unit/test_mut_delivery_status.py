"""Twilio status callbacks (``shared/service_layer/delivery_status.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "delivery_status.py"): the
form parser's exact refusals and bounds, each outcome of applying a status (applied, unchanged,
unknown SID, ignored), the 21610 opt-out event, which user lock is taken, and the log lines
operators read (``sms_outcome`` feeds the delivery-failure-rate alert: docs/operating.md).
``FakeUow`` stands in for ``PostgresUnitOfWork`` and records every repository call; the SQL
behind them is tested on Postgres (tests/integration/test_sms_send.py, test_sms_races.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from shared.adapters.repositories.messages import TrackedMessage
from shared.adapters.repositories.users import UserLock
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.events import Event
from shared.domain.sms import UnknownTwilioStatus
from shared.service_layer.delivery_status import (
    CREATED_BY,
    MAX_ERROR_MESSAGE_CHARS,
    MAX_TWILIO_ERROR_CODE,
    InvalidStatusCallback,
    StatusOutcome,
    StatusUpdate,
    apply_delivery_status,
    parse_status_form,
)

LOGGER = "shared.service_layer.delivery_status"
SID = "SM" + "a" * 32
MMS_SID = "MM" + "0123456789abcdefABCDEF0123456789"


# --- the form parser --------------------------------------------------------------------------


def form(**params: str) -> dict[str, str]:
    return {"MessageSid": SID, "MessageStatus": "delivered", **params}


def refusal(params: dict[str, str], message_id: str | None = None) -> str:
    with pytest.raises(InvalidStatusCallback) as info:
        parse_status_form(params, message_id=message_id)
    return str(info.value)


def test_a_plain_callback_parses_with_no_error_and_no_message_id() -> None:
    assert parse_status_form(form()) == StatusUpdate(
        message_sid=SID, twilio_status="delivered", error_code=None, error_message=None, message_id=None
    )


def test_the_sms_prefixed_names_are_read_when_the_message_names_are_absent() -> None:
    update = parse_status_form({"SmsSid": f"  {MMS_SID} ", "SmsStatus": " SENT "})
    assert (update.message_sid, update.twilio_status) == (MMS_SID, "sent")


def test_message_names_win_over_the_sms_names() -> None:
    update = parse_status_form(
        {"MessageSid": SID, "SmsSid": MMS_SID, "MessageStatus": "failed", "SmsStatus": "sent"}
    )
    assert (update.message_sid, update.twilio_status) == (SID, "failed")


def test_empty_message_names_fall_back_to_the_sms_names() -> None:
    update = parse_status_form({"MessageSid": "", "SmsSid": SID, "MessageStatus": "", "SmsStatus": "queued"})
    assert (update.message_sid, update.twilio_status) == (SID, "queued")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"MessageSid": SID},
        {"MessageStatus": "sent"},
        {"MessageSid": "   ", "MessageStatus": "sent"},
        {"MessageSid": SID, "MessageStatus": "  "},
    ],
)
def test_a_missing_sid_or_status_is_refused(params: dict[str, str]) -> None:
    assert refusal(params) == "missing MessageSid or MessageStatus"


@pytest.mark.parametrize("sid", ["SM" + "a" * 31, "SM" + "a" * 33, "XX" + "a" * 32, "SM" + "g" * 32])
def test_a_sid_that_is_not_twilios_shape_is_refused(sid: str) -> None:
    assert refusal(form(MessageSid=sid)) == "MessageSid is not a Twilio message SID"


def test_an_unknown_status_is_refused_with_its_first_40_characters() -> None:
    assert refusal(form(MessageStatus="bogus")) == "unknown MessageStatus 'bogus'"
    assert refusal(form(MessageStatus="x" * 50)) == f"unknown MessageStatus {'x' * 40!r}"


@pytest.mark.parametrize("status", ["received", "receiving", "read", "canceled", "accepted"])
def test_inbound_and_outbound_statuses_are_both_accepted(status: str) -> None:
    assert parse_status_form(form(MessageStatus=status)).twilio_status == status


def test_error_code_bounds() -> None:
    assert parse_status_form(form(ErrorCode=" 30003 ")).error_code == 30003
    assert parse_status_form(form(ErrorCode="0")).error_code == 0
    assert parse_status_form(form(ErrorCode=str(MAX_TWILIO_ERROR_CODE))).error_code == 99_999
    assert parse_status_form(form(ErrorCode="  ")).error_code is None
    message = "ErrorCode must be between 0 and 99999"
    assert refusal(form(ErrorCode="100000")) == message
    assert refusal(form(ErrorCode="-1")) == message
    assert refusal(form(ErrorCode="30003x")) == "ErrorCode is not a number"


def test_error_message_is_stripped_of_nul_and_cut_to_500_characters() -> None:
    assert parse_status_form(form(ErrorMessage=" a\x00b ")).error_message == "ab"
    assert parse_status_form(form(ErrorMessage=" \x00 ")).error_message is None
    assert parse_status_form(form(ErrorMessage="")).error_message is None
    long = "e" * (MAX_ERROR_MESSAGE_CHARS + 20)
    assert parse_status_form(form(ErrorMessage=long)).error_message == "e" * 500


def test_message_id_from_the_url() -> None:
    ours = uuid4()
    assert parse_status_form(form(), message_id=f" {ours} ").message_id == ours
    assert refusal(form(), message_id="nope") == "message_id in the callback URL is not a message id"


# --- applying a status --------------------------------------------------------------------------


@dataclass
class Store:
    message: TrackedMessage | None = None
    recipient: UUID | None = None
    opted_out: set[UUID] = field(default_factory=set)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    commits: int = 0
    entered: int = 0


class FakeMessages:
    def __init__(self, store: Store) -> None:
        self.store = store

    def callback_recipient(self, message_sid: str, message_id: UUID | None) -> UUID | None:
        self.store.calls.append(("callback_recipient", message_sid, message_id))
        return self.store.recipient

    def lock_by_sid(self, message_sid: str, message_id: UUID | None) -> TrackedMessage | None:
        self.store.calls.append(("lock_by_sid", message_sid, message_id))
        return self.store.message

    def apply_delivery_status(
        self,
        message_id: UUID,
        *,
        message_sid: str,
        status: str,
        error_code: int | None,
        error_message: str | None,
    ) -> None:
        self.store.calls.append(("apply", message_id, message_sid, status, error_code, error_message))


class FakeUsers:
    def __init__(self, store: Store) -> None:
        self.store = store

    def lock(self, user_id: UUID, scope: UserLock) -> None:
        self.store.calls.append(("lock", user_id, scope))

    def set_opted_out(self, user_id: UUID) -> bool:
        self.store.calls.append(("set_opted_out", user_id))
        if user_id in self.store.opted_out:
            return False
        self.store.opted_out.add(user_id)
        return True


class FakeUow:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.messages = FakeMessages(store)
        self.users = FakeUsers(store)
        self.pending: list[Event] = []

    def __enter__(self) -> FakeUow:
        self.store.entered += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.pending = []

    def emit(self, event: Event) -> None:
        self.pending.append(event)

    def commit(self) -> list[UUID]:
        self.store.events.extend(self.pending)
        self.pending = []
        self.store.commits += 1
        return []


def apply(store: Store, update: StatusUpdate) -> StatusOutcome:
    return apply_delivery_status(update, cast(PostgresUnitOfWork, FakeUow(store)))


def tracked(status: str) -> tuple[Store, TrackedMessage]:
    user_id = uuid4()
    message = TrackedMessage(id=uuid4(), user_id=user_id, status=status)
    return Store(message=message, recipient=user_id), message


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


@pytest.mark.parametrize("status", ["received", " Receiving "])
def test_an_inbound_status_is_ignored_without_opening_a_transaction(status: str) -> None:
    store, _ = tracked("sent")
    assert apply(store, StatusUpdate(SID, status)) is StatusOutcome.IGNORED
    assert (store.entered, store.calls, store.commits) == (0, [], 0)


def test_an_unknown_status_raises_before_any_transaction() -> None:
    store, _ = tracked("sent")
    with pytest.raises(UnknownTwilioStatus):
        apply(store, StatusUpdate(SID, "bogus"))
    assert store.entered == 0


def test_delivered_is_applied_under_the_message_lock_alone_with_the_final_outcome_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store, message = tracked("sent")
    ours = uuid4()
    update = StatusUpdate(SID, "delivered", error_code=30003, error_message="ignored", message_id=ours)
    assert apply(store, update) is StatusOutcome.APPLIED
    # it writes only the message, so it takes no user lock (no lock cycle can include it)
    assert store.calls == [
        ("lock_by_sid", SID, ours),
        # a delivered message keeps no error
        ("apply", message.id, SID, "delivered", None, None),
    ]
    assert (store.commits, store.events) == (1, [])
    [record] = records(caplog, "delivery status applied")
    assert record.levelno == logging.INFO
    assert record.__dict__["message_sid"] == SID
    assert record.__dict__["status"] == "delivered"
    assert record.__dict__["error_code"] == 30003
    assert record.__dict__["sms_outcome"] == "delivered"


@pytest.mark.parametrize("twilio", ["failed", "undelivered"])
def test_a_failure_keeps_its_error_and_is_logged_as_a_final_outcome(
    twilio: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store, message = tracked("sent")
    assert apply(store, StatusUpdate(SID, twilio, 30003, "Unreachable")) is StatusOutcome.APPLIED
    assert store.calls[-1] == ("apply", message.id, SID, twilio, 30003, "Unreachable")
    assert store.events == [] and message.user_id not in store.opted_out
    [record] = records(caplog, "delivery status applied")
    assert (record.__dict__["status"], record.__dict__["sms_outcome"]) == (twilio, twilio)


@pytest.mark.parametrize("twilio", ["failed", "undelivered"])
def test_a_21610_failure_is_logged_as_an_opt_out_not_a_failure(
    twilio: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The member unsubscribed at Twilio: the delivery_failures alert must not count it."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    store, message = tracked("sent")
    assert apply(store, StatusUpdate(SID, twilio, 21610, "unsubscribed")) is StatusOutcome.APPLIED
    assert ("apply", message.id, SID, twilio, 21610, "unsubscribed") in store.calls
    assert message.user_id in store.opted_out  # the opt-out itself is unchanged
    [record] = records(caplog, "delivery status applied")
    assert (record.__dict__["status"], record.__dict__["sms_outcome"]) == (twilio, "opted_out")


def test_a_delivered_callback_stays_delivered_whatever_its_error_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store, _ = tracked("sent")
    assert apply(store, StatusUpdate(SID, "delivered", 21610, "stale")) is StatusOutcome.APPLIED
    [record] = records(caplog, "delivery status applied")
    assert record.__dict__["sms_outcome"] == "delivered"


def test_sent_is_applied_without_an_sms_outcome(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store, message = tracked("queued")
    assert apply(store, StatusUpdate(SID, "sent", 30003, "x")) is StatusOutcome.APPLIED
    assert store.calls[-1] == ("apply", message.id, SID, "sent", None, None)
    [record] = records(caplog, "delivery status applied")
    assert record.__dict__["status"] == "sent"
    assert "sms_outcome" not in record.__dict__


def test_21610_locks_the_user_then_the_message_as_the_sender_does() -> None:
    store, message = tracked("sent")
    ours = uuid4()
    assert apply(store, StatusUpdate(SID, "failed", 21610, "stop", message_id=ours)) is StatusOutcome.APPLIED
    assert store.calls[:3] == [
        ("callback_recipient", SID, ours),
        ("lock", message.user_id, UserLock.ACCOUNT),
        ("lock_by_sid", SID, ours),
    ]


@pytest.mark.parametrize("code", [None, 21611, 30003])
def test_a_callback_that_cannot_opt_out_takes_no_user_lock(code: int | None) -> None:
    store, _ = tracked("sent")
    assert apply(store, StatusUpdate(SID, "failed", code)) is StatusOutcome.APPLIED
    assert [c[0] for c in store.calls] == ["lock_by_sid", "apply"]


def test_no_recipient_means_no_user_lock() -> None:
    store, _ = tracked("sent")
    store.recipient = None
    assert apply(store, StatusUpdate(SID, "failed", 21610)) is StatusOutcome.APPLIED
    assert [c[0] for c in store.calls][:3] == ["callback_recipient", "lock_by_sid", "apply"]


def test_an_unknown_sid_is_acknowledged_logged_and_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = Store()
    assert apply(store, StatusUpdate(SID, "delivered")) is StatusOutcome.UNKNOWN_SID
    assert store.commits == 0
    assert [c[0] for c in store.calls] == ["lock_by_sid"]
    [record] = records(caplog, "status callback for an unknown MessageSid")
    assert record.levelno == logging.WARNING
    assert record.__dict__["message_sid"] == SID
    assert records(caplog, "delivery status applied") == []


@pytest.mark.parametrize(
    ("current", "twilio"), [("delivered", "sent"), ("sent", "sent"), ("failed", "delivered")]
)
def test_a_callback_that_does_not_move_forward_changes_nothing(
    current: str, twilio: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store, _ = tracked(current)
    assert apply(store, StatusUpdate(SID, twilio, 21610)) is StatusOutcome.UNCHANGED
    assert store.commits == 0 and store.opted_out == set()
    assert "apply" not in [c[0] for c in store.calls]
    [record] = records(caplog, "status callback did not move the message forward")
    assert record.levelno == logging.INFO
    assert record.__dict__["message_sid"] == SID
    assert record.__dict__["current"] == current
    assert record.__dict__["reported"] == twilio
    assert records(caplog, "delivery status applied") == []


def test_21610_opts_the_recipient_out_once_with_an_event() -> None:
    store, message = tracked("sent")
    assert apply(store, StatusUpdate(SID, "failed", 21610, "unsubscribed")) is StatusOutcome.APPLIED
    assert store.opted_out == {message.user_id}
    assert store.calls[-1] == ("set_opted_out", message.user_id)
    [event] = store.events
    assert event == Event(
        "user.opted_out",
        "user",
        message.user_id,
        {"user_id": str(message.user_id), "message_id": str(message.id), "source": "twilio_21610"},
        CREATED_BY,
    )
    assert CREATED_BY == "twilio_status"
    # already opted out: no second event
    again, second = tracked("sent")
    again.opted_out.add(second.user_id)
    assert apply(again, StatusUpdate(SID, "failed", 21610)) is StatusOutcome.APPLIED
    assert again.events == []


def test_another_error_code_does_not_opt_out() -> None:
    store, _ = tracked("sent")
    apply(store, StatusUpdate(SID, "failed", 21611))
    assert store.opted_out == set() and "set_opted_out" not in [c[0] for c in store.calls]
