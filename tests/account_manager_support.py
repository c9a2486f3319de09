"""Arranging Account Manager scenarios on a real database: members, intro-flow rows, community
asks, and reading priorities back."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.llm import Llm
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.account_manager import RunInputs, RunResult, run_for_member

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_phones = itertools.count(1000)


def member(db: Any, *, verified: bool = True, expertise: tuple[str, ...] = (), first: str = "Ana") -> Any:
    phone = f"+1415555{next(_phones):04d}"
    return db.execute(
        "INSERT INTO users (phone_number, first_name, last_name, company, title, verified, poc_agent_type,"
        " expertise, approval_status) VALUES (%s, %s, 'Ruiz', 'Lumen Labs', 'CFO', %s, %s, %s, %s)"
        " RETURNING id",
        (
            phone,
            first,
            verified,
            "concierge" if verified else "bouncer",
            list(expertise),
            "approved" if verified else None,
        ),
    ).fetchone()["id"]


def prospect(db: Any, innovator: Any) -> Any:
    return db.execute(
        "INSERT INTO prospects (email, first_name, last_name, company, innovator_id)"
        " VALUES (%s, 'Pat', 'Lee', 'Globex', %s) RETURNING id",
        (f"p{uuid.uuid4().hex[:8]}@globex.test", innovator),
    ).fetchone()["id"]


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
    return db.execute(
        "INSERT INTO intro_opportunities (connector_user_id, innovator_id, prospect_id, first_name,"
        " last_name,"
        " prospect_company, innovator_name, bounty_credits, connection_strength, status, presentation_count,"
        " created_at) VALUES (%s, %s, %s, 'Pat', 'Lee', 'Globex', 'Acme AI', %s, %s, %s, %s, %s)"
        " RETURNING id",
        (connector, innovator, prospect_id, bounty, strength, status, presentations, NOW - age),
    ).fetchone()["id"]


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
    return db.execute(
        "INSERT INTO connection_requests (introducee_user_id, requestor_user_id, requestor_name,"
        " requestor_company,"
        " intro_context, vouched_by_user_ids, requestor_credits_spent, status, presentation_count,"
        " created_at,"
        " expires_at) VALUES (%s, %s, 'Sam Okafor', 'Initech', 'wants to talk treasury', %s, %s, %s,"
        " %s, %s, %s)"
        " RETURNING id",
        (
            introducee,
            requestor,
            [requestor] * vouches,
            credits_spent,
            status,
            presentations,
            NOW - age,
            NOW - age + timedelta(days=30),
        ),
    ).fetchone()["id"]


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
    return db.execute(
        "INSERT INTO intro_offers (offering_user_id, introducee_user_id, prospect_name, prospect_company,"
        " context_type, status, bounty_credits, created_at, expires_at)"
        " VALUES (%s, %s, 'Jim Berg', 'Stark Logistics', %s, %s, %s, %s, %s) RETURNING id",
        (offering, introducee, context_type, status, bounty, NOW - age, NOW - age + timedelta(days=14)),
    ).fetchone()["id"]


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
    return db.execute(
        "INSERT INTO community_requests (requesting_agent_type, requesting_user_id, question, category,"
        " expertise_needed, target_user_ids, status, presentation_count, created_at, expires_at)"
        " VALUES ('concierge', %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            requester,
            question,
            category,
            list(expertise),
            experts,
            status,
            presentations,
            NOW - age,
            NOW - age + timedelta(days=7),
        ),
    ).fetchone()["id"]


def community_response(db: Any, request: Any, expert: Any) -> Any:
    return db.execute(
        "INSERT INTO community_responses (request_id, user_id, response_text) VALUES (%s, %s, 'Start with a"
        " 13-week cash forecast.') RETURNING id",
        (request, expert),
    ).fetchone()["id"]


def event(db: Any, user: Any, event_type: str, payload: dict[str, Any], *, at: datetime = NOW) -> Any:
    return db.execute(
        "INSERT INTO events (event_type, aggregate_type, aggregate_id, payload, created_at, created_by)"
        " VALUES (%s, 'user', %s, %s, %s, 'test') RETURNING id",
        (event_type, user, json.dumps(payload), at),
    ).fetchone()["id"]


def run(
    user: Any, *, llm: Llm | None = None, trigger: str = "test", now: datetime = NOW, **inputs: Any
) -> RunResult:
    with PostgresUnitOfWork() as uow:
        result = run_for_member(uow, user, RunInputs(trigger=trigger, **inputs), llm=llm, now=now)
        uow.commit()
    return result


def priorities(db: Any, user: Any) -> Any:
    return db.execute(
        "SELECT * FROM user_priorities WHERE user_id = %s ORDER BY priority_rank, item_type, item_id", (user,)
    ).fetchall()


def live(db: Any, user: Any) -> list[dict[str, Any]]:
    return [p for p in priorities(db, user) if p["status"] in ("active", "presented", "clarifying")]


def snapshot(db: Any, user: Any) -> list[dict[str, Any]]:
    """Everything of the member's priorities that a run decides (not the trigger-kept updated_at)."""
    return [{k: v for k, v in p.items() if k != "updated_at"} for p in priorities(db, user)]
