"""Race tests for the locking clauses the first lock tests left alive (docs/testing.md).

Each test holds a lock in one transaction and acts from another, the way two workers (or two
operators) meet in production. A claim that lost ``SKIP LOCKED`` blocks behind the held row;
one that lost ``FOR UPDATE`` hands out the held row a second time; a ``SELECT ... FOR UPDATE``
that lost its clause lets a second transaction take the row under the first; a category lock
made shared no longer serialises two de-duplications. Each test fails when its clause is
removed from the named query (checked by editing the query) and runs well under 2 s.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg import errors

from shared.adapters.postgres import connect
from shared.adapters.repositories.community_requests import NewCommunityRequest
from shared.adapters.repositories.dead_letters import NewDeadLetter
from shared.adapters.repositories.queue import NewQueuedPart
from shared.adapters.tasks import retry_task
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.community import OPEN_STATUSES
from shared.domain.retry import RetryAt
from shared.service_layer import community
from shared.service_layer.summaries import SummaryResult, summarize_conversation
from shared.service_layer.sweep_tasks import sweep_tasks
from tests.backbone_support import add_task, make_user
from tests.fakes.pubsub import FakePublisher
from tests.lock_support import row_held, until_another_session_waits, without_blocking

pytestmark = pytest.mark.integration

CLAIM_WAIT = 5.0  # a claim still running after this is blocked behind the held row
BLOCK_PROBE = 0.4  # a second locker still waiting after this is excluded by the first

NOW = datetime(2026, 6, 3, 16, 0, tzinfo=UTC)


def _without_blocking(call: Callable[[], Any]) -> Any:
    return without_blocking(call, CLAIM_WAIT)


def _taken_elsewhere(database_url: str, table: str, row_id: uuid.UUID) -> bool:
    """Whether another transaction holds ``row_id`` (a ``FOR UPDATE NOWAIT`` from here is refused)."""
    with connect(database_url) as conn:
        try:
            conn.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE NOWAIT", (row_id,))
        except errors.LockNotAvailable:
            return True
        finally:
            conn.rollback()
        return False


# --- message_queue: the orchestrator's claim --------------------------------------------------


def _queued(uow: PostgresUnitOfWork, user: uuid.UUID, text: str) -> uuid.UUID:
    return uow.queue.add(
        NewQueuedPart(
            user_id=user,
            agent_id="concierge",
            message_data={},
            final_message=text,
            scheduled_for=NOW - timedelta(minutes=1),
            priority="medium",
            conversation_context_id=None,
            requires_fresh_context=False,
            can_delay=True,
            sequence_id=None,
            sequence_position=None,
            sequence_total=None,
        ),
        now=NOW - timedelta(minutes=2),
    )


def test_the_queue_claim_skips_a_row_another_orchestrator_holds_and_claims_the_rest(db, database_url):
    user = make_user(db)
    with PostgresUnitOfWork() as uow:
        held = _queued(uow, user, "held")
        free = _queued(uow, user, "free")
        uow.commit()

    def claim() -> list[uuid.UUID]:
        with PostgresUnitOfWork() as uow:
            rows = uow.queue.claim_due_for_user(user, NOW)
            uow.rollback()
        return [r.part.id for r in rows]

    with row_held(database_url, "SELECT id FROM message_queue WHERE id = %s FOR UPDATE", held):
        assert _without_blocking(claim) == [free]
    assert sorted(claim()) == sorted([held, free])


def test_a_claimed_queue_row_is_locked_until_the_claim_ends(db, database_url):
    user = make_user(db)
    with PostgresUnitOfWork() as uow:
        queued = _queued(uow, user, "one")
        uow.commit()
    with PostgresUnitOfWork() as uow:
        assert [r.part.id for r in uow.queue.claim_due_for_user(user, NOW)] == [queued]
        assert _taken_elsewhere(database_url, "message_queue", queued)
        uow.rollback()
    assert not _taken_elsewhere(database_url, "message_queue", queued)


# --- event_dead_letters: replay -----------------------------------------------------------


def _dead_letter(uow: PostgresUnitOfWork, n: int) -> uuid.UUID:
    letter = uow.dead_letters.record(
        NewDeadLetter(
            event_id=None,
            event_type="malformed",
            payload={"n": n},
            error_message="x",
            retry_count=0,
            original_created_at=NOW + timedelta(seconds=n),
            source="consumer",
            consumer="agent_bouncer",
            source_message_id=f"agent_bouncer:race:{n}",
        )
    )
    assert letter is not None
    return letter


def test_replaying_all_skips_a_dead_letter_another_operator_holds(db, database_url):
    with PostgresUnitOfWork() as uow:
        held = _dead_letter(uow, 1)
        free = _dead_letter(uow, 2)
        uow.commit()

    def lock_unreplayed() -> list[uuid.UUID]:
        with PostgresUnitOfWork() as uow:
            ids = uow.dead_letters.lock_unreplayed(limit=10)
            uow.rollback()
        return ids

    with row_held(database_url, "SELECT id FROM event_dead_letters WHERE id = %s FOR UPDATE", held):
        assert _without_blocking(lock_unreplayed) == [free]
    assert lock_unreplayed() == [held, free]


def test_the_dead_letters_replay_all_locks_stay_held_until_the_replay_ends(db, database_url):
    with PostgresUnitOfWork() as uow:
        letter = _dead_letter(uow, 1)
        uow.commit()
    with PostgresUnitOfWork() as uow:
        assert uow.dead_letters.lock_unreplayed(limit=10) == [letter]
        assert _taken_elsewhere(database_url, "event_dead_letters", letter)
        uow.rollback()


def test_a_dead_letter_locked_for_replay_cannot_be_replayed_by_a_second_operator(db, database_url):
    with PostgresUnitOfWork() as uow:
        letter = _dead_letter(uow, 1)
        uow.commit()
    with PostgresUnitOfWork() as uow:
        locked = uow.dead_letters.lock(letter)
        assert locked is not None and locked.id == letter
        assert _taken_elsewhere(database_url, "event_dead_letters", letter)
        uow.rollback()
    assert not _taken_elsewhere(database_url, "event_dead_letters", letter)


# --- community_requests: state changes, de-duplication, closure ---------------------------


def _request(uow: PostgresUnitOfWork, asker: uuid.UUID, question: str = "Which provider?") -> uuid.UUID:
    return uow.community_requests.add(
        NewCommunityRequest(
            requesting_agent_type="concierge",
            requesting_user_id=asker,
            context_id=None,
            context_type=None,
            question=question,
            category="hr",
            expertise_needed=("payroll",),
            target_user_ids=(),
            requester_context=None,
            desired_outcome=None,
            urgency="medium",
            request_summary=question,
            created_at=NOW,
            expires_at=NOW + timedelta(days=7),
        )
    ).id


def test_a_community_request_locked_for_a_state_change_is_held_until_it_commits(db, database_url):
    asker = make_user(db)
    with PostgresUnitOfWork() as uow:
        request = _request(uow, asker)
        uow.commit()
    with PostgresUnitOfWork() as uow:
        assert uow.community_requests.lock(request) is not None
        assert _taken_elsewhere(database_url, "community_requests", request)
        uow.rollback()


def test_the_duplicate_found_for_a_new_question_is_locked(db, database_url):
    asker = make_user(db)
    with PostgresUnitOfWork() as uow:
        request = _request(uow, asker)
        uow.commit()
    with PostgresUnitOfWork() as uow:
        duplicate = uow.community_requests.open_duplicate(
            statuses=tuple(OPEN_STATUSES),
            category="hr",
            expertise=("payroll",),
            since=NOW - timedelta(days=1),
            now=NOW,
        )
        assert duplicate is not None and duplicate.id == request
        assert _taken_elsewhere(database_url, "community_requests", request)
        uow.rollback()


def test_the_category_lock_excludes_a_second_deduplication_in_that_category(db):
    entered = threading.Event()

    def second() -> None:
        with PostgresUnitOfWork() as uow:
            uow.community_requests.lock_category("hr")
            entered.set()
            uow.rollback()

    with PostgresUnitOfWork() as first:
        first.community_requests.lock_category("hr")
        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        assert not entered.wait(BLOCK_PROBE), "a second caller took the category lock the first holds"
        first.rollback()
    assert entered.wait(CLAIM_WAIT), "the category lock was not released when the first caller ended"
    thread.join(CLAIM_WAIT)


def test_closure_skips_a_request_another_closer_holds_and_takes_the_rest(db, database_url):
    asker = make_user(db)
    with PostgresUnitOfWork() as uow:
        held = _request(uow, asker, "held")
        free = _request(uow, asker, "free")
        uow.commit()
    later = NOW + timedelta(days=8)  # both expired

    def due() -> list[uuid.UUID]:
        with PostgresUnitOfWork() as uow:
            rows = uow.community_requests.due_for_closure(statuses=tuple(OPEN_STATUSES), now=later, limit=10)
            uow.rollback()
        return [r.id for r in rows]

    with row_held(database_url, "SELECT id FROM community_requests WHERE id = %s FOR UPDATE", held):
        assert _without_blocking(due) == [free]
    assert sorted(due()) == sorted([held, free])


# --- the read-then-write locks: a second worker must read after the first one's write -----------


def _second(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """``call`` in its own thread (the second worker); its result or error lands in the dict."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _joined(thread: threading.Thread, outcome: dict[str, Any]) -> dict[str, Any]:
    thread.join(CLAIM_WAIT)
    assert not thread.is_alive(), "the second worker was still waiting after the first one committed"
    return outcome


def test_a_second_operator_scoring_an_answer_being_scored_is_told_it_is_scored(db, database_url):
    """``community_responses_lock`` (FOR UPDATE OF r): the operator's ``score_response`` and the
    ``community.response_received`` handler read the score and then write it. Without the row lock
    the second reads the answer as unscored, pays nothing new (the award is idempotent) but tells
    its operator it scored the answer and tells the expert of their impact a second time."""
    asker, expert = make_user(db), make_user(db)
    with PostgresUnitOfWork() as uow:
        request = _request(uow, asker)
        response = uow.community_responses.add(
            request, expert, response_text="Gusto", verbatim_answer="Use Gusto.", now=NOW
        ).id
        uow.commit()

    def score_second() -> Any:
        with PostgresUnitOfWork() as uow:
            outcome = community.score_response(uow, response, score=9, operator="b@example.com", now=NOW)
            uow.commit()
        return outcome

    with PostgresUnitOfWork() as first:
        scored = community.score_response(first, response, score=7, operator="a@example.com", now=NOW)
        assert scored.status == "rewarded"
        thread, outcome = _second(score_second)
        until_another_session_waits(database_url, CLAIM_WAIT)  # at the lock, or (lock lost) at its UPDATE
        first.commit()
    second = _joined(thread, outcome)
    assert isinstance(second.get("error"), community.AlreadyScored), f"the second scorer got {second}"
    row = db.execute("SELECT usefulness_score, scored_by FROM community_responses WHERE id = %s", (response,))
    assert row.fetchone() == {"usefulness_score": 7, "scored_by": "operator:a@example.com"}
    notices = db.execute(
        "SELECT count(*) AS n FROM agent_tasks WHERE task_type = %s AND context_id = %s",
        (community.NOTIFY_IMPACT, response),
    ).fetchone()
    assert notices["n"] == 1, "the expert is told of one answer's impact twice"


def test_a_second_summariser_of_a_conversation_waits_and_finds_nothing_new(db, database_url):
    """``conversations_lock_for_summary`` (FOR UPDATE OF c): two summary tasks for one conversation
    (a redelivery, or a second task scheduled by the messages trigger). Without the row lock the
    second summarises the same messages again (a second model call) and overwrites the first."""
    user = make_user(db)
    db.execute(
        "INSERT INTO conversations (user_id, phone_number) SELECT id, phone_number FROM users "
        "WHERE id = %s ON CONFLICT DO NOTHING",
        (user,),
    )
    conversation = db.execute(
        "SELECT id FROM conversations WHERE user_id = %s AND status = 'active'", (user,)
    ).fetchone()["id"]
    for role, direction, status, content in (
        ("user", "inbound", "received", "Looking for a CFO intro."),
        ("bouncer", "outbound", "delivered", "Noted. What's your name?"),
    ):
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (conversation, user, role, content, direction, status),
        )

    def summarise_second() -> SummaryResult:
        with PostgresUnitOfWork() as uow:
            result = summarize_conversation(uow, conversation, llm=None, uow_factory=PostgresUnitOfWork)
            uow.commit()
        return result

    with PostgresUnitOfWork() as first:
        result = summarize_conversation(first, conversation, llm=None, uow_factory=PostgresUnitOfWork)
        assert result.status == "stored"
        thread, outcome = _second(summarise_second)
        until_another_session_waits(database_url, CLAIM_WAIT)
        first.commit()
    second = _joined(thread, outcome)
    assert "error" not in second, second
    assert second["value"].status == "nothing_new", "the second summariser summarised the same messages again"


def test_the_lease_sweeper_leaves_a_task_its_worker_is_recording_a_retry_for(db, database_url):
    """``tasks_get_claimed`` (FOR UPDATE): ``retry_task`` reads the retry counters of its claim and
    then requeues the task. A lease that ran out meanwhile must not be requeued by the sweeper in
    between (it skips locked leases): without the lock the sweeper takes the task and the worker's
    retry is lost (``LostLease``)."""
    user = make_user(db)
    task = add_task(db, user_id=user)
    token = uuid.uuid4()
    db.execute(
        "UPDATE agent_tasks SET status = 'processing', claim_token = %s, "
        "lease_expires_at = now() - interval '1 minute', scheduled_for = now() + interval '1 hour' "
        "WHERE id = %s",
        (token, task),
    )
    with PostgresUnitOfWork() as worker:
        claimed = worker.tasks.get_claimed(task, token)
        assert claimed is not None and claimed.retry_count == 0
        _without_blocking(lambda: sweep_tasks(FakePublisher()))
        decision = retry_task(worker, task, token, "boom")
        worker.commit()
    assert isinstance(decision, RetryAt)
    row = db.execute(
        "SELECT status, retry_count, error_log FROM agent_tasks WHERE id = %s", (task,)
    ).fetchone()
    assert (row["status"], row["retry_count"], row["error_log"]) == ("pending", 1, "boom")
