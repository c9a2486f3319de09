"""The event dispatcher's use case (``shared/service_layer/dispatch_events.py``), example by example,
over an in-memory unit of work and a recording publisher.

Written against the mutmut survivors of that module (docs/testing.md): the published message
(body, attributes, ordering key), each outcome of a batch with exactly what it records (published,
record-only with its reason, rescheduled, dead-lettered with its dead letter row field by field),
the report's counters, the batch loop's edges, and the two log lines the on-call reads
(docs/operating.md) with their fields. The same use case against real Postgres and the Pub/Sub
emulator is ``tests/integration/test_dispatch.py`` and ``test_dispatch_emulator.py``.

The fake unit of work keeps every write staged until ``commit()``, like the Postgres one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from shared.adapters.pubsub import OutboundMessage, PublishOutcome
from shared.adapters.repositories.dead_letters import NewDeadLetter
from shared.adapters.repositories.events import ClaimedEvent, DeadEvent, GivenUp, Published, PublishRetry
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.logs import DEAD_LETTER_RECORDED
from shared.routing import CONSUMERS
from shared.service_layer import dispatch_events as module
from shared.service_layer.dispatch_events import (
    RECORD_ONLY_REASON,
    DispatchReport,
    dispatch_batch,
    dispatch_events,
    event_message,
)
from tests.fakes.clock import frozen_datetime

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
CREATED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
USER = UUID("44444444-4444-4444-8444-444444444444")
AGGREGATE = UUID("55555555-5555-4555-8555-555555555555")
LOGGER = "shared.service_layer.dispatch_events"
BOUNCER = CONSUMERS["bouncer"]  # ordered
ACCOUNT_MANAGER = CONSUMERS["account_manager"]  # unordered


def eid(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


def event(
    n: int,
    event_type: str = "user.verified",
    *,
    user_id: UUID | None = USER,
    verified: bool | None = True,
    poc: str | None = None,
    attempts: int = 0,
) -> ClaimedEvent:
    return ClaimedEvent(
        id=eid(n),
        event_type=event_type,
        aggregate_type="user",
        aggregate_id=AGGREGATE,
        payload={"n": n},
        metadata={"m": n},
        attempts=attempts,
        created_at=CREATED,
        created_by="tester",
        user_id=user_id,
        user_verified=verified,
        user_poc_agent_type=poc,
    )


# --- the in-memory unit of work and the recording publisher --------------------------------------


@dataclass
class Store:
    due: list[ClaimedEvent] = field(default_factory=list)
    done: list[tuple[Any, ...]] = field(default_factory=list)  # committed calls, in order
    claims: list[int] = field(default_factory=list)  # the limit of each claim
    units: int = 0
    commits: int = 0
    already_processed: set[UUID] = field(default_factory=set)  # left out by mark_dead_lettered


class FakeUow:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._staged: list[tuple[Any, ...]] = []
        self._claimed: list[ClaimedEvent] = []
        self.events = _Events(self)
        self.dead_letters = _DeadLetters(self)

    def __enter__(self) -> FakeUow:
        self.store.units += 1
        return self

    def __exit__(self, *exc: object) -> None:
        if self._claimed:  # rolled back: the claimed events are due again
            self.store.due[:0] = self._claimed
        self._staged, self._claimed = [], []

    def commit(self) -> list[UUID]:
        self.store.done.extend(self._staged)
        self._staged, self._claimed = [], []
        self.store.commits += 1
        return []


class _Events:
    def __init__(self, uow: FakeUow) -> None:
        self._uow = uow

    def claim_due(self, *, limit: int) -> list[ClaimedEvent]:
        store = self._uow.store
        store.claims.append(limit)
        claimed, store.due = store.due[:limit], store.due[limit:]
        self._uow._claimed = claimed
        return claimed

    def mark_published(self, published: Sequence[Published]) -> None:
        self._uow._staged.append(("published", list(published)))

    def mark_record_only(self, event_ids: Sequence[UUID], *, reason: str) -> None:
        self._uow._staged.append(("record_only", list(event_ids), reason))

    def reschedule(self, retries: Sequence[PublishRetry]) -> None:
        self._uow._staged.append(("reschedule", list(retries)))

    def mark_dead_lettered(self, given_up: Sequence[GivenUp]) -> list[DeadEvent]:
        self._uow._staged.append(("dead_lettered", list(given_up)))
        return [
            DeadEvent(
                id=g.event_id,
                event_type=f"type-of-{g.event_id}",
                payload={"stored": str(g.event_id)},
                created_at=CREATED,
                attempts=g.attempts + 100,  # the stored row's, not the caller's
                error=f"stored: {g.error}",
            )
            for g in given_up
            if g.event_id not in self._uow.store.already_processed
        ]


class _DeadLetters:
    def __init__(self, uow: FakeUow) -> None:
        self._uow = uow

    def record(self, letter: NewDeadLetter) -> UUID | None:
        self._uow._staged.append(("dead_letter", letter))
        return uuid4()


@dataclass
class Recorder:
    """Publishes each message; ``fail`` maps an event id to the error its publish reports."""

    fail: dict[UUID, str] = field(default_factory=dict)
    no_id: set[UUID] = field(default_factory=set)
    calls: list[list[OutboundMessage]] = field(default_factory=list)

    def publish_all(self, messages: Sequence[OutboundMessage]) -> list[PublishOutcome]:
        self.calls.append(list(messages))
        outcomes = []
        for m in messages:
            event_id = UUID(m.attributes["event_id"])
            if event_id in self.fail:
                outcomes.append(PublishOutcome(m, error=self.fail[event_id]))
            elif event_id in self.no_id:
                outcomes.append(PublishOutcome(m, message_id=None))
            else:
                outcomes.append(PublishOutcome(m, message_id=f"msg-{event_id}"))
        return outcomes


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "datetime", frozen_datetime(NOW))


def factory(store: Store) -> Callable[[], PostgresUnitOfWork]:
    return lambda: cast(PostgresUnitOfWork, FakeUow(store))


def batch(events: list[ClaimedEvent], publisher: Recorder) -> tuple[Store, DispatchReport]:
    store = Store(due=list(events))
    report = DispatchReport()
    with FakeUow(store) as uow:
        claimed = uow.events.claim_due(limit=len(events))
        dispatch_batch(cast(PostgresUnitOfWork, uow), claimed, publisher, report)
        uow.commit()
    return store, report


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def fields(record: logging.LogRecord, *names: str) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


# --- the message --------------------------------------------------------------------------------


def test_the_message_of_a_members_event_to_an_ordered_consumer() -> None:
    message = event_message(event(7, attempts=2), BOUNCER)
    assert message.topic == "agent-bouncer"
    assert message.ordering_key == str(USER)
    assert message.attributes == {
        "kind": "event",
        "event_id": str(eid(7)),
        "event_type": "user.verified",
        "attempt": "3",
        "user_id": str(USER),
    }
    assert json.loads(message.data) == {
        "event_id": str(eid(7)),
        "event_type": "user.verified",
        "aggregate_type": "user",
        "aggregate_id": str(AGGREGATE),
        "payload": {"n": 7},
        "metadata": {"m": 7},
        "created_at": str(CREATED),
        "created_by": "tester",
        "user_id": str(USER),
    }


def test_the_message_to_an_unordered_consumer_has_no_ordering_key() -> None:
    message = event_message(event(1), ACCOUNT_MANAGER)
    assert message.topic == "agent-account-manager"
    assert message.ordering_key == ""
    assert message.attributes["user_id"] == str(USER)


def test_the_message_of_an_event_without_a_member() -> None:
    message = event_message(event(1, user_id=None), BOUNCER)
    assert message.ordering_key == ""
    assert message.attributes == {
        "kind": "event",
        "event_id": str(eid(1)),
        "event_type": "user.verified",
        "attempt": "1",
    }
    assert json.loads(message.data)["user_id"] is None


# --- one batch ----------------------------------------------------------------------------------


def test_a_batch_publishes_records_only_and_dead_letters_each_event_as_routed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    events = [
        event(1),  # account manager
        event(2, "message.received", verified=False),  # the point of contact: bouncer
        event(3, "user.opted_out"),  # record only
        event(4, "no.such.event", attempts=2),  # no route
        event(5, "message.received", user_id=None, verified=True),  # point of contact without a member
        event(6, "message.received", verified=True, poc="innovator"),
    ]
    publisher = Recorder(no_id={eid(6)})
    store, report = batch(events, publisher)

    assert len(publisher.calls) == 1
    assert [(m.topic, m.attributes["event_id"]) for m in publisher.calls[0]] == [
        ("agent-account-manager", str(eid(1))),
        ("agent-bouncer", str(eid(2))),
        ("agent-innovator", str(eid(6))),
    ]
    no_route = "no route: no route for event type 'no.such.event'"
    no_member = "no route: event 'message.received' needs a user to pick the point-of-contact agent"
    assert store.done == [
        (
            "published",
            [
                Published(eid(1), "agent-account-manager", f"msg-{eid(1)}"),
                Published(eid(2), "agent-bouncer", f"msg-{eid(2)}"),
                Published(eid(6), "agent-innovator", ""),
            ],
        ),
        ("record_only", [eid(3)], RECORD_ONLY_REASON),
        ("dead_lettered", [GivenUp(eid(4), 2, no_route), GivenUp(eid(5), 0, no_member)]),
        ("dead_letter", dead_letter(4, no_route, 2, None, None)),
        ("dead_letter", dead_letter(5, no_member, 0, None, None)),
    ]
    assert report == DispatchReport(published=3, record_only=1, retrying=0, dead_lettered=2)
    assert RECORD_ONLY_REASON == (
        "record-only event type: no consumer by design (shared.routing.EVENT_ROUTES)"
    )
    dead = records(caplog, "event dead-lettered")
    assert [(r.levelno, fields(r, "event_id", "event_type", "error")) for r in dead] == [
        (logging.ERROR, {"event_id": str(eid(4)), "event_type": "no.such.event", "error": no_route}),
        (logging.ERROR, {"event_id": str(eid(5)), "event_type": "message.received", "error": no_member}),
    ]
    assert [getattr(r, DEAD_LETTER_RECORDED) for r in dead] == [True, True]  # what the alert counts
    assert records(caplog, "event publish failed; will retry") == []


def dead_letter(n: int, error: str, attempts: int, topic: str | None, consumer: str | None) -> NewDeadLetter:
    """The row recorded from what ``mark_dead_lettered`` returned (the fake's stored values)."""
    return NewDeadLetter(
        event_id=eid(n),
        event_type=f"type-of-{eid(n)}",
        payload={"stored": str(eid(n))},
        error_message=f"stored: {error[:4000]}",
        retry_count=attempts + 100,
        original_created_at=CREATED,
        source="dispatcher",
        topic=topic,
        consumer=consumer,
    )


def test_a_failed_publish_is_rescheduled_until_the_fifth_failure_dead_letters_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    events = [event(1, attempts=0), event(2, attempts=3), event(3, attempts=4), event(4)]
    publisher = Recorder(fail={eid(1): "boom", eid(2): "bang", eid(3): "gone"})
    store, report = batch(events, publisher)

    first = "publish to agent-account-manager failed: boom"
    fourth = "publish to agent-account-manager failed: bang"
    fifth = "publish to agent-account-manager failed: gone (publish failed 5 times)"
    retries = [
        PublishRetry(eid(1), 1, first, NOW + timedelta(seconds=10)),
        PublishRetry(eid(2), 4, fourth, NOW + timedelta(seconds=80)),
    ]
    assert store.done == [
        ("published", [Published(eid(4), "agent-account-manager", f"msg-{eid(4)}")]),
        ("reschedule", retries),
        ("dead_lettered", [GivenUp(eid(3), 5, fifth)]),
        ("dead_letter", dead_letter(3, fifth, 5, "agent-account-manager", "agent_account_manager")),
    ]
    assert report == DispatchReport(published=1, record_only=0, retrying=2, dead_lettered=1)
    warned = records(caplog, "event publish failed; will retry")
    assert [(r.levelno, fields(r, "event_id", "attempts", "error", "next_attempt_at")) for r in warned] == [
        (
            logging.WARNING,
            {
                "event_id": str(eid(1)),
                "attempts": 1,
                "error": first,
                "next_attempt_at": (NOW + timedelta(seconds=10)).isoformat(),
            },
        ),
        (
            logging.WARNING,
            {
                "event_id": str(eid(2)),
                "attempts": 4,
                "error": fourth,
                "next_attempt_at": (NOW + timedelta(seconds=80)).isoformat(),
            },
        ),
    ]
    [dead] = records(caplog, "event dead-lettered")
    assert dead.levelno == logging.ERROR
    assert fields(dead, "event_id", "event_type", "error") == {
        "event_id": str(eid(3)),
        "event_type": "user.verified",
        "error": fifth,
    }


def test_long_errors_are_cut_to_4000_characters_where_stored_and_kept_whole_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    long = "x" * 5000
    publisher = Recorder(fail={eid(1): long, eid(2): long})
    store, _ = batch([event(1), event(2, attempts=4)], publisher)

    whole = f"publish to agent-account-manager failed: {long}"
    [(_, [retry]), (_, [given_up]), (_, letter)] = store.done
    assert retry.error == whole[:4000]
    assert len(retry.error) == 4000
    assert given_up.error == whole[:4000]
    assert cast(NewDeadLetter, letter).error_message == f"stored: {whole[:4000]}"
    [dead] = records(caplog, "event dead-lettered")
    assert fields(dead, "error") == {"error": f"{whole} (publish failed 5 times)"}


def test_an_event_another_dispatcher_already_dead_lettered_gets_no_second_dead_letter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = Store(due=[event(1, "no.such.event"), event(2, "no.such.event")], already_processed={eid(1)})
    report = DispatchReport()
    with FakeUow(store) as uow:
        claimed = uow.events.claim_due(limit=2)
        dispatch_batch(cast(PostgresUnitOfWork, uow), claimed, Recorder(), report)
        uow.commit()
    error = "no route: no route for event type 'no.such.event'"
    assert [d[0] for d in store.done] == ["dead_lettered", "dead_letter"]
    assert store.done[1] == ("dead_letter", dead_letter(2, error, 0, None, None))
    assert len(records(caplog, "event dead-lettered")) == 2
    assert report.dead_lettered == 2


def test_a_batch_with_nothing_to_publish_calls_no_publisher_and_records_only_what_it_has() -> None:
    publisher = Recorder()
    store, report = batch([event(1, "user.opted_out"), event(2, "user.opted_in")], publisher)
    assert publisher.calls == []
    assert store.done == [("record_only", [eid(1), eid(2)], RECORD_ONLY_REASON)]
    assert report == DispatchReport(record_only=2)


def test_an_empty_batch_records_nothing() -> None:
    publisher = Recorder()
    store, report = batch([], publisher)
    assert publisher.calls == []
    assert store.done == []
    assert report == DispatchReport()


def test_a_batch_adds_to_the_reports_counters() -> None:
    store = Store(due=[event(1), event(2, "user.opted_out"), event(3, "x.y"), event(4)])
    report = DispatchReport(claimed=9, published=10, record_only=20, retrying=30, dead_lettered=40, batches=5)
    with FakeUow(store) as uow:
        claimed = uow.events.claim_due(limit=4)
        dispatch_batch(cast(PostgresUnitOfWork, uow), claimed, Recorder(fail={eid(4): "no"}), report)
    assert report == DispatchReport(
        claimed=9, published=11, record_only=21, retrying=31, dead_lettered=41, batches=5
    )


def test_the_report_as_a_dict() -> None:
    assert DispatchReport(1, 2, 3, 4, 5, 6).as_dict() == {
        "claimed": 1,
        "published": 2,
        "record_only": 3,
        "retrying": 4,
        "dead_lettered": 5,
        "batches": 6,
    }
    assert DispatchReport().as_dict() == dict.fromkeys(
        ("claimed", "published", "record_only", "retrying", "dead_lettered", "batches"), 0
    )


# --- the run: batch after batch ------------------------------------------------------------------


def test_a_run_drains_full_batches_until_a_short_one_and_commits_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = Store(due=[event(n) for n in range(1, 6)])
    publisher = Recorder()
    report = dispatch_events(publisher, batch_size=2, max_batches=10, uow_factory=factory(store))
    assert report == DispatchReport(claimed=5, published=5, batches=3)
    assert store.claims == [2, 2, 2]  # the short third batch ends the run: no fourth claim
    assert store.units == 3
    assert store.commits == 3
    assert [len(call) for call in publisher.calls] == [2, 2, 1]
    [done] = records(caplog, "event dispatch done")
    assert done.levelno == logging.INFO
    assert fields(done, *report.as_dict()) == report.as_dict()


def test_a_run_stops_at_the_first_empty_claim_without_a_commit() -> None:
    store = Store(due=[event(n) for n in range(1, 5)])
    report = dispatch_events(Recorder(), batch_size=2, max_batches=10, uow_factory=factory(store))
    assert store.claims == [2, 2, 2]
    assert store.commits == 2
    assert report == DispatchReport(claimed=4, published=4, batches=2)


def test_a_run_stops_after_max_batches_leaving_the_rest_due() -> None:
    store = Store(due=[event(n) for n in range(1, 8)])
    report = dispatch_events(Recorder(), batch_size=2, max_batches=2, uow_factory=factory(store))
    assert report == DispatchReport(claimed=4, published=4, batches=2)
    assert store.claims == [2, 2]
    assert [e.id for e in store.due] == [eid(5), eid(6), eid(7)]


def test_a_run_with_nothing_due_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = Store()
    report = dispatch_events(Recorder(), uow_factory=factory(store))
    assert report == DispatchReport()
    assert store.commits == 0
    assert records(caplog, "event dispatch done") == []


def test_the_defaults_are_batches_of_500_and_at_most_20_a_run() -> None:
    store = Store(due=[replace(event(1), id=eid(n)) for n in range(1, 10_002)])
    report = dispatch_events(Recorder(), uow_factory=factory(store))
    assert store.claims == [500] * 20
    assert report.batches == 20
    assert report.claimed == 10_000
    assert len(store.due) == 1


class _Lossy(Recorder):
    """A publisher that breaks the contract: one outcome fewer than the messages it was given."""

    def publish_all(self, messages: Sequence[OutboundMessage]) -> list[PublishOutcome]:
        return super().publish_all(messages)[:-1]


def test_a_publisher_that_loses_an_outcome_fails_the_batch_and_nothing_is_recorded() -> None:
    store = Store(due=[event(1), event(2)])
    with pytest.raises(ValueError, match="zip"):
        dispatch_events(_Lossy(), batch_size=2, uow_factory=factory(store))
    assert store.done == []
    assert store.commits == 0
    assert [e.id for e in store.due] == [eid(1), eid(2)]  # rolled back: due again
