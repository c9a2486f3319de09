"""The SMS sender (``shared/service_layer/send_sms.py``), example by example, on an in-memory store.

Written against the module's mutmut survivors (docs/testing.md, "send_sms.py"): the request
parser's exact refusals, the backoff and its jitter, each outcome of a send (sent, blocked by
opt-out / the runaway guard / 21610, failed, handed back, left uncertain), each witness of the
reconciliation, the sweep's windows, and the log lines operators read (``sms_outcome``, the
witness names: docs/operating.md). ``FakeUow`` stands in for ``PostgresUnitOfWork``: each
transaction works on a copy of the store that ``commit`` writes back, and the repository calls
are recorded (which user lock, which window, which lease). The SQL behind those calls is
tested on Postgres (tests/integration/test_sms_send.py, test_sms_reconcile.py).
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared import config
from shared.adapters.repositories.messages import Claimed, Reconcilable, Sendable
from shared.adapters.repositories.users import UserLock
from shared.adapters.twilio_sms import GatewayError, SendResult, TwilioMessage
from shared.domain.constants import SMS_RETRY_AFTER_MAX, SMS_SWEEP_START_WITHIN
from shared.domain.events import Event
from shared.service_layer import send_sms
from shared.service_layer.send_sms import (
    InvalidSendRequest,
    SendOutcome,
    SendReport,
    backoff_wait,
    default_jitter,
    deliver_message,
    parse_send_request,
    reconcile_stranded,
    sweep_pending_messages,
)

LOGGER = "shared.service_layer.send_sms"
CALLBACK = "https://status.example.test/twilio_status"
DB_NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # what the fake database's now() answers
PHONE = "+14155550123"


# --- the in-memory store -----------------------------------------------------------------------


@dataclass
class Row:
    id: UUID
    user_id: UUID
    content: str
    status: str = "pending"
    sequence_id: UUID | None = None
    sequence_position: int | None = None
    attempts: int = 0
    claimed_at: datetime | None = None
    sid: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    num_segments: int | None = None
    sent_at: datetime | None = None
    created_at: datetime = DB_NOW - timedelta(hours=1)


@dataclass
class State:
    rows: dict[UUID, Row] = field(default_factory=dict)
    opted_out: set[UUID] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)


@dataclass
class Store:
    state: State = field(default_factory=State)
    phones: dict[UUID, str] = field(default_factory=dict)
    recent: int = 0  # what count_recent_outbound answers
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    commits: int = 0
    steal_claim: bool = False  # another sender claims the row first
    renew_fails: bool = False  # another reconciler renewed the lease first

    def user(self, phone: str = PHONE, *, opted_out: bool = False) -> UUID:
        user_id = uuid4()
        self.phones[user_id] = phone
        if opted_out:
            self.state.opted_out.add(user_id)
        return user_id

    def add(self, user_id: UUID, content: str = "hello", **fields: Any) -> UUID:
        row = Row(id=uuid4(), user_id=user_id, content=content, **fields)
        self.state.rows[row.id] = row
        return row.id

    def row(self, message_id: UUID) -> Row:
        return self.state.rows[message_id]

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [c[1:] for c in self.calls if c[0] == name]


class FakeMessages:
    def __init__(self, store: Store, state: State) -> None:
        self.store, self.state = store, state

    def _call(self, *call: Any) -> None:
        self.store.calls.append(call)

    def recipient(self, message_id: UUID) -> UUID | None:
        self._call("recipient", message_id)
        row = self.state.rows.get(message_id)
        return row.user_id if row else None

    def for_send(self, message_id: UUID) -> Sendable | None:
        row = self.state.rows.get(message_id)
        if row is None:
            return None
        return Sendable(
            id=row.id,
            user_id=row.user_id,
            phone_number=self.store.phones[row.user_id],
            opted_out=row.user_id in self.state.opted_out,
            status=row.status,
            content=row.content,
            sequence_id=row.sequence_id,
            sequence_position=row.sequence_position,
        )

    def earlier_part_unsent(self, sequence_id: UUID, sequence_position: int | None) -> bool:
        self._call("earlier_part_unsent", sequence_id, sequence_position)
        assert sequence_position is not None
        return any(
            r.sequence_id == sequence_id
            and r.sequence_position is not None
            and r.sequence_position < sequence_position
            and r.status in ("pending", "sending")
            for r in self.state.rows.values()
        )

    def claim_for_sending(self, message_id: UUID) -> Claimed | None:
        row = self.state.rows[message_id]
        if self.store.steal_claim or row.status != "pending":
            return None
        row.status, row.attempts, row.claimed_at = "sending", row.attempts + 1, DB_NOW
        return Claimed(claimed_at=DB_NOW, attempts=row.attempts)

    def count_recent_outbound(self, user_id: UUID, *, excluding: UUID, since: datetime) -> int:
        self._call("count_recent_outbound", user_id, excluding, since)
        return self.store.recent

    def block(self, message_id: UUID, *, error_code: int | None, error_message: str) -> None:
        row = self.state.rows[message_id]
        if row.status in ("pending", "sending"):
            row.status, row.error_code, row.error_message = "blocked", error_code, error_message

    def fail(
        self, message_id: UUID, *, error_code: int | None, error_message: str, extra_attempts: int
    ) -> None:
        row = self.state.rows[message_id]
        if row.status == "sending":
            row.status, row.error_code, row.error_message = "failed", error_code, error_message
            row.attempts += extra_attempts

    def record_sent(
        self, message_id: UUID, *, message_sid: str, status: str, num_segments: int, extra_attempts: int
    ) -> None:
        row = self.state.rows[message_id]
        if row.status == "sending" or row.sid == message_sid:
            row.status = status if row.status == "sending" else row.status
            row.sid, row.sent_at, row.num_segments = message_sid, DB_NOW, num_segments
            row.attempts += extra_attempts

    def next_sequence_part(self, sequence_id: UUID, sequence_position: int | None) -> UUID | None:
        assert sequence_position is not None
        later = sorted(
            (
                r
                for r in self.state.rows.values()
                if r.sequence_id == sequence_id
                and r.sequence_position is not None
                and r.sequence_position > sequence_position
                and r.status == "pending"
            ),
            key=lambda r: r.sequence_position or 0,
        )
        return later[0].id if later else None

    def stale_pending(self, *, older_than: datetime, limit: int) -> list[UUID]:
        self._call("stale_pending", older_than, limit)
        return [r.id for r in self.state.rows.values() if r.status == "pending" and r.created_at < older_than]

    def stale_sending(self, *, older_than: datetime, limit: int) -> list[UUID]:
        self._call("stale_sending", older_than, limit)
        return [
            r.id
            for r in self.state.rows.values()
            if r.status == "sending" and r.claimed_at is not None and r.claimed_at < older_than
        ]

    def lock_for_reconcile(self, message_id: UUID) -> Reconcilable | None:
        row = self.state.rows.get(message_id)
        if row is None:
            return None
        return Reconcilable(
            id=row.id,
            user_id=row.user_id,
            phone_number=self.store.phones[row.user_id],
            status=row.status,
            message_sid=row.sid,
            content=row.content,
            attempts=row.attempts,
            created_at=row.created_at,
            claimed_at=row.claimed_at,
        )

    def renew_lease(self, message_id: UUID, *, lease: datetime | None) -> datetime | None:
        self._call("renew_lease", message_id, lease)
        row = self.state.rows[message_id]
        if (
            self.store.renew_fails
            or row.status != "sending"
            or row.sid is not None
            or row.claimed_at != lease
        ):
            return None
        row.claimed_at = DB_NOW
        return DB_NOW

    def release_claim(
        self,
        message_id: UUID,
        *,
        lease: datetime | None,
        extra_attempts: int = 0,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> bool:
        self._call("release_claim", message_id, lease)
        row = self.state.rows[message_id]
        if row.status != "sending" or row.sid is not None or row.claimed_at != lease:
            return False
        row.status, row.claimed_at = "pending", None
        row.attempts += extra_attempts
        row.error_code, row.error_message = error_code, error_message
        return True

    def known_sids(self, sids: list[str]) -> set[str]:
        self._call("known_sids", sids)
        return {r.sid for r in self.state.rows.values() if r.sid in sids}

    def record_reconciled(
        self,
        message_id: UUID,
        *,
        message_sid: str,
        status: str,
        error_code: int | None,
        sent_at: datetime | None,
    ) -> bool:
        row = self.state.rows[message_id]
        if row.status != "sending" or row.sid is not None:
            return False
        row.sid, row.status, row.error_code = message_sid, status, error_code
        row.sent_at = row.sent_at or sent_at or DB_NOW
        return True


class FakeUsers:
    def __init__(self, store: Store, state: State) -> None:
        self.store, self.state = store, state

    def lock(self, user_id: UUID, scope: UserLock) -> None:
        self.store.calls.append(("lock", user_id, scope))

    def lock_recipient(self, message_id: UUID, scope: UserLock) -> UUID | None:
        row = self.state.rows.get(message_id)
        if row is None:
            return None
        self.lock(row.user_id, scope)
        return row.user_id

    def set_opted_out(self, user_id: UUID) -> bool:
        if user_id in self.state.opted_out:
            return False
        self.state.opted_out.add(user_id)
        return True


class FakeUow:
    """One transaction: a copy of the store's state, written back by ``commit``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.state = copy.deepcopy(store.state)
        self.messages = FakeMessages(store, self.state)
        self.users = FakeUsers(store, self.state)

    def __enter__(self) -> FakeUow:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def emit(self, event: Event) -> None:
        self.state.events.append(event)

    def commit(self) -> list[UUID]:
        self.store.state = copy.deepcopy(self.state)
        self.store.commits += 1
        return []


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    store = Store()
    monkeypatch.setattr(send_sms, "PostgresUnitOfWork", lambda: FakeUow(store))
    monkeypatch.setenv("TWILIO_STATUS_CALLBACK_URL", CALLBACK)
    config.reset_settings_cache()
    yield store
    config.reset_settings_cache()


# --- a scripted gateway ------------------------------------------------------------------------


@dataclass
class Gateway:
    """Answers each send with the next scripted error (or accepts); lists ``listed``."""

    errors: list[GatewayError | None] = field(default_factory=list)  # None: accept this one
    status: str = "queued"
    num_segments: int | None = None
    listed: list[TwilioMessage] = field(default_factory=list)
    list_error: GatewayError | None = None
    on_list: Callable[[], None] | None = None
    on_send: Callable[[], None] | None = None
    sends: list[dict[str, Any]] = field(default_factory=list)
    lists: list[dict[str, Any]] = field(default_factory=list)

    def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult:
        self.sends.append({"to": to, "body": body, "status_callback": status_callback})
        if self.on_send is not None:
            self.on_send()
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        return SendResult(sid=f"SM{len(self.sends):032x}", status=self.status, num_segments=self.num_segments)

    def sent_messages(self, *, to: str, sent_after: datetime, limit: int) -> list[TwilioMessage]:
        self.lists.append({"to": to, "sent_after": sent_after, "limit": limit})
        if self.on_list is not None:
            self.on_list()
        if self.list_error is not None:
            raise self.list_error
        return self.listed


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def one() -> float:
    return 1.0


def err(status: int | None, code: int | None, *, retryable: bool, **kw: Any) -> GatewayError:
    return GatewayError(f"Twilio answered {status}", status=status, code=code, retryable=retryable, **kw)


def lines(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def fields(record: logging.LogRecord, *names: str) -> dict[str, Any]:
    return {n: getattr(record, n, "<missing>") for n in names}


def only(caplog: pytest.LogCaptureFixture, message: str) -> logging.LogRecord:
    [record] = lines(caplog, message)
    return record


# --- parse_send_request ------------------------------------------------------------------------


def test_a_sweep_request_is_none_and_a_webhook_is_its_record_id() -> None:
    assert parse_send_request(b'{"sweep": true}') is None
    assert parse_send_request(b'{"sweep": true, "table": "events"}') is None
    message_id = uuid4()
    body = f'{{"table": "messages", "type": "INSERT", "record_id": "{message_id}"}}'.encode()
    assert parse_send_request(body) == message_id
    with_sweep_false = (
        f'{{"sweep": false, "table": "messages", "type": "INSERT", "record_id": "{message_id}"}}'
    )
    assert parse_send_request(with_sweep_false.encode()) == message_id


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"\xff\xfe", "body is not JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'"sweep"', "body must be a JSON object"),
        (b'{"sweep": "true"}', 'expected {"table": "messages", "type": "INSERT", ...} or {"sweep": true}'),
        (b'{"sweep": 1}', 'expected {"table": "messages", "type": "INSERT", ...} or {"sweep": true}'),
        (
            b'{"table": "events", "type": "INSERT"}',
            'expected {"table": "messages", "type": "INSERT", ...} or {"sweep": true}',
        ),
        (
            b'{"table": "messages", "type": "UPDATE"}',
            'expected {"table": "messages", "type": "INSERT", ...} or {"sweep": true}',
        ),
        (
            b'{"table": "messages"}',
            'expected {"table": "messages", "type": "INSERT", ...} or {"sweep": true}',
        ),
        (b'{"type": "INSERT"}', 'expected {"table": "messages", "type": "INSERT", ...} or {"sweep": true}'),
        (b'{"table": "messages", "type": "INSERT"}', "record_id must be a message id (UUID)"),
        (
            b'{"table": "messages", "type": "INSERT", "record_id": "nope"}',
            "record_id must be a message id (UUID)",
        ),
        (
            b'{"table": "messages", "type": "INSERT", "record_id": null}',
            "record_id must be a message id (UUID)",
        ),
    ],
)
def test_a_malformed_request_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidSendRequest) as info:
        parse_send_request(body)
    assert str(info.value) == reason
    assert info.value.__cause__ is None


# --- backoff ------------------------------------------------------------------------------------


def test_jitter_is_drawn_from_half_to_one_and_a_half(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[tuple[float, float]] = []

    def uniform(a: float, b: float) -> float:
        drawn.append((a, b))
        return 1.25

    monkeypatch.setattr(random, "uniform", uniform)
    assert default_jitter() == 1.25
    assert drawn == [(0.5, 1.5)]


def test_backoff_is_the_base_wait_times_the_jitter_and_the_last_base_repeats() -> None:
    assert backoff_wait(1, None, lambda: 1.5) == 0.75
    assert backoff_wait(2, None, lambda: 0.5) == 1.0
    assert backoff_wait(3, None, one) == 2.0
    assert backoff_wait(7, None, one) == 2.0


def test_retry_after_is_waited_exactly_up_to_the_cap_and_beyond_it_hands_back() -> None:
    cap = SMS_RETRY_AFTER_MAX.total_seconds()

    def never() -> float:
        raise AssertionError("no jitter on Twilio's Retry-After")

    assert backoff_wait(1, 3.0, never) == 3.0
    assert backoff_wait(2, 0.0, never) == 0.0
    assert backoff_wait(1, cap, never) == cap
    assert backoff_wait(1, cap + 0.5, never) is None


def test_a_zero_base_wait_is_no_wait_and_draws_no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(send_sms, "SMS_SEND_BACKOFF", (timedelta(0), timedelta(seconds=4)))

    def never() -> float:
        raise AssertionError("no jitter for no wait")

    assert backoff_wait(1, None, never) == 0.0
    assert backoff_wait(2, None, lambda: 0.5) == 2.0


# --- matching Twilio's list ----------------------------------------------------------------------


def listed(
    sid: str = "SM" + "1" * 32,
    *,
    to: str = PHONE,
    body: str = "hello",
    status: str = "delivered",
    error_code: int | None = None,
    created: datetime | None = None,
    sent: datetime | None = None,
) -> TwilioMessage:
    return TwilioMessage(
        sid=sid, to=to, body=body, status=status, error_code=error_code, date_created=created, date_sent=sent
    )


def test_same_message_needs_the_recipient_the_exact_body_and_a_date_not_before_the_row() -> None:
    since = DB_NOW
    same = send_sms._same_message
    assert same(listed(created=since), PHONE, "hello", since)
    assert not same(listed(created=since - timedelta(microseconds=1)), PHONE, "hello", since)
    assert same(listed(), PHONE, "hello", since)  # no dates at all: not excluded
    assert same(listed(sent=since), PHONE, "hello", since)
    assert not same(listed(sent=since - timedelta(seconds=1)), PHONE, "hello", since)
    # the creation date wins over the send date
    assert not same(listed(created=since - timedelta(seconds=1), sent=since), PHONE, "hello", since)
    assert not same(listed(to="+14155550999", created=since), PHONE, "hello", since)
    assert not same(listed(body="hello!", created=since), PHONE, "hello", since)


@pytest.mark.parametrize(
    ("twilio", "reconciled", "ours"),
    [
        ("accepted", "queued", "queued"),
        ("queued", "queued", "queued"),
        ("sent", "sent", "sent"),
        ("delivered", "delivered", "delivered"),
        ("read", "delivered", "delivered"),
        ("undelivered", "undelivered", "queued"),
        ("failed", "failed", "queued"),
        ("canceled", "failed", "queued"),
        ("receiving", "queued", "queued"),
        ("no such status", "queued", "queued"),
    ],
)
def test_twilio_statuses_map_to_ours(twilio: str, reconciled: str, ours: str) -> None:
    assert send_sms._reconciled_status(twilio) == reconciled
    assert send_sms._our_status(twilio) == ours


# --- one send -------------------------------------------------------------------------------------


def test_a_pending_message_is_claimed_under_the_account_lock_sent_and_recorded(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    user_id = store.user()
    message_id = store.add(user_id, "Welcome aboard")
    gateway = Gateway()
    before = datetime.now(UTC)
    reports = deliver_message(message_id, gateway=gateway, sleep=Sleeps(), jitter=one)
    after = datetime.now(UTC)
    sid = "SM" + "0" * 31 + "1"
    assert reports == [SendReport(message_id, SendOutcome.SENT, sid=sid)]
    assert gateway.sends == [
        {"to": PHONE, "body": "Welcome aboard", "status_callback": f"{CALLBACK}?message_id={message_id}"}
    ]
    row = store.row(message_id)
    assert (row.status, row.sid, row.attempts, row.num_segments, row.sent_at) == ("queued", sid, 1, 1, DB_NOW)
    assert store.named("lock") == [(user_id, UserLock.ACCOUNT)]
    [(counted_user, excluding, since)] = store.named("count_recent_outbound")
    assert (counted_user, excluding) == (user_id, message_id)
    assert before - timedelta(minutes=10) <= since <= after - timedelta(minutes=10)
    assert store.commits == 2  # the claim, then the record
    record = only(caplog, "SMS handed to Twilio")
    assert record.levelno == logging.INFO
    assert fields(record, "message_id", "message_sid", "attempts", "sms_outcome") == {
        "message_id": str(message_id),
        "message_sid": sid,
        "attempts": 1,
        "sms_outcome": "accepted",
    }


@pytest.mark.parametrize(
    ("twilio_status", "segments", "stored_status", "stored_segments"),
    [
        ("accepted", 3, "queued", 3),
        ("sent", None, "sent", 2),
        ("delivered", 1, "delivered", 1),
        ("failed", 2, "queued", 2),
    ],
)
def test_twilios_status_and_segment_count_are_recorded(
    store: Store, twilio_status: str, segments: int | None, stored_status: str, stored_segments: int
) -> None:
    message_id = store.add(store.user(), "x" * 200)  # two GSM-7 segments by our count
    gateway = Gateway(status=twilio_status, num_segments=segments)
    [report] = deliver_message(message_id, gateway=gateway, sleep=Sleeps(), jitter=one)
    assert report.outcome is SendOutcome.SENT
    row = store.row(message_id)
    assert (row.status, row.num_segments) == (stored_status, stored_segments)


def test_an_unknown_message_is_not_found_and_nothing_is_locked_or_sent(store: Store) -> None:
    missing = uuid4()
    gateway = Gateway()
    assert deliver_message(missing, gateway=gateway, sleep=Sleeps()) == [
        SendReport(missing, SendOutcome.NOT_FOUND)
    ]
    assert gateway.sends == []
    assert store.named("lock") == []
    assert store.commits == 0


@pytest.mark.parametrize("status", ["sending", "queued", "delivered", "blocked", "failed"])
def test_a_message_that_is_not_pending_is_not_sent_again(store: Store, status: str) -> None:
    user_id = store.user()
    message_id = store.add(user_id, status=status, attempts=1)
    gateway = Gateway()
    assert deliver_message(message_id, gateway=gateway, sleep=Sleeps()) == [
        SendReport(message_id, SendOutcome.NOT_PENDING)
    ]
    assert gateway.sends == []
    assert store.named("lock") == [(user_id, UserLock.ACCOUNT)]
    assert store.row(message_id).attempts == 1
    assert store.commits == 0


def test_a_claim_lost_to_another_sender_sends_nothing_and_goes_no_further(store: Store) -> None:
    user_id, sequence = store.user(), uuid4()
    first = store.add(user_id, "one", sequence_id=sequence, sequence_position=1)
    store.add(user_id, "two", sequence_id=sequence, sequence_position=2)
    store.steal_claim = True
    gateway = Gateway()
    assert deliver_message(first, gateway=gateway, sleep=Sleeps()) == [
        SendReport(first, SendOutcome.NOT_PENDING)
    ]
    assert gateway.sends == []
    assert store.commits == 0


def test_an_opted_out_member_is_blocked_in_the_claim(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    user_id = store.user(opted_out=True)
    message_id = store.add(user_id)
    gateway = Gateway()
    reports = deliver_message(message_id, gateway=gateway, sleep=Sleeps())
    assert reports == [SendReport(message_id, SendOutcome.BLOCKED, error="recipient opted out")]
    assert gateway.sends == []
    row = store.row(message_id)
    assert (row.status, row.error_code, row.error_message, row.attempts) == (
        "blocked",
        None,
        "recipient opted out",
        1,
    )
    assert store.named("count_recent_outbound") == []  # refused before the guard counts
    record = only(caplog, "outbound SMS blocked: user opted out")
    assert record.levelno == logging.INFO
    assert fields(record, "message_id", "user_id") == {"message_id": str(message_id), "user_id": str(user_id)}


def test_the_runaway_guard_lets_the_tenth_through_and_blocks_the_eleventh(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    user_id = store.user()
    tenth, eleventh = store.add(user_id, "tenth"), store.add(user_id, "eleventh")
    gateway = Gateway()
    store.recent = 9
    assert deliver_message(tenth, gateway=gateway, sleep=Sleeps())[0].outcome is SendOutcome.SENT
    store.recent = 10
    error = "runaway guard: 10 SMS to this user in the last 10 minutes"
    assert deliver_message(eleventh, gateway=gateway, sleep=Sleeps()) == [
        SendReport(eleventh, SendOutcome.BLOCKED, error=error)
    ]
    assert [s["body"] for s in gateway.sends] == ["tenth"]
    row = store.row(eleventh)
    assert (row.status, row.error_code, row.error_message) == ("blocked", None, error)
    record = only(caplog, "outbound SMS blocked by the runaway guard")
    assert record.levelno == logging.ERROR
    assert fields(record, "message_id", "user_id", "recent_sms") == {
        "message_id": str(eleventh),
        "user_id": str(user_id),
        "recent_sms": 10,
    }


def test_a_body_over_twilios_limit_fails_and_one_at_the_limit_is_sent(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    user_id = store.user()
    at_limit, over = store.add(user_id, "a" * 1600), store.add(user_id, "a" * 1601)
    gateway = Gateway()
    assert deliver_message(at_limit, gateway=gateway, sleep=Sleeps())[0].outcome is SendOutcome.SENT
    error = "body longer than 1600 characters; write it through add_outbound_messages"
    assert deliver_message(over, gateway=gateway, sleep=Sleeps()) == [
        SendReport(over, SendOutcome.FAILED, error=error)
    ]
    assert len(gateway.sends) == 1
    row = store.row(over)
    assert (row.status, row.error_code, row.error_message, row.attempts) == ("failed", None, error, 1)
    record = only(caplog, "outbound SMS failed: body over the limit")
    assert record.levelno == logging.ERROR
    assert fields(record, "message_id", "sms_outcome") == {"message_id": str(over), "sms_outcome": "rejected"}


# --- Twilio's errors --------------------------------------------------------------------------------


def test_429_then_503_are_retried_with_logged_backoff_then_sent(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    message_id = store.add(store.user())
    gateway = Gateway(
        errors=[err(429, 20429, retryable=True), err(503, None, retryable=True, retry_after=4.0)]
    )
    sleeps = Sleeps()
    [report] = deliver_message(message_id, gateway=gateway, sleep=sleeps, jitter=lambda: 1.5)
    assert report == SendReport(message_id, SendOutcome.SENT, sid="SM" + "0" * 31 + "3")
    assert sleeps.waits == [0.75, 4.0]
    assert len(gateway.sends) == 3
    assert len({s["status_callback"] for s in gateway.sends}) == 1
    assert store.row(message_id).attempts == 3
    retries = lines(caplog, "Twilio send failed, retrying")
    assert [r.levelno for r in retries] == [logging.WARNING] * 2
    assert [fields(r, "attempt", "status", "code", "wait_seconds", "retry_after") for r in retries] == [
        {"attempt": 1, "status": 429, "code": 20429, "wait_seconds": 0.75, "retry_after": None},
        {"attempt": 2, "status": 503, "code": None, "wait_seconds": 4.0, "retry_after": 4.0},
    ]
    assert fields(only(caplog, "SMS handed to Twilio"), "attempts")["attempts"] == 3


def test_a_transient_error_outlasting_the_tries_hands_the_row_back(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    message_id = store.add(store.user())
    gateway = Gateway(errors=[err(500, 20500, retryable=True) for _ in range(4)])
    sleeps = Sleeps()
    [report] = deliver_message(message_id, gateway=gateway, sleep=sleeps, jitter=one)
    assert report == SendReport(message_id, SendOutcome.RETRY_LATER, error="Twilio answered 500")
    assert len(gateway.sends) == 3
    assert sleeps.waits == [0.5, 2.0]
    row = store.row(message_id)
    assert (row.status, row.attempts, row.claimed_at, row.error_code, row.error_message) == (
        "pending",
        3,
        None,
        20500,
        "Twilio answered 500",
    )
    assert store.named("release_claim") == [(message_id, DB_NOW)]
    record = only(caplog, "Twilio still failing; SMS handed back to the sweep")
    assert record.levelno == logging.WARNING
    assert fields(record, "message_id", "status", "code", "attempts") == {
        "message_id": str(message_id),
        "status": 500,
        "code": 20500,
        "attempts": 3,
    }
    assert lines(caplog, "SMS send failed") == []


def test_without_twilios_code_the_http_status_is_stored(store: Store) -> None:
    message_id = store.add(store.user())
    gateway = Gateway(errors=[err(503, None, retryable=True) for _ in range(3)])
    deliver_message(message_id, gateway=gateway, sleep=Sleeps(), jitter=one)
    assert store.row(message_id).error_code == 503


def test_a_retry_after_over_the_cap_hands_back_at_once(store: Store) -> None:
    message_id = store.add(store.user())
    cap = SMS_RETRY_AFTER_MAX.total_seconds()
    gateway = Gateway(errors=[err(429, 20429, retryable=True, retry_after=cap + 1)])
    sleeps = Sleeps()
    [report] = deliver_message(message_id, gateway=gateway, sleep=sleeps)
    assert report.outcome is SendOutcome.RETRY_LATER
    assert (len(gateway.sends), sleeps.waits) == (1, [])
    assert (store.row(message_id).status, store.row(message_id).attempts) == ("pending", 1)


@pytest.mark.parametrize(
    ("earlier", "outcome", "stored"),
    [(5, SendOutcome.RETRY_LATER, "pending"), (6, SendOutcome.FAILED, "failed")],
)
def test_the_ninth_try_in_all_fails_the_row(
    store: Store, caplog: pytest.LogCaptureFixture, earlier: int, outcome: SendOutcome, stored: str
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    message_id = store.add(store.user(), attempts=earlier)
    gateway = Gateway(errors=[err(500, 20500, retryable=True) for _ in range(3)])
    [report] = deliver_message(message_id, gateway=gateway, sleep=Sleeps(), jitter=one)
    assert report == SendReport(message_id, outcome, error="Twilio answered 500")
    row = store.row(message_id)
    assert (row.status, row.attempts, row.error_code) == (stored, earlier + 3, 20500)
    failed = lines(caplog, "SMS send failed")
    if outcome is SendOutcome.FAILED:
        [record] = failed
        assert record.levelno == logging.ERROR
        assert fields(record, "message_id", "status", "code", "attempts", "sms_outcome") == {
            "message_id": str(message_id),
            "status": 500,
            "code": 20500,
            "attempts": 3,
            "sms_outcome": "rejected",
        }
    else:
        assert failed == []
        assert (
            fields(only(caplog, "Twilio still failing; SMS handed back to the sweep"), "attempts")["attempts"]
            == 8
        )


def test_a_hand_back_that_finds_the_row_moved_on_changes_nothing(store: Store) -> None:
    message_id = store.add(store.user())
    gateway = Gateway(errors=[err(500, 20500, retryable=True) for _ in range(3)])

    def callback_lands(_seconds: float) -> None:  # a status callback placed it meanwhile
        store.state.rows[message_id].status = "delivered"
        store.state.rows[message_id].sid = "SM" + "c" * 32

    [report] = deliver_message(message_id, gateway=gateway, sleep=callback_lands, jitter=one)
    assert report.outcome is SendOutcome.RETRY_LATER
    row = store.row(message_id)
    assert (row.status, row.attempts, row.error_code) == ("delivered", 1, None)


def test_a_permanent_error_fails_the_row_at_once_with_twilios_code(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    message_id = store.add(store.user())
    gateway = Gateway(errors=[err(400, 21211, retryable=False)])
    sleeps = Sleeps()
    [report] = deliver_message(message_id, gateway=gateway, sleep=sleeps)
    assert report == SendReport(message_id, SendOutcome.FAILED, error="Twilio answered 400")
    assert (len(gateway.sends), sleeps.waits) == (1, [])
    row = store.row(message_id)
    assert (row.status, row.attempts, row.error_code, row.error_message) == (
        "failed",
        1,
        21211,
        "Twilio answered 400",
    )
    record = only(caplog, "SMS send failed")
    assert fields(record, "status", "code", "attempts", "sms_outcome") == {
        "status": 400,
        "code": 21211,
        "attempts": 1,
        "sms_outcome": "rejected",
    }
    assert lines(caplog, "Twilio send failed, retrying") == []


def test_21610_blocks_the_message_and_opts_the_member_out_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    user_id = store.user()
    first = store.add(user_id, "one")
    text = "Attempt to send to unsubscribed recipient"
    unsubscribed = GatewayError(text, status=400, code=21610, retryable=False)
    gateway = Gateway(errors=[unsubscribed])
    assert deliver_message(first, gateway=gateway, sleep=Sleeps()) == [
        SendReport(first, SendOutcome.BLOCKED, error=text)
    ]
    row = store.row(first)
    assert (row.status, row.error_code, row.error_message, row.attempts) == ("blocked", 21610, text, 1)
    assert user_id in store.state.opted_out
    assert store.state.events == [
        Event(
            "user.opted_out",
            "user",
            user_id,
            {"user_id": str(user_id), "message_id": str(first), "source": "twilio_21610"},
            "sms_sender",
        )
    ]
    record = only(caplog, "recipient unsubscribed at Twilio (21610): user opted out")
    assert record.levelno == logging.WARNING
    # an opt-out, not a delivery failure: the delivery_failures alert does not count it
    assert fields(record, "message_id", "sms_outcome") == {
        "message_id": str(first),
        "sms_outcome": "opted_out",
    }
    assert lines(caplog, "SMS send failed") == []


def test_21610_for_a_member_who_opted_out_meanwhile_emits_no_second_event(store: Store) -> None:
    user_id = store.user()
    message_id = store.add(user_id)

    def stop_arrives() -> None:  # the member texts STOP while the sender calls Twilio
        store.state.opted_out.add(user_id)

    text = "Attempt to send to unsubscribed recipient"
    gateway = Gateway(
        errors=[GatewayError(text, status=400, code=21610, retryable=False)], on_send=stop_arrives
    )
    assert deliver_message(message_id, gateway=gateway, sleep=Sleeps()) == [
        SendReport(message_id, SendOutcome.BLOCKED, error=text)
    ]
    assert store.state.events == []
    assert (store.row(message_id).status, store.row(message_id).error_code) == ("blocked", 21610)


def test_a_lost_answer_leaves_the_row_sending_for_reconciliation(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    message_id = store.add(store.user())
    gateway = Gateway(
        errors=[
            err(503, 20503, retryable=True),
            GatewayError("read timed out", status=None, code=None, retryable=False, ambiguous=True),
        ]
    )
    sleeps = Sleeps()
    [report] = deliver_message(message_id, gateway=gateway, sleep=sleeps, jitter=one)
    assert report == SendReport(message_id, SendOutcome.UNCERTAIN, error="read timed out")
    assert (len(gateway.sends), sleeps.waits) == (2, [0.5])
    row = store.row(message_id)
    assert (row.status, row.attempts, row.claimed_at, row.error_code) == ("sending", 1, DB_NOW, None)
    record = only(caplog, "Twilio's answer was lost; SMS left for reconciliation")
    assert record.levelno == logging.WARNING
    assert fields(record, "message_id", "attempts", "error") == {
        "message_id": str(message_id),
        "attempts": 2,
        "error": "read timed out",
    }


# --- sequences --------------------------------------------------------------------------------------


def test_parts_go_out_in_order_one_second_apart_and_a_later_part_waits(store: Store) -> None:
    user_id, sequence = store.user(), uuid4()
    ids = [store.add(user_id, f"part {n}", sequence_id=sequence, sequence_position=n) for n in (1, 2, 3)]
    gateway = Gateway()
    assert deliver_message(ids[2], gateway=gateway, sleep=Sleeps()) == [
        SendReport(ids[2], SendOutcome.DEFERRED)
    ]
    assert store.named("earlier_part_unsent") == [(sequence, 3)]
    assert gateway.sends == []
    assert store.row(ids[2]).status == "pending"
    sleeps = Sleeps()
    reports = deliver_message(ids[0], gateway=gateway, sleep=sleeps)
    assert [(r.message_id, r.outcome) for r in reports] == [(i, SendOutcome.SENT) for i in ids]
    assert [s["body"] for s in gateway.sends] == ["part 1", "part 2", "part 3"]
    assert sleeps.waits == [1.0, 1.0]


def test_a_part_that_fails_does_not_hold_up_the_next_and_is_not_waited_after(store: Store) -> None:
    user_id, sequence = store.user(), uuid4()
    ids = [store.add(user_id, f"part {n}", sequence_id=sequence, sequence_position=n) for n in (1, 2, 3)]
    gateway = Gateway(errors=[err(400, 21211, retryable=False)])
    sleeps = Sleeps()
    reports = deliver_message(ids[0], gateway=gateway, sleep=sleeps)
    assert [r.outcome for r in reports] == [SendOutcome.FAILED, SendOutcome.SENT, SendOutcome.SENT]
    assert sleeps.waits == [1.0]  # only between the two sent parts


def test_the_last_part_sent_waits_for_nothing(store: Store) -> None:
    user_id, sequence = store.user(), uuid4()
    last = store.add(user_id, "last", sequence_id=sequence, sequence_position=2)
    store.add(user_id, "first", status="queued", sequence_id=sequence, sequence_position=1)
    sleeps = Sleeps()
    assert [r.outcome for r in deliver_message(last, gateway=Gateway(), sleep=sleeps)] == [SendOutcome.SENT]
    assert sleeps.waits == []


# --- the sweep ----------------------------------------------------------------------------------------


SWEEP_AT = DB_NOW + timedelta(hours=1)


def test_the_sweep_reconciles_stranded_rows_then_delivers_stale_pending_ones(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    user_id = store.user()
    stranded = store.add(
        user_id, "stranded", status="sending", attempts=1, claimed_at=SWEEP_AT - timedelta(minutes=6)
    )
    pending = store.add(user_id, "pending", created_at=SWEEP_AT - timedelta(minutes=3))
    gateway = Gateway()
    reports = sweep_pending_messages(gateway=gateway, sleep=Sleeps(), now=SWEEP_AT, jitter=one)
    assert [(r.message_id, r.outcome) for r in reports] == [
        (stranded, SendOutcome.SENT),
        (pending, SendOutcome.SENT),
    ]
    assert store.named("stale_sending") == [(SWEEP_AT - timedelta(minutes=5), 100)]
    assert store.named("stale_pending") == [(SWEEP_AT - timedelta(minutes=2), 100)]
    assert [s["body"] for s in gateway.sends] == ["stranded", "pending"]
    reconciled = only(caplog, "sender sweep reconciled rows stranded in sending")
    delivered = only(caplog, "sender sweep delivered stale pending messages")
    assert (
        reconciled.levelno,
        fields(reconciled, "count"),
        delivered.levelno,
        fields(delivered, "count"),
    ) == (
        logging.WARNING,
        {"count": 1},
        logging.WARNING,
        {"count": 1},
    )


class Clock:
    """A monotonic clock that moves only when told (by the gateway's sends, here)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_sweep_starts_no_row_once_its_time_is_spent(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Under throttling each row can take a minute: the sweep stops taking rows at
    SMS_SWEEP_START_WITHIN (a row is not started at the moment it runs out), so it ends inside its
    function's timeout and reports its backlogs. The rows left stay pending, untouched."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    user_id = store.user()
    rows = [
        store.add(user_id, f"pending {n}", created_at=SWEEP_AT - timedelta(minutes=3 + n)) for n in range(3)
    ]
    clock = Clock()
    step = SMS_SWEEP_START_WITHIN.total_seconds() / 2  # the third row would start exactly at the limit

    def send_takes_a_while() -> None:
        clock.now += step

    gateway = Gateway(on_send=send_takes_a_while)
    reports = sweep_pending_messages(gateway=gateway, sleep=Sleeps(), now=SWEEP_AT, jitter=one, clock=clock)
    assert [(r.message_id, r.outcome) for r in reports] == [
        (rows[0], SendOutcome.SENT),
        (rows[1], SendOutcome.SENT),
    ]
    assert len(gateway.sends) == 2
    left = store.row(rows[2])
    assert (left.status, left.attempts, left.claimed_at) == ("pending", 0, None)
    out_of_time = only(caplog, "sender sweep ran out of time: rows left for the next tick")
    assert out_of_time.levelno == logging.WARNING
    assert fields(out_of_time, "left", "start_within_seconds") == {
        "left": 1,
        "start_within_seconds": SMS_SWEEP_START_WITHIN.total_seconds(),
    }
    delivered = only(caplog, "sender sweep delivered stale pending messages")
    assert fields(delivered, "count") == {"count": 2}


def test_stranded_rows_left_by_a_spent_sweep_are_counted_and_no_pending_row_is_started(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    user_id = store.user()
    for n in range(2):
        store.add(
            user_id,
            f"stranded {n}",
            status="sending",
            attempts=1,
            claimed_at=SWEEP_AT - timedelta(minutes=6 + n),
        )
    pending = store.add(user_id, "pending", created_at=SWEEP_AT - timedelta(minutes=3))
    clock = Clock()

    def spend_it_all() -> None:
        clock.now += SMS_SWEEP_START_WITHIN.total_seconds()

    gateway = Gateway(on_send=spend_it_all)
    reports = sweep_pending_messages(gateway=gateway, sleep=Sleeps(), now=SWEEP_AT, jitter=one, clock=clock)
    assert len(reports) == 1
    assert store.row(pending).status == "pending"
    assert fields(only(caplog, "sender sweep ran out of time: rows left for the next tick"), "left") == {
        "left": 2
    }
    assert lines(caplog, "sender sweep delivered stale pending messages") == []


def test_the_sweep_judges_leases_by_its_own_clock(store: Store) -> None:
    # A sweep run as of a day from now: a lease that ran out by then is taken over, although by
    # the wall clock it is still running.
    later = datetime.now(UTC) + timedelta(days=1)
    message_id = store.add(
        store.user(), "stranded", status="sending", attempts=1, claimed_at=later - timedelta(minutes=6)
    )
    gateway = Gateway()
    reports = sweep_pending_messages(gateway=gateway, sleep=Sleeps(), now=later, jitter=one)
    assert reports == [SendReport(message_id, SendOutcome.SENT, sid="SM" + "0" * 31 + "1")]
    assert [s["body"] for s in gateway.sends] == ["stranded"]


def test_a_sweep_with_nothing_to_do_logs_nothing(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert sweep_pending_messages(gateway=Gateway(), sleep=Sleeps()) == []
    assert [r for r in caplog.records if r.name == LOGGER] == []


def test_the_sweep_counts_every_row_and_reads_the_clock_when_not_given_one(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    user_id = store.user()
    for n in range(2):
        store.add(user_id, f"pending {n}", created_at=DB_NOW - timedelta(days=1))
    before = datetime.now(UTC)
    reports = sweep_pending_messages(gateway=Gateway(), sleep=Sleeps())
    after = datetime.now(UTC)
    assert [r.outcome for r in reports] == [SendOutcome.SENT] * 2
    [(older_than, _limit)] = store.named("stale_pending")
    assert before - timedelta(minutes=2) <= older_than <= after - timedelta(minutes=2)
    assert fields(only(caplog, "sender sweep delivered stale pending messages"), "count")["count"] == 2


# --- reconciliation ------------------------------------------------------------------------------------


RECONCILE_AT = DB_NOW + timedelta(minutes=10)  # the stranded claim (DB_NOW - 10 min) is 20 minutes old


def stranded(store: Store, content: str = "hello", **kw: Any) -> tuple[UUID, UUID]:
    user_id = store.user()
    fields_: dict[str, Any] = {
        "status": "sending",
        "attempts": 1,
        "claimed_at": DB_NOW - timedelta(minutes=10),
    }
    fields_.update(kw)
    return user_id, store.add(user_id, content, **fields_)


def test_an_unknown_row_is_not_found(store: Store) -> None:
    missing = uuid4()
    gateway = Gateway()
    assert reconcile_stranded(missing, gateway=gateway, now=RECONCILE_AT) == [
        SendReport(missing, SendOutcome.NOT_FOUND)
    ]
    assert (gateway.lists, gateway.sends, store.named("lock")) == ([], [], [])


@pytest.mark.parametrize(
    ("status", "sid"), [("delivered", "SM" + "d" * 32), ("sending", "SM" + "e" * 32), ("blocked", None)]
)
def test_a_row_placed_by_a_status_callback_is_recorded_as_is(
    store: Store, caplog: pytest.LogCaptureFixture, status: str, sid: str | None
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    user_id, message_id = stranded(store, status=status, sid=sid)
    gateway = Gateway()
    assert reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT) == [
        SendReport(message_id, SendOutcome.RECONCILED, sid=sid)
    ]
    assert (gateway.lists, gateway.sends) == ([], [])
    assert store.named("lock") == [(user_id, UserLock.ACCOUNT)]
    record = only(caplog, "stranded SMS already placed by a status callback: not resent")
    assert record.levelno == logging.INFO
    assert fields(record, "message_id", "status", "witness") == {
        "message_id": str(message_id),
        "status": status,
        "witness": "callback",
    }


def test_a_row_within_its_lease_is_left_to_its_sender(store: Store) -> None:
    lease_start = RECONCILE_AT - timedelta(minutes=5) + timedelta(microseconds=1)
    _user, message_id = stranded(store, claimed_at=lease_start)
    gateway = Gateway()
    assert reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT) == [
        SendReport(message_id, SendOutcome.NOT_PENDING)
    ]
    assert (gateway.lists, store.named("renew_lease"), store.commits) == ([], [], 0)


@pytest.mark.parametrize("claimed_at", [RECONCILE_AT - timedelta(minutes=5), None])
def test_a_lease_just_run_out_or_never_stamped_is_taken_over(
    store: Store, claimed_at: datetime | None
) -> None:
    _user, message_id = stranded(store, claimed_at=claimed_at)
    gateway = Gateway()
    [report] = reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT)
    assert report.outcome is SendOutcome.SENT
    assert store.named("renew_lease") == [(message_id, claimed_at)]


def test_a_lease_another_reconciler_renewed_first_is_left_to_it(store: Store) -> None:
    _user, message_id = stranded(store)
    store.renew_fails = True
    gateway = Gateway()
    assert reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT) == [
        SendReport(message_id, SendOutcome.NOT_PENDING)
    ]
    assert (gateway.lists, store.commits) == ([], 0)


def test_an_unreadable_list_resends_nothing_and_keeps_the_renewed_lease(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    created = DB_NOW - timedelta(hours=2)
    _user, message_id = stranded(store, created_at=created)
    gateway = Gateway(list_error=GatewayError("Twilio answered 503", status=503, code=20503, retryable=True))
    assert reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT) == [
        SendReport(message_id, SendOutcome.UNCERTAIN, error="Twilio answered 503")
    ]
    assert gateway.lists == [{"to": PHONE, "sent_after": created - timedelta(minutes=2), "limit": 200}]
    assert gateway.sends == []
    row = store.row(message_id)
    assert (row.status, row.claimed_at, row.attempts) == ("sending", DB_NOW, 1)
    record = only(caplog, "cannot read Twilio's message list; stranded SMS left for the next sweep")
    assert record.levelno == logging.WARNING
    assert fields(record, "message_id", "status", "code") == {
        "message_id": str(message_id),
        "status": 503,
        "code": 20503,
    }


def test_the_oldest_free_match_in_twilios_list_is_recorded_and_not_resent(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    created = DB_NOW - timedelta(minutes=15)
    user_id, message_id = stranded(store, "did you get this?", created_at=created)
    owned = "SM" + "0" * 32
    store.add(user_id, "did you get this?", status="delivered", sid=owned)  # an earlier row's message
    sent_at = created + timedelta(seconds=30)
    gateway = Gateway(
        listed=[
            listed(
                "SM" + "b" * 32,
                body="did you get this?",
                status="sent",
                created=created + timedelta(minutes=1),
            ),
            listed(
                "SM" + "a" * 32, body="did you get this?", status="delivered", created=created, sent=sent_at
            ),
            listed(
                owned, body="did you get this?", status="delivered", created=created - timedelta(minutes=1)
            ),
            listed("SM" + "f" * 32, body="something else", created=created - timedelta(minutes=1)),
        ]
    )
    assert reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT) == [
        SendReport(message_id, SendOutcome.RECONCILED, sid="SM" + "a" * 32)
    ]
    assert gateway.sends == []
    assert store.named("known_sids") == [(["SM" + "b" * 32, "SM" + "a" * 32, owned],)]
    row = store.row(message_id)
    assert (row.status, row.sid, row.sent_at, row.error_code) == ("delivered", "SM" + "a" * 32, sent_at, None)
    record = only(caplog, "stranded SMS found in Twilio's message list: recorded, not resent")
    assert record.levelno == logging.WARNING
    assert fields(record, "message_id", "message_sid", "witness") == {
        "message_id": str(message_id),
        "message_sid": "SM" + "a" * 32,
        "witness": "twilio_list",
    }
    assert lines(caplog, "stranded SMS has no witness at Twilio: sending it again") == []


def test_a_match_without_a_creation_date_is_ordered_by_its_send_date_then_last(store: Store) -> None:
    _user, message_id = stranded(store, created_at=DB_NOW - timedelta(minutes=15))
    gateway = Gateway(
        listed=[
            listed("SM" + "1" * 32),  # no dates: ordered as of now, last
            listed("SM" + "2" * 32, sent=DB_NOW - timedelta(minutes=1)),
            listed("SM" + "3" * 32, sent=DB_NOW - timedelta(minutes=2)),
        ]
    )
    [report] = reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT)
    assert report.sid == "SM" + "3" * 32


def test_an_undated_match_is_ordered_as_of_now(store: Store) -> None:
    _user, message_id = stranded(store)
    gateway = Gateway(
        listed=[listed("SM" + "2" * 32, sent=RECONCILE_AT + timedelta(minutes=1)), listed("SM" + "1" * 32)]
    )
    [report] = reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT)
    assert report.sid == "SM" + "1" * 32


@pytest.mark.parametrize(
    ("twilio_status", "stored", "code"),
    [
        ("failed", "failed", 30003),
        ("undelivered", "undelivered", 30003),
        ("sent", "sent", None),
        ("accepted", "queued", None),
    ],
)
def test_a_listed_match_keeps_twilios_error_code_only_when_it_failed(
    store: Store, twilio_status: str, stored: str, code: int | None
) -> None:
    _user, message_id = stranded(store)
    gateway = Gateway(listed=[listed(status=twilio_status, error_code=30003)])
    [report] = reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT)
    assert report.outcome is SendOutcome.RECONCILED
    row = store.row(message_id)
    assert (row.status, row.error_code, row.sent_at) == (stored, code, DB_NOW)


def test_no_witness_gives_the_row_back_and_sends_it_through_the_claim(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    user_id, message_id = stranded(store, "never left us")
    gateway = Gateway(listed=[listed(body="another body")])
    sleeps = Sleeps()
    [report] = reconcile_stranded(
        message_id, gateway=gateway, sleep=sleeps, now=RECONCILE_AT, jitter=lambda: 1.5
    )
    assert report.outcome is SendOutcome.SENT
    assert [s["body"] for s in gateway.sends] == ["never left us"]
    assert store.named("known_sids") == []
    assert store.named("release_claim") == [(message_id, DB_NOW)]  # the renewed lease
    assert store.named("lock") == [(user_id, UserLock.ACCOUNT)] * 3  # take over, settle, claim
    assert store.row(message_id).attempts == 2
    record = only(caplog, "stranded SMS has no witness at Twilio: sending it again")
    assert record.levelno == logging.WARNING
    assert fields(record, "message_id", "witness") == {"message_id": str(message_id), "witness": "none"}


def test_a_resend_after_no_witness_uses_the_callers_sleep_and_jitter(store: Store) -> None:
    _user, message_id = stranded(store)
    gateway = Gateway(errors=[err(503, 20503, retryable=True)])
    sleeps = Sleeps()
    reconcile_stranded(message_id, gateway=gateway, sleep=sleeps, now=RECONCILE_AT, jitter=lambda: 1.5)
    assert sleeps.waits == [0.75]


def test_a_sweep_passes_its_sleep_and_jitter_to_reconciliation_and_delivery(store: Store) -> None:
    user_id = store.user()
    store.add(user_id, "stranded", status="sending", attempts=1, claimed_at=SWEEP_AT - timedelta(minutes=6))
    store.add(user_id, "pending", created_at=SWEEP_AT - timedelta(minutes=3))
    gateway = Gateway(errors=[err(503, 20503, retryable=True), None, err(503, 20503, retryable=True)])
    sleeps = Sleeps()
    sweep_pending_messages(gateway=gateway, sleep=sleeps, now=SWEEP_AT, jitter=lambda: 1.5)
    assert sleeps.waits == [0.75, 0.75]


def test_only_free_sids_witness_and_an_owned_one_means_a_resend(store: Store) -> None:
    user_id, message_id = stranded(store, "Got it.")
    store.add(user_id, "Got it.", status="delivered", sid="SM" + "9" * 32)
    gateway = Gateway(listed=[listed("SM" + "9" * 32, body="Got it.")])
    [report] = reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT)
    assert report.outcome is SendOutcome.SENT
    assert store.named("known_sids") == [(["SM" + "9" * 32],)]


def test_a_callback_landing_while_the_list_is_read_is_the_witness(store: Store) -> None:
    _user, message_id = stranded(store)

    def callback_lands() -> None:
        store.state.rows[message_id].sid = "SM" + "c" * 32
        store.state.rows[message_id].status = "sent"

    gateway = Gateway(listed=[listed("SM" + "a" * 32)], on_list=callback_lands)
    assert reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT) == [
        SendReport(message_id, SendOutcome.RECONCILED, sid="SM" + "c" * 32)
    ]
    assert store.row(message_id).sid == "SM" + "c" * 32
    assert gateway.sends == []


@pytest.mark.parametrize(("status", "sid"), [("blocked", None), ("sending", "SM" + "c" * 32)])
def test_a_row_settled_while_the_list_is_read_is_reconciled_as_is(
    store: Store, status: str, sid: str | None
) -> None:
    _user, message_id = stranded(store)

    def settle() -> None:
        store.state.rows[message_id].status, store.state.rows[message_id].sid = status, sid

    gateway = Gateway(on_list=settle)
    assert reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT) == [
        SendReport(message_id, SendOutcome.RECONCILED, sid=sid)
    ]
    assert gateway.sends == []


def test_a_row_deleted_while_the_list_is_read_is_not_found(store: Store) -> None:
    _user, message_id = stranded(store)

    def delete() -> None:
        del store.state.rows[message_id]

    gateway = Gateway(on_list=delete)
    assert reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT) == [
        SendReport(message_id, SendOutcome.NOT_FOUND)
    ]


def test_a_lease_taken_over_while_the_list_is_read_is_left_alone(store: Store) -> None:
    _user, message_id = stranded(store)

    def another_reconciler() -> None:
        store.state.rows[message_id].claimed_at = DB_NOW + timedelta(seconds=5)

    gateway = Gateway(on_list=another_reconciler)
    assert reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT) == [
        SendReport(message_id, SendOutcome.NOT_PENDING)
    ]
    assert gateway.sends == []
    assert store.row(message_id).status == "sending"


def test_reconciliation_reads_the_clock_when_not_given_one(store: Store) -> None:
    _user, message_id = stranded(store, claimed_at=datetime.now(UTC) - timedelta(minutes=4))
    assert reconcile_stranded(message_id, gateway=Gateway())[0].outcome is SendOutcome.NOT_PENDING
    row = store.row(message_id)
    row.claimed_at = datetime.now(UTC) - timedelta(minutes=6)
    assert reconcile_stranded(message_id, gateway=Gateway())[0].outcome is SendOutcome.SENT


def test_a_listed_match_is_recorded_with_its_status_in_one_commit(store: Store) -> None:
    _user, message_id = stranded(store)
    gateway = Gateway(listed=[listed(status="sent", sent=DB_NOW)])
    reconcile_stranded(message_id, gateway=gateway, now=RECONCILE_AT)
    assert store.commits == 2  # the lease taken over, then the record
    assert store.row(message_id).status == "sent"
