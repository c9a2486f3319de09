"""Arranging Account Manager scenarios on a real database: members, intro-flow rows, community
asks, and reading priorities back."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.llm import Llm
from shared.adapters.repositories.commerce import NewProspect
from shared.adapters.repositories.users import ProfileFields
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.account_manager import RunInputs, RunResult, run_for_member
from tests.fixture_support import fixture_sql

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_phones = itertools.count(1000)


def member(db: Any, *, verified: bool = True, expertise: tuple[str, ...] = (), first: str = "Ana") -> Any:
    """A member who texted in, gave a profile, and (``verified``) was approved to the Concierge."""
    phone = f"+1415555{next(_phones):04d}"
    with PostgresUnitOfWork() as uow:
        user = uow.users.upsert_by_phone(phone, timezone=None)
        profile = ProfileFields(
            first_name=first,
            last_name="Ruiz",
            company="Lumen Labs",
            title="CFO",
            expertise=expertise or None,
        )
        uow.users.update_profile(user.id, profile)
        if verified:
            uow.users.approve(user.id, "concierge")
        uow.commit()
    return user.id


def prospect(db: Any, innovator: Any) -> Any:
    """A prospect of the innovator's, as a CSV upload stores it."""
    with PostgresUnitOfWork() as uow:
        prospect_id = uow.prospect_uploads.add_prospect(
            NewProspect(
                innovator_id=innovator,
                upload_batch_id=uuid.uuid4(),
                email=f"p{uuid.uuid4().hex[:8]}@globex.test",
                phone_number=None,
                linkedin_url=None,
                first_name="Pat",
                last_name="Lee",
                company="Globex",
                title=None,
                metadata={},
            )
        )
        uow.commit()
    return prospect_id


def intro_opportunity(
    db: Any,
    connector: Any,
    *,
    bounty: int = 50,
    strength: str = "unknown",
    age: timedelta = timedelta(days=5),
    status: str = "open",
    prospect_id: Any = None,
    innovator: Any = None,
    presentations: int = 0,
) -> Any:
    """An intro opportunity (no product code writes these yet: a named fixture query)."""
    row = fixture_sql(db).one(
        "fixture_intro_opportunity",
        connector=connector,
        innovator=innovator,
        prospect=prospect_id,
        bounty=bounty,
        strength=strength,
        status=status,
        presentations=presentations,
        created_at=NOW - age,
    )
    assert row is not None
    return row["id"]


def connection_request(
    db: Any,
    introducee: Any,
    requestor: Any,
    *,
    vouches: int = 0,
    credits_spent: int = 0,
    age: timedelta = timedelta(days=5),
    status: str = "open",
    presentations: int = 0,
) -> Any:
    """A connection request made ``age`` ago (a past state: a named fixture query)."""
    row = fixture_sql(db).one(
        "fixture_connection_request",
        introducee=introducee,
        requestor=requestor,
        vouchers=[requestor] * vouches,
        credits_spent=credits_spent,
        status=status,
        presentations=presentations,
        created_at=NOW - age,
    )
    assert row is not None
    return row["id"]


def intro_offer(
    db: Any,
    offering: Any,
    introducee: Any,
    *,
    status: str = "pending_introducee_response",
    bounty: int = 0,
    context_type: str = "spontaneous",
    age: timedelta = timedelta(days=3),
) -> Any:
    """An intro offer made ``age`` ago (a past state: a named fixture query)."""
    row = fixture_sql(db).one(
        "fixture_intro_offer",
        offering=offering,
        introducee=introducee,
        context_type=context_type,
        status=status,
        bounty=bounty,
        created_at=NOW - age,
    )
    assert row is not None
    return row["id"]


def community_request(
    db: Any,
    requester: Any,
    experts: list[Any],
    *,
    question: str = "How did you structure your first treasury policy?",
    expertise: tuple[str, ...] = ("finance",),
    category: str = "finance",
    age: timedelta = timedelta(days=1),
    presentations: int = 0,
    status: str = "open",
) -> Any:
    """A community ask routed to ``experts`` ``age`` ago (a past state: a named fixture query)."""
    row = fixture_sql(db).one(
        "fixture_community_request",
        requester=requester,
        question=question,
        category=category,
        expertise=list(expertise),
        experts=experts,
        status=status,
        presentations=presentations,
        created_at=NOW - age,
    )
    assert row is not None
    return row["id"]


def community_response(db: Any, request: Any, expert: Any) -> Any:
    """The expert's answer, stored the way the Concierge records one."""
    answer = "Start with a 13-week cash forecast."
    with PostgresUnitOfWork() as uow:
        recorded = uow.community_responses.add(
            request, expert, response_text=answer, verbatim_answer=answer, now=datetime.now(UTC)
        )
        uow.commit()
    return recorded.id


def event(db: Any, user: Any, event_type: str, payload: dict[str, Any], *, at: datetime = NOW) -> Any:
    """A user event written at ``at`` (a past state: a named fixture query)."""
    row = fixture_sql(db).one(
        "fixture_event", event_type=event_type, user_id=user, payload=json.dumps(payload), created_at=at
    )
    assert row is not None
    return row["id"]


def run(
    user: Any, *, llm: Llm | None = None, trigger: str = "test", now: datetime = NOW, **inputs: Any
) -> RunResult:
    with PostgresUnitOfWork() as uow:
        result = run_for_member(uow, user, RunInputs(trigger=trigger, **inputs), llm=llm, now=now)
        uow.commit()
    return result


def priorities(db: Any, user: Any) -> Any:
    return fixture_sql(db).all("check_priorities_of_member", user_id=user)


def live(db: Any, user: Any) -> list[dict[str, Any]]:
    return [p for p in priorities(db, user) if p["status"] in ("active", "presented", "clarifying")]


def snapshot(db: Any, user: Any) -> list[dict[str, Any]]:
    """Everything of the member's priorities that a run decides (not the trigger-kept updated_at)."""
    return [{k: v for k, v in p.items() if k != "updated_at"} for p in priorities(db, user)]
