"""Arranging re-engagement scenarios on a real database (decisions B5, agents.md §4.8)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.llm import Llm
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.consumer import Delivery
from shared.service_layer.reengagement import handle_priority_update, handle_reengagement_task
from tests.deps_support import make_deps

# A controllable clock anchored near the wall clock: SQL that stamps now() (presentations) stays
# consistent with it.
T0 = datetime.now(UTC).replace(microsecond=0)
_phones = itertools.count(2000)


def reachable_member(db: Any, *, poc: str = "concierge", expertise: tuple[str, ...] = ()) -> tuple[Any, Any]:
    """A verified member with an active conversation: (user id, conversation id)."""
    phone = f"+1415556{next(_phones):04d}"
    user = db.execute(
        "INSERT INTO users (phone_number, first_name, last_name, company, title, verified, poc_agent_type,"
        " expertise, approval_status, timezone) VALUES (%s, 'Ana', 'Ruiz', 'Lumen Labs', 'CFO', true, %s, %s,"
        " 'approved', 'America/New_York') RETURNING id",
        (phone, poc, list(expertise)),
    ).fetchone()["id"]
    conversation = db.execute(
        "INSERT INTO conversations (user_id, phone_number) VALUES (%s, %s) RETURNING id", (user, phone)
    ).fetchone()["id"]
    return user, conversation


def phone_of(db: Any, user: Any) -> str:
    phone: str = db.execute("SELECT phone_number FROM users WHERE id = %s", (user,)).fetchone()[
        "phone_number"
    ]
    return phone


def add_priority(
    db: Any,
    user: Any,
    score: float,
    *,
    summary: str = "Intro Pat Lee at Globex",
    item_type: str = "intro_opportunity",
    rank: int = 1,
) -> Any:
    item = uuid.uuid4()
    db.execute(
        "INSERT INTO user_priorities (user_id, priority_rank, item_type, item_id, value_score, item_summary,"
        " item_primary_name) VALUES (%s, %s, %s, %s, %s, %s, 'Pat Lee')",
        (user, rank, item_type, item, score, summary),
    )
    return item


def user_text(db: Any, user: Any, conversation: Any, at: datetime, content: str = "ok") -> None:
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, created_at)"
        " VALUES (%s, %s, 'user', %s, 'inbound', 'received', %s)",
        (conversation, user, content, at),
    )


def logged_send(db: Any, user: Any, at: datetime) -> None:
    """An earlier re_engagement_message_sent of the member."""
    db.execute(
        "INSERT INTO agent_actions_log (agent_type, action_type, user_id, created_at)"
        " VALUES ('concierge', 're_engagement_message_sent', %s, %s)",
        (user, at),
    )


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
    rows: list[dict[str, Any]] = db.execute(
        "SELECT * FROM agent_actions_log WHERE user_id = %s AND action_type = %s ORDER BY created_at",
        (user, action_type),
    ).fetchall()
    return rows


def queued(db: Any, user: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = db.execute(
        "SELECT * FROM message_queue WHERE user_id = %s ORDER BY created_at", (user,)
    ).fetchall()
    return rows


def checks(db: Any, user: Any, status: str = "pending") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = db.execute(
        "SELECT * FROM agent_tasks WHERE user_id = %s AND task_type = 're_engagement_check' AND status = %s"
        " ORDER BY scheduled_for",
        (user, status),
    ).fetchall()
    return rows


def priority_row(db: Any, user: Any, item: Any) -> dict[str, Any]:
    row: dict[str, Any] = db.execute(
        "SELECT * FROM user_priorities WHERE user_id = %s AND item_id = %s", (user, item)
    ).fetchone()
    return row


DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
