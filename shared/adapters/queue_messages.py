"""Agents put proactive messages into ``message_queue`` here (platform §1.2, decisions B1-B3).

Call inside the agent's unit of work (``uow``) so the queued rows commit with the agent's
other changes. The orchestrator delivers them, applying budgets, quiet hours and freshness.

Scheduling (in the user's own time zone): urgent or high (agents.md §1's lanes: immediate, next
available slot), not delayable, or the user is active (texted in the last 10 minutes) -> now;
otherwise (medium, low) the user's learned ``response_pattern.best_hours`` (local hours), else
10:00 local, at its next occurrence. Quiet hours and budgets still apply at send time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from shared.adapters.repositories.queue import NewQueuedPart
from shared.adapters.repositories.users import User
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import BEST_SEND_TIME_PRIORITIES, MAX_SEQUENCE_PARTS, PRIORITY_RANK
from shared.domain.send_policy import best_send_time, is_active, resolve_timezone
from shared.logs import get_logger

log = get_logger(__name__)


class InvalidQueuedMessage(ValueError):
    """The agent asked for something the queue cannot hold (bad priority, too many parts ...)."""


class UnknownUser(LookupError):
    pass


@dataclass(frozen=True)
class QueuedMessage:
    ids: list[UUID]  # one per part, in order
    sequence_id: UUID | None
    scheduled_for: datetime


def _best_hours(response_pattern: Any) -> list[int]:
    if not isinstance(response_pattern, dict):
        return []
    hours = response_pattern.get("best_hours")
    if not isinstance(hours, list):
        return []
    return [h for h in hours if isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 23]


def queue_message(
    uow: PostgresUnitOfWork,
    *,
    user_id: UUID,
    agent_id: str,
    now: datetime,
    parts: Sequence[str] = (),
    message_data: dict[str, Any] | None = None,
    priority: str = "medium",
    can_delay: bool = True,
    requires_fresh_context: bool = False,
    conversation_id: UUID | None = None,
    data_parts: Sequence[dict[str, Any]] = (),
) -> QueuedMessage:
    """Queue one message, or a sequence of 2-5 parts delivered whole and counted once.

    ``parts`` are the ready SMS texts (``final_message``); with none, ``message_data`` must
    carry the content for later rendering. ``data_parts``: a sequence whose parts are each
    structured ``message_data``, written by the point of contact at send time (re-engagement).
    """
    if data_parts and (parts or message_data):
        raise InvalidQueuedMessage("give data_parts, or parts / message_data, not both")
    if any(not d for d in data_parts):
        raise InvalidQueuedMessage("a sequence part has no message_data")
    if len(data_parts) > MAX_SEQUENCE_PARTS:
        raise InvalidQueuedMessage(
            f"a sequence has at most {MAX_SEQUENCE_PARTS} parts, not {len(data_parts)}"
        )
    texts = [p.strip() for p in parts]
    if priority not in PRIORITY_RANK:
        raise InvalidQueuedMessage(f"priority must be one of {sorted(PRIORITY_RANK)}, not {priority!r}")
    if not agent_id or not agent_id.strip():
        raise InvalidQueuedMessage("agent_id is required")
    if any(not t for t in texts):
        raise InvalidQueuedMessage("a sequence part is blank")
    if len(texts) > MAX_SEQUENCE_PARTS:
        raise InvalidQueuedMessage(f"a sequence has at most {MAX_SEQUENCE_PARTS} parts, not {len(texts)}")
    if not texts and not message_data and not data_parts:
        raise InvalidQueuedMessage("nothing to send: give parts or message_data")

    user = uow.users.send_profile(user_id, now)
    if user is None:
        raise UnknownUser(f"no user {user_id}")
    tz = resolve_timezone(user.zone)
    active = is_active(user.last_inbound_at, now)
    delayable = can_delay and priority in BEST_SEND_TIME_PRIORITIES
    scheduled_for = best_send_time(now, tz, _best_hours(user.response_pattern), delayable, active)

    rows: list[str | None] = list(texts) if texts else [None] * max(len(data_parts), 1)
    datas = list(data_parts) or [message_data or {}] * len(rows)
    sequence_id = uuid4() if len(rows) > 1 else None
    ids = [
        uow.queue.add(
            NewQueuedPart(
                user_id=user_id,
                agent_id=agent_id,
                message_data=data,
                final_message=text,
                scheduled_for=scheduled_for,
                priority=priority,
                conversation_context_id=conversation_id,
                requires_fresh_context=requires_fresh_context,
                can_delay=can_delay,
                sequence_id=sequence_id,
                sequence_position=position if sequence_id else None,
                sequence_total=len(rows) if sequence_id else None,
            ),
            now=now,
        )
        for position, (text, data) in enumerate(zip(rows, datas, strict=True), start=1)
    ]
    log.info(
        "message queued",
        extra={
            "user_id": str(user_id),
            "agent_id": agent_id,
            "priority": priority,
            "parts": len(ids),
            "scheduled_for": scheduled_for.isoformat(),
            "user_active": active,
        },
    )
    return QueuedMessage(ids=ids, sequence_id=sequence_id, scheduled_for=scheduled_for)


def queue_for_member(
    uow: PostgresUnitOfWork,
    user: User,
    *,
    now: datetime,
    text: str,
    message_data: dict[str, Any],
    priority: str = "medium",
) -> QueuedMessage | None:
    """Queue one ready SMS for a member from their point of contact, in their latest conversation;
    None (nothing queued) when they opted out."""
    if user.opted_out:
        return None
    conversation = uow.conversations.latest_for_user(user.id)
    return queue_message(
        uow,
        user_id=user.id,
        agent_id=user.poc_agent_type,
        now=now,
        parts=[text],
        message_data=message_data,
        priority=priority,
        conversation_id=None if conversation is None else conversation.id,
    )


def cancel_queued_message(uow: PostgresUnitOfWork, *, user_id: UUID, queue_id: UUID, reason: str) -> int:
    """Cancel a not-yet-sent queued message (its whole sequence); return the rows cancelled."""
    return uow.queue.cancel(user_id=user_id, queue_id=queue_id, reason=reason)
