"""The community and credit repositories on real Postgres: the methods that fold a read and a
write (a reply from someone never asked, an answer given twice, a ledger key used twice) and
the queries closure and referrals moved to users, priorities and tasks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.repositories.community_requests import NewCommunityRequest, Requester
from shared.adapters.repositories.credits import NewLedgerEntry
from shared.adapters.repositories.tasks import NewTask
from shared.adapters.unit_of_work import PostgresUnitOfWork
from tests.account_manager_support import member

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 3, 16, 0, tzinfo=UTC)


def new_request(uow: PostgresUnitOfWork, asker: UUID, experts: tuple[UUID, ...] = ()) -> UUID:
    inserted = uow.community_requests.add(
        NewCommunityRequest(
            requesting_agent_type="concierge",
            requesting_user_id=asker,
            context_id=None,
            context_type=None,
            question="Which payroll provider?",
            category="hr",
            expertise_needed=("payroll",),
            target_user_ids=experts,
            requester_context=None,
            desired_outcome=None,
            urgency="medium",
            request_summary="payroll provider",
            created_at=NOW,
            expires_at=NOW + timedelta(days=7),
        )
    )
    assert inserted.expires_at == NOW + timedelta(days=7)
    return inserted.id


def asks(db: Any, request_id: UUID) -> dict[UUID, dict[str, Any]]:
    rows = db.execute("SELECT * FROM community_request_experts WHERE request_id = %s", (request_id,))
    return {UUID(str(r["expert_user_id"])): r for r in rows}


def test_a_reply_from_someone_never_asked_gets_an_ask_and_a_reply_counts_once(db: Any) -> None:
    asker, asked, forwarded = member(db), member(db, first="Ben"), member(db, first="Cy")
    with PostgresUnitOfWork() as uow:
        request_id = new_request(uow, asker, (asked,))
        assert uow.community_requests.add_ask(request_id, asked, now=NOW)
        assert not uow.community_requests.add_ask(request_id, asked, now=NOW)  # asked once
        requests = uow.community_requests
        assert requests.record_reply(request_id, forwarded, status="answered", now=NOW)
        assert requests.record_reply(
            request_id, asked, status="referred", now=NOW, referral_name="Dana Kim", referred_user_id=None
        )
        assert not requests.record_reply(request_id, asked, status="passed", now=NOW)  # settled
        uow.commit()
    rows = asks(db, request_id)
    assert (rows[forwarded]["status"], rows[forwarded]["routed_at"]) == ("answered", NOW)
    assert (rows[asked]["status"], rows[asked]["referral_name"]) == ("referred", "Dana Kim")


def test_requesters_join_once_and_a_cancelled_one_stops_waiting(db: Any) -> None:
    asker, other = member(db), member(db, first="Ben")
    event_id = uuid4()
    with PostgresUnitOfWork() as uow:
        request_id = new_request(uow, asker)
        repo = uow.community_requests
        joined = Requester(asker, "concierge", None, "conversation", "Which payroll provider?")
        assert repo.add_requester(request_id, joined, source_event_id=event_id, now=NOW)
        assert not repo.add_requester(request_id, joined, source_event_id=None, now=NOW)
        # The same source event cannot bring a second requester either.
        assert not repo.add_requester(
            request_id, Requester(other, "solution_saga", None, None, "q"), source_event_id=event_id, now=NOW
        )
        assert repo.add_requester(
            request_id,
            Requester(other, "solution_saga", None, None, "q"),
            source_event_id=None,
            now=NOW + timedelta(seconds=1),
        )
        assert [r.user_id for r in repo.requesters(request_id)] == [asker, other]
        assert repo.cancel_requester(request_id, asker, now=NOW)
        assert not repo.cancel_requester(request_id, asker, now=NOW)
        assert repo.requesters(request_id) == [Requester(other, "solution_saga", None, None, "q")]
        locked = repo.lock(request_id)
        assert locked is not None and locked.status == "open" and locked.expertise_needed == ("payroll",)
        assert repo.lock(uuid4()) is None


def test_an_answer_given_twice_returns_the_first_and_is_scored_and_paid_once(db: Any) -> None:
    asker, expert = member(db), member(db, first="Ben")
    with PostgresUnitOfWork() as uow:
        request_id = new_request(uow, asker, (expert,))
        responses = uow.community_responses
        first = responses.add(request_id, expert, response_text="Gusto", verbatim_answer="Gusto!", now=NOW)
        again = responses.add(request_id, expert, response_text="ADP", verbatim_answer="ADP", now=NOW)
        assert first.created and not again.created and again.id == first.id
        locked = responses.lock(first.id)
        assert locked is not None
        assert (locked.response_text, locked.question, locked.expert_first_name) == (
            "Gusto",
            "Which payroll provider?",
            "Ben",
        )
        assert locked.usefulness_score is None and locked.credits_awarded == 0
        assert responses.score(first.id, score=8, impact="chose Gusto", scored_by="llm", now=NOW)
        assert not responses.score(first.id, score=9, impact="again", scored_by="llm", now=NOW)
        assert responses.reward(first.id, credits=25, now=NOW)
        assert not responses.reward(first.id, credits=25, now=NOW)  # no longer 'provided'
        assert responses.close_for_request(request_id, now=NOW) == 1
        assert responses.close_for_request(request_id, now=NOW) == 0
        closed = responses.lock(first.id)
        assert closed is not None
        assert (closed.usefulness_score, closed.credits_awarded, closed.status) == (8, 25, "closed_loop")


def test_a_ledger_key_used_twice_returns_the_first_row_as_a_duplicate(db: Any) -> None:
    user = member(db)
    entry = NewLedgerEntry(
        user_id=user,
        event_type="community_response",
        amount=25,
        reference_type="community_response",
        reference_id=uuid4(),
        idempotency_key="community_response_k",
    )
    with PostgresUnitOfWork() as uow:
        first = uow.credits.append(entry)
        again = uow.credits.append(replace(entry, amount=99))
        assert not first.duplicate and again.duplicate and again.id == first.id and again.amount == 25
        assert uow.credits.by_key("community_response_k") == again
        assert uow.credits.by_key("unknown") is None
        assert uow.credits.balance(user) == 25
        assert [e.id for e in uow.credits.for_user(user, limit=10)] == [first.id]


def test_referral_names_match_verified_reachable_members_and_at_most_two(db: Any) -> None:
    dana = member(db, first="Dana")
    member(db, first="Dana", verified=False)
    opted_out = member(db, first="Dana")
    db.execute("UPDATE users SET opted_out = true WHERE id = %s", (opted_out,))
    with PostgresUnitOfWork() as uow:
        assert uow.users.verified_by_name("dana", "RUIZ") == [dana]
        assert uow.users.verified_by_name("Dana", None) == [dana]
        assert uow.users.verified_by_name("Dana", "Kim") == []
        for _ in range(3):
            member(db, first="Eve")
        assert len(uow.users.verified_by_name("Eve", None)) == 2  # ambiguous: never more than two


def test_closure_expires_the_requests_priorities_and_cancels_its_pending_asks_only(db: Any) -> None:
    asker, expert = member(db), member(db, first="Ben")
    with PostgresUnitOfWork() as uow:
        request_id = new_request(uow, asker, (expert,))
        other_request = new_request(uow, asker, (expert,))
        response = uow.community_responses.add(
            request_id, expert, response_text="Gusto", verbatim_answer="Gusto", now=NOW
        )
        task_ids = [
            uow.tasks.add(
                NewTask(
                    task_type=task_type,
                    agent_type="account_manager",
                    user_id=expert,
                    scheduled_for=NOW,
                    priority="medium",
                    context_json={},
                    context_id=context_id,
                    context_type="community_request",
                    created_by="test",
                    dedupe_key=f"{task_type}:{context_id}",
                    max_retries=3,
                )
            )
            for task_type, context_id in (
                ("community_request_available", request_id),
                ("community_request_available", other_request),
                ("notify_expert_of_impact", request_id),
            )
        ]
        uow.commit()
    for rank, item_id in enumerate((request_id, response.id, other_request), start=1):
        db.execute(
            "INSERT INTO user_priorities (user_id, priority_rank, item_type, item_id)"
            " VALUES (%s, %s, %s, %s)",
            (expert, rank, "community_request", item_id),
        )
    with PostgresUnitOfWork() as uow:
        assert uow.community_requests.finish(request_id, status="closed", now=NOW, message="Thanks") == 0
        assert uow.priorities.expire_for_community_request(request_id) == 2
        cancelled = uow.tasks.cancel_pending_for_context(
            request_id, task_types=["community_request_available"], reason="request closed"
        )
        assert cancelled == 1
        with pytest.raises(LookupError):
            uow.community_requests.finish(uuid4(), status="closed", now=NOW, message="Thanks")
        uow.commit()
    statuses = {
        UUID(str(r["id"])): r["status"]
        for r in db.execute("SELECT id, status FROM agent_tasks WHERE id = ANY(%s)", (task_ids,))
    }
    assert [statuses[t] for t in task_ids if t is not None] == ["cancelled", "pending", "pending"]
    expired = {
        UUID(str(r["item_id"])): r["status"]
        for r in db.execute("SELECT item_id, status FROM user_priorities")
    }
    assert expired == {request_id: "expired", response.id: "expired", other_request: "active"}
    closed_row = db.execute(
        "SELECT status, closed_loop_message FROM community_requests WHERE id = %s", (request_id,)
    )
    assert closed_row.fetchone() == {"status": "closed", "closed_loop_message": "Thanks"}


def test_review_items_read_back_oldest_first(db: Any) -> None:
    asker = member(db)
    with PostgresUnitOfWork() as uow:
        request_id = new_request(uow, asker)
        first = uow.community_requests.add_review("late_response", request_id, asker, "late", {"at": NOW})
        uow.commit()
    with PostgresUnitOfWork() as uow:  # a later transaction: a later created_at
        uow.community_requests.add_review("unresolved_referral", request_id, asker, "who?", {"name": "X"})
        items = uow.community_requests.open_review(limit=10)
    assert [i.kind for i in items] == ["late_response", "unresolved_referral"]
    assert items[0].id == first and items[0].request_id == request_id
    payload = db.execute("SELECT payload FROM community_operator_review WHERE id = %s", (first,)).fetchone()
    assert payload["payload"] == {"at": NOW.isoformat(sep=" ")}


def test_questions_reads_each_requests_whole_question_by_id(db: Any) -> None:
    """A re-engagement asks an expert the whole question (the priority keeps 60 characters)."""
    asker = member(db)
    with PostgresUnitOfWork() as uow:
        request_id = new_request(uow, asker)
        assert uow.community_requests.questions([request_id, uuid4()]) == {
            request_id: "Which payroll provider?"
        }
        assert uow.community_requests.questions([]) == {}
