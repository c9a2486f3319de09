"""Concierge / Innovator re-engagement (decisions B5, agents.md §4.8, §13) and ``priority.update``.

- task ``re_engagement_check`` for a member whose point of contact is the Concierge or the
  Innovator (scheduled as a ``system`` task; ``shared.routing.route_task`` sends it to the
  member's point of contact, derived from the registry):

  1. skip when the member texted since the task was created, is not a verified member, or opted out;
  2. the throttles, deterministic (``shared.domain.reengagement``): paused members stay paused
     (stored in ``re_engagement_state``; ``tools.ops reengagement resume`` lifts it); 3 unanswered
     in 90 days pauses; at most one per 7 days, unless a priority scores above 90. A throttled
     check is rescheduled to the end of the 7 days and logged ``re_engagement_throttled``;
  3. the decision (``shared.agents.concierge.reengagement``): the LLM, else the offline rules.
     No message: the next check in ``extend_days`` (30-90), logged ``re_engagement_deferred``;
  4. a message: structured ``message_data`` (the 1-2 threads, no prose) queued in
     ``message_queue`` for the member's point of contact, as one row or as a sequence of 2-3 rows
     (``sequence_2``: primary, secondary; ``sequence_3``: a reassurance about the member's own open
     request, the update, the opportunity; sent whole and counted once), which writes the prose at send time
     (quiet hours, budgets and freshness apply); ``re_engagement_message_sent`` is logged in the
     same transaction, so only a queued message counts; each thread is marked presented
     (``dedicated``; a second presentation makes it dormant and cancels its pending checks);
     the next check is scheduled 7 days out with the threads that are still live.

- event ``priority.update`` (the Account Manager found something above 80): the point of
  contact schedules a re-engagement check soon, so the throttles and the decision above apply to
  it too. A member with a check already pending gets none, unless an item scores above 90.

Everything runs in the consumer's unit of work: the delivery's mark, the task's completion, the
queued message, the log rows and the next task commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from shared import registry
from shared.adapters.queue_messages import queue_message
from shared.adapters.repositories import ActionRecord, Priority, UserLock
from shared.adapters.repositories.re_engagement import PausedMember
from shared.adapters.tasks import create_task
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.concierge.reengagement import ReEngagementDecision, ReEngagementInput, decide
from shared.agents.concierge.render import KIND_RE_ENGAGEMENT, thread_payload
from shared.agents.context import load_history
from shared.agents.presentation import present_priority
from shared.domain.constants import (
    CONCIERGE_PRIORITIES_IN_CONTEXT,
    RE_ENGAGEMENT_FOLLOW_UP,
    RE_ENGAGEMENT_HISTORY,
    RE_ENGAGEMENT_LOOKBACK,
    RE_ENGAGEMENT_MIN_GAP,
    RE_ENGAGEMENT_OVERRIDE_SCORE,
    RE_ENGAGEMENT_PAUSE_WINDOW,
    RE_ENGAGEMENT_PRIORITY_UPDATE_DELAY,
)
from shared.domain.phone import InvalidPhoneNumber, normalize_e164
from shared.domain.priorities import ItemType, cut
from shared.domain.reengagement import (
    Paused,
    Proceed,
    Throttled,
    check_throttles,
    re_engagement_lane,
    sequence_parts,
)
from shared.logs import get_logger
from shared.routing import resolve_poc
from shared.service_layer.consumer import Delivery, PermanentError, delivery_user_id
from shared.service_layer.deps import Deps

log = get_logger(__name__)

EXPERT_QUESTION_MAX_CHARS = 300  # the question as an expert is asked it: two SMS segments at most

TASK = "re_engagement_check"
CREATED_BY = "concierge_reengagement"
NO_CONVERSATION_DAYS = 999  # agents.md §4.8: days since the last message when there is none


def _uuid(raw: Any) -> UUID | None:
    try:
        return None if raw in (None, "") else UUID(str(raw))
    except ValueError:
        return None


def _attempt(context: Mapping[str, Any]) -> int:
    raw = context.get("attemptCount")
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else 1


def schedule_check(
    uow: PostgresUnitOfWork,
    *,
    user_id: UUID,
    at: datetime,
    reason: str,
    attempt: int,
    dedupe: str,
    priority_items: list[dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> UUID | None:
    """A ``re_engagement_check`` for the member's point of contact (a system task routed by it)."""
    context: dict[str, Any] = {"reason": reason, "attemptCount": attempt, **(extra or {})}
    if priority_items:
        context["priority_items"] = priority_items
    return create_task(
        uow,
        task_type=TASK,
        agent_type=registry.SYSTEM_AGENT_TYPE,
        user_id=user_id,
        scheduled_for=at,
        priority="low",
        context_json=context,
        dedupe_key=f"{TASK}:{user_id}:{dedupe}",
        created_by=CREATED_BY,
    )


def _log(
    uow: PostgresUnitOfWork,
    agent: str,
    action: str,
    *,
    user_id: UUID,
    now: datetime,
    task_id: UUID,
    output: dict[str, Any],
    context_id: UUID | None = None,
    context_type: str | None = None,
) -> None:
    uow.actions.record(
        ActionRecord(
            agent_type=agent,
            action_type=action,
            user_id=user_id,
            context_id=context_id or task_id,
            context_type=context_type or "agent_task",
            input_data={"task_id": str(task_id)},
            output_data=output,
            created_at=now,
        )
    )


def _item(p: Priority) -> dict[str, Any]:
    return {"item_type": p.item_type, "item_id": str(p.item_id), "value_score": p.value_score}


def handle_reengagement_task(
    delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps
) -> dict[str, Any] | None:
    """Task ``re_engagement_check`` for a Concierge or Innovator member (agents.md §4.8)."""
    context = delivery.data.get("context_json") or {}
    if not isinstance(context, Mapping):
        raise PermanentError("re_engagement_check context_json is not an object")
    return run_check(uow, delivery_user_id(delivery), task_id=delivery.id, context=context, deps=deps)


def run_check(
    uow: PostgresUnitOfWork, user_id: UUID, *, task_id: UUID, context: Mapping[str, Any], deps: Deps
) -> dict[str, Any]:
    now = deps.clock()
    uow.users.lock(user_id, UserLock.TURN)  # never alongside a turn of the same member
    user = uow.users.get(user_id)
    if user is None:
        raise PermanentError(f"re_engagement_check for an unknown user {user_id}")
    if not user.verified or user.opted_out:
        return {"status": "skipped", "reason": "not_a_reachable_member"}
    agent = resolve_poc(user.verified, user.poc_agent_type)
    created = uow.tasks.created_at(task_id)
    last_text = uow.messages.last_user_text_at(user_id)
    if created is not None and last_text is not None and last_text > created:
        return {"status": "skipped", "reason": "user has responded"}
    conversation = uow.conversations.active_for_user(user_id)
    if conversation is None:
        raise PermanentError(f"re_engagement_check: member {user_id} has no active conversation")

    attempt = _attempt(context)
    state = uow.re_engagement.state(user_id)
    sends = uow.re_engagement.sends(user_id, since=now - RE_ENGAGEMENT_LOOKBACK, now=now)
    priorities = uow.priorities.open_for_user(user_id, limit=CONCIERGE_PRIORITIES_IN_CONTEXT)
    # The critical override is for news: an item above 90 already shown this week does not reopen the gap.
    scores = [
        float(p.value_score)
        for p in priorities
        if p.value_score is not None
        and (p.last_presented_at is None or now - p.last_presented_at >= RE_ENGAGEMENT_MIN_GAP)
    ]
    throttle = check_throttles(
        now=now,
        sends=sends,
        paused=state is not None and state.paused,
        resumed_at=state.resumed_at if state else None,
        top_score=max(scores) if scores else None,
    )
    fields = {"user_id": str(user_id), "task_id": str(task_id), "agent": agent}
    if isinstance(throttle, Paused):
        if throttle.newly:
            uow.re_engagement.pause(
                user_id, now=now, unanswered=throttle.unanswered, reason="3_unanswered_in_90_days"
            )
        _log(
            uow,
            agent,
            "re_engagement_paused",
            user_id=user_id,
            now=now,
            task_id=task_id,
            output={"unanswered": throttle.unanswered, "newly": throttle.newly},
        )
        log.info(
            "re-engagement paused until a human resumes it",
            extra={**fields, "unanswered": throttle.unanswered},
        )
        return {"status": "paused", "unanswered": throttle.unanswered}
    if isinstance(throttle, Throttled):
        next_id = schedule_check(
            uow,
            user_id=user_id,
            at=throttle.retry_at,
            reason=throttle.reason,
            attempt=attempt,
            dedupe=f"after:{task_id}",
            priority_items=context.get("priority_items") or None,
            extra={"throttled": True},
        )
        _log(
            uow,
            agent,
            "re_engagement_throttled",
            user_id=user_id,
            now=now,
            task_id=task_id,
            output={
                "reason": throttle.reason,
                "gap_days": throttle.gap_days,
                "retry_at": throttle.retry_at.isoformat(),
                "last_sent_at": throttle.last_sent_at.isoformat(),
                "next_task_id": str(next_id),
            },
        )
        log.info(
            "re-engagement throttled",
            extra={**fields, "reason": throttle.reason, "retry_at": throttle.retry_at.isoformat()},
        )
        return {"status": "throttled", "reason": throttle.reason, "retry_at": throttle.retry_at.isoformat()}
    assert isinstance(throttle, Proceed)

    goal = uow.users.goal(user_id)
    own = uow.community_requests.open_for_user(user_id, limit=1)
    own_request = own[0].described if own else None
    decision = decide(
        deps.llm,
        ReEngagementInput(
            user_id=user_id,
            agent=agent,
            now=now,
            priorities=priorities,
            history=load_history(uow.messages, conversation.id, RE_ENGAGEMENT_HISTORY),
            goal=goal.goal if goal else None,
            days_since_last_message=(now - last_text).days if last_text else NO_CONVERSATION_DAYS,
            unanswered=sum(1 for s in sends if not s.answered and now - s.at <= RE_ENGAGEMENT_PAUSE_WINDOW),
            attempt=attempt,
            own_request=own_request,
        ),
    )
    if not decision.should_message:
        at = now + timedelta(days=decision.extend_days)
        next_id = schedule_check(
            uow, user_id=user_id, at=at, reason="no_message", attempt=attempt + 1, dedupe=f"after:{task_id}"
        )
        _log(
            uow,
            agent,
            "re_engagement_deferred",
            user_id=user_id,
            now=now,
            task_id=task_id,
            output={
                "extend_days": decision.extend_days,
                "reason": decision.reason,
                "path": decision.path,
                "next_task_id": str(next_id),
            },
        )
        log.info("re-engagement: no message now", extra={**fields, "extend_days": decision.extend_days})
        return {"status": "no_message", "extend_days": decision.extend_days, "path": decision.path}
    return _send(
        uow, agent, user_id, conversation.id, task_id, now, decision, throttle.override, attempt, own_request
    )


def _send(  # noqa: PLR0917
    uow: PostgresUnitOfWork,
    agent: str,
    user_id: UUID,
    conversation_id: UUID,
    task_id: UUID,
    now: datetime,
    decision: ReEngagementDecision,
    override: bool,
    attempt: int,
    own_request: str | None,
) -> dict[str, Any]:
    asked = uow.community_requests.questions(
        [p.item_id for p in decision.threads if p.item_type == ItemType.COMMUNITY_REQUEST]
    )
    threads = thread_payload(
        [
            {
                "item_type": p.item_type,
                # an expert is asked the whole question; the priority's summary is cut to 60 characters
                "question": cut(asked[p.item_id], EXPERT_QUESTION_MAX_CHARS) if p.item_id in asked else None,
                "summary": p.item_summary,
                "primary_name": p.item_primary_name,
                "secondary_name": p.item_secondary_name,
                "context": p.item_context if isinstance(p.item_context, str) else None,
            }
            for p in decision.threads
        ]
    )
    parts = sequence_parts(decision.structure, threads, own_request, kind=KIND_RE_ENGAGEMENT)
    lane = re_engagement_lane(p.item_type for p in decision.threads)
    queued = queue_message(
        uow,
        user_id=user_id,
        agent_id=f"{agent}_reengagement",
        now=now,
        data_parts=parts,
        priority=lane.priority,
        can_delay=lane.can_delay,
        requires_fresh_context=True,
        conversation_id=conversation_id,
    )
    # Logged only now that the message is queued, in the same commit: the throttles count this row.
    _log(
        uow,
        agent,
        "re_engagement_message_sent",
        user_id=user_id,
        now=now,
        task_id=task_id,
        context_id=queued.ids[0],
        context_type="message_queue",
        output={
            "queue_ids": [str(i) for i in queued.ids],
            "items": [_item(p) for p in decision.threads],
            "structure": parts[0]["structure"],
            "parts": len(parts),
            "override": override,
            "path": decision.path,
            "reason": decision.reason,
        },
    )
    live: list[dict[str, Any]] = []
    for p in decision.threads:
        shown = present_priority(
            uow,
            agent=agent,
            user_id=user_id,
            item_type=p.item_type,
            item_id=str(p.item_id),
            how="dedicated",
            now=now,
            context_id=queued.ids[0],
            context_type="message_queue",
        )
        if shown is not None and shown.status != "dormant":
            live.append(_item(p))
    next_id = schedule_check(
        uow,
        user_id=user_id,
        at=now + RE_ENGAGEMENT_FOLLOW_UP,
        reason="follow_up",
        attempt=attempt + 1,
        dedupe=f"after:{task_id}",
        priority_items=live,
    )
    log.info(
        "re_engagement_message_sent",
        extra={
            "user_id": str(user_id),
            "agent": agent,
            "threads": len(threads),
            "override": override,
            "path": decision.path,
        },
    )
    return {
        "status": "queued",
        "queue_ids": [str(i) for i in queued.ids],
        "threads": len(threads),
        "override": override,
        "path": decision.path,
        "next_task_id": str(next_id),
    }


def handle_priority_update(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """Event ``priority.update``: a re-engagement check soon, so the throttles decide (agents.md §4.1)."""
    payload = delivery.data.get("payload") or {}
    user_id = _uuid(delivery.user_id) or _uuid(payload.get("userId")) or _uuid(payload.get("user_id"))
    if user_id is None:
        raise PermanentError("priority.update carries no user id")
    now = deps.clock()
    user = uow.users.get(user_id)
    if user is None or not user.verified or user.opted_out:
        return {"status": "skipped", "reason": "not_a_reachable_member"}
    listed = payload.get("priorities")
    raw_items: list[Any] = listed if isinstance(listed, list) else []
    items = [
        {
            "item_type": str(i.get("itemType")),
            "item_id": str(i.get("itemId")),
            "value_score": i.get("valueScore"),
        }
        for i in raw_items
        if isinstance(i, Mapping) and i.get("itemType") and _uuid(i.get("itemId"))
    ]
    try:
        max_score = float(payload.get("maxScore") or 0)
    except (TypeError, ValueError):
        max_score = 0.0
    pending = [t for t in uow.tasks.open_for_user(user_id, TASK) if t.status == "pending"]
    if pending and max_score <= RE_ENGAGEMENT_OVERRIDE_SCORE:
        return {"status": "already_scheduled", "task_id": str(pending[0].id)}
    task_id = schedule_check(
        uow,
        user_id=user_id,
        at=now + RE_ENGAGEMENT_PRIORITY_UPDATE_DELAY,
        reason="new_priority",
        attempt=1,
        dedupe="priority_update",
        priority_items=items,
        extra={"maxScore": max_score},
    )
    log.info(
        "priority.update: re-engagement check scheduled",
        extra={"user_id": str(user_id), "max_score": max_score, "task_id": str(task_id)},
    )
    return {
        "status": "scheduled" if task_id else "already_scheduled",
        "task_id": str(task_id) if task_id else None,
    }


# --- Operator: lift a pause (decisions B5: "until a human resumes it") ------------------------------


class UnknownMember(LookupError):
    pass


def _member_id(uow: PostgresUnitOfWork, member: str) -> UUID:
    """A member named by user id or phone number (E.164 or any form normalize_e164 accepts)."""
    as_id = _uuid(member)
    if as_id is not None and uow.users.get(as_id) is not None:
        return as_id
    try:
        phone = normalize_e164(member)
    except InvalidPhoneNumber:
        raise UnknownMember(f"{member!r} is neither a user id nor a phone number") from None
    found = uow.users.id_by_phone(phone)
    if found is None:
        raise UnknownMember(f"no user with the phone number {phone}")
    return found


def resume_reengagement(
    uow_factory: Callable[[], PostgresUnitOfWork], member: str, *, operator: str, now: datetime
) -> tuple[UUID, bool]:
    """Lift a member's re-engagement pause and schedule their next check now; (user id, was paused).

    Logged as ``re_engagement_resumed``; earlier unanswered re-engagements no longer count."""
    with uow_factory() as uow:
        user_id = _member_id(uow, member)
        uow.users.lock(user_id, UserLock.ACCOUNT)
        resumed = uow.re_engagement.resume(user_id, now=now, resumed_by=operator)
        if resumed:
            user = uow.users.get(user_id)
            agent = resolve_poc(user.verified, user.poc_agent_type) if user else registry.DEFAULT_MEMBER_AGENT
            schedule_check(
                uow,
                user_id=user_id,
                at=now,
                reason="resumed_by_operator",
                attempt=1,
                dedupe=f"resumed:{now.isoformat()}",
            )
            uow.actions.record(
                ActionRecord(
                    agent_type=agent,
                    action_type="re_engagement_resumed",
                    user_id=user_id,
                    input_data={"operator": operator},
                    output_data={"resumed": True},
                    created_at=now,
                )
            )
        uow.commit()
    log.info(
        "re-engagement resume", extra={"user_id": str(user_id), "operator": operator, "resumed": resumed}
    )
    return user_id, resumed


def paused_members(uow_factory: Callable[[], PostgresUnitOfWork], *, limit: int) -> list[PausedMember]:
    with uow_factory() as uow:
        return uow.re_engagement.paused_members(limit=limit)
