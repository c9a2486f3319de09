"""Agent tasks: creation, the sweeper's claim, leases and claim-token guards (decisions B3, B7)."""

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import routing
from shared.adapters.postgres import connect
from shared.adapters.tasks import (
    LostLease,
    cancel_pending_tasks,
    complete_task,
    create_task,
    fail_task,
    retry_task,
)
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.retry import GiveUp, RetryAt
from shared.service_layer.sweep_tasks import sweep_tasks
from tests.backbone_support import add_task, dead_letters, make_user, task_row
from tests.fakes.pubsub import FakePublisher

pytestmark = pytest.mark.integration


@pytest.fixture
def uow(database_url):
    """A unit of work whose every statement commits at once, so the test reads it through ``db``."""
    with connect(database_url) as conn, PostgresUnitOfWork(conn) as unit_of_work:
        conn.autocommit = True
        yield unit_of_work


def _create(uow: Any, user: Any, **overrides: Any) -> Any:
    args = dict(
        task_type="re_engagement_check",
        agent_type="bouncer",
        user_id=user,
        scheduled_for=datetime.now(UTC),
        priority="medium",
        context_json={"attemptCount": 1},
        created_by="test",
    )
    args.update(overrides)
    return create_task(uow, **args)


def test_the_same_pending_task_is_never_stacked_twice(db, uow):
    user = make_user(db)
    first = _create(uow, user)
    assert first is not None
    assert _create(uow, user) is None
    other_context = _create(uow, user, context_id=uuid.uuid4(), context_type="priority")
    assert other_context not in (None, first)
    explicit = _create(uow, user, dedupe_key="custom-key")
    assert explicit is not None
    assert _create(uow, user, dedupe_key="custom-key") is None
    assert db.execute("SELECT count(*) AS n FROM agent_tasks").fetchone()["n"] == 3


def test_a_finished_task_does_not_block_a_new_one(db, uow):
    user = make_user(db)
    first = _create(uow, user)
    db.execute("UPDATE agent_tasks SET status = 'completed' WHERE id = %s", (first,))
    assert _create(uow, user) not in (None, first)


def test_create_task_refuses_unknown_priorities_and_naive_times(db, uow):
    user = make_user(db)
    with pytest.raises(ValueError, match="priority"):
        _create(uow, user, priority="asap")
    with pytest.raises(ValueError, match="timezone"):
        _create(uow, user, scheduled_for=datetime.now())


def test_cancel_pending_tasks_cancels_only_the_matching_pending_ones(db, uow):
    user, other = make_user(db), make_user(db)
    context = uuid.uuid4()
    a = _create(uow, user)
    b = _create(uow, user, context_id=context, context_type="priority")
    c = _create(uow, other)
    d = _create(uow, user, task_type="notify_user_of_priorities")
    assert (
        cancel_pending_tasks(uow, task_type="re_engagement_check", user_id=user, reason="user replied") == 2
    )
    statuses = {t: task_row(db, t)["status"] for t in (a, b, c, d)}
    assert statuses == {a: "cancelled", b: "cancelled", c: "pending", d: "pending"}
    assert task_row(db, a)["result_json"]["reason"] == "user replied"
    e = _create(uow, user, context_id=context, context_type="priority")
    _create(uow, user)
    assert (
        cancel_pending_tasks(
            uow,
            task_type="re_engagement_check",
            user_id=user,
            context_id=context,
            context_type="priority",
            reason="item_marked_dormant",
        )
        == 1
    )
    assert task_row(db, e)["status"] == "cancelled"


def test_sweeper_claims_by_priority_then_due_time_and_publishes_each_to_its_agent(db):
    user = make_user(db)
    low = add_task(db, priority="low", due_offset="-10 minutes", user_id=user)
    medium_late = add_task(db, priority="medium", due_offset="-1 minute")
    medium_early = add_task(db, priority="medium", due_offset="-5 minutes")
    urgent = add_task(db, priority="urgent", due_offset="-1 second")
    high = add_task(db, priority="high", due_offset="-2 seconds")
    future = add_task(db, priority="urgent", due_offset="1 hour")
    publisher = FakePublisher()

    report = sweep_tasks(publisher)

    assert report.claimed == 5 and report.published == 5
    order = [m.attributes["task_id"] for _, m in publisher.published]
    assert order == [str(t) for t in (urgent, high, medium_early, medium_late, low)]
    message = publisher.published[-1][1]
    row = task_row(db, low)
    assert message.topic == "agent-bouncer"
    assert message.ordering_key == str(user)
    assert message.attributes == {
        "kind": "task",
        "task_id": str(low),
        "task_type": "re_engagement_check",
        "claim_token": str(row["claim_token"]),
        "attempt": "1",
        "user_id": str(user),
    }
    assert json.loads(message.data)["event_type"] == "agent.task_ready"
    assert row["status"] == "processing"
    lease = db.execute(
        "SELECT extract(epoch FROM lease_expires_at - now()) AS s FROM agent_tasks WHERE id = %s", (low,)
    ).fetchone()["s"]
    assert 590 < lease <= 600
    assert task_row(db, future)["status"] == "pending"
    assert sweep_tasks(publisher).claimed == 0


def test_complete_task_needs_the_current_claim_token(db, uow):
    task = add_task(db)
    sweep_tasks(FakePublisher())
    token = task_row(db, task)["claim_token"]
    with pytest.raises(LostLease):
        complete_task(uow, task, uuid.uuid4(), {"ok": True})
    complete_task(uow, task, token, {"ok": True})
    row = task_row(db, task)
    assert row["status"] == "completed"
    assert row["result_json"] == {"ok": True}
    with pytest.raises(LostLease):
        complete_task(uow, task, token, {"again": True})


def test_an_expired_lease_is_requeued_and_the_stale_claim_cannot_complete(db, uow):
    task = add_task(db)
    publisher = FakePublisher()
    sweep_tasks(publisher)
    stale = task_row(db, task)["claim_token"]
    db.execute("UPDATE agent_tasks SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (task,))

    report = sweep_tasks(publisher)

    assert report.leases_requeued == 1
    row = task_row(db, task)
    assert row["status"] == "pending"
    assert row["retry_count"] == 1
    assert row["claim_token"] is None
    assert row["error_log"] == "lease expired"
    wait = db.execute(
        "SELECT extract(epoch FROM scheduled_for - now()) AS s FROM agent_tasks WHERE id = %s", (task,)
    ).fetchone()["s"]
    assert 50 < wait <= 60
    with pytest.raises(LostLease):
        complete_task(uow, task, stale, {"late": True})

    # When it is due again it gets a new claim; the stale token still cannot touch it.
    db.execute("UPDATE agent_tasks SET scheduled_for = now() WHERE id = %s", (task,))
    sweep_tasks(publisher)
    fresh = task_row(db, task)["claim_token"]
    assert fresh not in (None, stale)
    assert publisher.published[-1][1].attributes["attempt"] == "2"
    with pytest.raises(LostLease):
        complete_task(uow, task, stale, {"late": True})
    complete_task(uow, task, fresh, {"done": True})


def test_a_lease_expiring_after_the_last_retry_fails_the_task_with_a_dead_letter(db):
    task = add_task(db, max_retries=0)
    sweep_tasks(FakePublisher())
    db.execute("UPDATE agent_tasks SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (task,))
    report = sweep_tasks(FakePublisher())
    assert report.leases_failed == 1
    assert task_row(db, task)["status"] == "failed"
    [dead] = dead_letters(db)
    assert dead["event_id"] == task
    assert dead["event_type"] == "agent.task_ready"
    assert dead["payload"]["kind"] == "task"
    assert "lease expired" in dead["error_message"]


def test_retry_task_backs_off_one_two_four_minutes_then_fails(db, uow):
    task = add_task(db)
    waits = []
    for _ in range(3):
        db.execute("UPDATE agent_tasks SET scheduled_for = now() WHERE id = %s", (task,))
        sweep_tasks(FakePublisher())
        token = task_row(db, task)["claim_token"]
        decision = retry_task(uow, task, token, "LLM overloaded", consumer="agent_bouncer")
        assert isinstance(decision, RetryAt)
        waits.append(
            round(
                db.execute(
                    "SELECT extract(epoch FROM scheduled_for - now()) AS s FROM agent_tasks WHERE id = %s",
                    (task,),
                ).fetchone()["s"]
                / 60
            )
        )
    assert waits == [1, 2, 4]
    db.execute("UPDATE agent_tasks SET scheduled_for = now() WHERE id = %s", (task,))
    sweep_tasks(FakePublisher())
    token = task_row(db, task)["claim_token"]
    assert isinstance(retry_task(uow, task, token, "LLM overloaded"), GiveUp)
    row = task_row(db, task)
    assert row["status"] == "failed" and row["retry_count"] == 3
    [dead] = dead_letters(db)
    assert dead["source"] == "consumer"
    with pytest.raises(LostLease):
        retry_task(uow, task, token, "again")


def test_fail_task_is_guarded_too(db, uow):
    task = add_task(db)
    sweep_tasks(FakePublisher())
    with pytest.raises(LostLease):
        fail_task(uow, task, uuid.uuid4(), "bad input")
    assert task_row(db, task)["status"] == "processing"


def test_a_task_for_a_planned_agent_fails_with_a_dead_letter(db, monkeypatch: pytest.MonkeyPatch):
    # Every agent is deployed now (issue 12): the Intro agent stands in for a planned one.
    monkeypatch.setitem(routing.PLANNED_CONSUMERS, "intro", routing.CONSUMERS["intro"])
    monkeypatch.delitem(routing.CONSUMERS, "intro")
    task = add_task(db, agent_type="intro", task_type="intro_followup")
    publisher = FakePublisher()
    report = sweep_tasks(publisher)
    assert report.failed == 1 and publisher.published == []
    assert task_row(db, task)["status"] == "failed"
    [dead] = dead_letters(db)
    assert "agent_intro" in dead["error_message"]
    assert dead["source"] == "dispatcher"


def test_a_publish_failure_requeues_the_task_with_retry_accounting(db):
    task = add_task(db)
    report = sweep_tasks(FakePublisher(failing_topics={"agent-bouncer"}))
    assert report.requeued_after_publish_failure == 1
    row = task_row(db, task)
    assert row["status"] == "pending" and row["retry_count"] == 1
    assert "publish failed" in row["error_log"]


def test_four_concurrent_sweepers_claim_each_of_a_thousand_tasks_exactly_once(db):
    db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, priority, scheduled_for, context_json) "
        "SELECT 're_engagement_check', 'bouncer', (ARRAY['urgent','high','medium','low'])[1 + g % 4], "
        "now() - interval '1 second', jsonb_build_object('n', g) FROM generate_series(1, 1000) AS g"
    )
    publisher = FakePublisher()
    reports, errors = [], []
    start = threading.Barrier(4)

    def run():
        try:
            start.wait()
            reports.append(sweep_tasks(publisher, batch_size=50))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [m.attributes["task_id"] for _, m in publisher.published]
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert sum(r.published for r in reports) == 1000
    counts = db.execute(
        "SELECT count(*) FILTER (WHERE status = 'processing') AS processing, "
        "count(DISTINCT claim_token) AS tokens "
        "FROM agent_tasks"
    ).fetchone()
    assert counts == {"processing": 1000, "tokens": 1000}


def test_task_created_now_is_due_and_a_future_one_is_not(db, uow):
    user = make_user(db)
    later = _create(uow, user, task_type="later", scheduled_for=datetime.now(UTC) + timedelta(hours=1))
    now = _create(uow, user, task_type="now")
    publisher = FakePublisher()
    sweep_tasks(publisher)
    assert [m.attributes["task_id"] for _, m in publisher.published] == [str(now)]
    assert task_row(db, later)["status"] == "pending"
