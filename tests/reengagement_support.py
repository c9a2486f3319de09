"""Arranging re-engagement scenarios on a real database (decisions B5, agents.md §4.8)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.llm import Llm
from shared.adapters.repositories.actions import ActionRecord
from shared.adapters.repositories.priorities import RankedPriority
from shared.adapters.repositories.users import ProfileFields
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.priorities import ScoreSource
from shared.service_layer.consumer import Delivery
from shared.service_layer.reengagement import handle_priority_update, handle_reengagement_task
from tests.deps_support import make_deps
from tests.fixture_support import fixture_sql

# A controllable clock anchored near the wall clock: SQL that stamps now() (presentations) stays
# consistent with it.
T0 = datetime.now(UTC).replace(microsecond=0)
_phones = itertools.count(2000)


def reachable_member(db: Any, *, poc: str = "concierge", expertise: tuple[str, ...] = ()) -> tuple[Any, Any]:
    """A verified member with an active conversation: (user id, conversation id).

    Built the way the product builds one: the first text creates the member and the conversation,
    onboarding fills the profile, an operator's approval makes ``poc`` the point of contact.
    """
    phone = f"+1415556{next(_phones):04d}"
    with PostgresUnitOfWork() as uow:
        user = uow.users.upsert_by_phone(phone, timezone="America/New_York")
        profile = ProfileFields(
            first_name="Ana", last_name="Ruiz", company="Lumen Labs", title="CFO", expertise=expertise or None
        )
        uow.users.update_profile(user.id, profile)
        uow.users.approve(user.id, poc)
        uow.commit()
    return user.id, user.conversation_id


def phone_of(db: Any, user: Any) -> str:
    with PostgresUnitOfWork() as uow:
        member = uow.users.get(user)
    assert member is not None
    return member.phone_number


def add_priority(
    db: Any,
    user: Any,
    score: float,
    *,
    summary: str = "Intro Pat Lee at Globex",
    item_type: str = "intro_opportunity",
    rank: int = 1,
) -> Any:
    """An active priority of the member's, written the way the Account Manager writes its ranking."""
    item = uuid.uuid4()
    row = RankedPriority(
        priority_rank=rank,
        item_type=item_type,
        item_id=item,
        value_score=score,
        status="active",
        content=None,
        presentation_count=0,
        last_presented_at=None,
        item_summary=summary,
        item_primary_name="Pat Lee",
        item_secondary_name=None,
        item_context=None,
        item_metadata=None,
        expires_at=None,
        score_source=ScoreSource.RULES,
        score_fingerprint=f"test {item}",
        score_reason=None,
        scored_at=datetime.now(UTC),
    )
    with PostgresUnitOfWork() as uow:
        uow.priorities.write(user, [row])
        uow.commit()
    return item


def user_text(db: Any, user: Any, conversation: Any, at: datetime, content: str = "ok") -> None:
    """A text the member sent at ``at`` (a past time: a named fixture query)."""
    fixture_sql(db).one(
        "fixture_user_text", conversation_id=conversation, user_id=user, content=content, created_at=at
    )


def logged_send(db: Any, user: Any, at: datetime) -> None:
    """An earlier re_engagement_message_sent of the member, logged the way the sender logs it."""
    with PostgresUnitOfWork() as uow:
        uow.actions.record(
            ActionRecord(
                agent_type="concierge", action_type="re_engagement_message_sent", user_id=user, created_at=at
            )
        )
        uow.commit()


def task_delivery(user: Any, *, task_id: Any = None, context: dict[str, Any] | None = None) -> Delivery:
    task_id = task_id or uuid.uuid4()
    return Delivery(
        kind="task",
        id=task_id,
        type="re_engagement_check",
        attempt=1,
        published_at=T0,
        data={
            "task_id": str(task_id),
            "task_type": "re_engagement_check",
            "user_id": str(user),
            "context_json": context or {"reason": "test", "attemptCount": 1},
        },
        attributes={"kind": "task", "claim_token": str(uuid.uuid4())},
        user_id=user,
    )


def check(user: Any, now: datetime, *, llm: Llm | None = None, **delivery: Any) -> dict[str, Any]:
    """Run one re_engagement_check for the member at ``now`` and commit."""
    with PostgresUnitOfWork() as uow:
        result = handle_reengagement_task(
            task_delivery(user, **delivery), uow, make_deps(llm=llm, clock=lambda: now)
        )
        uow.commit()
    assert result is not None
    return result


def priority_update(user: Any, now: datetime, *, max_score: float, items: list[Any]) -> dict[str, Any]:
    payload = {
        "userId": str(user),
        "maxScore": max_score,
        "priorities": [
            {"itemType": "intro_opportunity", "itemId": str(i), "valueScore": max_score} for i in items
        ],
    }
    delivery = Delivery(
        kind="event",
        id=uuid.uuid4(),
        type="priority.update",
        attempt=1,
        published_at=now,
        data={"event_type": "priority.update", "payload": payload},
        attributes={"kind": "event", "user_id": str(user)},
        user_id=user,
    )
    with PostgresUnitOfWork() as uow:
        result = handle_priority_update(delivery, uow, make_deps(clock=lambda: now))
        uow.commit()
    assert result is not None
    return result


def actions(db: Any, user: Any, action_type: str) -> list[dict[str, Any]]:
    return fixture_sql(db).all("check_actions_of_member", user_id=user, action_type=action_type)


def queued(db: Any, user: Any) -> list[dict[str, Any]]:
    return fixture_sql(db).all("check_queued", user_id=user)


def checks(db: Any, user: Any, status: str = "pending") -> list[dict[str, Any]]:
    return fixture_sql(db).all("check_reengagement_checks", user_id=user, status=status)


def priority_row(db: Any, user: Any, item: Any) -> dict[str, Any]:
    row = fixture_sql(db).one("check_priority_of_item", user_id=user, item_id=item)
    assert row is not None
    return row


DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
