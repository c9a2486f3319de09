"""Deliver due proactive messages: the message orchestrator's tick (platform §1, decisions B1-B3, B14).

One tick takes up to ``ORCHESTRATOR_BATCH`` users with due ``queued`` rows, most urgent first,
and handles each user in one transaction:

1. lock the user against concurrent ticks (a tick that cannot get the lock skips the user),
   then lock the user's due rows with ``FOR UPDATE SKIP LOCKED``, whole sequences included;
2. group rows into send units (one row, or one whole sequence: counted once, never split) in
   priority order urgent > high > medium > low, then ``scheduled_for``;
3. per unit: opted-out user -> cancelled; active user (texted in the last 10 minutes) -> sent,
   not budgeted, quiet hours ignored; otherwise the budget and quiet hours decide: send now, or
   defer every part to the earliest instant it becomes allowed;
4. before sending, rows with ``requires_fresh_context`` pass the freshness check (stale ->
   'superseded'); the body is ``final_message`` or the text in ``message_data``;
5. sending = outbound ``messages`` rows through ``add_outbound_messages`` (the one outbound
   path), the queue rows 'sent', the budget row and the send ledger, all in the same commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.orchestrator_store import (
    ACTION_SEND_BUDGETED,
    ACTION_SEND_EXEMPT,
    BudgetRow,
    OrchestratorSession,
    OrchestratorStore,
    QueueRow,
    UserProfile,
)
from shared.domain.constants import ORCHESTRATOR_BATCH
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
    QueuedForCheck,
    check_freshness,
)

log = get_logger(__name__)

RENDERABLE_KEYS = ("content", "text", "message", "body")  # message_data keys holding ready prose


@dataclass
class TickReport:
    users: int = 0
    sent_units: int = 0
    sent_rows: int = 0
    deferred_units: int = 0
    cancelled_units: int = 0
    superseded_units: int = 0
    failed_units: int = 0
    skipped_users: int = 0  # another tick holds the user
    incomplete_units: int = 0  # a sequence whose parts are not all claimable now
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def render_body(row: QueueRow) -> str | None:
    """The SMS text of a queued row: ``final_message``, else ready prose in ``message_data``.

    No LLM rendering yet (platform §1.8 arrives with the agent runtime): structured data
    without prose is not guessed at; the caller fails the row with a clear reason.
    """
    if row.final_message and row.final_message.strip():
        return row.final_message.strip()
    for key in RENDERABLE_KEYS:
        value = row.message_data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def role_for(agent_id: str, profile: UserProfile) -> str:
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
    store: OrchestratorStore,
    *,
    now: datetime,
    classifier: FreshnessClassifier,
    batch: int = ORCHESTRATOR_BATCH,
) -> TickReport:
    """Handle every due unit of up to ``batch`` users; one user's failure never blocks another."""
    report = TickReport()
    checker = classifier
    for user_id in store.due_users(now, batch):
        report.users += 1
        try:
            _process_user(store, user_id, now, checker, report)
        except Exception:
            report.errors += 1
            log.exception("orchestrator: user skipped after an error", extra={"user_id": str(user_id)})
    log.info("orchestrator tick", extra={"now": now.isoformat(), **report.as_dict()})
    return report


def _state_for(
    session: OrchestratorSession, profile: UserProfile, now: datetime
) -> tuple[SendState, BudgetRow]:
    tz = resolve_timezone(profile.timezone)
    today = local_date(now, tz)
    budget = session.budget(profile.id, today)
    state = SendState(
        timezone=tz,
        quiet=QuietHours.from_user(
            profile.quiet_hours_start, profile.quiet_hours_end, budget.quiet_hours_enabled
        ),
        daily_limit=budget.daily_limit,
        hourly_limit=budget.hourly_limit,
        budget_date=today,
        sent_today=budget.messages_sent if budget.date == today else 0,
        recent_sends=tuple(session.budgeted_sends(profile.id, now - HOURLY_WINDOW, now)),
        last_inbound_at=profile.last_inbound_at,
        opted_out=profile.opted_out,
    )
    return state, budget


def _process_user(
    store: OrchestratorStore,
    user_id: UUID,
    now: datetime,
    classifier: FreshnessClassifier,
    report: TickReport,
) -> None:
    with store.session() as session:
        if not session.try_lock_user(user_id):
            report.skipped_users += 1
            return
        rows = session.claim_due_rows(user_id, now)
        profile = session.profile(user_id, now)
        if not rows or profile is None:
            return
        state, budget = _state_for(session, profile, now)
        by_id = {row.part.id: row for row in rows}
        for unit in group_units(row.part for row in rows):
            unit_rows = [by_id[part.id] for part in unit.parts]
            state = _handle_unit(
                session,
                unit=unit,
                rows=unit_rows,
                profile=profile,
                state=state,
                budget=budget,
                now=now,
                classifier=classifier,
                report=report,
            )
        session.commit()


def _handle_unit(
    session: OrchestratorSession,
    *,
    unit: SendUnit,
    rows: list[QueueRow],
    profile: UserProfile,
    state: SendState,
    budget: BudgetRow,
    now: datetime,
    classifier: FreshnessClassifier,
    report: TickReport,
) -> SendState:
    ids = [part.id for part in unit.parts]
    fields: dict[str, Any] = {"user_id": str(profile.id), "unit": str(unit.key), "parts": len(ids)}
    if not unit.complete:
        report.incomplete_units += 1
        log.warning("orchestrator: sequence not complete this tick; left queued", extra=fields)
        return state

    decision = decide(state, now)
    if isinstance(decision, Cancel):
        session.close(ids, "cancelled", decision.reason)
        report.cancelled_units += 1
        log.info("orchestrator: cancelled", extra={**fields, "reason": decision.reason})
        return state
    if isinstance(decision, Defer):
        session.reschedule(ids, decision.until)
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
            ),
            session.newer_user_messages,
            classifier,
        )
        if not freshness.relevant:
            session.close(ids, "superseded", freshness.reason)
            report.superseded_units += 1
            log.info("orchestrator: superseded", extra={**fields, "reason": freshness.reason})
            return state

    bodies = [render_body(row) for row in rows]
    if any(body is None for body in bodies):
        error = "no final_message and no text in message_data to send"
        session.close(ids, "failed", error)
        session.log_action(
            "delivery_error",
            user_id=profile.id,
            context_id=unit.key,
            now=now,
            input_data={"queue_ids": ids},
            output_data={},
            error=error,
        )
        report.failed_units += 1
        log.error("orchestrator: queued message has nothing to send", extra={**fields, "error": error})
        return state
    texts = [body for body in bodies if body is not None]

    role = role_for(rows[0].agent_id, profile)
    conversation_id = session.conversation_for(profile.id, rows[0].conversation_context_id)
    message_ids = session.write_outbound(profile.id, conversation_id, role, texts, unit.parts[0].id)
    for part, message_id, text in zip(unit.parts, _message_per_part(texts, message_ids), texts, strict=True):
        session.mark_sent(part.id, now, message_id, text)
    day = local_date(now, state.timezone)
    if decision.budgeted:
        session.count_budgeted_send(profile.id, day, now, budget)
    session.log_action(
        ACTION_SEND_BUDGETED if decision.budgeted else ACTION_SEND_EXEMPT,
        user_id=profile.id,
        context_id=unit.key,
        now=now,
        input_data={"queue_ids": ids, "priority": unit.parts[0].priority},
        output_data={
            "message_ids": message_ids,
            "local_date": day.isoformat(),
            "budgeted": decision.budgeted,
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
    *, trigger: str, now: datetime, store: OrchestratorStore, classifier: FreshnessClassifier
) -> TickReport:
    """One tick: every due unit of up to a batch of users, at ``now``."""
    log.info("orchestrator tick requested", extra={"trigger": trigger})
    return run_tick(store, now=now, classifier=classifier)
