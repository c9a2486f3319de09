"""The Solution Saga (agents.md §9, decisions A11; issue 11): vendor research as a state machine.

All state is on the ``solution_workflows`` row (``uow.solution_workflows``); each trigger locks
the row, runs one step and writes it back in the consumer's unit of work, with its queued
messages, tasks and events:

1. ``user.inquiry.solution_needed`` -> ``start_workflow``: the row is created
   (``initial_research``; one per triggering event, so a redelivered or republished trigger
   starts nothing twice). Research: Anthropic's web search server tool (when a model is
   configured and ``SOLUTION_WEB_SEARCH`` is on) and a search of ``innovators`` by category.
2. ``evaluate_initial`` (decision point 1, or the offline brain): with value, the grounded
   findings are queued for the member's point of contact (``solution.initial_findings``);
   always a community request through the Community service (``community.route_request``,
   context = the workflow); a ``solution_workflow_timeout`` task at +24 h; an innovator match
   publishes ``solution.demand_signal``. Step ``awaiting_expert_responses``.
3. ``process_community_response`` task (the Community service creates one per answer for a
   request the saga asked) -> ``process_expert_response`` (decision point 2). At 2 answers:
4. ``final_evaluation``, or the ``solution_workflow_timeout`` task after 24 h: the grounded
   recommendations are queued (``solution.research_complete``), the event of that name is
   published (the Account Manager ranks it), the workflow is ``completed`` and its pending
   tasks are cancelled. The row lock makes a timeout racing a last answer end in exactly one
   final evaluation.

``conversation_log`` records every decision (step, decision, reasoning, timestamp, by whom).
``cancel_workflows`` cancels a member's workflow and its pending tasks; ``allowed_sources`` gives
the vendor names and URLs a message about research may carry (the grounding rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.queue_messages import queue_message
from shared.adapters.repositories.solution_workflows import Workflow
from shared.adapters.tasks import create_task
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.solution_saga import decisions, fallback
from shared.agents.solution_saga.grounding import (
    Sources,
    final_message,
    ground,
    initial_message,
    sources_of,
    stored_sources,
    unsendable,
)
from shared.config import get_settings
from shared.domain.community import expertise_terms, normalize_expertise
from shared.domain.constants import (
    CONCIERGE_TEXT_MAX_CHARS,
    SAGA_EXPERT_TIMEOUT,
    SAGA_FOLLOW_UP_ANSWER_WINDOW,
    SAGA_INNOVATOR_MATCHES,
    SAGA_INNOVATOR_MIN_SHARE,
    SAGA_MIN_EXPERT_RESPONSES,
    SAGA_REQUEST_MAX_CHARS,
    SAGA_WEB_RESULTS_KEPT,
    SAGA_WEB_SEARCH_MAX_USES,
)
from shared.domain.events import SOLUTION_RESEARCH_CANCELLED, SOLUTION_RESEARCH_NEEDED, Event
from shared.logs import get_logger
from shared.routing import resolve_poc
from shared.service_layer import community
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps

log = get_logger(__name__)

AGENT = "solution_saga"
CONTEXT_TYPE = decisions.CONTEXT_TYPE

# Triggers
SOLUTION_NEEDED = SOLUTION_RESEARCH_NEEDED
SOLUTION_CANCELLED = SOLUTION_RESEARCH_CANCELLED
TIMEOUT_TASK = "solution_workflow_timeout"
PROCESS_RESPONSE = community.PROCESS_RESPONSE

# What it produces (agents.md §9, §17)
INITIAL_FINDINGS = "solution.initial_findings"  # message_queue message_data.kind
RESEARCH_COMPLETE = "solution.research_complete"  # event (the Account Manager) and message kind
EXPERT_UPDATE = "solution.expert_update"  # message kind: an answer worth telling before the final
EXPERT_FOLLOW_UP = "solution.expert_follow_up"  # message kind: decision point 2's question to the expert
DEMAND_SIGNAL = "solution.demand_signal"  # event

# Steps and statuses (the CHECK on solution_workflows.current_step)
INITIAL_RESEARCH = "initial_research"
EVALUATE_INITIAL = "evaluate_initial"
AWAITING = "awaiting_expert_responses"
FINAL_EVALUATION = "final_evaluation"
COMPLETE = "complete"
CANCELLED = "cancelled"
IN_PROGRESS = "in_progress"

EXPERT_RESPONSE = "expert_response"  # completed_tasks entry type
COMMUNITY_ASK = "Which vendors or tools have you used for this, and would you recommend them?"


# --- Triggers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SolutionNeeded:
    user_id: UUID
    request_description: str
    category: str | None
    urgency: str
    conversation_id: UUID | None
    requesting_agent_type: str


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def parse_solution_needed(payload: Any) -> SolutionNeeded:
    """``user.inquiry.solution_needed`` as ``SolutionResearchNeeded`` publishes it; anything else
    is a permanent error naming what is wrong."""
    if not isinstance(payload, Mapping):
        raise PermanentError(f"{SOLUTION_NEEDED} payload is not an object")
    user_id = _uuid(payload.get("user_id") or payload.get("userId"))
    raw = payload.get("request_description") or payload.get("requestDescription")
    if user_id is None:
        raise PermanentError(f"{SOLUTION_NEEDED} needs a user_id (UUID)")
    if not isinstance(raw, str) or not raw.strip():
        raise PermanentError(f"{SOLUTION_NEEDED} needs a request_description (text)")
    if len(raw) > SAGA_REQUEST_MAX_CHARS:
        raise PermanentError(f"request_description is longer than {SAGA_REQUEST_MAX_CHARS} characters")
    category = payload.get("category")
    category = (category.strip().lower()[:100] or None) if isinstance(category, str) else None
    urgency = payload.get("urgency")
    return SolutionNeeded(
        user_id=user_id,
        request_description=" ".join(raw.split()),
        category=category,
        urgency=urgency if urgency in ("low", "medium", "high") else "medium",
        conversation_id=_uuid(payload.get("conversation_id")),
        requesting_agent_type=str(payload.get("requesting_agent_type") or "concierge"),
    )


@dataclass(frozen=True)
class StepResult:
    status: str  # 'awaiting_expert_responses' | 'completed' | 'duplicate' | 'ignored' | 'waiting'
    workflow_id: UUID
    step: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, UUID) else v for k, v in asdict(self).items()}


def handle_solution_needed(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """Event ``user.inquiry.solution_needed``."""
    request = parse_solution_needed(delivery.data.get("payload") or {})
    return start_workflow(uow, request, deps=deps, source_event_id=delivery.id).as_dict()


def handle_solution_cancelled(
    delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps
) -> dict[str, Any] | None:
    """Event ``user.inquiry.solution_cancelled``: the member no longer needs the research."""
    payload = delivery.data.get("payload") or {}
    if not isinstance(payload, Mapping):
        raise PermanentError(f"{SOLUTION_CANCELLED} payload is not an object")
    user_id = _uuid(payload.get("user_id"))
    if user_id is None:
        raise PermanentError(f"{SOLUTION_CANCELLED} needs a user_id (UUID)")
    about = payload.get("about") if isinstance(payload.get("about"), str) else None
    workflow_id = _uuid(payload.get("workflow_id"))
    raw_ids = payload.get("community_request_ids") or []
    request_ids = [_uuid(i) for i in raw_ids] if isinstance(raw_ids, list) else [None]
    if any(i is None for i in request_ids):
        raise PermanentError(f"{SOLUTION_CANCELLED}: community_request_ids must be a list of UUIDs")
    now = deps.clock()
    cancelled: list[UUID] = []
    if request_ids:  # the member cancelled these community requests: the research waiting on them too
        ids = [i for i in request_ids if i is not None]
        cancelled += cancel_workflows(uow, user_id=user_id, now=now, request_ids=ids)
    if about or workflow_id or not request_ids:
        cancelled += cancel_workflows(uow, user_id=user_id, now=now, workflow_id=workflow_id, about=about)
    return {"cancelled": [str(c) for c in cancelled]}


def _workflow_id(delivery: Delivery) -> UUID:
    context = delivery.data.get("context_json") or {}
    if not isinstance(context, dict):
        raise PermanentError(f"{delivery.type}: context_json is not an object")
    workflow_id = _uuid(delivery.data.get("context_id")) or _uuid(context.get("workflow_id"))
    if workflow_id is None:
        raise PermanentError(f"{delivery.type} names no solution workflow (context_id)")
    return workflow_id


def handle_response_task(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """Task ``process_community_response``: an expert answered the workflow's community request."""
    context = delivery.data.get("context_json") or {}
    workflow_id = _workflow_id(delivery)
    response_id = _uuid(context.get("response_id"))
    if response_id is None:
        raise PermanentError(f"{PROCESS_RESPONSE} without a response_id")
    answer = context.get("verbatim_answer") or context.get("response_summary")
    if not isinstance(answer, str) or not answer.strip():
        raise PermanentError(f"{PROCESS_RESPONSE} {response_id} carries no answer text")
    return process_expert_response(
        uow,
        workflow_id,
        response_id=response_id,
        summary=str(context.get("response_summary") or answer),
        verbatim=answer,
        expert_first_name=context.get("expert_first_name")
        if isinstance(context.get("expert_first_name"), str)
        else None,
        deps=deps,
    ).as_dict()


def handle_timeout_task(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """Task ``solution_workflow_timeout``: 24 h after the community request."""
    return expert_responses_timeout(uow, _workflow_id(delivery), deps=deps).as_dict()


# --- Helpers -------------------------------------------------------------------------------------


def web_search_enabled() -> bool:
    return bool(get_settings().solution_web_search)


def _log(
    w: Workflow, step: str, decision: Any, reasoning: str, *, by: str, now: datetime, **extra: Any
) -> None:
    w.conversation_log.append(
        {
            "step": step,
            "decision": decision,
            "reasoning": reasoning,
            "by": by,
            "timestamp": now.isoformat(),
            **extra,
        }
    )
    w.last_decision_at = now


def _sources(w: Workflow) -> Sources:
    return sources_of(w.web_results, w.matched_innovators, w.community_insights)


def _poc_agent(uow: PostgresUnitOfWork, user_id: UUID) -> str:
    user = uow.users.get(user_id)
    if user is None:
        raise PermanentError(f"no member {user_id}")
    return resolve_poc(user.verified, user.poc_agent_type)


def _sendable(text: str, sources: Sources, w: Workflow, step: str, now: datetime) -> bool:
    problems = unsendable(text, sources, w.request_description)
    if problems:
        _log(
            w, step, {"unsendable": problems}, "composed message failed the reply guards", by="guard", now=now
        )
        log.warning(
            "saga message refused by the grounding guard",
            extra={"workflow_id": str(w.id), "problems": problems},
        )
    return not problems


def _queue(
    uow: PostgresUnitOfWork,
    w: Workflow,
    *,
    kind: str,
    text: str,
    data: dict[str, Any],
    priority: str,
    now: datetime,
) -> list[str]:
    queued = queue_message(
        uow,
        user_id=w.user_id,
        agent_id=_poc_agent(uow, w.user_id),
        now=now,
        parts=[text],
        message_data={"kind": kind, "workflow_id": str(w.id), **data},
        priority=priority,
        conversation_id=w.conversation_id,
    )
    return [str(i) for i in queued.ids]


def _compose_grounded(  # noqa: PLR0917
    w: Workflow, options: list[dict[str, Any]], sources: Sources, compose: Any, step: str, now: datetime
) -> tuple[str | None, list[dict[str, Any]]]:
    """The message with the options' reasons; without them if a reason names something unsourced;
    None when even that fails the guards."""
    for attempt in (options, [{**o, "reason": ""} for o in options]):
        text = compose(attempt)
        if _sendable(text, sources, w, step, now):
            return text, attempt
    return None, []


# --- 1-2. Start: research, evaluate, ask the community ---------------------------------------------


def start_workflow(
    uow: PostgresUnitOfWork, request: SolutionNeeded, *, deps: Deps, source_event_id: UUID | None
) -> StepResult:
    now = deps.clock()
    if uow.users.get(request.user_id) is None:
        raise PermanentError(f"no member {request.user_id}")
    if source_event_id is not None and (existing := uow.solution_workflows.by_event(source_event_id)):
        return StepResult("duplicate", existing.id, existing.current_step)
    workflow_id = uow.solution_workflows.add(
        user_id=request.user_id,
        conversation_id=request.conversation_id,
        request_description=request.request_description,
        category=request.category,
        urgency=request.urgency,
        source_event_id=source_event_id,
        now=now,
    )
    if workflow_id is None:  # a concurrent copy of the trigger made it first
        assert source_event_id is not None
        existing = uow.solution_workflows.by_event(source_event_id)
        assert existing is not None
        return StepResult("duplicate", existing.id, existing.current_step)
    w = uow.solution_workflows.lock(workflow_id)
    assert w is not None
    initial_research(uow, w, deps=deps, now=now)
    evaluate_initial(uow, w, deps=deps, now=now)
    uow.solution_workflows.save(w)
    log.info(
        "solution workflow started",
        extra={
            "workflow_id": str(w.id),
            "web": w.web_research_status,
            "web_results": len(w.web_results),
            "innovators": len(w.matched_innovators),
            "community_request_id": str(w.community_request_id),
        },
    )
    return StepResult(w.current_step, w.id, w.current_step)


def initial_research(uow: PostgresUnitOfWork, w: Workflow, *, deps: Deps, now: datetime) -> None:
    """Step 1: web research (when allowed) and the innovators table, stored with their sources."""
    llm = deps.llm
    terms = expertise_terms(f"{w.category or ''} {w.request_description}")
    categories = [c for c in [w.category, *terms] if c]
    found = uow.solution_workflows.match_innovators(
        user_id=w.user_id, categories=categories, terms=terms, limit=SAGA_INNOVATOR_MATCHES
    )
    best = max((i.relevance for i in found), default=0)
    innovators = [i for i in found if i.relevance >= SAGA_INNOVATOR_MIN_SHARE * best]
    w.matched_innovators = [
        {
            "innovator_id": str(i.id),
            "user_id": str(i.user_id),
            "company_name": i.company_name,
            "solution_name": i.solution_name,
            "solution_description": i.solution_description,
            "categories": list(i.categories),
        }
        for i in innovators
    ]
    if llm is None or not web_search_enabled():
        w.web_research_status = "off"
    else:
        research = decisions.web_research(
            llm,
            need=w.request_description,
            category=w.category,
            user_id=w.user_id,
            workflow_id=w.id,
            max_uses=SAGA_WEB_SEARCH_MAX_USES,
        )
        if research is None:
            w.web_research_status = "unavailable"
        else:
            cited: dict[str, list[str]] = {}
            for c in research.citations:
                cited.setdefault(c.url, []).append(c.cited_text)
            kept: dict[str, dict[str, Any]] = {}
            for r in research.results:
                if r.url not in kept and len(kept) < SAGA_WEB_RESULTS_KEPT:
                    kept[r.url] = {
                        "url": r.url,
                        "title": r.title,
                        "page_age": r.page_age,
                        "query": r.query,
                        "cited": cited.get(r.url, []),
                    }
            w.web_results = list(kept.values())
            if w.web_results:
                w.web_research_status = "searched"
            else:
                w.web_research_status = "unavailable" if research.errors else "no_results"
            if research.errors:
                log.warning(
                    "web search returned errors", extra={"workflow_id": str(w.id), "errors": research.errors}
                )
    _log(
        w,
        INITIAL_RESEARCH,
        {
            "web": w.web_research_status,
            "web_results": len(w.web_results),
            "innovators": len(w.matched_innovators),
        },
        "research stored with its sources",
        by="system",
        now=now,
    )
    w.current_step = EVALUATE_INITIAL


def evaluate_initial(uow: PostgresUnitOfWork, w: Workflow, *, deps: Deps, now: datetime) -> None:
    """Step 2 (decision point 1): share grounded findings if any; always ask the community;
    wait for answers with a timeout task; signal demand when an innovator matched."""
    llm = deps.llm
    sources = _sources(w)
    raw = None
    if llm is not None:
        model = decisions.evaluate_initial(
            llm,
            need=w.request_description,
            sources=_sources_for_model(w),
            user_id=w.user_id,
            workflow_id=w.id,
        )
        raw = model.model_dump(mode="json", by_alias=True) if model is not None else None
    by = "llm" if raw is not None else "fallback"
    if raw is None:
        raw = fallback.initial_evaluation(w.matched_innovators)
    findings = raw.get("findings") or {}
    grounded = ground(findings.get("options") or [], sources)
    has_value = bool(raw.get("hasValueToShare")) and bool(grounded.kept)
    _log(
        w,
        EVALUATE_INITIAL,
        {
            **raw,
            "grounded_options": grounded.kept,
            "dropped_unsourced": grounded.dropped,
            "shared": has_value,
        },
        str(raw.get("reasoning") or ""),
        by=by,
        now=now,
    )
    queued: list[str] = []
    shared_options: list[dict[str, Any]] = []
    if has_value:
        question = findings.get("narrowingQuestion")
        text, shared_options = _compose_grounded(
            w,
            grounded.kept,
            sources,
            lambda opts: initial_message(w.request_description, opts, sources, question),
            EVALUATE_INITIAL,
            now,
        )
        if text is not None:
            queued = _queue(
                uow,
                w,
                kind=INITIAL_FINDINGS,
                text=text,
                data={"findings": {**findings, "options": shared_options}, "web_searched": sources.web},
                priority="medium",
                now=now,
            )
    w.initial_findings = {
        "has_value_to_share": bool(queued),
        "options": shared_options,
        "summary": findings.get("summary"),
        "queued_message_ids": queued,
    }
    w.quality_threshold_met = bool(queued)
    _ask_community(uow, w, now=now)
    _schedule_timeout(uow, w, now=now)
    if w.matched_innovators:
        uow.emit(
            Event(
                event_type=DEMAND_SIGNAL,
                aggregate_type=CONTEXT_TYPE,
                aggregate_id=w.id,
                payload={
                    "workflow_id": str(w.id),
                    "user_id": str(w.user_id),
                    "category": w.category,
                    "request_description": w.request_description,
                    "innovators": [
                        {k: i[k] for k in ("innovator_id", "user_id", "company_name")}
                        for i in w.matched_innovators
                    ],
                },
                created_by=AGENT,
            )
        )
    w.current_step = AWAITING
    w.next_action = f"wait for {SAGA_MIN_EXPERT_RESPONSES} expert answers or the timeout"


def _sources_for_model(w: Workflow) -> dict[str, Any]:
    return {
        "web_search": w.web_research_status,
        "web_results": [{k: r.get(k) for k in ("url", "title", "cited")} for r in w.web_results],
        "innovators_in_our_network": [
            {k: i.get(k) for k in ("company_name", "solution_name", "solution_description", "categories")}
            for i in w.matched_innovators
        ],
        "expert_answers": [
            {
                "expert": e.get("expert_first_name"),
                "answer": e.get("verbatim") or e.get("summary"),
                **_follow_up_answer(e),
            }
            for e in w.community_insights
        ],
    }


def _follow_up_answer(insight: Mapping[str, Any]) -> dict[str, Any]:
    """The expert's answer to the follow-up question they were asked, when they gave one."""
    follow_up = insight.get("follow_up")
    if not isinstance(follow_up, Mapping) or not follow_up.get("answer"):
        return {}
    return {"follow_up": {"question": follow_up.get("question"), "answer": follow_up["answer"]}}


def _ask_community(uow: PostgresUnitOfWork, w: Workflow, *, now: datetime) -> None:
    if w.community_request_id is not None:
        return
    expertise = normalize_expertise([c for c in [w.category, *expertise_terms(w.request_description)] if c])
    routed = community.route_request(
        uow,
        community.RequestNeeded(
            requesting_agent_type=AGENT,
            requesting_user_id=w.user_id,
            question=f"{w.request_description} {COMMUNITY_ASK}",
            category=w.category,
            expertise_needed=expertise,
            context_id=w.id,
            context_type=CONTEXT_TYPE,
            desired_outcome="quick_thoughts",
            urgency=w.urgency,
            request_summary=w.request_description[:100],
        ),
        now=now,
        source_event_id=w.source_event_id,
    )
    w.community_request_id = routed.request_id
    w.pending_tasks.append(
        {
            "type": "community_request",
            "id": str(routed.request_id),
            "min_responses": SAGA_MIN_EXPERT_RESPONSES,
            "routing": routed.status,
            "experts": len(routed.expert_ids),
            "created_at": now.isoformat(),
        }
    )
    if routed.status == "attached":
        log.info(
            "saga's question joined an open community request",
            extra={"workflow_id": str(w.id), "request_id": str(routed.request_id)},
        )


def _schedule_timeout(uow: PostgresUnitOfWork, w: Workflow, *, now: datetime) -> None:
    if any(t.get("type") == TIMEOUT_TASK for t in w.pending_tasks):
        return
    due = now + SAGA_EXPERT_TIMEOUT
    task_id = create_task(
        uow,
        task_type=TIMEOUT_TASK,
        agent_type=AGENT,
        user_id=w.user_id,
        scheduled_for=due,
        priority="medium",
        context_id=w.id,
        context_type=CONTEXT_TYPE,
        context_json={"workflow_id": str(w.id)},
        dedupe_key=f"{TIMEOUT_TASK}:{w.id}",
        created_by=AGENT,
    )
    w.pending_tasks.append(
        {
            "type": TIMEOUT_TASK,
            "id": str(task_id) if task_id else None,
            "due_at": due.isoformat(),
            "created_at": now.isoformat(),
        }
    )


# --- 3. An expert answered -----------------------------------------------------------------------


def _answers_recorded(w: Workflow) -> set[str]:
    return {str(e.get("response_id")) for e in w.community_insights}


def process_expert_response(
    uow: PostgresUnitOfWork,
    workflow_id: UUID,
    *,
    response_id: UUID,
    summary: str,
    verbatim: str,
    expert_first_name: str | None,
    deps: Deps,
) -> StepResult:
    now = deps.clock()
    w = uow.solution_workflows.lock(workflow_id)
    if w is None:
        raise PermanentError(f"no solution workflow {workflow_id}")
    if w.status != IN_PROGRESS or w.current_step != AWAITING:
        return StepResult("ignored", w.id, w.current_step, f"workflow is {w.status} at {w.current_step}")
    if str(response_id) in _answers_recorded(w):
        return StepResult("duplicate", w.id, w.current_step)
    insight = {
        "response_id": str(response_id),
        "expert_first_name": expert_first_name,
        "summary": summary,
        "verbatim": verbatim,
    }
    sources = sources_of(w.web_results, w.matched_innovators, [*w.community_insights, insight])
    raw = None
    if deps.llm is not None:
        model = decisions.process_expert_response(
            deps.llm,
            need=w.request_description,
            answer=verbatim,
            expert_first_name=expert_first_name,
            sources=_sources_for_model(w),
            user_id=w.user_id,
            workflow_id=w.id,
        )
        raw = model.model_dump(mode="json", by_alias=True) if model is not None else None
    by = "llm" if raw is not None else "fallback"
    if raw is None:
        raw = fallback.expert_assessment(verbatim, sources)
    vendors = [v for v in raw.get("mentionedVendors") or [] if sources.backs_name(v)]
    _log(
        w,
        PROCESS_EXPERT_RESPONSE_STEP,
        {**raw, "grounded_vendors": vendors},
        str(raw.get("reasoning") or ""),
        by=by,
        now=now,
        response_id=str(response_id),
    )
    w.community_insights.append(
        {
            **insight,
            "added_value": raw.get("addedValue"),
            "has_contact_intro": raw.get("hasContactIntro"),
            "contact_info": raw.get("contactInfo"),
        }
    )
    w.expert_recommendations.extend({"name": v, "response_id": str(response_id)} for v in vendors)
    w.completed_tasks.append(
        {
            "type": EXPERT_RESPONSE,
            "response_id": str(response_id),
            "completed_at": now.isoformat(),
            "assessment": raw,
        }
    )
    answered = sum(1 for t in w.completed_tasks if t.get("type") == EXPERT_RESPONSE)
    question = raw.get("followUpQuestion")
    if raw.get("needsFollowUp") and isinstance(question, str) and question.strip():
        w.next_action = f"follow up with {expert_first_name or 'the expert'}: {question.strip()}"
        if answered < SAGA_MIN_EXPERT_RESPONSES:
            w.community_insights[-1]["follow_up"] = _ask_follow_up(
                uow, w, response_id, question.strip(), sources, now=now
            )
    if answered < SAGA_MIN_EXPERT_RESPONSES and raw.get("shouldUpdateUser") and raw.get("addedValue"):
        _expert_update(uow, w, expert_first_name, summary, sources, now=now)
    if answered >= SAGA_MIN_EXPERT_RESPONSES:
        final_evaluation(uow, w, deps=deps, now=now, timed_out=False)
        uow.solution_workflows.save(w)
        return StepResult("completed", w.id, w.current_step, f"{answered} expert answers")
    uow.solution_workflows.save(w)
    return StepResult(
        "waiting", w.id, w.current_step, f"{answered} of {SAGA_MIN_EXPERT_RESPONSES} expert answers"
    )


PROCESS_EXPERT_RESPONSE_STEP = "process_expert_response"


def _ask_follow_up(
    uow: PostgresUnitOfWork, w: Workflow, response_id: UUID, question: str, sources: Sources, *, now: datetime
) -> dict[str, Any]:
    """Decision point 2's exact follow-up question goes to the expert who answered, through the
    queue for the expert's point of contact (a proactive message). Once: the answer it follows is
    recorded on the workflow in the same unit of work, so a redelivered task is a ``duplicate``."""
    follow_up: dict[str, Any] = {"question": question, "queued_message_ids": []}
    response = uow.community_responses.lock(response_id)
    if response is None:
        follow_up["not_sent"] = "the answer is not on record"
    else:
        follow_up["expert_user_id"] = str(response.user_id)
        text = (
            f'Thanks for your answer on "{_cut(w.request_description, 100)}". '
            f"A quick follow-up from the member who asked: {question}"
        )
        if _sendable(text, sources, w, PROCESS_EXPERT_RESPONSE_STEP, now):
            queued = queue_message(
                uow,
                user_id=response.user_id,
                agent_id=_poc_agent(uow, response.user_id),
                now=now,
                parts=[text],
                message_data={
                    "kind": EXPERT_FOLLOW_UP,
                    "workflow_id": str(w.id),
                    "request_id": str(response.request_id),
                    "response_id": str(response_id),
                    "question": question,
                },
                priority="medium",
            )
            follow_up["queued_message_ids"] = [str(i) for i in queued.ids]
        else:
            follow_up["not_sent"] = "the reply guards refused it"
    _log(
        w,
        PROCESS_EXPERT_RESPONSE_STEP,
        {"follow_up": follow_up},
        "decision point 2 asked the expert a follow-up question",
        by="system",
        now=now,
        response_id=str(response_id),
    )
    return follow_up


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _expert_update(
    uow: PostgresUnitOfWork,
    w: Workflow,
    name: str | None,
    summary: str,
    sources: Sources,
    *,
    now: datetime,
    closing: str = " More answers may follow.",
    step: str = PROCESS_EXPERT_RESPONSE_STEP,
) -> list[str]:
    """Decision point 2 said the member should hear this answer now (or an expert answered a
    follow-up question after the final message): their words, grounded. The queued ids."""
    text = final_message(
        w.request_description, [], [], sources, None, timed_out=False, peers=[(name, summary)]
    )
    text += closing
    if not _sendable(text, sources, w, step, now):
        return []
    return _queue(
        uow,
        w,
        kind=EXPERT_UPDATE,
        text=text,
        data={"expert_first_name": name},
        priority="medium",
        now=now,
    )


# --- 3b. The expert answered a follow-up question ----------------------------------------------------

FOLLOW_UP_ANSWER_STEP = "follow_up_answer"
FOLLOW_UP_LATE = " That is their answer to a follow-up question I asked them after my last message."


class FollowUpRefused(Exception):
    """The answer cannot be recorded: no follow-up on this workflow was asked of (and sent to) this
    member, the workflow is closed or too old, or the question already has another answer."""


@dataclass(frozen=True)
class FollowUpAnswered:
    status: str  # 'recorded' | 'already_recorded'
    workflow_id: UUID
    workflow_status: str
    update_queued: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, UUID) else v for k, v in asdict(self).items()}


def _follow_up_of(w: Workflow, expert_user_id: UUID) -> dict[str, Any] | None:
    """The answer's insight whose follow-up question was asked of this expert (one answer per
    expert and request, so at most one)."""
    for insight in w.community_insights:
        follow_up = insight.get("follow_up")
        if isinstance(follow_up, dict) and follow_up.get("expert_user_id") == str(expert_user_id):
            return insight
    return None


def record_follow_up_answer(
    uow: PostgresUnitOfWork, workflow_id: UUID, *, expert_user_id: UUID, answer: str, now: datetime
) -> FollowUpAnswered:
    """The expert's answer to decision point 2's follow-up question (the Concierge's
    ``record_follow_up_answer``), in the caller's unit of work. Stored on the same insight's
    ``follow_up`` (``answer``, ``answered_at``) and logged (``by: member``); a workflow still waiting
    reads it in its final evaluation, a completed one sends the member one update. Once: a repeat
    with the same answer is ``already_recorded`` and writes nothing."""
    answer = " ".join(answer.split())
    if not answer or len(answer) > CONCIERGE_TEXT_MAX_CHARS:
        raise FollowUpRefused(f"an answer is 1 to {CONCIERGE_TEXT_MAX_CHARS} characters")
    w = uow.solution_workflows.lock(workflow_id)
    insight = _follow_up_of(w, expert_user_id) if w is not None else None
    if w is None or insight is None:
        raise FollowUpRefused("no follow-up question on that research was asked of this member")
    follow_up = insight["follow_up"]
    if "answer" in follow_up:
        if follow_up["answer"] == answer:
            return FollowUpAnswered("already_recorded", w.id, w.status)
        raise FollowUpRefused("that follow-up question is already answered")
    since = now - SAGA_FOLLOW_UP_ANSWER_WINDOW
    if not uow.solution_workflows.open_follow_ups(expert_user_id, since=since, workflow_id=w.id):
        raise FollowUpRefused("that follow-up question was never sent, or the research is closed")
    follow_up["answer"] = answer
    follow_up["answered_at"] = now.isoformat()
    _log(
        w,
        FOLLOW_UP_ANSWER_STEP,
        {"question": follow_up.get("question"), "answer": answer, "workflow_status": w.status},
        "the expert answered the follow-up question",
        by="member",
        now=now,
        response_id=str(insight.get("response_id")),
    )
    queued: list[str] = []
    if w.status == "completed":  # the final message went out: tell the member once
        name = insight.get("expert_first_name")
        queued = _expert_update(
            uow,
            w,
            name if isinstance(name, str) else None,
            answer,
            _sources(w),
            now=now,
            closing=FOLLOW_UP_LATE,
            step=FOLLOW_UP_ANSWER_STEP,
        )
        follow_up["update_queued_message_ids"] = queued
    elif w.next_action and w.next_action.startswith("follow up with"):
        w.next_action = f"wait for {SAGA_MIN_EXPERT_RESPONSES} expert answers or the timeout"
    uow.solution_workflows.save(w)
    log.info(
        "follow-up answer recorded",
        extra={"workflow_id": str(w.id), "workflow_status": w.status, "update_queued": bool(queued)},
    )
    return FollowUpAnswered("recorded", w.id, w.status, update_queued=bool(queued))


# --- 4. Final evaluation, or the timeout ------------------------------------------------------------


def expert_responses_timeout(uow: PostgresUnitOfWork, workflow_id: UUID, *, deps: Deps) -> StepResult:
    now = deps.clock()
    w = uow.solution_workflows.lock(workflow_id)
    if w is None:
        raise PermanentError(f"no solution workflow {workflow_id}")
    if w.status != IN_PROGRESS or w.current_step != AWAITING:
        return StepResult("ignored", w.id, w.current_step, f"workflow is {w.status} at {w.current_step}")
    # Answers whose task has not run yet (or never will: a request shared with another asker)
    # are read from the request itself.
    recorded = _answers_recorded(w)
    for answer in uow.solution_workflows.expert_answers(w.id):
        if str(answer.response_id) not in recorded:
            w.community_insights.append(
                {
                    "response_id": str(answer.response_id),
                    "expert_first_name": answer.expert_first_name,
                    "summary": answer.summary,
                    "verbatim": answer.verbatim,
                    "collected_at_timeout": True,
                }
            )
    _log(
        w,
        "expert_responses_timeout",
        {"expert_answers": len(w.community_insights)},
        "24 hours passed",
        by="system",
        now=now,
    )
    final_evaluation(uow, w, deps=deps, now=now, timed_out=True)
    uow.solution_workflows.save(w)
    return StepResult("completed", w.id, w.current_step, "timeout")


def final_evaluation(
    uow: PostgresUnitOfWork, w: Workflow, *, deps: Deps, now: datetime, timed_out: bool
) -> None:
    w.current_step = FINAL_EVALUATION
    sources = _sources(w)
    raw = None
    if deps.llm is not None:
        model = decisions.final_evaluation(
            deps.llm,
            need=w.request_description,
            sources=_sources_for_model(w),
            reason="24 hours passed" if timed_out else f"{SAGA_MIN_EXPERT_RESPONSES} experts answered",
            user_id=w.user_id,
            workflow_id=w.id,
        )
        raw = model.model_dump(mode="json", by_alias=True) if model is not None else None
    by = "llm" if raw is not None else "fallback"
    if raw is None:
        raw = fallback.final_recommendations(w.matched_innovators, w.community_insights)
    grounded = ground(raw.get("options") or [], sources)
    mentioned = [m for m in raw.get("frequentlyMentioned") or [] if sources.backs_name(m)]
    _log(
        w,
        FINAL_EVALUATION,
        {
            **raw,
            "grounded_options": grounded.kept,
            "dropped_unsourced": grounded.dropped,
            "timed_out": timed_out,
        },
        str(raw.get("reasoning") or ""),
        by=by,
        now=now,
    )
    peers = [(e.get("expert_first_name"), str(e.get("summary") or "")) for e in w.community_insights]
    question = raw.get("narrowingQuestion")
    text, options = _compose_grounded(
        w,
        grounded.kept,
        sources,
        lambda opts: final_message(
            w.request_description, opts, mentioned, sources, question, timed_out=timed_out, peers=peers
        ),
        FINAL_EVALUATION,
        now,
    )
    if text is None:  # nothing the guards accept: peers' words alone, then the honest empty answer
        text = final_message(w.request_description, [], [], sources, None, timed_out=timed_out, peers=peers)
        if not _sendable(text, sources, w, FINAL_EVALUATION, now):
            text = final_message(w.request_description, [], [], sources, None, timed_out=timed_out)
    queued = _queue(
        uow,
        w,
        kind=RESEARCH_COMPLETE,
        text=text,
        data={
            "options": options,
            "frequently_mentioned": mentioned,
            "timed_out": timed_out,
            "web_searched": sources.web,
        },
        priority="high" if options else "medium",
        now=now,
    )
    w.final_recommendations = {
        "options": options,
        "frequently_mentioned": mentioned,
        "narrowing_question": question,
        "summary": raw.get("summary"),
        "timed_out": timed_out,
        "queued_message_ids": queued,
    }
    w.quality_threshold_met = w.quality_threshold_met or bool(options)
    uow.emit(
        Event(
            event_type=RESEARCH_COMPLETE,
            aggregate_type="user",
            aggregate_id=w.user_id,
            payload={
                "user_id": str(w.user_id),
                "workflow_id": str(w.id),
                "request_description": w.request_description,
                "category": w.category,
                "options": [o["name"] for o in options],
                "timed_out": timed_out,
            },
            created_by=AGENT,
        )
    )
    _cancel_pending_tasks(uow, w, reason="workflow completed")
    w.completed_tasks.append(
        {"type": "final_evaluation", "timed_out": timed_out, "completed_at": now.isoformat()}
    )
    w.pending_tasks = []
    w.status, w.current_step, w.completed_at = "completed", COMPLETE, now
    w.next_action = None
    log.info(
        "solution workflow completed",
        extra={
            "workflow_id": str(w.id),
            "timed_out": timed_out,
            "options": len(options),
            "experts": sources.experts,
        },
    )


def _cancel_pending_tasks(uow: PostgresUnitOfWork, w: Workflow, *, reason: str) -> int:
    return sum(
        uow.tasks.cancel_pending(
            task_type=t, user_id=w.user_id, context_id=w.id, context_type=CONTEXT_TYPE, reason=reason
        )
        for t in (TIMEOUT_TASK, PROCESS_RESPONSE)
    )


# --- Cancellation and grounding ----------------------------------------------------------------


def cancel_workflows(
    uow: PostgresUnitOfWork,
    *,
    user_id: UUID,
    now: datetime,
    workflow_id: UUID | None = None,
    about: str | None = None,
    request_ids: list[UUID] | None = None,
) -> list[UUID]:
    """The member no longer needs the research: their in-progress workflow (by id, those waiting
    on one of ``request_ids``, those about a topic, or all) is cancelled with its pending tasks,
    its unsent findings and follow-ups, and its place on the community request."""
    cancelled: list[UUID] = []
    for w in uow.solution_workflows.open_for_user(
        user_id, workflow_id=workflow_id, about=about, request_ids=request_ids
    ):
        tasks = _cancel_pending_tasks(uow, w, reason="workflow cancelled by the member")
        for queue_id in (w.initial_findings or {}).get("queued_message_ids") or []:
            uow.queue.cancel(user_id=user_id, queue_id=UUID(str(queue_id)), reason="research cancelled")
        for insight in w.community_insights:  # follow-up questions not yet sent to an expert
            follow_up = insight.get("follow_up") or {}
            for queue_id in follow_up.get("queued_message_ids") or []:
                uow.queue.cancel(
                    user_id=UUID(str(follow_up["expert_user_id"])),
                    queue_id=UUID(str(queue_id)),
                    reason="research cancelled",
                )
        withdrawn = None
        if w.community_request_id is not None:
            try:
                withdrawn = community.cancel_request(
                    uow,
                    request_id=w.community_request_id,
                    user_id=user_id,
                    now=now,
                    requesting_agent_type=AGENT,
                )
            except (community.NotARequester, community.UnknownRequest):
                withdrawn = "not_a_requester"
        _log(
            w,
            CANCELLED,
            {"tasks_cancelled": tasks, "community_request": withdrawn},
            "the member no longer needs it",
            by="member",
            now=now,
        )
        w.status, w.current_step, w.cancelled_at = "cancelled", CANCELLED, now
        w.pending_tasks, w.next_action = [], None
        uow.solution_workflows.save(w)
        cancelled.append(w.id)
    if cancelled:
        log.info(
            "solution workflows cancelled",
            extra={"user_id": str(user_id), "workflows": [str(c) for c in cancelled]},
        )
    return cancelled


def allowed_sources(uow: PostgresUnitOfWork, user_id: UUID, *, now: datetime) -> Sources:
    """The vendor names and URLs a message to this member about research may carry: what their
    recent workflows stored (web results, innovators rows, experts' answers). A point of
    contact's reply guard adds ``allowed_sources(...).context_text()`` to its context (from the
    agents layer: ``grounding.stored_sources(uow.solution_workflows, ...)``)."""
    return stored_sources(uow.solution_workflows, user_id, now=now)
