"""Deliver due proactive messages: the message orchestrator's tick (platform §1, decisions B1-B3, B14).

One tick takes up to ``ORCHESTRATOR_BATCH`` users with due ``queued`` rows, most urgent first,
and handles each user in one unit of work (one transaction):

1. lock the user against concurrent ticks (``uow.users.try_lock`` in the orchestrator scope: a
   tick that cannot get the lock skips the user), then lock the user's due rows with
   ``FOR UPDATE SKIP LOCKED``, whole sequences included;
2. group rows into send units (one row, or one whole sequence: counted once, never split) in
   priority order urgent > high > medium > low, then ``scheduled_for``;
3. per unit: opted-out user -> cancelled; active user (texted in the last 10 minutes) -> sent,
   not budgeted, quiet hours ignored; otherwise the budget and quiet hours decide: send now, or
   defer every part to the earliest instant it becomes allowed;
4. before sending, rows with ``requires_fresh_context`` pass the freshness check (stale ->
   'superseded'); the body is ``final_message``, else ready prose in ``message_data``, else the
   member's point-of-contact agent writes it from the structured ``message_data`` (the
   ``renderer``: an LLM call with the reply guards, or a deterministic template; platform §1.8);
5. sending = outbound ``messages`` rows through ``add_outbound_messages`` (the one outbound
   path), the queue rows 'sent', the budget row and the send ledger, all in the same commit.

The rolling hour is counted from the send ledger: one ``agent_actions_log`` row per send unit
(``proactive_send_budgeted`` or ``proactive_send_exempt``), written in the same transaction as
the outbound messages, the queue-row update and the ``user_message_budget`` increment. The
daily count is ``user_message_budget.messages_sent`` for the user's local date; both move
together, so they cannot disagree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from shared.adapters.outbound import OutboundWriter, add_outbound_messages
from shared.adapters.repositories import ActionRecord, Budget, Conversation, QueueRow, SendProfile, UserLock
from shared.adapters.repositories.messages import UserText
from shared.agents.concierge.render import Rendered, RenderRequest
from shared.domain.constants import ORCHESTRATOR_BATCH, ORCHESTRATOR_START_WITHIN
from shared.domain.retry import while_time_left
from shared.domain.send_policy import (
    HOURLY_WINDOW,
    Cancel,
    Defer,
    QuietHours,
    Send,
    SendState,
    SendUnit,
    after_send,
    decide,
    group_units,
    local_date,
    resolve_timezone,
)
from shared.domain.sms import split_long_body
from shared.logs import get_logger
from shared.routing import POC_AGENT_TYPES, resolve_poc
from shared.service_layer.freshness import (
    FreshnessClassifier,
    NewerMessage,
    QueuedForCheck,
    check_freshness,
)

log = get_logger(__name__)

RENDERABLE_KEYS = ("content", "text", "message", "body")  # message_data keys holding ready prose
AGENT_TYPE = "message_orchestrator"  # agent_actions_log.agent_type of its decisions
ACTION_SEND_BUDGETED = "proactive_send_budgeted"
ACTION_SEND_EXEMPT = "proactive_send_exempt"


# What a tick needs from the unit of work (``PostgresUnitOfWork`` has it; unit tests pass a fake).
class _Users(Protocol):
    def try_lock(self, user_id: UUID, scope: UserLock) -> bool: ...
    def send_profile(self, user_id: UUID, now: datetime) -> SendProfile | None: ...


class _Conversations(Protocol):
    def get(self, conversation_id: UUID) -> Conversation | None: ...
    def active_or_open(self, user_id: UUID) -> UUID: ...


class _Messages(OutboundWriter, Protocol):
    def user_texts_since(self, user_id: UUID, since: datetime, limit: int) -> list[UserText]: ...


class _Queue(Protocol):
    def due_users(self, now: datetime, batch: int) -> list[UUID]: ...
    def claim_due_for_user(self, user_id: UUID, now: datetime) -> list[QueueRow]: ...
    def reschedule(self, ids: Sequence[UUID], until: datetime) -> None: ...
    def close(self, ids: Sequence[UUID], status: str, reason: str) -> None: ...
    def mark_sent(self, queue_id: UUID, now: datetime, message_id: UUID, body: str) -> None: ...


class _Budgets(Protocol):
    def for_date(self, user_id: UUID, local_date: date) -> Budget: ...
    def count_send(self, user_id: UUID, local_date: date, now: datetime, limits: Budget) -> int: ...


class _Actions(Protocol):
    def record(self, action: ActionRecord) -> UUID: ...
    def budgeted_sends(self, user_id: UUID, since: datetime, now: datetime) -> list[datetime]: ...


class TickUnitOfWork(Protocol):
    @property
    def users(self) -> _Users: ...
    @property
    def conversations(self) -> _Conversations: ...
    @property
    def messages(self) -> _Messages: ...
    @property
    def queue(self) -> _Queue: ...
    @property
    def budgets(self) -> _Budgets: ...
    @property
    def actions(self) -> _Actions: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> list[UUID]: ...


TickUowFactory = Callable[[], TickUnitOfWork]


class QueuedRenderer(Protocol):
    """Writes the prose of a queued row that carries only structured ``message_data``
    (``shared.agents.concierge.render.PocRenderer``); None: nothing sendable."""

    def render(self, request: RenderRequest) -> Rendered | None: ...


@dataclass
class TickReport:
    users: int = 0
    sent_units: int = 0
    sent_rows: int = 0
    deferred_units: int = 0
    cancelled_units: int = 0
    superseded_units: int = 0
    rendered_rows: int = 0  # bodies the point of contact wrote from structured message_data
    failed_units: int = 0
    skipped_users: int = 0  # another tick holds the user
    incomplete_units: int = 0  # a sequence whose parts are not all claimable now
    errors: int = 0
    left_users: int = 0  # due users not started: the tick's ORCHESTRATOR_START_WITHIN ran out

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def render_body(row: QueueRow) -> str | None:
    """The ready SMS text of a queued row: ``final_message``, else ready prose in ``message_data``.
    None: structured data only; the point of contact's renderer writes it (``_bodies``)."""
    if row.final_message and row.final_message.strip():
        return row.final_message.strip()
    for key in RENDERABLE_KEYS:
        value = row.message_data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _bodies(
    rows: Sequence[QueueRow],
    profile: SendProfile,
    role: str,
    renderer: QueuedRenderer | None,
    newer_context: tuple[str, ...] = (),
) -> tuple[list[str | None], list[str]]:
    """Each row's SMS text, and how each rendered one was written ('llm' / 'template'); a
    structured row is written with the member's newer texts in view when freshness asked for it."""
    bodies: list[str | None] = []
    paths: list[str] = []
    for row in rows:
        body = render_body(row)
        if body is None and renderer is not None and row.message_data:
            rendered = renderer.render(
                RenderRequest(
                    user_id=profile.id,
                    agent=role,
                    message_data=row.message_data,
                    queue_id=row.part.id,
                    member_context=newer_context,
                )
            )
            if rendered is not None:
                body = rendered.text
                paths.append(rendered.path)
        bodies.append(body)
    return bodies, paths


def role_for(agent_id: str, profile: SendProfile) -> str:
    """``messages.role``: the agent_id prefix when it is a point-of-contact agent, else the
    user's point-of-contact agent (background agents never speak to users directly)."""
    prefix = agent_id.split("_", 1)[0].lower()
    if prefix in POC_AGENT_TYPES:
        return prefix
    return resolve_poc(profile.verified, profile.poc_agent_type)


def _message_per_part(bodies: Sequence[str], message_ids: Sequence[UUID]) -> list[UUID]:
    """The first outbound message of each part (a body over 1,600 chars becomes several)."""
    if len(message_ids) == len(bodies):
        return list(message_ids)
    firsts, index = [], 0
    for body in bodies:
        firsts.append(message_ids[min(index, len(message_ids) - 1)])
        index += len(split_long_body(body))
    return firsts


def run_tick(
    uow_factory: TickUowFactory,
    *,
    now: datetime,
    classifier: FreshnessClassifier,
    renderer: QueuedRenderer | None = None,
    batch: int = ORCHESTRATOR_BATCH,
    clock: Callable[[], float] = time.monotonic,
) -> TickReport:
    """Handle every due unit of up to ``batch`` users; one user's failure never blocks another.
    No user is started once ``ORCHESTRATOR_START_WITHIN`` has passed on ``clock``: with the model
    slow, each user can take minutes, and a tick cut off by its function's timeout reports no
    backlog. The users left wait, untouched, for the next tick."""
    report = TickReport()
    deadline = clock() + ORCHESTRATOR_START_WITHIN.total_seconds()
    with uow_factory() as uow:
        due = uow.queue.due_users(now, batch)
    for user_id in while_time_left(due, deadline, clock):
        report.users += 1
        try:
            _process_user(uow_factory, user_id, now, classifier, report, renderer)
        except Exception:
            report.errors += 1
            log.exception("orchestrator: user skipped after an error", extra={"user_id": str(user_id)})
    report.left_users = len(due) - report.users
    if report.left_users:
        log.warning(
            "orchestrator tick ran out of time: users left for the next tick",
            extra={
                "left": report.left_users,
                "start_within_seconds": ORCHESTRATOR_START_WITHIN.total_seconds(),
            },
        )
    log.info("orchestrator tick", extra={"now": now.isoformat(), **report.as_dict()})
    return report


def _state_for(uow: TickUnitOfWork, profile: SendProfile, now: datetime) -> tuple[SendState, Budget]:
    tz = resolve_timezone(profile.zone)
    today = local_date(now, tz)
    budget = uow.budgets.for_date(profile.id, today)
    state = SendState(
        timezone=tz,
        quiet=QuietHours.from_user(
            profile.quiet_hours_start, profile.quiet_hours_end, budget.quiet_hours_enabled
        ),
        daily_limit=budget.daily_limit,
        hourly_limit=budget.hourly_limit,
        budget_date=today,
        sent_today=budget.messages_sent if budget.date == today else 0,
        recent_sends=tuple(uow.actions.budgeted_sends(profile.id, now - HOURLY_WINDOW, now)),
        last_inbound_at=profile.last_inbound_at,
        opted_out=profile.opted_out,
    )
    return state, budget


def _process_user(  # noqa: PLR0917
    uow_factory: TickUowFactory,
    user_id: UUID,
    now: datetime,
    classifier: FreshnessClassifier,
    report: TickReport,
    renderer: QueuedRenderer | None = None,
) -> None:
    with uow_factory() as uow:
        if not uow.users.try_lock(user_id, UserLock.ORCHESTRATOR):
            report.skipped_users += 1
            return
        rows = uow.queue.claim_due_for_user(user_id, now)
        profile = uow.users.send_profile(user_id, now)
        if not rows or profile is None:
            return
        state, budget = _state_for(uow, profile, now)
        by_id = {row.part.id: row for row in rows}
        for unit in group_units(row.part for row in rows):
            unit_rows = [by_id[part.id] for part in unit.parts]
            state = _handle_unit(
                uow,
                unit=unit,
                rows=unit_rows,
                profile=profile,
                state=state,
                budget=budget,
                now=now,
                classifier=classifier,
                report=report,
                renderer=renderer,
            )
        uow.commit()


def _log_action(
    uow: TickUnitOfWork,
    action_type: str,
    *,
    profile: SendProfile,
    unit: SendUnit,
    now: datetime,
    input_data: dict[str, Any],
    output_data: dict[str, Any],
    error: str | None = None,
) -> None:
    uow.actions.record(
        ActionRecord(
            agent_type=AGENT_TYPE,
            action_type=action_type,
            user_id=profile.id,
            context_id=unit.key,
            context_type="message_queue",
            input_data=input_data,
            output_data=output_data,
            error=error,
            created_at=now,
        )
    )


def _conversation_for(uow: TickUnitOfWork, user_id: UUID, conversation_context_id: UUID | None) -> UUID:
    """The queued row's conversation when it is this user's, else their active one (opened if none)."""
    if conversation_context_id is not None:
        conversation = uow.conversations.get(conversation_context_id)
        if conversation is not None and conversation.user_id == user_id:
            return conversation.id
    return uow.conversations.active_or_open(user_id)


def _newer_texts(uow: TickUnitOfWork) -> Callable[[UUID, datetime, int], list[NewerMessage]]:
    def load(user_id: UUID, since: datetime, limit: int) -> list[NewerMessage]:
        texts = uow.messages.user_texts_since(user_id, since, limit)
        return [NewerMessage(content=t.content, created_at=t.created_at) for t in texts]

    return load


def _handle_unit(
    uow: TickUnitOfWork,
    *,
    unit: SendUnit,
    rows: list[QueueRow],
    profile: SendProfile,
    state: SendState,
    budget: Budget,
    now: datetime,
    classifier: FreshnessClassifier,
    report: TickReport,
    renderer: QueuedRenderer | None = None,
) -> SendState:
    ids = [part.id for part in unit.parts]
    fields: dict[str, Any] = {"user_id": str(profile.id), "unit": str(unit.key), "parts": len(ids)}
    newer_context: tuple[str, ...] = ()
    if not unit.complete:
        report.incomplete_units += 1
        log.warning("orchestrator: sequence not complete this tick; left queued", extra=fields)
        return state

    decision = decide(state, now)
    if isinstance(decision, Cancel):
        uow.queue.close(ids, "cancelled", decision.reason)
        report.cancelled_units += 1
        log.info("orchestrator: cancelled", extra={**fields, "reason": decision.reason})
        return state
    if isinstance(decision, Defer):
        uow.queue.reschedule(ids, decision.until)
        report.deferred_units += 1
        log.info(
            "orchestrator: deferred",
            extra={**fields, "reason": decision.reason, "until": decision.until.isoformat()},
        )
        return state
    assert isinstance(decision, Send)

    if unit.requires_fresh_context:
        freshness = check_freshness(
            QueuedForCheck(
                queue_ids=tuple(ids),
                user_id=profile.id,
                created_at=unit.created_at,
                message_data=rows[0].message_data,
                final_message=rows[0].final_message,
                agent_id=rows[0].agent_id,
            ),
            _newer_texts(uow),
            classifier,
        )
        if not freshness.relevant:
            uow.queue.close(ids, "superseded", freshness.reason)
            report.superseded_units += 1
            log.info("orchestrator: superseded", extra={**fields, "reason": freshness.reason})
            return state
        newer_context = freshness.reformulate_with

    role = role_for(rows[0].agent_id, profile)
    bodies, rendered_paths = _bodies(rows, profile, role, renderer, newer_context)
    report.rendered_rows += len(rendered_paths)
    if any(body is None for body in bodies):
        error = "no final_message, no text in message_data, and nothing the point of contact could write"
        uow.queue.close(ids, "failed", error)
        _log_action(
            uow,
            "delivery_error",
            profile=profile,
            unit=unit,
            now=now,
            input_data={"queue_ids": ids},
            output_data={},
            error=error,
        )
        report.failed_units += 1
        log.error("orchestrator: queued message has nothing to send", extra={**fields, "error": error})
        return state
    texts = [body for body in bodies if body is not None]

    conversation_id = _conversation_for(uow, profile.id, rows[0].conversation_context_id)
    message_ids = add_outbound_messages(
        uow.messages,
        user_id=profile.id,
        conversation_id=conversation_id,
        role=role,
        bodies=texts,
        message_queue_id=unit.parts[0].id,
    )
    for part, message_id, text in zip(unit.parts, _message_per_part(texts, message_ids), texts, strict=True):
        uow.queue.mark_sent(part.id, now, message_id, text)
    day = local_date(now, state.timezone)
    if decision.budgeted:
        uow.budgets.count_send(profile.id, day, now, budget)
    _log_action(
        uow,
        ACTION_SEND_BUDGETED if decision.budgeted else ACTION_SEND_EXEMPT,
        profile=profile,
        unit=unit,
        now=now,
        input_data={"queue_ids": ids, "priority": unit.parts[0].priority},
        output_data={
            "message_ids": message_ids,
            "local_date": day.isoformat(),
            "budgeted": decision.budgeted,
            **({"rendered": rendered_paths} if rendered_paths else {}),
        },
    )
    report.sent_units += 1
    report.sent_rows += len(ids)
    log.info("orchestrator: sent", extra={**fields, "budgeted": decision.budgeted, "role": role})
    return after_send(state, now, decision.budgeted)


# ---------------------------------------------------------------------------------------------
# Entry point for the function: what a tick request may look like, and the production wiring
# ---------------------------------------------------------------------------------------------


def deliver_due_messages(
    *,
    trigger: str,
    now: datetime,
    uow_factory: TickUowFactory,
    classifier: FreshnessClassifier,
    renderer: QueuedRenderer | None = None,
) -> TickReport:
    """One tick: every due unit of up to a batch of users, at ``now``."""
    log.info("orchestrator tick requested", extra={"trigger": trigger})
    return run_tick(uow_factory, now=now, classifier=classifier, renderer=renderer)
