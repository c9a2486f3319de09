"""markPriorityPresented (agents.md §13, §4.7; decisions B9), for every point-of-contact path.

One presentation of a member's own priority: count it, ``active`` -> ``presented``; the second
presentation of a presented item makes it ``dormant`` and cancels the member's pending
``re_engagement_check`` tasks about it (reason ``item_marked_dormant``). Logged as
``priority_presented`` or ``priority_marked_dormant``. Used by the Concierge's turn (``natural``
mentions, ``dedicated`` tool handlers) and by re-engagement (``dedicated``), in the caller's
unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from shared.adapters.repositories import ActionRecord
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import PRIORITY_DORMANT_AFTER_PRESENTATIONS
from shared.logs import get_logger

log = get_logger(__name__)

How = Literal["natural", "dedicated"]


@dataclass(frozen=True)
class Presentation:
    status: str  # the priority's new status: 'presented', 'clarifying' or 'dormant'
    presentation_count: int
    tasks_cancelled: int  # pending re-engagement checks cancelled because the item went dormant


def present_priority(
    uow: PostgresUnitOfWork,
    *,
    agent: str,
    user_id: UUID,
    item_type: str,
    item_id: str,
    how: How,
    now: datetime,
    context_id: UUID | None = None,
    context_type: str | None = None,
) -> Presentation | None:
    """Count one presentation of the member's own open item; None when it is not theirs or not open."""
    presented = uow.priorities.mark_presented(
        user_id, item_type, item_id, dormant_after=PRIORITY_DORMANT_AFTER_PRESENTATIONS
    )
    if presented is None:
        return None
    cancelled = 0
    if presented.status == "dormant":
        cancelled = len(uow.tasks.cancel_reengagement_for_items(user_id, [UUID(item_id)], now=now))
    uow.actions.record(
        ActionRecord(
            agent_type=agent,
            action_type="priority_marked_dormant" if presented.status == "dormant" else "priority_presented",
            user_id=user_id,
            context_id=context_id,
            context_type=context_type,
            input_data={"item_type": item_type, "item_id": item_id, "how": how},
            output_data={
                "status": presented.status,
                "presentation_count": presented.presentation_count,
                "reengagement_tasks_cancelled": cancelled,
            },
        )
    )
    if presented.status == "dormant":
        log.info(
            "priority dormant after its second presentation",
            extra={"user_id": str(user_id), "item_type": item_type, "tasks_cancelled": cancelled},
        )
    return Presentation(presented.status, presented.presentation_count, cancelled)
