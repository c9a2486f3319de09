"""The task sweeper's use case (``shared/service_layer/sweep_tasks.py``), example by example, over
an in-memory unit of work and a recording publisher.

Written against the mutmut survivors of that module (docs/testing.md): the published
``agent.task_ready`` message (body, attributes, ordering key), the expired leases handled first,
the claim committed before anything is published, each outcome of a publish (published,
requeued with its backoff, failed with a dead letter, unroutable) with exactly what it records,
the report's counters, the batch loop's edges, and the "task sweep done" line with its fields.
The same use case against real Postgres is ``tests/integration/test_tasks.py``.

The fake unit of work keeps every write staged until ``commit()``, like the Postgres one. The
task helpers of ``shared/adapters/tasks.py`` run for real over it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from shared.adapters.pubsub import OutboundMessage, PublishOutcome
from shared.adapters.repositories.dead_letters import NewDeadLetter
from shared.adapters.repositories.tasks import ClaimedTask, FailedTask, LeasedTask, TaskFailure, TaskRetry
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import TASK_LEASE
from shared.logs import DEAD_LETTER_RECORDED
from shared.routing import CONSUMERS
from shared.service_layer import sweep_tasks as module
from shared.service_layer.sweep_tasks import SweepReport, sweep_tasks, task_message
from tests.fakes.clock import frozen_datetime

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SCHEDULED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LEASE_END = datetime(2026, 12, 1, 10, 10, tzinfo=UTC)
USER = UUID("44444444-4444-4444-8444-444444444444")
CONTEXT = UUID("55555555-5555-4555-8555-555555555555")
LOGGER = "shared.service_layer.sweep_tasks"
BOUNCER = CONSUMERS["bouncer"]  # ordered
SUMMARIZER = CONSUMERS["summarizer"]  # unordered


def tid(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


def token(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-9000-{n:012d}")


def task(
    n: int,
    agent_type: str = "bouncer",
    task_type: str = "probe",
    *,
    user_id: UUID | None = USER,
    verified: bool | None = True,
    poc: str | None = None,
    retry_count: int = 0,
    max_retries: int = 3,
) -> ClaimedTask:
    return ClaimedTask(
        id=tid(n),
        task_type=task_type,
        agent_type=agent_type,
        user_id=user_id,
        context_id=CONTEXT,
        context_type="conversation",
        context_json={"n": n},
        priority="high",
        retry_count=retry_count,
        max_retries=max_retries,
        scheduled_for=SCHEDULED,
        claim_token=token(n),
        lease_expires_at=LEASE_END,
        created_at=SCHEDULED,
        user_verified=verified,
        user_poc_agent_type=poc,
    )


# --- the in-memory unit of work and the recording publisher --------------------------------------


@dataclass
class Store:
    due: list[ClaimedTask] = field(default_factory=list)
    expired: list[LeasedTask] = field(default_factory=list)
    lost: set[UUID] = field(default_factory=set)  # claims another sweeper took back meanwhile
    done: list[tuple[Any, ...]] = field(default_factory=list)  # committed writes, in order
    calls: list[tuple[Any, ...]] = field(default_factory=list)  # every repository call, in order
    units: int = 0
    commits: int = 0


class FakeUow:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._staged: list[tuple[Any, ...]] = []
        self.tasks = _Tasks(self)
        self.dead_letters = _DeadLetters(self)

    def __enter__(self) -> FakeUow:
        self.store.units += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._staged = []

    def commit(self) -> list[UUID]:
        self.store.done.extend(self._staged)
        self._staged = []
        self.store.commits += 1
        self.store.calls.append(("commit",))
        return []


class _Tasks:
    def __init__(self, uow: FakeUow) -> None:
        self._uow = uow

    def lock_expired_leases(self, *, limit: int) -> list[LeasedTask]:
        store = self._uow.store
        store.calls.append(("lock_expired_leases", limit))
        expired, store.expired = store.expired[:limit], store.expired[limit:]
        return expired

    def claim_due(self, *, limit: int, lease: Any) -> list[ClaimedTask]:
        store = self._uow.store
        store.calls.append(("claim_due", limit, lease))
        claimed, store.due = store.due[:limit], store.due[limit:]
        self._uow._staged.append(("claimed", [t.id for t in claimed]))
        return claimed

    def requeue_claimed(self, retries: Sequence[TaskRetry]) -> list[UUID]:
        self._uow.store.calls.append(("requeue_claimed",))
        held = [r for r in retries if r.id not in self._uow.store.lost]
        self._uow._staged.append(("requeued", held))
        return [r.id for r in held]

    def fail_claimed(self, failures: Sequence[TaskFailure]) -> list[FailedTask]:
        self._uow.store.calls.append(("fail_claimed",))
        held = [f for f in failures if f.id not in self._uow.store.lost]
        self._uow._staged.append(("failed", held))
        return [
            FailedTask(f.id, "probe", "bouncer", USER, None, None, {}, "high", 3, SCHEDULED, f.error)
            for f in held
        ]


class _DeadLetters:
    def __init__(self, uow: FakeUow) -> None:
        self._uow = uow

    def record(self, letter: NewDeadLetter) -> UUID | None:
        self._uow._staged.append(("dead_letter", letter.event_id, letter.source, letter.consumer))
        return uuid4()


@dataclass
class Recorder:
    """Publishes each message; ``fail`` maps a task id to the error its publish reports."""

    store: Store
    fail: dict[UUID, str] = field(default_factory=dict)
    calls: list[list[OutboundMessage]] = field(default_factory=list)

    def publish_all(self, messages: Sequence[OutboundMessage]) -> list[PublishOutcome]:
        self.calls.append(list(messages))
        self.store.calls.append(("publish", [m.attributes["task_id"] for m in messages]))
        outcomes = []
        for m in messages:
            task_id = UUID(m.attributes["task_id"])
            if task_id in self.fail:
                outcomes.append(PublishOutcome(m, error=self.fail[task_id]))
            else:
                outcomes.append(PublishOutcome(m, message_id=f"msg-{task_id}"))
        return outcomes


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "datetime", frozen_datetime(NOW))


def factory(store: Store) -> Callable[[], PostgresUnitOfWork]:
    return lambda: cast(PostgresUnitOfWork, FakeUow(store))


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def leased(n: int, retry_count: int = 0) -> LeasedTask:
    return LeasedTask(tid(n), token(n), "probe", "bouncer", retry_count, 3)


# --- the message --------------------------------------------------------------------------------


def test_the_task_ready_message_of_a_members_task_to_an_ordered_consumer() -> None:
    message = task_message(task(7, retry_count=2), BOUNCER)
    assert message.topic == "agent-bouncer"
    assert message.ordering_key == str(USER)
    assert message.attributes == {
        "kind": "task",
        "task_id": str(tid(7)),
        "task_type": "probe",
        "claim_token": str(token(7)),
        "attempt": "3",
        "user_id": str(USER),
    }
    assert json.loads(message.data) == {
        "event_type": "agent.task_ready",
        "task_id": str(tid(7)),
        "task_type": "probe",
        "agent_type": "bouncer",
        "user_id": str(USER),
        "context_id": str(CONTEXT),
        "context_type": "conversation",
        "context_json": {"n": 7},
        "priority": "high",
        "retry_count": 2,
        "max_retries": 3,
        "scheduled_for": str(SCHEDULED),
        "claim_token": str(token(7)),
        "lease_expires_at": str(LEASE_END),
    }


def test_the_message_to_an_unordered_consumer_has_no_ordering_key() -> None:
    message = task_message(task(1, "summarizer"), SUMMARIZER)
    assert message.topic == "agent-summarizer"
    assert message.ordering_key == ""
    assert message.attributes["user_id"] == str(USER)


def test_the_message_of_a_task_without_a_member() -> None:
    message = task_message(task(1, user_id=None), BOUNCER)
    assert message.ordering_key == ""
    assert message.attributes == {
        "kind": "task",
        "task_id": str(tid(1)),
        "task_type": "probe",
        "claim_token": str(token(1)),
        "attempt": "1",
    }
    assert json.loads(message.data)["user_id"] is None


# --- a sweep ------------------------------------------------------------------------------------


def test_a_sweep_handles_expired_leases_first_then_commits_each_claim_before_publishing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = Store(due=[task(1), task(2, "summarizer")], expired=[leased(8), leased(9, retry_count=3)])
    publisher = Recorder(store)
    report = sweep_tasks(publisher, batch_size=5, max_batches=3, uow_factory=factory(store))

    assert store.calls == [
        ("lock_expired_leases", 5),
        ("requeue_claimed",),
        ("fail_claimed",),
        ("commit",),
        ("claim_due", 5, TASK_LEASE),
        ("commit",),
        ("publish", [str(tid(1)), str(tid(2))]),
    ]
    assert [(m.topic, m.ordering_key) for m in publisher.calls[0]] == [
        ("agent-bouncer", str(USER)),
        ("agent-summarizer", ""),
    ]
    assert report == SweepReport(
        claimed=2,
        published=2,
        requeued_after_publish_failure=0,
        failed=0,
        leases_requeued=1,
        leases_failed=1,
        batches=1,
    )
    [done] = records(caplog, "task sweep done")
    assert done.levelno == logging.INFO
    assert {name: getattr(done, name) for name in report.as_dict()} == report.as_dict()


def test_a_failed_publish_requeues_with_backoff_or_fails_after_the_last_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    caplog.set_level(logging.INFO, logger="shared.adapters.tasks")
    store = Store(
        due=[
            task(1, retry_count=0),
            task(2, retry_count=2),
            task(3, retry_count=3),
            task(4),
            task(5, "nobody"),
            task(6, "system", "re_engagement_check", verified=None),
        ]
    )
    publisher = Recorder(store, fail={tid(1): "boom", tid(2): "bang", tid(3): "gone"})
    report = sweep_tasks(publisher, batch_size=10, uow_factory=factory(store))

    assert [m.attributes["task_id"] for m in publisher.calls[0]] == [str(tid(n)) for n in (1, 2, 3, 4)]
    gave_up = "publish failed: gone (gave up after 3 retries (max_retries 3))"
    unknown = "no route: unknown consumer 'nobody'"
    no_member = "no route: system task 're_engagement_check' needs a user to pick the point-of-contact agent"
    assert store.done == [
        ("claimed", [tid(n) for n in range(1, 7)]),
        (
            "requeued",
            [
                TaskRetry(tid(1), token(1), 1, NOW + timedelta(minutes=1), "publish failed: boom"),
                TaskRetry(tid(2), token(2), 3, NOW + timedelta(minutes=4), "publish failed: bang"),
            ],
        ),
        (
            "failed",
            [
                TaskFailure(tid(5), token(5), unknown),
                TaskFailure(tid(6), token(6), no_member),
                TaskFailure(tid(3), token(3), gave_up),
            ],
        ),
        ("dead_letter", tid(5), "dispatcher", "task_sweeper"),
        ("dead_letter", tid(6), "dispatcher", "task_sweeper"),
        ("dead_letter", tid(3), "dispatcher", "task_sweeper"),
    ]
    assert store.commits == 3  # the leases, the claim, the outcomes
    assert report == SweepReport(
        claimed=6, published=1, requeued_after_publish_failure=2, failed=3, batches=1
    )
    # one line per dead letter carries the field the dead-letter alert counts
    failed_lines = [
        r for r in caplog.records if r.name == "shared.adapters.tasks" and r.getMessage() == "task failed"
    ]
    assert [(r.__dict__["task_id"], r.__dict__[DEAD_LETTER_RECORDED]) for r in failed_lines] == [
        (str(tid(n)), True) for n in (5, 6, 3)
    ]


def test_the_counters_count_only_the_claims_still_held() -> None:
    store = Store(
        due=[task(1), task(2), task(3, retry_count=3), task(4, retry_count=3)], lost={tid(1), tid(3)}
    )
    fail = {tid(n): "no" for n in range(1, 5)}
    report = sweep_tasks(Recorder(store, fail=fail), batch_size=10, uow_factory=factory(store))
    assert report.requeued_after_publish_failure == 1
    assert report.failed == 1
    assert report.published == 0


def test_a_batch_published_whole_opens_no_unit_of_work_for_outcomes() -> None:
    store = Store(due=[task(1), task(2)])
    report = sweep_tasks(Recorder(store), batch_size=2, max_batches=1, uow_factory=factory(store))
    assert store.units == 2  # the leases and the claim
    assert report == SweepReport(claimed=2, published=2, batches=1)


def test_a_sweep_drains_full_batches_until_a_short_one() -> None:
    store = Store(due=[task(n) for n in range(1, 6)])
    publisher = Recorder(store)
    report = sweep_tasks(publisher, batch_size=2, max_batches=10, uow_factory=factory(store))
    assert [c for c in store.calls if c[0] == "claim_due"] == [("claim_due", 2, TASK_LEASE)] * 3
    assert [len(call) for call in publisher.calls] == [2, 2, 1]
    assert report == SweepReport(claimed=5, published=5, batches=3)


def test_a_sweep_stops_at_the_first_empty_claim() -> None:
    store = Store(due=[task(n) for n in range(1, 5)])
    publisher = Recorder(store)
    report = sweep_tasks(publisher, batch_size=2, max_batches=10, uow_factory=factory(store))
    assert len([c for c in store.calls if c[0] == "claim_due"]) == 3
    assert len(publisher.calls) == 2
    assert report == SweepReport(claimed=4, published=4, batches=2)


def test_a_sweep_stops_after_max_batches_leaving_the_rest_due() -> None:
    store = Store(due=[task(n) for n in range(1, 8)])
    report = sweep_tasks(Recorder(store), batch_size=2, max_batches=2, uow_factory=factory(store))
    assert report == SweepReport(claimed=4, published=4, batches=2)
    assert [t.id for t in store.due] == [tid(5), tid(6), tid(7)]


def test_an_unroutable_batch_publishes_nothing() -> None:
    store = Store(due=[task(1, "nobody")])
    publisher = Recorder(store)
    report = sweep_tasks(publisher, batch_size=5, uow_factory=factory(store))
    assert publisher.calls == []
    assert report == SweepReport(claimed=1, failed=1, batches=1)


def test_a_sweep_with_nothing_to_do_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = Store()
    report = sweep_tasks(Recorder(store), uow_factory=factory(store))
    assert report == SweepReport()
    assert records(caplog, "task sweep done") == []


@pytest.mark.parametrize(
    ("expired", "requeued", "failed"), [([leased(1)], 1, 0), ([leased(1, retry_count=3)], 0, 1)]
)
def test_a_sweep_that_only_handled_leases_is_logged(
    caplog: pytest.LogCaptureFixture, expired: list[LeasedTask], requeued: int, failed: int
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = Store(expired=expired)
    report = sweep_tasks(Recorder(store), uow_factory=factory(store))
    assert report == SweepReport(leases_requeued=requeued, leases_failed=failed)
    [done] = records(caplog, "task sweep done")
    assert {name: getattr(done, name) for name in report.as_dict()} == report.as_dict()


def test_the_defaults_are_batches_of_1000_and_at_most_20_a_sweep() -> None:
    store = Store(due=[task(1)] * 20_001, expired=[leased(n) for n in range(1, 1_002)])
    report = sweep_tasks(Recorder(store), uow_factory=factory(store))
    assert store.calls[0] == ("lock_expired_leases", 1000)
    assert [c for c in store.calls if c[0] == "claim_due"] == [("claim_due", 1000, TASK_LEASE)] * 20
    assert report.batches == 20
    assert report.claimed == 20_000
    assert report.leases_requeued == 1000


def test_the_report_as_a_dict() -> None:
    assert SweepReport(1, 2, 3, 4, 5, 6, 7).as_dict() == {
        "claimed": 1,
        "published": 2,
        "requeued_after_publish_failure": 3,
        "failed": 4,
        "leases_requeued": 5,
        "leases_failed": 6,
        "batches": 7,
    }


class _Lossy(Recorder):
    """A publisher that breaks the contract: one outcome fewer than the messages it was given."""

    def publish_all(self, messages: Sequence[OutboundMessage]) -> list[PublishOutcome]:
        return super().publish_all(messages)[:-1]


def test_a_publisher_that_loses_an_outcome_fails_the_sweep_and_leaves_the_claims_to_their_leases() -> None:
    store = Store(due=[task(1), task(2)])
    fail = {tid(1): "boom", tid(2): "bang"}
    with pytest.raises(ValueError, match="zip"):
        sweep_tasks(_Lossy(store, fail=fail), batch_size=2, uow_factory=factory(store))
    assert store.done == [("claimed", [tid(1), tid(2)])]  # nothing requeued: the leases will expire


@pytest.mark.parametrize(
    ("verified", "poc", "topic"),
    [
        (True, "innovator", "agent-innovator"),
        (True, None, "agent-concierge"),
        (False, "innovator", "agent-bouncer"),
    ],
)
def test_a_system_task_goes_to_the_members_point_of_contact(
    verified: bool, poc: str | None, topic: str
) -> None:
    store = Store(due=[task(1, "system", "re_engagement_check", verified=verified, poc=poc)])
    publisher = Recorder(store)
    report = sweep_tasks(publisher, batch_size=5, uow_factory=factory(store))
    assert [m.topic for m in publisher.calls[0]] == [topic]
    assert report == SweepReport(claimed=1, published=1, batches=1)


def test_the_publish_failure_counters_add_up_over_batches() -> None:
    store = Store(due=[task(1), task(2, retry_count=3), task(3), task(4, retry_count=3)])
    fail = {tid(n): "no" for n in range(1, 5)}
    report = sweep_tasks(Recorder(store, fail=fail), batch_size=2, max_batches=5, uow_factory=factory(store))
    assert report == SweepReport(claimed=4, requeued_after_publish_failure=2, failed=2, batches=2)
