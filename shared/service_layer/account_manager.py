"""The Account Manager (agents.md §6, §13; decisions B9): each member's ranked list of what matters.

It never messages members. A run for one member happens inside the consumer's unit of work, so
the delivery's mark, the priorities, the follow-up events and tasks are one commit:

1. claim the member (a transaction-scoped advisory lock); if another run holds it, this one
   no-ops and leaves a review task behind, so nothing it would have read is lost;
2. read the member's events since the watermark; inbound goal and challenge mentions among them
   become items;
3. for prospects this member accepted or completed, pause or cancel the other connectors'
   opportunities (and drop them from those connectors' lists);
4. load the candidates from the source tables (open, never dormant) and the member's own items;
   score intro-flow items with the §6 table, keep LLM scores whose content has not changed, and
   score the rest in one batched LLM call (the offline brain when there is no LLM, logged);
5. move existing priorities whose source is gone, declined, accepted or presented twice to
   removed / expired / actioned / dormant; dormant cancels the pending re-engagement checks;
6. merge, rank, keep the top 10 and write them in one statement; drop the live rows that fell out;
7. emit ``priority.update`` when an item newly scores above 80, then
   ``account_manager.processing.completed``, and advance the watermark.

Redelivery: the consumer's mark skips a redelivered event or task; a second run with the same
inputs writes the same rows (LLM scores are reused by fingerprint), so user_priorities ends
exactly as after one delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from shared.adapters.llm import Llm
from shared.adapters.repositories.events import MemberEvent
from shared.adapters.repositories.priorities import ManagedMember, MemberPriority, RankedPriority
from shared.adapters.repositories.priority_sources import (
    FinishedResearch,
    OpenCommunityRequest,
    OpenConnectionRequest,
    OpenIntroOffer,
    OpenIntroOpportunity,
    PinnedResponse,
)
from shared.adapters.repositories.users import UserLock
from shared.adapters.tasks import create_task
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.account_manager.scoring import score_with_llm
from shared.domain.constants import PRIORITY_DORMANT_AFTER_PRESENTATIONS, TASK_MAX_RETRIES
from shared.domain.events import Event
from shared.domain.priorities import (
    COMMUNITY_RESPONSE_SCORE,
    CONFIRM_OFFER,
    EXPERT_IMPACT_SCORE,
    GOAL_TTL,
    LIVE_PRIORITY_STATUSES,
    LLM_SCORE_MAX_AGE,
    LLM_SCORED,
    SOLUTION_UPDATE_TTL,
    TOP_PRIORITIES,
    Candidate,
    ItemType,
    Member,
    ScoreSource,
    Transition,
    cut,
    fallback_score,
    has_goal_keywords,
    is_dormant,
    rank,
    score_connection_request,
    score_intro_opportunity,
    score_offer_for_connector,
    score_offer_for_introducee,
    source_transition,
    urgent,
)
from shared.logs import get_logger
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps

log = get_logger(__name__)

AGENT = "account_manager"
REVIEW_TASK = "account_manager_review"
PRIORITY_UPDATE = "priority.update"
PROCESSING_COMPLETED = "account_manager.processing.completed"
EVENTS_PER_RUN = 500  # events read per run; the rest wait for the next run (the watermark holds)
BUSY_RETRY_AFTER = timedelta(minutes=1)
SUMMARY_MAX_CHARS = 60  # community_request summary: the question cut to 60 characters (§6 step 7)
# An answer relayed to its requester, an impact note to its expert: the summary carries the whole
# message (name, question, insight / credits), since the point of contact's template sends it as is.
RELAY_SUMMARY_MAX_CHARS = 400
RELAY_QUESTION_MAX_CHARS = 80
CHALLENGE_WORDS = ("challenge", "problem", "struggling")

# Payload fields that name a member, camelCase as platform.md §2.4 spells them, snake_case as
# this codebase's producers do.
MEMBER_FIELDS = (
    "userId",
    "user_id",
    "connectorUserId",
    "connector_user_id",
    "introduceeUserId",
    "introducee_user_id",
    "offeringUserId",
    "offering_user_id",
    "expertUserId",
    "expert_user_id",
)


# --- Results -------------------------------------------------------------------------------------


@dataclass
class RunResult:
    user_id: UUID
    status: str  # 'ranked' | 'busy' | 'no_member'
    events_read: int = 0
    written: int = 0
    removed: int = 0
    dormant: int = 0
    tasks_cancelled: int = 0
    urgent: int = 0
    llm_calls: int = 0
    llm_items: int = 0
    fallback_items: int = 0
    tasks_created: int = 0
    top: list[tuple[str, str, float]] = field(default_factory=list)  # (item_type, item_id, score)

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": str(self.user_id),
            "status": self.status,
            "events_read": self.events_read,
            "written": self.written,
            "removed": self.removed,
            "dormant": self.dormant,
            "urgent": self.urgent,
            "llm_calls": self.llm_calls,
            "fallback_items": self.fallback_items,
        }


@dataclass(frozen=True)
class RunInputs:
    """What a trigger adds to the run: items it names, and why it runs."""

    trigger: str
    community_request_ids: tuple[UUID, ...] = ()
    message_ids: tuple[UUID, ...] = ()
    # Items the trigger itself just wrote (an answer, an impact note): newly urgent for this run
    # although their row already exists when it reads the list.
    announce: tuple[tuple[str, UUID], ...] = ()


# --- Handlers (registry: shared.registry, agent 'account_manager') -----------------------------


def handle_event(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """The events of §6 and platform.md §2.4: run for every member the event concerns."""
    payload = delivery.data.get("payload") or {}
    if not isinstance(payload, dict):
        raise PermanentError(f"{delivery.type} payload is not an object")
    members = _members_named(delivery, payload)
    if delivery.type.startswith(("intro.", "connection.")):
        members = [*members, *_members_of_intro_items(uow, delivery, payload)]
    if delivery.type == "community.response_received":
        members = [*members, *_community_response_received(uow, payload, deps.clock())]
    results = [
        run_for_member(uow, user_id, RunInputs(trigger=delivery.type), llm=deps.llm, now=deps.clock())
        for user_id in _unique(members)
    ]
    if not results:
        log.warning("account manager event names no member", extra={"event_type": delivery.type})
    return {"runs": [r.as_dict() for r in results]}


def handle_task(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """Community tasks, the review task and the inbound triggers, for the task's member."""
    data = delivery.data
    context = data.get("context_json") or {}
    if not isinstance(context, dict):
        context = {}
    user_id = delivery.user_id or _uuid(data.get("user_id"))
    if user_id is None:
        raise PermanentError(f"{delivery.type} task without a user")
    now = deps.clock()
    inputs = RunInputs(trigger=str(context.get("trigger") or delivery.type))
    if delivery.type == "community_request_available":
        request_id = _uuid(data.get("context_id")) or _uuid(
            context.get("requestId") or context.get("request_id")
        )
        inputs = replace(inputs, community_request_ids=(request_id,) if request_id else ())
    elif delivery.type in ("community_response_available", "notify_expert_of_impact"):
        response_id = _uuid(context.get("responseId") or context.get("response_id")) or _uuid(
            data.get("context_id")
        )
        if response_id is not None:
            pinned = _pin_response_item(uow, delivery.type, user_id, response_id, context, now)
            inputs = replace(inputs, announce=(pinned,) if pinned else ())
    message_id = _uuid(context.get("message_id") or context.get("messageId"))
    if message_id is not None:
        inputs = replace(inputs, message_ids=(message_id,))
    return run_for_member(uow, user_id, inputs, llm=deps.llm, now=now).as_dict()


# --- The run ---------------------------------------------------------------------------------------


def run_for_member(
    uow: PostgresUnitOfWork, user_id: UUID, inputs: RunInputs, *, llm: Llm | None, now: datetime
) -> RunResult:
    """One member's run, in ``uow`` (the caller commits)."""
    if not uow.users.try_lock(user_id, UserLock.ACCOUNT_MANAGER):
        created = _review_later(uow, user_id, now, trigger="busy_retry")
        log.info(
            "account manager run for this member already in progress; no-op", extra={"user_id": str(user_id)}
        )
        return RunResult(user_id, "busy", tasks_created=int(created))
    managed = uow.priorities.managed_member(user_id)
    if managed is None or not managed.verified or managed.opted_out:
        return RunResult(user_id, "no_member")

    events = uow.events.for_member_since(
        user_id, since=managed.events_read_until, excluding_creator=AGENT, limit=EVENTS_PER_RUN
    )
    message_ids = {*inputs.message_ids, *_message_ids(events)}
    mentions = _goal_mentions(uow, user_id, message_ids)
    existing = uow.priorities.of_member(user_id)
    member = _member(managed, existing, mentions)
    result = RunResult(user_id, "ranked", events_read=len(events))

    result.tasks_created += _transition_siblings(uow, user_id, now)
    candidates = _load_candidates(uow, user_id, existing, mentions, inputs, now)
    by_key = {r.key: r for r in existing}

    # Dormancy (B9, §13): presented twice -> dormant, never scored.
    dormant_rows = [
        by_key[c.key]
        for c in candidates
        if c.key in by_key and is_dormant(max(c.presentation_count, by_key[c.key].presentation_count))
    ]
    dormant_keys = {r.key for r in dormant_rows}
    candidates = [c for c in candidates if c.key not in dormant_keys]

    # Existing live rows with no candidate and not dormant above: their source moved on (or vanished).
    candidate_keys = {c.key for c in candidates}
    gone = [
        r
        for r in existing
        if r.status in LIVE_PRIORITY_STATUSES and r.key not in candidate_keys and r.key not in dormant_keys
    ]
    transitions = _source_transitions(uow, gone)
    for r in gone:
        if transitions[r.key] is Transition.DORMANT:
            dormant_rows.append(r)
    actioned = [r.id for r in gone if transitions[r.key] is Transition.ACTIONED]
    expired = [r.id for r in gone if transitions[r.key] is Transition.EXPIRED]
    removed = [r.id for r in gone if transitions[r.key] is Transition.REMOVED]

    scored, stale = _score(candidates, by_key, member, llm, now, result)
    top = rank(scored)
    top_keys = {c.key for c in top}
    fell_out = [
        r.id
        for r in existing
        if r.status in LIVE_PRIORITY_STATUSES and r.key in candidate_keys and r.key not in top_keys
    ]

    _apply(
        uow,
        user_id,
        statuses={"actioned": actioned, "expired": expired},
        deleted=[*removed, *fell_out],
        dormant_rows=dormant_rows,
        top=top,
        stale=stale,
        now=now,
        result=result,
    )
    result.written = len(top)
    result.removed = len(removed) + len(fell_out)
    result.dormant = len(dormant_rows)
    result.top = [(c.item_type, str(c.item_id), c.score or 0) for c in top]
    newly_urgent = [c for c in urgent(top) if c.key in inputs.announce or not _was_urgent(by_key.get(c.key))]
    result.urgent = len(urgent(top))
    if newly_urgent:
        uow.emit(_priority_update(user_id, managed.poc_agent_type, top, newly_urgent))
    watermark = max((e.created_at for e in events), default=managed.events_read_until)
    uow.priorities.advance_watermark(
        user_id, events_read_until=watermark, now=now, trigger=inputs.trigger[:50]
    )
    uow.emit(_processing_completed(user_id, result, now))
    log.info(
        "account manager run",
        extra={
            "user_id": str(user_id),
            "trigger": inputs.trigger,
            "events_read": len(events),
            "written": result.written,
            "removed": result.removed,
            "dormant": result.dormant,
            "urgent": result.urgent,
            "llm_calls": result.llm_calls,
            "fallback_items": result.fallback_items,
        },
    )
    return result


def _apply(
    uow: PostgresUnitOfWork,
    user_id: UUID,
    *,
    statuses: Mapping[str, list[UUID]],
    deleted: list[UUID],
    dormant_rows: Sequence[MemberPriority],
    top: Sequence[Candidate],
    stale: Sequence[Candidate],
    now: datetime,
    result: RunResult,
) -> None:
    for status, ids in statuses.items():
        uow.priorities.set_status(user_id, ids, status)
    uow.priorities.delete(user_id, deleted)
    if dormant_rows:
        result.tasks_cancelled = _make_dormant(uow, user_id, dormant_rows, now)
    uow.priorities.write(user_id, _rows(top, now))
    uow.priorities.write(user_id, _rows(stale, now, first_rank=TOP_PRIORITIES + 1, status="expired"))


# --- Candidates ------------------------------------------------------------------------------------


def _load_candidates(  # noqa: PLR0917
    uow: PostgresUnitOfWork,
    user_id: UUID,
    existing: Sequence[MemberPriority],
    mentions: Sequence[Candidate],
    inputs: RunInputs,
    now: datetime,
) -> list[Candidate]:
    sources = uow.priority_sources
    dormant_after = PRIORITY_DORMANT_AFTER_PRESENTATIONS
    out: list[Candidate] = []
    for o in sources.intro_opportunities_for_connector(user_id, now=now, dormant_after=dormant_after):
        out.append(_intro_opportunity(o, now))
    for cr in sources.connection_requests_for_introducee(user_id, now=now, dormant_after=dormant_after):
        out.append(_connection_request(cr, now))
    by_key = {r.key: r for r in existing}
    for f in sources.intro_offers_for_member(user_id, now=now):
        offer = _intro_offer(f, now)
        prior = by_key.get(offer.key)
        if prior is not None and prior.status == "dormant":
            continue
        out.append(replace(offer, presentation_count=prior.presentation_count if prior else 0))
    for q in sources.community_requests_for_expert(
        user_id, now=now, dormant_after=dormant_after, named_ids=inputs.community_request_ids
    ):
        out.append(_community_request(q))
    for w in sources.research_finished_for_member(user_id, since=now - SOLUTION_UPDATE_TTL):
        out.append(_solution_update(w))
    out.extend(_own_items(uow, existing, mentions, now))
    seen: set[tuple[str, UUID]] = set()
    unique = []
    for c in out:
        if c.key not in seen:
            seen.add(c.key)
            unique.append(c)
    return unique


def _own_items(
    uow: PostgresUnitOfWork, existing: Sequence[MemberPriority], mentions: Sequence[Candidate], now: datetime
) -> list[Candidate]:
    """Items with no source list of their own: goals and challenges, answers waiting for the
    member, impact notes. A response row that vanished takes its item with it."""
    out: list[Candidate] = []
    live = [r for r in existing if r.status in LIVE_PRIORITY_STATUSES]
    response_ids = [
        r.item_id for r in live if r.item_type in (ItemType.COMMUNITY_RESPONSE, ItemType.EXPERT_IMPACT)
    ]
    present = (
        {item_id for _, item_id in uow.priority_sources.statuses({"community_response": response_ids})}
        if response_ids
        else set()
    )
    for r in live:
        item_type = r.item_type
        if item_type in (ItemType.GOAL, ItemType.CHALLENGE):
            if r.expires_at is not None and r.expires_at <= now:
                continue
            out.append(
                Candidate(
                    item_type=ItemType(item_type),
                    item_id=r.item_id,
                    created_at=r.created_at,
                    text=r.content or "",
                    source=ScoreSource.LLM,
                    expires_at=r.expires_at,
                    presentation_count=r.presentation_count,
                    last_presented_at=r.last_presented_at,
                    summary=r.item_summary or cut(r.content or "", SUMMARY_MAX_CHARS),
                    metadata=dict(r.metadata),
                )
            )
        elif item_type in (ItemType.COMMUNITY_RESPONSE, ItemType.EXPERT_IMPACT) and r.item_id in present:
            pinned = item_type == ItemType.COMMUNITY_RESPONSE
            out.append(
                Candidate(
                    item_type=ItemType(item_type),
                    item_id=r.item_id,
                    created_at=r.created_at,
                    text=r.content or "",
                    score=COMMUNITY_RESPONSE_SCORE if pinned else EXPERT_IMPACT_SCORE,
                    source=ScoreSource.FIXED,
                    pinned=pinned,
                    presentation_count=r.presentation_count,
                    last_presented_at=r.last_presented_at,
                    expires_at=r.expires_at,
                    summary=r.item_summary or "",
                    context=None,
                    metadata=dict(r.metadata),
                )
            )
    out.extend(mentions)
    return out


def _intro_opportunity(o: OpenIntroOpportunity, now: datetime) -> Candidate:
    prospect = f"{o.first_name} {o.last_name}".strip()
    bounty = o.bounty_credits
    return Candidate(
        item_type=ItemType.INTRO_OPPORTUNITY,
        item_id=o.id,
        created_at=o.created_at,
        credits=bounty,
        score=score_intro_opportunity(
            bounty_credits=bounty, connection_strength=o.connection_strength, age=now - o.created_at
        ),
        expires_at=o.expires_at,
        presentation_count=o.presentation_count,
        last_presented_at=o.last_presented_at,
        presented=o.status != "open",
        summary=f"Intro {prospect} at {o.prospect_company or 'their company'}",
        primary_name=prospect,
        secondary_name=o.innovator_name,
        context=f"earn {bounty} credits",
        metadata={"bounty_credits": bounty, "prospect_company": o.prospect_company},
    )


def _connection_request(c: OpenConnectionRequest, now: datetime) -> Candidate:
    vouches = len(c.vouched_by_user_ids)
    return Candidate(
        item_type=ItemType.CONNECTION_REQUEST,
        item_id=c.id,
        created_at=c.created_at,
        credits=c.bounty_credits,
        score=score_connection_request(
            vouches=vouches, requestor_credits_spent=c.requestor_credits_spent, age=now - c.created_at
        ),
        expires_at=c.expires_at,
        presentation_count=c.presentation_count,
        last_presented_at=c.last_presented_at,
        presented=c.status != "open",
        summary=f"{c.requestor_name} wants to meet you",
        primary_name=c.requestor_name,
        context=c.intro_context,
        metadata={"requestor_company": c.requestor_company, "vouch_count": vouches},
    )


def _intro_offer(f: OpenIntroOffer, now: datetime) -> Candidate:
    age = now - f.created_at
    bounty = f.bounty_credits
    if f.role == "introducee":
        score = score_offer_for_introducee(bounty_credits=bounty, context_type=f.context_type, age=age)
        summary = f"{f.offering_name or 'A member'} can introduce you to {f.prospect_name}"
        primary = f.offering_name
    else:
        score = score_offer_for_connector(age=age)
        summary = f"{CONFIRM_OFFER} {f.prospect_name} to {f.introducee_name or 'a member'}"
        primary = f.introducee_name
    return Candidate(
        item_type=ItemType.INTRO_OFFER,
        item_id=f.id,
        created_at=f.created_at,
        credits=bounty,
        score=score,
        expires_at=f.expires_at,
        summary=summary,
        primary_name=primary,
        secondary_name=f.prospect_name,
        context=f.prospect_context,
        metadata={"role": f.role, "bounty_credits": bounty, "prospect_company": f.prospect_company},
    )


def _community_request(q: OpenCommunityRequest) -> Candidate:
    return Candidate(
        item_type=ItemType.COMMUNITY_REQUEST,
        item_id=q.id,
        created_at=q.created_at,
        text=f"{q.question} (urgency: {q.urgency})",
        category=q.category,
        expertise=q.expertise_needed,
        source=ScoreSource.LLM,
        expires_at=q.expires_at,
        presentation_count=q.presentation_count,
        last_presented_at=q.last_presented_at,
        presented=q.status != "open",
        summary=cut(q.question, SUMMARY_MAX_CHARS),
        context=q.category or "expert input needed",
        metadata={"category": q.category, "expertise_needed": list(q.expertise_needed)},
    )


def _solution_update(w: FinishedResearch) -> Candidate:
    return Candidate(
        item_type=ItemType.SOLUTION_UPDATE,
        item_id=w.id,
        created_at=w.completed_at,
        text=f"Research finished: {w.request_description} ({w.matched_innovators} matched solutions)",
        category=w.category,
        source=ScoreSource.LLM,
        expires_at=w.completed_at + SOLUTION_UPDATE_TTL,
        summary=cut(f"Research ready: {w.request_description}", SUMMARY_MAX_CHARS),
        context=w.category,
        metadata={"category": w.category, "matched": w.matched_innovators},
    )


def _goal_mentions(uow: PostgresUnitOfWork, user_id: UUID, message_ids: set[UUID]) -> list[Candidate]:
    """Inbound texts with goal keywords become goal or challenge items (explicit_mention)."""
    if not message_ids:
        return []
    out = []
    for m in uow.messages.inbound_by_ids(user_id, list(message_ids)):
        text = m.content
        if not has_goal_keywords(text):
            continue
        lowered = text.lower()
        kind = ItemType.CHALLENGE if any(w in lowered for w in CHALLENGE_WORDS) else ItemType.GOAL
        out.append(
            Candidate(
                item_type=kind,
                item_id=m.id,
                created_at=m.created_at,
                text=cut(text, 500),
                source=ScoreSource.LLM,
                expires_at=m.created_at + GOAL_TTL,
                summary=cut(text, SUMMARY_MAX_CHARS),
                metadata={"message_id": str(m.id)},
            )
        )
    return out


def _message_ids(events: Iterable[MemberEvent]) -> set[UUID]:
    ids = set()
    for e in events:
        if e.event_type == "message.received":
            mid = _uuid(e.payload.get("message_id") or e.payload.get("messageId"))
            if mid is not None:
                ids.add(mid)
    return ids


def _member(
    managed: ManagedMember, existing: Sequence[MemberPriority], mentions: Sequence[Candidate]
) -> Member:
    goals = [
        r.content
        for r in existing
        if r.item_type in (ItemType.GOAL, ItemType.CHALLENGE) and r.status in LIVE_PRIORITY_STATUSES
    ]
    goals += [m.text for m in mentions]
    if managed.goal:  # the goal the Concierge stored from the welcome question (decisions B21)
        goals.insert(0, managed.goal)
    return Member(
        user_id=managed.id,
        expertise=managed.expertise,
        goal_text=" ".join(g for g in goals if g),
        title=managed.title or "",
        company=managed.company or "",
        answers_given=managed.answers_given,
    )


# --- Scoring ---------------------------------------------------------------------------------------


def _score(  # noqa: PLR0917
    candidates: Sequence[Candidate],
    by_key: Mapping[tuple[str, UUID], MemberPriority],
    member: Member,
    llm: Llm | None,
    now: datetime,
    result: RunResult,
) -> tuple[list[Candidate], list[Candidate]]:
    """Rules and fixed scores as they are; LLM items keep an unchanged score, the rest are batched.
    Returns the scored items and those the LLM judged stale (kept as 'expired', never re-scored
    while unchanged)."""
    ready: list[Candidate] = []
    to_score: list[Candidate] = []
    for c in candidates:
        if c.item_type not in LLM_SCORED:
            ready.append(c)
            continue
        prior = by_key.get(c.key)
        if prior is not None and prior.status == "expired" and prior.score_fingerprint == c.fingerprint:
            continue  # judged stale before, and nothing about it changed since

        if prior is not None and _score_still_good(prior, c, now, llm is not None):
            ready.append(
                replace(
                    c,
                    score=float(prior.value_score or 0),
                    source=ScoreSource(str(prior.score_source)),
                    reason=prior.score_reason or "",
                )
            )
        else:
            to_score.append(c)
    stale: list[Candidate] = []
    if not to_score:
        return ready, stale
    answers = {}
    if llm is not None:
        batch = score_with_llm(llm, member, to_score, now)
        answers = batch.scores
        result.llm_calls += batch.calls
    for n, c in enumerate(to_score, 1):
        answer = answers.get(f"i{n}")
        if answer is not None:
            result.llm_items += 1
            scored = replace(c, score=float(answer.score), source=ScoreSource.LLM, reason=answer.reason)
            (stale if answer.stale else ready).append(scored)
        else:
            score, reason = fallback_score(c, member, now)
            result.fallback_items += 1
            ready.append(replace(c, score=score, source=ScoreSource.FALLBACK, reason=reason))
    if result.fallback_items:
        log.warning(
            "priorities scored by the offline brain",
            extra={
                "user_id": str(member.user_id),
                "items": result.fallback_items,
                "llm_configured": llm is not None,
            },
        )
    return ready, stale


def _score_still_good(prior: MemberPriority, c: Candidate, now: datetime, llm_available: bool) -> bool:
    if prior.value_score is None or prior.score_fingerprint != c.fingerprint:
        return False
    if prior.score_source == ScoreSource.LLM:
        return prior.scored_at is not None and now - prior.scored_at < LLM_SCORE_MAX_AGE
    # A fallback score is replaced as soon as an LLM can do better; without one it stands.
    return prior.score_source == ScoreSource.FALLBACK and not llm_available


# --- Transitions -----------------------------------------------------------------------------------


def _source_transitions(
    uow: PostgresUnitOfWork, gone: Sequence[MemberPriority]
) -> dict[tuple[str, UUID], Transition]:
    """What happens to live rows no candidate matched (agents.md §6 event-driven updates)."""
    out: dict[tuple[str, UUID], Transition] = {}
    ids: dict[str, list[UUID]] = {}
    for r in gone:
        ids.setdefault(r.item_type, []).append(r.item_id)
    sources = uow.priority_sources.statuses(ids) if gone else {}
    for r in gone:
        key = r.key
        if r.item_type in (ItemType.GOAL, ItemType.CHALLENGE, ItemType.EXPERT_IMPACT):
            out[key] = Transition.EXPIRED
            continue
        source = sources.get(key)
        verdict = source_transition(source.status if source else None)
        if verdict is Transition.KEEP:
            # Still open, but no longer this member's to act on (answered, moved, out of date) or
            # presented twice: the 2-strike rule, or removed.
            shown = max(r.presentation_count, source.presentation_count if source else 0)
            verdict = Transition.DORMANT if is_dormant(shown) else Transition.REMOVED
        out[key] = verdict
    return out


def _make_dormant(
    uow: PostgresUnitOfWork, user_id: UUID, rows: Sequence[MemberPriority], now: datetime
) -> int:
    """Dormant priorities, dormant single-owner sources, and their re-engagement checks cancelled."""
    uow.priorities.set_status(user_id, [r.id for r in rows], "dormant")
    by_type: dict[str, list[UUID]] = {}
    for r in rows:
        by_type.setdefault(r.item_type, []).append(r.item_id)
    uow.priority_sources.mark_intro_sources_dormant(
        intro_opportunity_ids=by_type.get("intro_opportunity", []),
        connection_request_ids=by_type.get("connection_request", []),
        now=now,
    )
    cancelled = uow.tasks.cancel_reengagement_for_items(user_id, [r.item_id for r in rows], now=now)
    log.info(
        "priorities marked dormant (presented twice)",
        extra={"user_id": str(user_id), "items": len(rows), "reengagement_tasks_cancelled": len(cancelled)},
    )
    return len(cancelled)


def _transition_siblings(uow: PostgresUnitOfWork, user_id: UUID, now: datetime) -> int:
    """§6: another connector's opportunity for a prospect this member accepted -> paused; completed
    -> cancelled. The siblings leave their connectors' lists now, and those lists are re-ranked."""
    changed = uow.priority_sources.transition_sibling_opportunities(user_id)
    if not changed:
        return 0
    affected = uow.priorities.delete_for_items(ItemType.INTRO_OPPORTUNITY, [c.id for c in changed])
    log.info(
        "sibling intro opportunities transitioned",
        extra={
            "user_id": str(user_id),
            "paused": sum(1 for c in changed if c.status == "paused"),
            "cancelled": sum(1 for c in changed if c.status == "cancelled"),
        },
    )
    connectors = _unique(affected)
    return sum(int(_review_later(uow, c, now, trigger="sibling_transition")) for c in connectors)


# --- Items pinned by tasks and events -------------------------------------------------------------


def _pin_response_item(  # noqa: PLR0917
    uow: PostgresUnitOfWork,
    task_type: str,
    user_id: UUID,
    response_id: UUID,
    context: Mapping[str, Any],
    now: datetime,
) -> tuple[str, UUID] | None:
    """community_response_available (requester): rank 1, value 90. notify_expert_of_impact
    (expert): an impact note. The run that follows ranks them with everything else. Returns the
    item's key when it is news (not already live and urgent), for the run to announce."""
    response = uow.priority_sources.community_response(response_id)
    if response is None:
        log.warning("community response vanished; nothing to add", extra={"response_id": str(response_id)})
        return None
    if task_type == "community_response_available":
        item = Candidate(
            item_type=ItemType.COMMUNITY_RESPONSE,
            item_id=response_id,
            created_at=now,
            text=response.response_text or "",
            score=COMMUNITY_RESPONSE_SCORE,
            source=ScoreSource.FIXED,
            pinned=True,
            summary=cut(_relayed_answer(response), RELAY_SUMMARY_MAX_CHARS),
            context=response.category or "your question",
            metadata={"request_id": str(response.request_id), "category": response.category},
        )
    else:
        credits = context.get("creditsAwarded") or context.get("credits_awarded") or response.credits_awarded
        item = Candidate(
            item_type=ItemType.EXPERT_IMPACT,
            item_id=response_id,
            created_at=now,
            text=str(context.get("impactDescription") or response.impact_description or ""),
            score=EXPERT_IMPACT_SCORE,
            source=ScoreSource.FIXED,
            summary=cut(_impact_note(response, credits), RELAY_SUMMARY_MAX_CHARS),
            context=f"earned {credits} credits" if credits else None,
            metadata={"request_id": str(response.request_id), "credits_awarded": credits},
        )
    prior = next((r for r in uow.priorities.of_member(user_id) if r.key == item.key), None)
    uow.priorities.write(user_id, _rows([item], now, first_rank=1))
    return None if _was_urgent(prior) else item.key


def _relayed_answer(response: PinnedResponse) -> str:
    """What the requester is told (agents.md §8.12: the expert's first name, the question and the
    insight), in the item's summary: the point of contact's template relays it as it stands."""
    who = response.expert_first_name or "An expert"
    insight = (response.response_text or "").strip()
    said = f'{who} answered your question "{cut(response.question, RELAY_QUESTION_MAX_CHARS)}"'
    return f"{said}: {insight}" if insight else said


def _impact_note(response: PinnedResponse, credits: object) -> str:
    """What the expert is told (agents.md §8.13): how their insight helped and the credits earned."""
    note = f'Your answer to "{cut(response.question, RELAY_QUESTION_MAX_CHARS)}" reached the member who asked'
    if response.impact_description:
        note += f" ({response.impact_description.strip().rstrip('.')})"
    if credits:
        note += f". You earned {credits} credits"
    return note + "."


def _community_response_received(
    uow: PostgresUnitOfWork, payload: Mapping[str, Any], now: datetime
) -> list[UUID]:
    """The expert answered: their ask is actioned. A requester waiting through a point of contact
    gets the answer as rank 1 / value 90 (platform.md §2.4; a Solution Saga request is the saga's)."""
    request_id = _uuid(payload.get("requestId") or payload.get("request_id"))
    response_id = _uuid(payload.get("responseId") or payload.get("response_id"))
    expert_id = _uuid(payload.get("expertUserId") or payload.get("expert_user_id"))
    members: list[UUID] = []
    if expert_id is not None and request_id is not None:
        uow.priorities.set_item_status(expert_id, ItemType.COMMUNITY_REQUEST, request_id, "actioned")
    request = uow.priority_sources.community_request(request_id) if request_id else None
    if request is None or request.requesting_user_id is None or response_id is None:
        return members
    if request.requesting_agent_type == "solution_saga":
        return members
    requester = request.requesting_user_id
    _pin_response_item(uow, "community_response_available", requester, response_id, {}, now)
    members.append(requester)
    return members


# --- Writing ---------------------------------------------------------------------------------------


def _rows(
    items: Sequence[Candidate], now: datetime, first_rank: int = 1, status: str | None = None
) -> list[RankedPriority]:
    return [
        RankedPriority(
            priority_rank=first_rank + n,
            item_type=str(c.item_type),
            item_id=c.item_id,
            value_score=c.score,
            status=status or ("presented" if c.presented else "active"),
            content=c.text or None,
            presentation_count=c.presentation_count,
            last_presented_at=c.last_presented_at,
            item_summary=c.summary or None,
            item_primary_name=c.primary_name,
            item_secondary_name=c.secondary_name,
            item_context=c.context,
            item_metadata=dict(c.metadata) or None,
            expires_at=c.expires_at,
            score_source=str(c.source),
            score_fingerprint=c.fingerprint,
            score_reason=c.reason or None,
            scored_at=now,
        )
        for n, c in enumerate(items)
    ]


def _was_urgent(prior: MemberPriority | None) -> bool:
    return prior is not None and prior.status in LIVE_PRIORITY_STATUSES and float(prior.value_score or 0) > 80


def _priority_update(
    user_id: UUID, poc: str | None, top: Sequence[Candidate], fresh: Sequence[Candidate]
) -> Event:
    items = [
        {
            "itemType": str(c.item_type),
            "itemId": str(c.item_id),
            "valueScore": c.score,
            "rank": top.index(c) + 1,
            "summary": c.summary,
        }
        for c in urgent(top)
    ]
    return Event(
        event_type=PRIORITY_UPDATE,
        aggregate_type="user",
        aggregate_id=user_id,
        payload={
            "userId": str(user_id),
            "pocAgentType": poc,
            "priorities": items,
            "maxScore": max(c.score or 0 for c in top),
            "itemCount": len(items),
            "newItemIds": [str(c.item_id) for c in fresh],
        },
        created_by=AGENT,
    )


def _processing_completed(user_id: UUID, result: RunResult, now: datetime) -> Event:
    return Event(
        event_type=PROCESSING_COMPLETED,
        aggregate_type="user",
        aggregate_id=user_id,
        payload={
            "userId": str(user_id),
            "processedEvents": result.events_read,
            "urgentItems": result.urgent,
            "prioritiesUpdated": result.written,
            "tasksCreated": result.tasks_created,
            "completedAt": now.isoformat(),
        },
        created_by=AGENT,
    )


def _review_later(uow: PostgresUnitOfWork, user_id: UUID, now: datetime, *, trigger: str) -> bool:
    """A review task for the member soon (one pending at a time per reason)."""
    return request_review(uow, user_id, trigger=trigger, now=now + BUSY_RETRY_AFTER)


def request_review(
    uow: PostgresUnitOfWork,
    /,
    user_id: UUID,
    *,
    trigger: str,
    now: datetime,
    message_id: UUID | None = None,
) -> bool:
    """Ask for a run of one member, in the caller's unit of work: the
    inbound triggers of §6 (``initial_setup`` on the 3rd inbound message, ``explicit_mention``
    with the message whose goal keywords fired it), a busy retry, a sibling transition. One
    pending per member and reason; False when one is already pending."""
    context: dict[str, Any] = {"trigger": trigger}
    if message_id is not None:
        context["message_id"] = str(message_id)
    return (
        create_task(
            uow,
            task_type=REVIEW_TASK,
            agent_type=AGENT,
            user_id=user_id,
            scheduled_for=now,
            priority="medium",
            context_json=context,
            dedupe_key=f"{REVIEW_TASK}:{user_id}:{trigger}",
            created_by=AGENT,
        )
        is not None
    )


def schedule_reviews(uow: PostgresUnitOfWork, now: datetime) -> list[UUID]:
    """The 6-hourly review: a review task for each member with events since their watermark or a
    live priority past its expiry; nobody else is looked at (issue 10, cost at scale)."""
    return uow.priorities.schedule_reviews(
        now=now, created_by=AGENT, task_type=REVIEW_TASK, agent_type=AGENT, max_retries=TASK_MAX_RETRIES
    )


def schedule_account_manager_reviews(*, uow_factory: Callable[[], PostgresUnitOfWork], now: datetime) -> int:
    """The 6-hourly job (Cloud Scheduler -> task_sweeper): schedule the reviews, in one commit."""
    with uow_factory() as uow:
        scheduled = schedule_reviews(uow, now)
        uow.commit()
    log.info("account manager review scheduled", extra={"members": len(scheduled)})
    return len(scheduled)


# --- Small helpers ---------------------------------------------------------------------------------


def _uuid(value: Any) -> UUID | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None


def _unique(ids: Iterable[UUID]) -> list[UUID]:
    return list(dict.fromkeys(ids))


# Payload fields that name an intro-flow row (platform.md §2.4 spells introId; producers vary).
INTRO_ITEM_FIELDS = (
    "introId",
    "intro_id",
    "introOfferId",
    "intro_offer_id",
    "offerId",
    "offer_id",
    "connectionRequestId",
    "connection_request_id",
    "opportunityId",
    "intro_opportunity_id",
)


def _members_of_intro_items(
    uow: PostgresUnitOfWork, delivery: Delivery, payload: Mapping[str, Any]
) -> list[UUID]:
    """Everyone an intro-flow event's row concerns: ``intro.offer_accepted`` names only the
    introducee, but the item moves to the offering member (§12.4 step 3)."""
    ids = [_uuid(payload.get(name)) for name in INTRO_ITEM_FIELDS]
    if delivery.data.get("aggregate_type") not in (None, "user"):
        ids.append(_uuid(delivery.data.get("aggregate_id")))
    wanted = _unique(i for i in ids if i is not None)
    return uow.priority_sources.members_of_intro_items(wanted)


def _members_named(delivery: Delivery, payload: Mapping[str, Any]) -> list[UUID]:
    found = [_uuid(payload.get(name)) for name in MEMBER_FIELDS]
    if delivery.data.get("aggregate_type") == "user":
        found.append(_uuid(delivery.data.get("aggregate_id")))
    found.append(delivery.user_id)
    return _unique(u for u in found if u is not None)
