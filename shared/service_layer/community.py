"""Community requests: routing, answers, scoring, credits and closure (agents.md §7, §8; B8, B18).

The Agent of Humans' use cases. Each runs inside the caller's unit of work (the consumer's for
deliveries, the Concierge's turn for its tools, the closure job's own), so rows, tasks and
events commit together. Data goes through that unit of work's repositories
(``uow.community_requests``: requests, requesters, asks, operator review; ``uow.community_responses``;
the ledger through ``credits``), never raw rows:

1. ``community.request_needed`` -> ``route_request``: an open request in the same category with
   overlapping expertise from the last 7 days absorbs the question (the asker is added to its
   requesters, ``community.request_attached``). Otherwise match at most 5 verified experts
   (never the requester, one ask per expert per local day, none in quiet hours; the next
   candidate takes a skipped one's place), insert the request (expires in 7 days), one
   ``community_request_available`` task per expert for the Account Manager, and
   ``community.request_routed``, or ``community.no_experts_found`` when nobody fits.
2. The expert replies (the Concierge's tool calls ``handle_expert_reply``): "pass" declines,
   "ask <name>" refers the request to that verified member or stores the name for an operator,
   anything else is recorded by ``record_response`` (summary + verbatim words, the request moves
   to ``responses_received``, ``community.response_received``). A finished request refuses
   politely and stores the answer for an operator.
3. ``community.response_received`` -> ``process_response``: each requester hears of it (by the
   requesting agent: ``process_community_response`` for the Solution Saga, a high-priority
   ``community_response_available`` for the member's Account Manager otherwise); the model
   scores usefulness (no model: wait for an operator, ``score_response``). A score of 7 or more
   pays 15 + 10 x (score - 7) through the ledger under ``community_response_{id}``; the response
   becomes ``rewarded``; ``notify_expert_of_impact`` is scheduled 24 h later.
4. The hourly closure job (``close_due_requests``) closes expired requests and those every asked
   expert has answered; member cancellation (``cancel_request``) withdraws a requester.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.llm import Llm
from shared.adapters.repositories.community_requests import (
    LockedRequest,
    NewCommunityRequest,
    OpenDuplicate,
    Requester,
)
from shared.adapters.repositories.community_responses import LockedResponse
from shared.adapters.tasks import create_task
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.agent_of_humans.scoring import default_impact, llm_score
from shared.domain import credits as credit_rules
from shared.domain.community import (
    OPEN_STATUSES,
    Answer,
    Candidate,
    ClosedReason,
    Pass,
    Referral,
    accepts_responses,
    area_hints,
    closure_reason,
    normalize_expertise,
    read_expert_reply,
    select_experts,
    split_name,
)
from shared.domain.constants import (
    COMMUNITY_CANDIDATE_POOL,
    COMMUNITY_CLOSURE_BATCH,
    COMMUNITY_DUPLICATE_WINDOW,
    COMMUNITY_REQUEST_EXPIRY,
    COMMUNITY_SUMMARY_MAX_CHARS,
    COMMUNITY_VERBATIM_MAX_CHARS,
    EXPERT_ANSWER_CREDITS_MENTIONED,
    EXPERT_IMPACT_NOTICE_DELAY,
)
from shared.domain.events import Event
from shared.domain.priorities import ItemType
from shared.logs import get_logger
from shared.service_layer import credits
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps, UowFactory

log = get_logger(__name__)

AGENT = "agent_of_humans"
ACCOUNT_MANAGER = "account_manager"
SOLUTION_SAGA = "solution_saga"

# Events (agents.md §17, platform.md §2.4)
REQUEST_NEEDED = "community.request_needed"
REQUEST_ATTACHED = "community.request_attached"
REQUEST_ROUTED = "community.request_routed"
NO_EXPERTS_FOUND = "community.no_experts_found"
RESPONSE_RECEIVED = "community.response_received"
REQUEST_CLOSED = "community.request_closed"

# Tasks (agents.md §17)
REQUEST_AVAILABLE = "community_request_available"
RESPONSE_AVAILABLE = "community_response_available"
PROCESS_RESPONSE = "process_community_response"
NOTIFY_IMPACT = "notify_expert_of_impact"

REQUEST_CONTEXT = "community_request"
RESPONSE_CONTEXT = "community_response"

REFUSED_REPLY = (
    "Thanks for this. That question has already been closed, so I can't pass your answer on, "
    "but I've kept it for the team."
)
THANK_YOU = "Thank you to everyone who answered."


Work = PostgresUnitOfWork
"""What the use cases write through: one transaction's repositories (``uow.community_requests``,
``uow.community_responses``, ``uow.credits``, ``uow.tasks`` ...) and its outbox (``uow.emit``): the
consumer's unit of work, or a conversational turn's."""


class UnknownRequest(LookupError):
    pass


class NotARequester(PermissionError):
    pass


class AlreadyScored(ValueError):
    pass


# --- 1. Routing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestNeeded:
    """``community.request_needed`` (platform.md §2.4), as the Concierge publishes it."""

    requesting_agent_type: str
    requesting_user_id: UUID
    question: str
    category: str | None
    expertise_needed: tuple[str, ...]
    context_id: UUID | None = None
    context_type: str | None = None
    requester_context: str | None = None
    desired_outcome: str | None = None
    urgency: str = "medium"
    request_summary: str | None = None


def _field(payload: Mapping[str, Any], snake: str) -> Any:
    """A payload field by its snake_case name, or the camelCase spelling of platform.md §2.4."""
    if snake in payload:
        return payload[snake]
    head, *rest = snake.split("_")
    return payload.get(head + "".join(p.title() for p in rest))


def _uuid_or_none(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def parse_request_needed(payload: Mapping[str, Any]) -> RequestNeeded:
    user_id = _uuid_or_none(_field(payload, "requesting_user_id") or payload.get("user_id"))
    question = str(_field(payload, "question") or "").strip()
    if user_id is None or not question:
        raise PermanentError("community.request_needed needs requesting_user_id and question")
    expertise = _field(payload, "expertise_needed") or []
    if isinstance(expertise, str):
        expertise = [expertise]
    urgency = str(_field(payload, "urgency") or "medium")
    return RequestNeeded(
        requesting_agent_type=str(_field(payload, "requesting_agent_type") or "concierge"),
        requesting_user_id=user_id,
        question=question,
        category=(str(_field(payload, "category")).strip().lower() or None)
        if _field(payload, "category")
        else None,
        expertise_needed=normalize_expertise(expertise),
        context_id=_uuid_or_none(_field(payload, "context_id")),
        context_type=_field(payload, "context_type"),
        requester_context=_field(payload, "requester_context"),
        desired_outcome=_field(payload, "desired_outcome"),
        urgency=urgency if urgency in ("low", "medium", "high") else "medium",
        request_summary=(str(_field(payload, "request_summary"))[:100] or None)
        if _field(payload, "request_summary")
        else None,
    )


@dataclass(frozen=True)
class RoutingResult:
    status: str  # 'routed' | 'no_experts' | 'attached'
    request_id: UUID
    expert_ids: tuple[UUID, ...] = ()
    skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "request_id": str(self.request_id),
            "experts": [str(e) for e in self.expert_ids],
            "skipped": self.skipped,
        }


def handle_request_needed(delivery: Delivery, uow: Work, deps: Deps) -> dict[str, Any] | None:
    """Event ``community.request_needed``."""
    request = parse_request_needed(delivery.data.get("payload") or {})
    return route_request(uow, request, now=deps.clock(), source_event_id=delivery.id).as_dict()


def match_experts(
    uow: Work, expertise: Sequence[str], *, exclude: Sequence[UUID], now: datetime, question: str = ""
) -> list[Candidate]:
    """Members whose expertise covers the request's tags; when nobody's does, those covering the
    areas its question and tags are about (``area_hints``: "a term sheet" is fundraising)."""
    requests = uow.community_requests
    found = (
        requests.match_experts(expertise, exclude=exclude, now=now, limit=COMMUNITY_CANDIDATE_POOL)
        if expertise
        else []
    )
    if found:
        return found
    hints = area_hints(" ".join([question, *expertise]), known=expertise)
    if not hints:
        return []
    return requests.match_experts(hints, exclude=exclude, now=now, limit=COMMUNITY_CANDIDATE_POOL)


def route_request(
    uow: Work, request: RequestNeeded, *, now: datetime, source_event_id: UUID | None = None
) -> RoutingResult:
    requests = uow.community_requests
    requests.lock_category(request.category)
    duplicate = None
    if request.expertise_needed:
        duplicate = requests.open_duplicate(
            statuses=OPEN_STATUSES,
            category=request.category,
            expertise=request.expertise_needed,
            since=now - COMMUNITY_DUPLICATE_WINDOW,
            now=now,
        )
    if duplicate is not None:
        return _attach(uow, duplicate, request, now=now, source_event_id=source_event_id)

    candidates = match_experts(
        uow,
        request.expertise_needed,
        exclude=[request.requesting_user_id],
        now=now,
        question=request.question,
    )
    selection = select_experts(candidates, requester_ids=[request.requesting_user_id], now=now)
    inserted = requests.add(
        NewCommunityRequest(
            requesting_agent_type=request.requesting_agent_type,
            requesting_user_id=request.requesting_user_id,
            context_id=request.context_id,
            context_type=request.context_type,
            question=request.question,
            category=request.category,
            expertise_needed=request.expertise_needed,
            target_user_ids=selection.chosen,
            requester_context=request.requester_context,
            desired_outcome=request.desired_outcome,
            urgency=request.urgency,
            request_summary=request.request_summary,
            created_at=now,
            expires_at=now + COMMUNITY_REQUEST_EXPIRY,
        )
    )
    request_id = inserted.id
    _add_requester(uow, request_id, request, now=now, source_event_id=source_event_id)
    for expert_id in selection.chosen:
        _ask(uow, request_id, expert_id, request=request, expires_at=inserted.expires_at, now=now)

    if selection.chosen:
        _emit_routed(uow, request_id, selection.chosen)
        status = "routed"
    else:
        uow.emit(
            Event(
                event_type=NO_EXPERTS_FOUND,
                aggregate_type=REQUEST_CONTEXT,
                aggregate_id=request_id,
                payload={
                    "request_id": str(request_id),
                    "category": request.category or "unknown",
                    "expertise_needed": list(request.expertise_needed),
                    "question": request.question,
                    "candidates_skipped": len(selection.skipped),
                },
                created_by=AGENT,
            )
        )
        status = "no_experts"
    log.info(
        "community request routed",
        extra={
            "request_id": str(request_id),
            "experts": len(selection.chosen),
            "skipped": [f"{uid}:{reason}" for uid, reason in selection.skipped],
        },
    )
    return RoutingResult(status, request_id, selection.chosen, len(selection.skipped))


def _emit_routed(uow: Work, request_id: UUID, experts: Sequence[UUID], **extra: Any) -> None:
    """``community.request_routed``: the experts just asked (and how, in ``extra``)."""
    payload = {
        "request_id": str(request_id),
        "experts_notified": len(experts),
        "expert_user_ids": [str(e) for e in experts],
        **extra,
    }
    uow.emit(
        Event(
            event_type=REQUEST_ROUTED,
            aggregate_type=REQUEST_CONTEXT,
            aggregate_id=request_id,
            payload=payload,
            created_by=AGENT,
        )
    )


def _attach(
    uow: Work,
    existing: OpenDuplicate,
    request: RequestNeeded,
    *,
    now: datetime,
    source_event_id: UUID | None,
) -> RoutingResult:
    request_id = existing.id
    _add_requester(uow, request_id, request, now=now, source_event_id=source_event_id)
    asker = request.requesting_user_id
    if asker is not None and uow.community_requests.withdraw_ask(request_id, asker, now=now):
        # Asked this question as an expert, and now asking it too (found on the local stack: an
        # innovator with "fintech" was asked "can you introduce me to a CFO at a fintech?", the
        # question he had just joined): the ask is settled as a pass and not presented again.
        uow.priorities.set_item_status(asker, ItemType.COMMUNITY_REQUEST, request_id, "expired")
        log.info(
            "an expert asked the question put to them; their ask is withdrawn",
            extra={"request_id": str(request_id)},
        )
    uow.emit(
        Event(
            event_type=REQUEST_ATTACHED,
            aggregate_type=REQUEST_CONTEXT,
            aggregate_id=request_id,
            payload={
                "existing_request_id": str(request_id),
                "new_event_id": str(source_event_id) if source_event_id else None,
                "requesting_user_id": str(request.requesting_user_id),
                "question": request.question,
            },
            created_by=AGENT,
        )
    )
    log.info("community request absorbed by an open duplicate", extra={"request_id": str(request_id)})
    return RoutingResult("attached", request_id, existing.target_user_ids)


def _add_requester(
    uow: Work,
    request_id: UUID,
    request: RequestNeeded,
    *,
    now: datetime,
    source_event_id: UUID | None,
) -> None:
    uow.community_requests.add_requester(
        request_id,
        Requester(
            user_id=request.requesting_user_id,
            requesting_agent_type=request.requesting_agent_type,
            context_id=request.context_id,
            context_type=request.context_type,
            question=request.question,
        ),
        source_event_id=source_event_id,
        now=now,
    )


def _ask(
    uow: Work,
    request_id: UUID,
    expert_id: UUID,
    *,
    request: RequestNeeded | LockedRequest,
    expires_at: datetime,
    now: datetime,
    referred_by: UUID | None = None,
) -> bool:
    """Record the ask and hand it to the expert's Account Manager (agents.md §7.5)."""
    if not uow.community_requests.add_ask(request_id, expert_id, now=now, referred_by=referred_by):
        return False
    new = request if isinstance(request, RequestNeeded) else None
    create_task(
        uow,
        task_type=REQUEST_AVAILABLE,
        agent_type=ACCOUNT_MANAGER,
        user_id=expert_id,
        scheduled_for=now,
        priority="medium",
        context_id=request_id,
        context_type=REQUEST_CONTEXT,
        context_json={
            "request_id": str(request_id),
            "question": request.question,
            "category": request.category,
            "expertise_needed": list(request.expertise_needed),
            "request_summary": new.request_summary if new else None,
            "urgency": new.urgency if new else None,
            "expires_at": expires_at,
            "credits_mentioned": EXPERT_ANSWER_CREDITS_MENTIONED,
            "referred_by_user_id": str(referred_by) if referred_by else None,
        },
        created_by=AGENT,
    )
    return True


# --- 2. The expert's reply -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyResult:
    status: str  # 'recorded' | 'already_recorded' | 'refused' | 'passed' | 'referred' | 'referral_stored'
    request_id: UUID
    response_id: UUID | None = None
    reply: str | None = None  # what the Concierge may tell the expert (refusals)
    referred_user_id: UUID | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, UUID) else v) for k, v in asdict(self).items()}


def _lock_request(uow: Work, request_id: UUID) -> LockedRequest:
    request = uow.community_requests.lock(request_id)
    if request is None:
        raise UnknownRequest(f"no community request {request_id}")
    return request


def handle_expert_reply(
    uow: Work,
    *,
    request_id: UUID,
    expert_user_id: UUID,
    text: str,
    summary: str | None = None,
    now: datetime,
) -> ReplyResult:
    """The expert's reply to a presented request: pass, a referral, or an answer."""
    reply = read_expert_reply(text)
    if isinstance(reply, Pass):
        return decline_request(uow, request_id=request_id, expert_user_id=expert_user_id, now=now)
    if isinstance(reply, Referral):
        return refer_request(
            uow, request_id=request_id, expert_user_id=expert_user_id, name=reply.name, now=now
        )
    assert isinstance(reply, Answer)
    return record_response(
        uow,
        request_id=request_id,
        expert_user_id=expert_user_id,
        summary=summary or reply.text,
        verbatim=text,
        now=now,
    )


def record_response(
    uow: Work,
    *,
    request_id: UUID,
    expert_user_id: UUID,
    summary: str,
    verbatim: str,
    now: datetime,
) -> ReplyResult:
    """Store the answer (agents.md §8.7-8): summary in ``response_text``, exact words in
    ``verbatim_answer``; count it; publish ``community.response_received``. Idempotent per expert."""
    request = _lock_request(uow, request_id)
    if not accepts_responses(request.status, request.expires_at, now):
        uow.community_requests.add_review(
            "late_response",
            request_id,
            expert_user_id,
            f"answer to a {request.status} request",
            {"summary": summary, "verbatim_answer": verbatim, "request_status": request.status},
        )
        log.info(
            "response to a finished request stored for an operator", extra={"request_id": str(request_id)}
        )
        return ReplyResult("refused", request_id, reply=REFUSED_REPLY)
    # the words stored are the words passed on: the event carries the row's text, not the raw reply
    summary = summary.strip()[:COMMUNITY_SUMMARY_MAX_CHARS]
    verbatim = verbatim.strip()[:COMMUNITY_VERBATIM_MAX_CHARS]
    recorded = uow.community_responses.add(
        request_id, expert_user_id, response_text=summary, verbatim_answer=verbatim, now=now
    )
    if not recorded.created:
        return ReplyResult("already_recorded", request_id, response_id=recorded.id)
    response_id = recorded.id
    uow.community_requests.record_reply(request_id, expert_user_id, status="answered", now=now)
    uow.community_requests.count_response(request_id)
    requester = next(iter(uow.community_requests.requesters(request_id)), None)
    uow.emit(
        Event(
            event_type=RESPONSE_RECEIVED,
            aggregate_type=RESPONSE_CONTEXT,
            aggregate_id=response_id,
            payload={
                "response_id": str(response_id),
                "request_id": str(request_id),
                "expert_user_id": str(expert_user_id),
                "response_summary": summary,
                "verbatim_answer": verbatim,
                "context_id": str(requester.context_id) if requester and requester.context_id else None,
                "context_type": requester.context_type if requester else None,
            },
            created_by=AGENT,
        )
    )
    return ReplyResult("recorded", request_id, response_id=response_id)


def decline_request(uow: Work, *, request_id: UUID, expert_user_id: UUID, now: datetime) -> ReplyResult:
    """ "pass": the expert declines, without penalty."""
    _lock_request(uow, request_id)
    uow.community_requests.record_reply(request_id, expert_user_id, status="passed", now=now)
    return ReplyResult("passed", request_id)


def refer_request(
    uow: Work, *, request_id: UUID, expert_user_id: UUID, name: str, now: datetime
) -> ReplyResult:
    """ "ask Dana Kim": route to that member when exactly one verified member has the name and
    may be asked; otherwise keep the name for an operator. Never guess."""
    request = _lock_request(uow, request_id)
    first, last = split_name(name)
    matches = uow.users.verified_by_name(first, last)
    requesters = {r.user_id for r in uow.community_requests.requesters(request_id)}
    referred = matches[0] if len(matches) == 1 else None
    uow.community_requests.record_reply(
        request_id, expert_user_id, status="referred", now=now, referral_name=name, referred_user_id=referred
    )
    usable = (
        referred is not None
        and referred != expert_user_id
        and referred not in requesters
        and accepts_responses(request.status, request.expires_at, now)
    )
    if usable:
        assert referred is not None
        if _ask(
            uow,
            request_id,
            referred,
            request=request,
            expires_at=request.expires_at,
            now=now,
            referred_by=expert_user_id,
        ):
            uow.community_requests.add_targets(request_id, [referred])
            _emit_routed(uow, request_id, [referred], referred_by_user_id=str(expert_user_id))
        return ReplyResult("referred", request_id, referred_user_id=referred)
    why = (
        "no verified member"
        if not matches
        else "several members"
        if len(matches) > 1
        else "member cannot be asked"
    )
    uow.community_requests.add_review(
        "unresolved_referral", request_id, expert_user_id, f"referral to {name!r}: {why}", {"name": name}
    )
    return ReplyResult("referral_stored", request_id)


# --- 3. Response received: route, score, pay ------------------------------------------------------


@dataclass
class ResponseOutcome:
    response_id: UUID
    routed_to: list[str] = field(default_factory=list)  # task ids created for requesters
    score: int | None = None
    scored_by: str | None = None
    credits: int = 0
    status: str = "awaiting_score"  # 'awaiting_score' | 'scored' | 'rewarded' | 'already_scored'

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, UUID) else v) for k, v in asdict(self).items()}


def handle_response_received(delivery: Delivery, uow: Work, deps: Deps) -> dict[str, Any] | None:
    """Event ``community.response_received``."""
    payload = delivery.data.get("payload") or {}
    response_id = _uuid_or_none(_field(payload, "response_id"))
    if response_id is None:
        raise PermanentError("community.response_received without a response_id")
    return process_response(uow, response_id, llm=deps.llm, now=deps.clock()).as_dict()


def process_response(uow: Work, response_id: UUID, *, llm: Llm | None, now: datetime) -> ResponseOutcome:
    response = uow.community_responses.lock(response_id)
    if response is None:
        raise PermanentError(f"no community response {response_id}")
    outcome = ResponseOutcome(response_id=response_id)
    outcome.routed_to = _route_to_requesters(uow, response, now=now)
    if response.usefulness_score is not None:
        outcome.status, outcome.score = "already_scored", response.usefulness_score
        return outcome
    score = None
    if llm is not None:
        score = llm_score(
            llm,
            question=response.question,
            answer=response.verbatim_answer or response.response_text,
            expert_user_id=response.user_id,
            response_id=response_id,
        )
    if score is None:
        log.warning(
            "community response left for an operator to score (no model score)",
            extra={"response_id": str(response_id), "llm_configured": llm is not None},
        )
        return outcome
    return _apply_score(
        uow, response, score.usefulness, score.impact_description, scored_by="llm", now=now, outcome=outcome
    )


def score_response(
    uow: Work,
    response_id: UUID,
    *,
    score: int,
    operator: str,
    impact: str | None = None,
    now: datetime,
) -> ResponseOutcome:
    """An operator scores an answer the model did not (ops ``community score``)."""
    response = uow.community_responses.lock(response_id)
    if response is None:
        raise UnknownRequest(f"no community response {response_id}")
    if response.usefulness_score is not None:
        raise AlreadyScored(
            f"response {response_id} was scored {response.usefulness_score} by {response.scored_by}"
        )
    return _apply_score(
        uow,
        response,
        score,
        impact or default_impact(score),
        scored_by=f"operator:{operator}",
        now=now,
        outcome=ResponseOutcome(response_id=response_id),
    )


def _route_to_requesters(uow: Work, response: LockedResponse, *, now: datetime) -> list[str]:
    """agents.md §8.9: by the requesting agent; each requester of a merged request is told."""
    created: list[str] = []
    response_id = response.id
    for requester in uow.community_requests.requesters(response.request_id):
        user_id = requester.user_id
        context = {
            "response_id": str(response_id),
            "request_id": str(response.request_id),
            "question": requester.question,
            "response_summary": response.response_text,
            "verbatim_answer": response.verbatim_answer,
            "expert_first_name": response.expert_first_name,
        }
        if requester.requesting_agent_type == SOLUTION_SAGA:
            task_id = create_task(
                uow,
                task_type=PROCESS_RESPONSE,
                agent_type=SOLUTION_SAGA,
                user_id=user_id,
                scheduled_for=now,
                priority="medium",
                context_id=requester.context_id,
                context_type=requester.context_type or "solution_workflow",
                context_json=context,
                dedupe_key=f"{PROCESS_RESPONSE}:{response_id}:{user_id}",
                created_by=AGENT,
            )
        else:
            task_id = create_task(
                uow,
                task_type=RESPONSE_AVAILABLE,
                agent_type=ACCOUNT_MANAGER,
                user_id=user_id,
                scheduled_for=now,
                priority="high",
                context_id=response_id,
                context_type=RESPONSE_CONTEXT,
                context_json=context,
                dedupe_key=f"{RESPONSE_AVAILABLE}:{response_id}:{user_id}",
                created_by=AGENT,
            )
        if task_id is not None:
            created.append(str(task_id))
    return created


def _apply_score(
    uow: Work,
    response: LockedResponse,
    score: int,
    impact: str,
    *,
    scored_by: str,
    now: datetime,
    outcome: ResponseOutcome,
) -> ResponseOutcome:
    response_id = response.id
    expert_id = response.user_id
    amount = credit_rules.expert_answer_credits(score)  # validates 1-10
    uow.community_responses.score(response_id, score=score, impact=impact, scored_by=scored_by, now=now)
    outcome.score, outcome.scored_by, outcome.status = score, scored_by, "scored"
    if amount > 0:
        entry = credits.award(
            uow,
            user_id=expert_id,
            amount=amount,
            event_type=credit_rules.COMMUNITY_RESPONSE,
            reference_type=RESPONSE_CONTEXT,
            reference_id=response_id,
            idempotency_key=credit_rules.community_response_key(response_id),
            description=f"Answer scored {score}/10",
            recorded_by=scored_by,
        )
        uow.community_responses.reward(response_id, credits=entry.amount, now=now)
        outcome.credits, outcome.status = entry.amount, "rewarded"
    create_task(
        uow,
        task_type=NOTIFY_IMPACT,
        agent_type=ACCOUNT_MANAGER,
        user_id=expert_id,
        scheduled_for=now + EXPERT_IMPACT_NOTICE_DELAY,
        priority="low",
        context_id=response_id,
        context_type=RESPONSE_CONTEXT,
        context_json={
            "response_id": str(response_id),
            "request_id": str(response.request_id),
            "question": response.question,
            "impact_description": impact,
            "credits_awarded": outcome.credits,
            "usefulness_score": score,
        },
        created_by=AGENT,
    )
    log.info(
        "community response scored",
        extra={
            "response_id": str(response_id),
            "score": score,
            "scored_by": scored_by,
            "credits": outcome.credits,
        },
    )
    return outcome


# --- 4. Closure and cancellation ---------------------------------------------------------------


@dataclass(frozen=True)
class ClosureReport:
    examined: int
    closed: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"examined": self.examined, "closed": self.closed}


def close_due_requests(uow: Work, *, now: datetime, limit: int = COMMUNITY_CLOSURE_BATCH) -> ClosureReport:
    """agents.md §8.14: expired requests, and those every asked expert has answered."""
    due = uow.community_requests.due_for_closure(statuses=OPEN_STATUSES, now=now, limit=limit)
    closed: dict[str, int] = {}
    for request in due:
        reason = closure_reason(
            status=request.status,
            expires_at=request.expires_at,
            now=now,
            ask_statuses=list(request.ask_statuses),
            responses_count=request.responses_count,
        )
        if reason is None:
            continue
        _finish(uow, request.id, status="closed", reason=reason, now=now)
        closed[reason.value] = closed.get(reason.value, 0) + 1
    if closed:
        log.info("community requests closed", extra={"closed": closed})
    return ClosureReport(examined=len(due), closed=closed)


def run_closure(uow_factory: UowFactory, *, now: datetime) -> ClosureReport:
    """The hourly job's use case: one batch in its own unit of work."""
    with uow_factory() as uow:
        report = close_due_requests(uow, now=now)
        uow.commit()
    return report


@dataclass(frozen=True)
class LateRoutingReport:
    examined: int  # open requests that had asked no expert
    routed: int  # of them, routed now
    experts: int  # experts asked

    def as_dict(self) -> dict[str, Any]:
        return {"examined": self.examined, "routed": self.routed, "experts": self.experts}


def route_waiting_requests(
    uow: Work, *, now: datetime, limit: int = COMMUNITY_CLOSURE_BATCH
) -> LateRoutingReport:
    """Route again the open requests that asked no expert: every match was in their quiet hours or
    already asked that day when the request came (decisions B18: such an expert is asked later,
    never skipped for good), or nobody matched then and a member who does has joined since
    (agents.md §7.3: "for future fulfilment"). The same matching and selection as a new request."""
    waiting = uow.community_requests.waiting_for_experts(statuses=OPEN_STATUSES, now=now, limit=limit)
    routed = experts = 0
    for request in waiting:
        requester_ids = [r.user_id for r in uow.community_requests.requesters(request.id)]
        if request.requesting_user_id is not None:
            requester_ids.append(request.requesting_user_id)
        candidates = match_experts(
            uow, request.expertise_needed, exclude=requester_ids, now=now, question=request.question
        )
        selection = select_experts(candidates, requester_ids=requester_ids, now=now)
        asked = [
            expert_id
            for expert_id in selection.chosen
            if _ask(uow, request.id, expert_id, request=request, expires_at=request.expires_at, now=now)
        ]
        if not asked:
            continue
        uow.community_requests.add_targets(request.id, asked)
        _emit_routed(uow, request.id, asked, routed_late=True)
        routed += 1
        experts += len(asked)
    if routed:
        log.info("community requests routed late", extra={"requests": routed, "experts": experts})
    return LateRoutingReport(examined=len(waiting), routed=routed, experts=experts)


def run_late_routing(uow_factory: UowFactory, *, now: datetime) -> LateRoutingReport:
    """The hourly job's second use case: one batch in its own unit of work."""
    with uow_factory() as uow:
        report = route_waiting_requests(uow, now=now)
        uow.commit()
    return report


def cancel_request(
    uow: Work,
    *,
    request_id: UUID,
    user_id: UUID,
    now: datetime,
    requesting_agent_type: str | None = None,
) -> str:
    """The member withdraws their question (the Concierge's tool: through every agent they asked
    by; the Solution Saga: only its own place). The request is cancelled when no requester is
    left; 'withdrawn' when others (or the member through another agent) still wait for it."""
    request = _lock_request(uow, request_id)
    if not uow.community_requests.cancel_requester(
        request_id, user_id, now=now, requesting_agent_type=requesting_agent_type
    ):
        raise NotARequester(f"member {user_id} is not waiting on request {request_id}")
    if request.status not in OPEN_STATUSES:
        return request.status
    if uow.community_requests.requesters(request_id):
        return "withdrawn"
    _finish(uow, request_id, status="cancelled", reason=ClosedReason.MANUAL, now=now)
    return "cancelled"


def _finish(uow: Work, request_id: UUID, *, status: str, reason: ClosedReason, now: datetime) -> None:
    responses_count = uow.community_requests.finish(request_id, status=status, now=now, message=THANK_YOU)
    uow.community_responses.close_for_request(request_id, now=now)
    uow.priorities.expire_for_community_request(request_id)
    uow.tasks.cancel_pending_for_context(
        request_id, task_types=[REQUEST_AVAILABLE], reason=f"request {status}: {reason.value}"
    )
    uow.emit(
        Event(
            event_type=REQUEST_CLOSED,
            aggregate_type=REQUEST_CONTEXT,
            aggregate_id=request_id,
            payload={
                "request_id": str(request_id),
                "total_responses": responses_count,
                "closed_reason": reason.value,
                "closed_at": now.isoformat(),
                "status": status,
            },
            created_by=AGENT,
        )
    )
