"""``shared/service_layer/solution_saga.py``, the Solution Saga's state machine, example by example.

Written against its mutmut survivors (docs/testing.md, "mutmut: solution_saga.py": 1,805 of
1,834 mutants killed, the other 29 equivalent, one reason each). It pins the
triggers' refusals and parsing, the steps a workflow goes through (``initial_research`` ->
``evaluate_initial`` -> ``awaiting_expert_responses`` -> ``final_evaluation`` -> ``complete``, or
``cancelled``), the two-answer rule and the 24-hour timeout, the grounding of every vendor name
and URL (options the sources do not back are dropped; a message the reply guards refuse is
composed again without reasons, then not sent), the follow-up question to an expert, the
cancellation of a member's workflows with their tasks, queued messages and community request,
each ``conversation_log`` entry, each event and each log line.

No database: the module runs on ``tests/fakes/uow.py``'s ``RecordingUow``, with a hand-written
``solution_workflows`` repository (rows kept in memory, every call recorded) and scripted
``users``, ``queue``, ``tasks`` and ``community_responses``; ``queue_message`` and
``create_task`` run for real on them. The model is ``tests/fakes/llm.py``'s ``ScriptedLlm``
(``deps.llm``). The Community service has no injection point in the saga: ``route_request`` and
``cancel_request`` are monkeypatched on ``shared.service_layer.community`` and record their
arguments. ``tests/integration/test_solution_saga.py`` runs the same paths on Postgres.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.llm import LlmResponse, LlmUnavailable, WebCitation, WebResult
from shared.adapters.repositories.queue import NewQueuedPart
from shared.adapters.repositories.solution_workflows import (
    ExpertAnswer,
    InnovatorMatch,
    OpenFollowUp,
    Workflow,
    WorkflowSources,
)
from shared.adapters.repositories.tasks import NewTask
from shared.adapters.repositories.users import SendProfile
from shared.agents.solution_saga import fallback
from shared.agents.solution_saga.grounding import Sources, final_message, initial_message, sources_of
from shared.config import reset_settings_cache
from shared.domain.constants import (
    CONCIERGE_TEXT_MAX_CHARS,
    SAGA_EXPERT_TIMEOUT,
    SAGA_FOLLOW_UP_ANSWER_WINDOW,
    SAGA_INNOVATOR_MATCHES,
    SAGA_MIN_EXPERT_RESPONSES,
    SAGA_REQUEST_MAX_CHARS,
    SAGA_SOURCES_LOOKBACK,
    SAGA_SOURCES_WORKFLOWS,
    SAGA_WEB_RESULTS_KEPT,
    SAGA_WEB_SEARCH_MAX_USES,
    TASK_MAX_RETRIES,
)
from shared.domain.events import Event
from shared.service_layer import community
from shared.service_layer import solution_saga as saga
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps
from tests.deps_support import make_deps
from tests.fakes.llm import ScriptedLlm
from tests.fakes.uow import RecordingRepo, RecordingUow, ScriptedRepo, UowLog

NOW = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
LOGGER = "shared.service_layer.solution_saga"
MEMBER = UUID("11111111-1111-4111-8111-111111111111")
EXPERT = UUID("22222222-2222-4222-8222-222222222222")
EXPERT2 = UUID("33333333-3333-4333-8333-333333333333")
UNVERIFIED = UUID("44444444-4444-4444-8444-444444444444")
WF = UUID("55555555-5555-4555-8555-555555555555")
REQUEST = UUID("66666666-6666-4666-8666-666666666666")
EVENT_ID = UUID("77777777-7777-4777-8777-777777777777")
CONVERSATION = UUID("88888888-8888-4888-8888-888888888888")
R1 = UUID("99999999-9999-4999-8999-999999999991")
R2 = UUID("99999999-9999-4999-8999-999999999992")
R3 = UUID("99999999-9999-4999-8999-999999999993")
INNOVATOR_ID = UUID("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
INNOVATOR_OWNER = UUID("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb")
NEED = "SOC 2 compliance automation for a small startup"
TRUSTWELL = InnovatorMatch(
    id=INNOVATOR_ID,
    user_id=INNOVATOR_OWNER,
    company_name="Trustwell",
    solution_name="Trustwell Audit",
    solution_description="Automates SOC 2 evidence collection. Founded long ago.",
    categories=("compliance", "security"),
)
TRUSTWELL_ROW = {
    "innovator_id": str(INNOVATOR_ID),
    "user_id": str(INNOVATOR_OWNER),
    "company_name": "Trustwell",
    "solution_name": "Trustwell Audit",
    "solution_description": "Automates SOC 2 evidence collection. Founded long ago.",
    "categories": ["compliance", "security"],
}
WEB_ROW = {
    "url": "https://vanta.example/soc2",
    "title": "Vanta: SOC 2 automation",
    "page_age": "2 days",
    "query": "soc 2 tools",
    "cited": ["Vanta automates SOC 2 audits"],
}


# --- The fakes -----------------------------------------------------------------------------------


def a_workflow(**overrides: Any) -> Workflow:
    fields: dict[str, Any] = {
        "id": WF,
        "user_id": MEMBER,
        "conversation_id": CONVERSATION,
        "request_description": NEED,
        "category": "compliance",
        "urgency": "medium",
        "current_step": saga.AWAITING,
        "status": saga.IN_PROGRESS,
        "web_research_status": "off",
        "web_results": [],
        "matched_innovators": [],
        "community_insights": [],
        "expert_recommendations": [],
        "initial_findings": None,
        "final_recommendations": None,
        "community_request_id": REQUEST,
        "quality_threshold_met": False,
        "last_decision_at": None,
        "next_action": "wait",
        "pending_tasks": [],
        "completed_tasks": [],
        "conversation_log": [],
        "created_at": NOW - timedelta(hours=1),
        "source_event_id": EVENT_ID,
    }
    fields.update(overrides)
    return Workflow(**fields)


class Workflows(RecordingRepo):
    """``uow.solution_workflows``: rows in memory; ``save`` keeps a copy of what was written."""

    name = "solution_workflows"

    def __init__(self, log: UowLog) -> None:
        super().__init__(log)
        self.rows: dict[UUID, Workflow] = {}
        self.saved: list[Workflow] = []
        self.add_returns: UUID | None = WF
        self.innovators: list[InnovatorMatch] = []
        self.answers: list[ExpertAnswer] = []
        self.open: list[Workflow] = []
        self.sources: list[WorkflowSources] = []
        self.by_event_answers: list[Workflow | None] = []
        self.follow_ups: list[OpenFollowUp] = []

    def add(self, **kwargs: Any) -> UUID | None:
        self.record("add", **kwargs)
        if self.add_returns is not None:
            self.rows[self.add_returns] = a_workflow(
                id=self.add_returns,
                user_id=kwargs["user_id"],
                conversation_id=kwargs["conversation_id"],
                request_description=kwargs["request_description"],
                category=kwargs["category"],
                urgency=kwargs["urgency"],
                source_event_id=kwargs["source_event_id"],
                current_step=saga.INITIAL_RESEARCH,
                web_research_status="pending",
                community_request_id=None,
                next_action=None,
                created_at=kwargs["now"],
            )
        return self.add_returns

    def by_event(self, source_event_id: UUID) -> Workflow | None:
        self.record("by_event", source_event_id)
        return self.by_event_answers.pop(0) if self.by_event_answers else None

    def lock(self, workflow_id: UUID) -> Workflow | None:
        self.record("lock", workflow_id)
        return self.rows.get(workflow_id)

    def save(self, w: Workflow) -> None:
        self.record("save", w.id)
        self.saved.append(copy.deepcopy(w))

    def match_innovators(self, **kwargs: Any) -> list[InnovatorMatch]:
        self.record("match_innovators", **kwargs)
        return list(self.innovators)

    def expert_answers(self, workflow_id: UUID) -> list[ExpertAnswer]:
        self.record("expert_answers", workflow_id)
        return list(self.answers)

    def open_for_user(self, user_id: UUID, **kwargs: Any) -> list[Workflow]:
        self.record("open_for_user", user_id, **kwargs)
        return list(self.open)

    def sources_for_user(self, user_id: UUID, **kwargs: Any) -> list[WorkflowSources]:
        self.record("sources_for_user", user_id, **kwargs)
        return list(self.sources)

    def open_follow_ups(self, user_id: UUID, **kwargs: Any) -> list[OpenFollowUp]:
        self.record("open_follow_ups", user_id, **kwargs)
        return list(self.follow_ups)


def a_profile(user_id: UUID) -> SendProfile:
    return SendProfile(
        id=user_id,
        phone_number="+14155550100",
        timezone="America/New_York",
        quiet_hours_start=None,
        quiet_hours_end=None,
        opted_out=False,
        verified=True,
        poc_agent_type="concierge",
        response_pattern={},
        last_inbound_at=NOW,  # active: the queue schedules now
    )


@dataclass
class World:
    log: UowLog
    workflows: Workflows
    uow: RecordingUow
    members: dict[UUID, Any]
    routed: list[tuple[community.RequestNeeded, datetime, UUID | None]] = field(default_factory=list)
    withdrawn: list[dict[str, Any]] = field(default_factory=list)
    route_status: str = "routed"
    cancel_answer: Any = "cancelled"
    queue_ids: list[UUID] = field(default_factory=list)
    task_ids: list[UUID] = field(default_factory=list)
    task_id: UUID | None = None
    cancelled_tasks: int = 1
    response: Any = None

    def deps(self, llm: Any = None) -> Deps:
        return make_deps(llm=llm, clock=lambda: NOW)

    @property
    def pg(self) -> Any:
        return self.uow.as_postgres()

    def queued(self) -> list[NewQueuedPart]:
        return [c.args[0] for c in self.log.of("queue", "add")]

    def tasks_added(self) -> list[NewTask]:
        return [c.args[0] for c in self.log.of("tasks", "add")]

    def committed(self) -> list[Event]:
        self.uow.commit()
        return list(self.log.committed_events)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    log = UowLog()
    workflows = Workflows(log)
    members: dict[UUID, Any] = {
        MEMBER: SimpleNamespace(verified=True, poc_agent_type="concierge"),
        EXPERT: SimpleNamespace(verified=True, poc_agent_type="innovator"),
        EXPERT2: SimpleNamespace(verified=True, poc_agent_type="concierge"),
        UNVERIFIED: SimpleNamespace(verified=False, poc_agent_type="concierge"),
    }
    w = World(log=log, workflows=workflows, uow=RecordingUow(log), members=members)

    def queue_add(part: NewQueuedPart, *, now: datetime) -> UUID:
        w.queue_ids.append(uuid4())
        return w.queue_ids[-1]

    def task_add(task: NewTask) -> UUID | None:
        if w.task_id is not None:
            return w.task_id
        w.task_ids.append(uuid4())
        return w.task_ids[-1]

    w.uow = RecordingUow(
        log,
        solution_workflows=workflows,
        users=ScriptedRepo(
            "users",
            log,
            get=members.get,
            send_profile=lambda user_id, now: a_profile(user_id),
        ),
        queue=ScriptedRepo("queue", log, add=queue_add, cancel=lambda **kw: 1),
        tasks=ScriptedRepo("tasks", log, add=task_add, cancel_pending=lambda **kw: w.cancelled_tasks),
        community_responses=ScriptedRepo("community_responses", log, lock=lambda rid: w.response),
    )

    def route_request(
        uow: Any, request: community.RequestNeeded, *, now: datetime, source_event_id: UUID | None = None
    ) -> community.RoutingResult:
        assert uow is w.uow
        w.routed.append((request, now, source_event_id))
        return community.RoutingResult(w.route_status, REQUEST, expert_ids=(EXPERT, EXPERT2))

    def cancel_request(uow: Any, **kwargs: Any) -> str:
        assert uow is w.uow
        w.withdrawn.append(kwargs)
        if isinstance(w.cancel_answer, Exception):
            raise w.cancel_answer
        return str(w.cancel_answer)

    monkeypatch.setattr(community, "route_request", route_request)
    monkeypatch.setattr(community, "cancel_request", cancel_request)
    monkeypatch.setenv("SOLUTION_WEB_SEARCH", "true")
    reset_settings_cache()
    yield w
    reset_settings_cache()


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def needed(**overrides: Any) -> saga.SolutionNeeded:
    fields: dict[str, Any] = {
        "user_id": MEMBER,
        "request_description": NEED,
        "category": "compliance",
        "urgency": "high",
        "conversation_id": CONVERSATION,
        "requesting_agent_type": "concierge",
    }
    fields.update(overrides)
    return saga.SolutionNeeded(**fields)


def a_delivery(type_: str, data: dict[str, Any], *, kind: Any = "event") -> Delivery:
    return Delivery(
        kind=kind,
        id=EVENT_ID,
        type=type_,
        attempt=1,
        published_at=NOW,
        data=data,
        attributes={},
        user_id=MEMBER,
    )


def web_response(
    results: list[WebResult], citations: list[WebCitation] | None = None, errors: list[str] | None = None
) -> LlmResponse:
    return LlmResponse(
        text="found",
        web_results=results,
        citations=citations or [],
        web_search_errors=errors or [],
    )


def sources_sent(llm: ScriptedLlm, index: int) -> Any:
    note = llm.requests[index].messages[-1]["content"]
    assert isinstance(note, str)
    start = note.index("SOURCES:\n") + len("SOURCES:\n")
    end = note.index("\n\n", start)
    return json.loads(note[start:end])


def note_of(llm: ScriptedLlm, index: int) -> str:
    note = llm.requests[index].messages[-1]["content"]
    assert isinstance(note, str)
    return note


def entry(w: Workflow, step: str) -> list[dict[str, Any]]:
    return [e for e in w.conversation_log if e["step"] == step]


def option(
    name: str, *, reason: str = "fits a small team", url: str | None = None, source: str = "web"
) -> Any:
    return {"name": name, "url": url, "reason": reason, "source": source}


def initial_decision(
    options: list[dict[str, Any]], *, share: bool = True, question: str | None = None
) -> dict[str, Any]:
    return {
        "hasValueToShare": share,
        "findings": {"summary": "two options found", "options": options, "narrowingQuestion": question},
        "reasoning": "the web search named vendors",
    }


def assessment(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "addedValue": True,
        "needsFollowUp": False,
        "followUpQuestion": None,
        "hasContactIntro": False,
        "contactInfo": None,
        "shouldUpdateUser": False,
        "mentionedVendors": [],
        "reasoning": "a concrete recommendation",
    }
    fields.update(overrides)
    return fields


def final_decision(options: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "summary": "two vendors fit",
        "options": options,
        "frequentlyMentioned": [],
        "narrowingQuestion": None,
        "reasoning": "both are named in the sources",
    }
    fields.update(overrides)
    return fields


# --- Parsing the triggers ------------------------------------------------------------------------


def refusal(text: str) -> str:
    return "^" + re.escape(text) + "$"


def test_a_solution_needed_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(
        PermanentError, match=refusal("user.inquiry.solution_needed payload is not an object")
    ):
        saga.parse_solution_needed(["user_id"])


@pytest.mark.parametrize("user_id", [None, "", "not-a-uuid", 12345])
def test_a_solution_needed_payload_needs_a_user_id(user_id: Any) -> None:
    with pytest.raises(PermanentError, match=refusal("user.inquiry.solution_needed needs a user_id (UUID)")):
        saga.parse_solution_needed({"user_id": user_id})


@pytest.mark.parametrize("description", [None, "", "   \n", 42])
def test_a_solution_needed_payload_needs_a_request_description(description: Any) -> None:
    message = "user.inquiry.solution_needed needs a request_description (text)"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.parse_solution_needed({"user_id": str(MEMBER), "request_description": description})


def test_a_request_description_is_accepted_up_to_its_limit() -> None:
    longest = "x" * SAGA_REQUEST_MAX_CHARS
    assert saga.parse_solution_needed({"user_id": str(MEMBER), "request_description": longest})
    message = f"request_description is longer than {SAGA_REQUEST_MAX_CHARS} characters"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.parse_solution_needed({"user_id": str(MEMBER), "request_description": longest + "x"})


def test_a_solution_needed_payload_is_parsed_and_normalised() -> None:
    parsed = saga.parse_solution_needed(
        {
            "user_id": str(MEMBER),
            "request_description": "  SOC 2\n  tools   please ",
            "category": "  Compliance Tools ",
            "urgency": "low",
            "conversation_id": str(CONVERSATION),
            "requesting_agent_type": "innovator",
        }
    )
    assert parsed == saga.SolutionNeeded(
        user_id=MEMBER,
        request_description="SOC 2 tools please",
        category="compliance tools",
        urgency="low",
        conversation_id=CONVERSATION,
        requesting_agent_type="innovator",
    )


def test_the_camel_case_names_and_the_defaults() -> None:
    parsed = saga.parse_solution_needed({"userId": str(MEMBER), "requestDescription": "payroll"})
    assert parsed == saga.SolutionNeeded(
        user_id=MEMBER,
        request_description="payroll",
        category=None,
        urgency="medium",
        conversation_id=None,
        requesting_agent_type="concierge",
    )


@pytest.mark.parametrize(
    ("category", "expected"),
    [("   ", None), (7, None), ("A" * 150, "a" * 100), ("Payroll", "payroll")],
)
def test_the_category_is_lowercased_cut_to_100_or_none(category: Any, expected: str | None) -> None:
    parsed = saga.parse_solution_needed(
        {"user_id": str(MEMBER), "request_description": "x", "category": category}
    )
    assert parsed.category == expected


@pytest.mark.parametrize(
    ("urgency", "expected"),
    [("low", "low"), ("medium", "medium"), ("high", "high"), ("urgent", "medium"), (None, "medium")],
)
def test_the_urgency_is_low_medium_or_high(urgency: Any, expected: str) -> None:
    parsed = saga.parse_solution_needed(
        {"user_id": str(MEMBER), "request_description": "x", "urgency": urgency}
    )
    assert parsed.urgency == expected


def test_odd_optional_fields_fall_back() -> None:
    parsed = saga.parse_solution_needed(
        {
            "user_id": str(MEMBER),
            "request_description": "x",
            "conversation_id": "nope",
            "requesting_agent_type": 5,
        }
    )
    assert (parsed.conversation_id, parsed.requesting_agent_type) == (None, "5")


def test_the_step_result_as_a_dict() -> None:
    result = saga.StepResult("waiting", WF, saga.AWAITING, "1 of 2")
    assert result.as_dict() == {
        "status": "waiting",
        "workflow_id": str(WF),
        "step": saga.AWAITING,
        "detail": "1 of 2",
    }
    assert saga.StepResult("ignored", WF, "x").as_dict()["detail"] == ""


# --- 1-2. Starting a workflow --------------------------------------------------------------------


def test_an_unknown_member_starts_nothing(world: World) -> None:
    stranger = uuid4()
    with pytest.raises(PermanentError, match=refusal(f"no member {stranger}")):
        saga.start_workflow(world.pg, needed(user_id=stranger), deps=world.deps(), source_event_id=EVENT_ID)
    assert world.log.methods() == ["users.get"]


def test_a_trigger_already_seen_is_a_duplicate(world: World) -> None:
    existing = a_workflow(id=uuid4(), current_step=saga.COMPLETE)
    world.workflows.by_event_answers = [existing]
    result = saga.start_workflow(world.pg, needed(), deps=world.deps(), source_event_id=EVENT_ID)
    assert result == saga.StepResult("duplicate", existing.id, saga.COMPLETE)
    assert world.log.methods() == ["users.get", "solution_workflows.by_event"]
    assert world.log.of("solution_workflows", "by_event")[0].args == (EVENT_ID,)


def test_a_concurrent_copy_of_the_trigger_that_won_makes_this_one_a_duplicate(world: World) -> None:
    existing = a_workflow(id=uuid4(), current_step=saga.AWAITING)
    world.workflows.add_returns = None
    world.workflows.by_event_answers = [None, existing]
    result = saga.start_workflow(world.pg, needed(), deps=world.deps(), source_event_id=EVENT_ID)
    assert result == saga.StepResult("duplicate", existing.id, saga.AWAITING)
    assert world.log.methods() == [
        "users.get",
        "solution_workflows.by_event",
        "solution_workflows.add",
        "solution_workflows.by_event",
    ]
    assert world.log.of("solution_workflows", "by_event")[1].args == (EVENT_ID,)


def test_without_a_source_event_nothing_is_looked_up_by_event(world: World) -> None:
    saga.start_workflow(world.pg, needed(), deps=world.deps(), source_event_id=None)
    assert world.log.of("solution_workflows", "by_event") == []
    [add] = world.log.of("solution_workflows", "add")
    assert add.kwargs["source_event_id"] is None
    assert world.routed[0][2] is None


def test_an_offline_start_researches_shares_innovators_asks_the_community_and_waits(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world.workflows.innovators = [TRUSTWELL]
    result = saga.start_workflow(world.pg, needed(), deps=world.deps(), source_event_id=EVENT_ID)

    assert result == saga.StepResult(saga.AWAITING, WF, saga.AWAITING)
    assert world.log.methods() == [
        "users.get",
        "solution_workflows.by_event",
        "solution_workflows.add",
        "solution_workflows.lock",
        "solution_workflows.match_innovators",
        "users.get",
        "users.send_profile",
        "queue.add",
        "tasks.add",
        "solution_workflows.save",
    ]
    [add] = world.log.of("solution_workflows", "add")
    assert add.kwargs == {
        "user_id": MEMBER,
        "conversation_id": CONVERSATION,
        "request_description": NEED,
        "category": "compliance",
        "urgency": "high",
        "source_event_id": EVENT_ID,
        "now": NOW,
    }
    assert world.log.of("solution_workflows", "lock")[0].args == (WF,)
    [match] = world.log.of("solution_workflows", "match_innovators")
    assert match.kwargs == {
        "user_id": MEMBER,
        "categories": ["compliance", "compliance", "soc", "automation", "small", "startup"],
        "terms": ["compliance", "soc", "automation", "small", "startup"],
        "limit": SAGA_INNOVATOR_MATCHES,
    }

    [w] = world.workflows.saved
    assert w.matched_innovators == [TRUSTWELL_ROW]
    assert w.web_research_status == "off"
    assert w.web_results == []
    assert (w.status, w.current_step) == (saga.IN_PROGRESS, saga.AWAITING)
    assert w.next_action == f"wait for {SAGA_MIN_EXPERT_RESPONSES} expert answers or the timeout"
    assert w.last_decision_at == NOW
    assert w.conversation_log[0] == {
        "step": saga.INITIAL_RESEARCH,
        "decision": {"web": "off", "web_results": 0, "innovators": 1},
        "reasoning": "research stored with its sources",
        "by": "system",
        "timestamp": NOW.isoformat(),
    }
    raw = fallback.initial_evaluation([TRUSTWELL_ROW])
    options = raw["findings"]["options"]
    assert w.conversation_log[1] == {
        "step": saga.EVALUATE_INITIAL,
        "decision": {**raw, "grounded_options": options, "dropped_unsourced": [], "shared": True},
        "reasoning": raw["reasoning"],
        "by": "fallback",
        "timestamp": NOW.isoformat(),
    }
    assert len(w.conversation_log) == 2

    sources = sources_of([], [TRUSTWELL_ROW], [])
    [part] = world.queued()
    assert part.user_id == MEMBER
    assert part.agent_id == "concierge"
    assert part.final_message == initial_message(NEED, options, sources, None)
    assert part.message_data == {
        "kind": saga.INITIAL_FINDINGS,
        "workflow_id": str(WF),
        "findings": {**raw["findings"], "options": options},
        "web_searched": False,
    }
    assert (part.priority, part.conversation_context_id) == ("medium", CONVERSATION)
    assert w.initial_findings == {
        "has_value_to_share": True,
        "options": options,
        "summary": raw["findings"]["summary"],
        "queued_message_ids": [str(world.queue_ids[0])],
    }
    assert w.quality_threshold_met is True

    [(request, at, source_event_id)] = world.routed
    assert request == community.RequestNeeded(
        requesting_agent_type="solution_saga",
        requesting_user_id=MEMBER,
        question=f"{NEED} {saga.COMMUNITY_ASK}",
        category="compliance",
        expertise_needed=("compliance", "soc", "automation", "small", "startup"),
        context_id=WF,
        context_type="solution_workflow",
        desired_outcome="quick_thoughts",
        urgency="high",
        request_summary=NEED[:100],
    )
    assert (at, source_event_id) == (NOW, EVENT_ID)
    assert w.community_request_id == REQUEST

    [task] = world.tasks_added()
    due = NOW + SAGA_EXPERT_TIMEOUT
    assert task == NewTask(
        task_type=saga.TIMEOUT_TASK,
        agent_type="solution_saga",
        user_id=MEMBER,
        scheduled_for=due,
        priority="medium",
        context_json={"workflow_id": str(WF)},
        context_id=WF,
        context_type="solution_workflow",
        created_by="solution_saga",
        dedupe_key=f"solution_workflow_timeout:{WF}",
        max_retries=TASK_MAX_RETRIES,
    )
    assert w.pending_tasks == [
        {
            "type": "community_request",
            "id": str(REQUEST),
            "min_responses": SAGA_MIN_EXPERT_RESPONSES,
            "routing": "routed",
            "experts": 2,
            "created_at": NOW.isoformat(),
        },
        {
            "type": saga.TIMEOUT_TASK,
            "id": str(world.task_ids[0]),
            "due_at": due.isoformat(),
            "created_at": NOW.isoformat(),
        },
    ]

    assert world.log.committed_events == []
    [signal] = world.committed()
    assert signal == Event(
        event_type=saga.DEMAND_SIGNAL,
        aggregate_type="solution_workflow",
        aggregate_id=WF,
        payload={
            "workflow_id": str(WF),
            "user_id": str(MEMBER),
            "category": "compliance",
            "request_description": NEED,
            "innovators": [
                {
                    "innovator_id": str(INNOVATOR_ID),
                    "user_id": str(INNOVATOR_OWNER),
                    "company_name": "Trustwell",
                }
            ],
        },
        created_by="solution_saga",
    )

    [line] = logged(caplog, "solution workflow started")
    assert line.levelno == logging.INFO
    assert (line.workflow_id, line.web, line.web_results, line.innovators) == (str(WF), "off", 0, 1)  # type: ignore[attr-defined]
    assert line.community_request_id == str(REQUEST)  # type: ignore[attr-defined]
    assert logged(caplog, "saga's question joined an open community request") == []


def test_with_nothing_found_nothing_is_shared_and_no_demand_is_signalled(world: World) -> None:
    saga.start_workflow(world.pg, needed(category=None), deps=world.deps(), source_event_id=EVENT_ID)
    [w] = world.workflows.saved
    assert world.queued() == []
    assert w.initial_findings == {
        "has_value_to_share": False,
        "options": [],
        "summary": "innovators in our network by category",
        "queued_message_ids": [],
    }
    assert w.quality_threshold_met is False
    assert w.conversation_log[1]["decision"]["shared"] is False
    assert world.committed() == []
    [match] = world.log.of("solution_workflows", "match_innovators")
    assert (
        match.kwargs["categories"]
        == match.kwargs["terms"]
        == ["soc", "compliance", "automation", "small", "startup"]
    )
    assert world.routed[0][0].expertise_needed == ("soc", "compliance", "automation", "small", "startup")
    assert world.routed[0][0].category is None


def test_a_question_joining_an_open_request_is_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world.route_status = "attached"
    saga.start_workflow(world.pg, needed(), deps=world.deps(), source_event_id=EVENT_ID)
    [line] = logged(caplog, "saga's question joined an open community request")
    assert (line.workflow_id, line.request_id) == (str(WF), str(REQUEST))  # type: ignore[attr-defined]
    assert world.workflows.saved[0].pending_tasks[0]["routing"] == "attached"


def test_a_timeout_task_already_pending_is_not_stacked(world: World) -> None:
    world.task_id = None
    existing = world.task_ids
    world.uow.tasks.answer("add", lambda task: None)  # type: ignore[attr-defined]
    saga.start_workflow(world.pg, needed(), deps=world.deps(), source_event_id=EVENT_ID)
    assert existing == []
    [w] = world.workflows.saved
    assert w.pending_tasks[1]["id"] is None


def test_the_search_terms_of_a_need(world: World) -> None:
    need = (
        "Looking for an API tool: HR payroll, payroll and e-sign. Need .net-ready c++ options "
        "for hr123 our team -- ab abc x9y gusto. rippling deel remote"
    )
    saga.start_workflow(
        world.pg, needed(request_description=need, category="hr"), deps=world.deps(), source_event_id=EVENT_ID
    )
    [match] = world.log.of("solution_workflows", "match_innovators")
    assert match.kwargs["terms"] == ["api", "payroll", "e-sign", "net-ready", "c++", "hr123", "abc", "x9y"]
    assert match.kwargs["categories"][0] == "hr"


def test_evaluate_initial_does_not_ask_the_community_twice_or_stack_a_timeout(world: World) -> None:
    w = a_workflow(
        current_step=saga.EVALUATE_INITIAL,
        pending_tasks=[{"type": saga.TIMEOUT_TASK, "id": "t1"}],
    )
    saga.evaluate_initial(world.pg, w, deps=world.deps(), now=NOW)
    assert world.routed == []
    assert world.tasks_added() == []
    assert w.pending_tasks == [{"type": saga.TIMEOUT_TASK, "id": "t1"}]
    assert w.current_step == saga.AWAITING


def test_an_unverified_members_findings_go_through_the_bouncer(world: World) -> None:
    world.workflows.innovators = [TRUSTWELL]
    saga.start_workflow(world.pg, needed(user_id=UNVERIFIED), deps=world.deps(), source_event_id=EVENT_ID)
    [part] = world.queued()
    assert (part.user_id, part.agent_id) == (UNVERIFIED, "bouncer")


# --- Web research ----------------------------------------------------------------------------------


def result(n: int, *, url: str | None = None) -> WebResult:
    return WebResult(
        url=url or f"https://v{n}.example/", title=f"Vendor{n} page", page_age=f"{n}d", query=f"q{n}"
    )


def test_web_research_keeps_the_first_results_by_url_with_their_citations(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    results = [result(0), result(99, url="https://v0.example/"), *[result(n) for n in range(1, 13)]]
    citations = [
        WebCitation(url="https://v0.example/", title=None, cited_text="first", text="t"),
        WebCitation(url="https://v0.example/", title=None, cited_text="second", text="t"),
        WebCitation(url="https://v3.example/", title=None, cited_text="third", text="t"),
    ]
    llm = ScriptedLlm(web_response(results, citations), LlmUnavailable("down"))
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    [w] = world.workflows.saved
    assert len(w.web_results) == SAGA_WEB_RESULTS_KEPT
    assert w.web_results[0] == {
        "url": "https://v0.example/",
        "title": "Vendor0 page",
        "page_age": "0d",
        "query": "q0",
        "cited": ["first", "second"],
    }
    assert w.web_results[3]["cited"] == ["third"]
    assert w.web_results[1]["cited"] == []
    assert [r["url"] for r in w.web_results][-1] == "https://v11.example/"
    assert w.web_research_status == "searched"
    assert w.conversation_log[0]["decision"] == {"web": "searched", "web_results": 12, "innovators": 0}
    assert logged(caplog, "web search returned errors") == []
    [line] = logged(caplog, "solution workflow started")
    assert (line.web, line.web_results) == ("searched", 12)  # type: ignore[attr-defined]

    research = llm.requests[0]
    assert research.call_kind == "web_research"
    assert [t["max_uses"] for t in research.server_tools] == [SAGA_WEB_SEARCH_MAX_USES]
    assert note_of(llm, 0) == f"NEED: {NEED}\nCATEGORY: compliance"
    assert (research.user_id, research.context_id) == (MEMBER, WF)
    # decision point 1 was unavailable: the offline brain decided
    assert w.conversation_log[1]["by"] == "fallback"


def test_web_research_errors_are_logged_and_without_results_make_it_unavailable(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    llm = ScriptedLlm(web_response([], errors=["too_many_requests"]), LlmUnavailable("down"))
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    [w] = world.workflows.saved
    assert (w.web_research_status, w.web_results) == ("unavailable", [])
    [line] = logged(caplog, "web search returned errors")
    assert line.levelno == logging.WARNING
    assert (line.workflow_id, line.errors) == (str(WF), ["too_many_requests"])  # type: ignore[attr-defined]


def test_web_research_errors_with_results_is_still_searched(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    llm = ScriptedLlm(web_response([result(1)], errors=["max_uses_exceeded"]), LlmUnavailable("down"))
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    assert world.workflows.saved[0].web_research_status == "searched"
    assert len(logged(caplog, "web search returned errors")) == 1


def test_web_research_without_results_or_errors_found_nothing(world: World) -> None:
    llm = ScriptedLlm(web_response([]), LlmUnavailable("down"))
    saga.start_workflow(world.pg, needed(category=None), deps=world.deps(llm), source_event_id=EVENT_ID)
    assert world.workflows.saved[0].web_research_status == "no_results"
    assert note_of(llm, 0) == f"NEED: {NEED}\nCATEGORY: unknown"


def test_web_research_unavailable(world: World) -> None:
    llm = ScriptedLlm(LlmUnavailable("down"), LlmUnavailable("down"))
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    assert world.workflows.saved[0].web_research_status == "unavailable"


def test_web_search_switched_off_runs_no_search(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOLUTION_WEB_SEARCH", "false")
    reset_settings_cache()
    assert saga.web_search_enabled() is False
    llm = ScriptedLlm(LlmUnavailable("down"))
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    assert world.workflows.saved[0].web_research_status == "off"
    assert [r.call_kind for r in llm.requests] == ["evaluate_initial"]


def test_web_search_is_on_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOLUTION_WEB_SEARCH", "true")
    reset_settings_cache()
    assert saga.web_search_enabled() is True
    reset_settings_cache()


# --- Decision point 1 with the model ---------------------------------------------------------------


def web_world(world: World) -> ScriptedLlm:
    vanta = WebResult(
        url="https://vanta.example/soc2",
        title="Vanta: SOC 2 automation",
        page_age="2 days",
        query="soc 2 tools",
    )
    cite = WebCitation(
        url="https://vanta.example/soc2", title=None, cited_text="Vanta automates SOC 2 audits", text="t"
    )
    world.workflows.innovators = [TRUSTWELL]
    return ScriptedLlm(web_response([vanta], [cite]))


def test_the_model_shares_grounded_options_and_drops_the_rest(world: World) -> None:
    llm = web_world(world)
    vanta = option("Vanta", url="https://vanta.example/soc2", reason="automates the evidence")
    made_up = option("Imaginary Corp", reason="it sounds right")
    bad_url = option("Trustwell", url="https://trustwell.example/", source="innovator")
    llm.decision(
        "record_initial_evaluation",
        **initial_decision([vanta, made_up, bad_url], question="What is your budget?"),
    )
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    [w] = world.workflows.saved
    kept = [vanta, {**bad_url, "url": None}]
    dropped = [
        {**made_up, "why": "name not in any stored source"},
        {"name": "Trustwell", "url": "https://trustwell.example/", "why": "url not in any stored source"},
    ]
    decision = w.conversation_log[1]
    assert decision["by"] == "llm"
    assert decision["reasoning"] == "the web search named vendors"
    assert decision["decision"]["grounded_options"] == kept
    assert decision["decision"]["dropped_unsourced"] == dropped
    assert decision["decision"]["shared"] is True
    assert decision["decision"]["hasValueToShare"] is True
    sources = sources_of(w.web_results, w.matched_innovators, [])
    [part] = world.queued()
    assert part.final_message == initial_message(NEED, kept, sources, "What is your budget?")
    findings = llm.requests[1]
    assert findings.call_kind == "evaluate_initial"
    assert note_of(llm, 1).startswith(f"MEMBER'S NEED: {NEED}\n\nSOURCES:\n")
    assert part.message_data["findings"]["options"] == kept
    assert part.message_data["findings"]["narrowingQuestion"] == "What is your budget?"
    assert part.message_data["web_searched"] is True
    assert w.initial_findings is not None
    assert w.initial_findings["summary"] == "two options found"
    assert w.initial_findings["options"] == kept
    assert sources_sent(llm, 1) == {
        "web_search": "searched",
        "web_results": [
            {
                "url": "https://vanta.example/soc2",
                "title": "Vanta: SOC 2 automation",
                "cited": ["Vanta automates SOC 2 audits"],
            }
        ],
        "innovators_in_our_network": [
            {
                "company_name": "Trustwell",
                "solution_name": "Trustwell Audit",
                "solution_description": TRUSTWELL.solution_description,
                "categories": ["compliance", "security"],
            }
        ],
        "expert_answers": [],
    }
    assert (findings.user_id, findings.context_id) == (MEMBER, WF)


def test_value_to_share_needs_the_models_yes_and_a_grounded_option(world: World) -> None:
    llm = web_world(world)
    llm.decision("record_initial_evaluation", **initial_decision([option("Vanta")], share=False))
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    assert world.queued() == []
    assert world.workflows.saved[0].conversation_log[1]["decision"]["shared"] is False


def test_a_yes_without_a_grounded_option_shares_nothing(world: World) -> None:
    llm = web_world(world)
    llm.decision("record_initial_evaluation", **initial_decision([option("Imaginary Corp")]))
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    assert world.queued() == []
    [w] = world.workflows.saved
    assert w.conversation_log[1]["decision"]["shared"] is False
    assert w.initial_findings == {
        "has_value_to_share": False,
        "options": [],
        "summary": "two options found",
        "queued_message_ids": [],
    }


def test_an_invalid_decision_falls_back_to_the_offline_brain(world: World) -> None:
    llm = web_world(world)
    llm.decision("record_initial_evaluation", nonsense=True)
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    [w] = world.workflows.saved
    assert w.conversation_log[1]["by"] == "fallback"
    assert (
        w.conversation_log[1]["reasoning"] == fallback.initial_evaluation(w.matched_innovators)["reasoning"]
    )


def test_a_reason_the_guards_refuse_is_dropped_and_the_refusal_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    llm = web_world(world)
    vanta = option("Vanta", reason="used by Zorblax Quantum")
    llm.decision("record_initial_evaluation", **initial_decision([vanta]))
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    [w] = world.workflows.saved
    bare = [{**vanta, "reason": ""}]
    sources = sources_of(w.web_results, w.matched_innovators, [])
    [part] = world.queued()
    assert part.final_message == initial_message(NEED, bare, sources, None)
    assert part.message_data["findings"]["options"] == bare
    assert w.initial_findings is not None and w.initial_findings["options"] == bare
    [guard] = [e for e in w.conversation_log if e["by"] == "guard"]
    assert guard == {
        "step": saga.EVALUATE_INITIAL,
        "decision": {"unsendable": ["invented_name: Zorblax Quantum"]},
        "reasoning": "composed message failed the reply guards",
        "by": "guard",
        "timestamp": NOW.isoformat(),
    }
    [line] = logged(caplog, "saga message refused by the grounding guard")
    assert line.levelno == logging.WARNING
    assert (line.workflow_id, line.problems) == (str(WF), ["invented_name: Zorblax Quantum"])  # type: ignore[attr-defined]
    assert w.quality_threshold_met is True


def test_findings_the_guards_refuse_twice_are_not_sent(world: World) -> None:
    llm = web_world(world)
    llm.decision(
        "record_initial_evaluation",
        **initial_decision([option("Vanta")], question="Have you tried Zorblax Quantum?"),
    )
    saga.start_workflow(world.pg, needed(), deps=world.deps(llm), source_event_id=EVENT_ID)
    [w] = world.workflows.saved
    assert world.queued() == []
    assert len([e for e in w.conversation_log if e["by"] == "guard"]) == 2
    assert w.initial_findings == {
        "has_value_to_share": False,
        "options": [],
        "summary": "two options found",
        "queued_message_ids": [],
    }
    assert w.quality_threshold_met is False


# --- 3. An expert answered ---------------------------------------------------------------------------

ANSWER = "We used Trustwell for our audit and it saved weeks of evidence work."
ANSWER2 = "Vanta worked for us; Trustwell was cheaper for a small team."


def waiting(world: World, **overrides: Any) -> Workflow:
    fields: dict[str, Any] = {
        "matched_innovators": [TRUSTWELL_ROW],
        "web_results": [WEB_ROW],
        "web_research_status": "searched",
    }
    fields.update(overrides)
    w = a_workflow(**fields)
    world.workflows.rows[w.id] = w
    return w


def answer(
    world: World, response_id: UUID = R1, *, text: str = ANSWER, name: str | None = "Ana", llm: Any = None
) -> saga.StepResult:
    return saga.process_expert_response(
        world.pg,
        WF,
        response_id=response_id,
        summary=f"summary: {text}",
        verbatim=text,
        expert_first_name=name,
        deps=world.deps(llm),
    )


def test_an_answer_for_no_workflow_is_refused(world: World) -> None:
    with pytest.raises(PermanentError, match=refusal(f"no solution workflow {WF}")):
        answer(world)


@pytest.mark.parametrize(
    ("status", "step"),
    [("completed", saga.COMPLETE), (saga.IN_PROGRESS, saga.FINAL_EVALUATION), ("cancelled", saga.AWAITING)],
)
def test_an_answer_to_a_workflow_not_waiting_is_ignored(world: World, status: str, step: str) -> None:
    waiting(world, status=status, current_step=step)
    result = answer(world)
    assert result == saga.StepResult("ignored", WF, step, f"workflow is {status} at {step}")
    assert world.workflows.saved == []


def test_an_answer_already_recorded_is_a_duplicate(world: World) -> None:
    waiting(world, community_insights=[{"response_id": str(R1), "summary": "x"}])
    assert answer(world) == saga.StepResult("duplicate", WF, saga.AWAITING)
    assert world.workflows.saved == []


def test_the_first_answer_is_recorded_and_the_workflow_waits_for_a_second(world: World) -> None:
    w = waiting(world)
    result = answer(world)
    assert result == saga.StepResult(
        "waiting", WF, saga.AWAITING, f"1 of {SAGA_MIN_EXPERT_RESPONSES} expert answers"
    )
    assert world.log.methods() == ["solution_workflows.lock", "solution_workflows.save"]
    [saved] = world.workflows.saved
    insight = {
        "response_id": str(R1),
        "expert_first_name": "Ana",
        "summary": f"summary: {ANSWER}",
        "verbatim": ANSWER,
    }
    sources = sources_of([WEB_ROW], [TRUSTWELL_ROW], [insight])
    raw = fallback.expert_assessment(ANSWER, sources)
    assert raw["mentionedVendors"] == ["Trustwell"]
    assert saved.community_insights == [
        {**insight, "added_value": True, "has_contact_intro": False, "contact_info": None}
    ]
    assert saved.expert_recommendations == [{"name": "Trustwell", "response_id": str(R1)}]
    assert saved.completed_tasks == [
        {
            "type": saga.EXPERT_RESPONSE,
            "response_id": str(R1),
            "completed_at": NOW.isoformat(),
            "assessment": raw,
        }
    ]
    assert saved.conversation_log == [
        {
            "step": saga.PROCESS_EXPERT_RESPONSE_STEP,
            "decision": {**raw, "grounded_vendors": ["Trustwell"]},
            "reasoning": raw["reasoning"],
            "by": "fallback",
            "timestamp": NOW.isoformat(),
            "response_id": str(R1),
        }
    ]
    assert saved.last_decision_at == NOW
    assert (saved.status, saved.current_step, saved.next_action) == (saga.IN_PROGRESS, saga.AWAITING, "wait")
    assert world.queued() == []
    assert w is world.workflows.rows[WF]


def test_the_second_answer_completes_the_workflow(world: World) -> None:
    waiting(world)
    assert answer(world, R1).status == "waiting"
    result = answer(world, R2, text=ANSWER2, name="Ben")
    assert result == saga.StepResult(
        "completed", WF, saga.COMPLETE, f"{SAGA_MIN_EXPERT_RESPONSES} expert answers"
    )
    final = world.workflows.saved[-1]
    assert (final.status, final.current_step, final.completed_at) == ("completed", saga.COMPLETE, NOW)
    assert [t["type"] for t in final.completed_tasks] == [
        saga.EXPERT_RESPONSE,
        saga.EXPERT_RESPONSE,
        "final_evaluation",
    ]
    assert len(world.workflows.saved) == 2
    assert world.queued()[-1].message_data["kind"] == saga.RESEARCH_COMPLETE
    assert world.queued()[-1].message_data["timed_out"] is False
    assert final.final_recommendations is not None and final.final_recommendations["timed_out"] is False
    assert final.completed_tasks[-1]["timed_out"] is False
    # a third answer arrives after the final evaluation: ignored
    assert answer(world, R3).status == "ignored"


def test_other_completed_tasks_do_not_count_as_answers(world: World) -> None:
    waiting(world, completed_tasks=[{"type": "community_request"}, {"type": "final_evaluation"}])
    assert answer(world).detail == f"1 of {SAGA_MIN_EXPERT_RESPONSES} expert answers"


def test_the_model_assesses_the_answer_with_what_the_workflow_knows(world: World) -> None:
    waiting(
        world,
        community_insights=[
            {"response_id": str(R3), "expert_first_name": "Cy", "summary": "s3", "verbatim": "v3"}
        ],
    )
    llm = ScriptedLlm()
    llm.decision(
        "record_expert_assessment",
        **assessment(
            mentionedVendors=["Trustwell", "Vanta", "Imaginary Corp"],
            hasContactIntro=True,
            contactInfo="ana@x",
        ),
    )
    result = answer(world, llm=llm)
    assert result.status == "waiting"
    request = llm.requests[0]
    assert request.call_kind == "process_expert_response"
    assert (request.user_id, request.context_id) == (MEMBER, WF)
    note = note_of(llm, 0)
    assert note.startswith(f"MEMBER'S NEED: {NEED}\n\nNEW EXPERT ANSWER (from Ana):\n{ANSWER}\n\n")
    assert sources_sent(llm, 0) == {
        "web_search": "searched",
        "web_results": [{"url": WEB_ROW["url"], "title": WEB_ROW["title"], "cited": WEB_ROW["cited"]}],
        "innovators_in_our_network": [
            {
                k: TRUSTWELL_ROW[k]
                for k in ("company_name", "solution_name", "solution_description", "categories")
            }
        ],
        "expert_answers": [{"expert": "Cy", "answer": "v3"}],
    }
    [saved] = world.workflows.saved
    assert saved.expert_recommendations == [
        {"name": "Trustwell", "response_id": str(R1)},
        {"name": "Vanta", "response_id": str(R1)},
    ]
    assert saved.community_insights[-1]["has_contact_intro"] is True
    assert saved.community_insights[-1]["contact_info"] == "ana@x"
    [logged_decision] = entry(saved, saga.PROCESS_EXPERT_RESPONSE_STEP)
    assert logged_decision["by"] == "llm"
    assert logged_decision["reasoning"] == "a concrete recommendation"
    assert logged_decision["decision"]["grounded_vendors"] == ["Trustwell", "Vanta"]


def test_the_model_sees_an_answer_by_summary_when_there_is_no_verbatim(world: World) -> None:
    waiting(world, community_insights=[{"response_id": str(R3), "summary": "only a summary"}])
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", **assessment())
    answer(world, llm=llm, name=None)
    assert sources_sent(llm, 0)["expert_answers"] == [{"expert": None, "answer": "only a summary"}]
    assert "(from an expert)" in note_of(llm, 0)


def test_a_follow_up_question_goes_to_the_expert_once(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    long_need = (
        "Payroll software for a company with offices in three states and contractors abroad, "
        "plus benefits admin"
    )
    assert len(long_need) > 100
    waiting(world, request_description=long_need)
    world.response = SimpleNamespace(user_id=EXPERT, request_id=REQUEST)
    llm = ScriptedLlm()
    llm.decision(
        "record_expert_assessment",
        **assessment(needsFollowUp=True, followUpQuestion="  Which plan did you use?  "),
    )
    answer(world, llm=llm)
    [saved] = world.workflows.saved
    assert saved.next_action == "follow up with Ana: Which plan did you use?"
    assert world.log.of("community_responses", "lock")[0].args == (R1,)
    [part] = world.queued()
    cut = long_need[:99].rstrip() + "…"
    assert part.final_message == (
        f'Thanks for your answer on "{cut}". '
        "A quick follow-up from the member who asked: Which plan did you use?"
    )
    assert (part.user_id, part.agent_id, part.priority) == (EXPERT, "innovator", "medium")
    assert part.conversation_context_id is None
    assert part.message_data == {
        "kind": saga.EXPERT_FOLLOW_UP,
        "workflow_id": str(WF),
        "request_id": str(REQUEST),
        "response_id": str(R1),
        "question": "Which plan did you use?",
    }
    follow_up = {
        "question": "Which plan did you use?",
        "queued_message_ids": [str(world.queue_ids[0])],
        "expert_user_id": str(EXPERT),
    }
    assert saved.community_insights[-1]["follow_up"] == follow_up
    assert saved.conversation_log[-1] == {
        "step": saga.PROCESS_EXPERT_RESPONSE_STEP,
        "decision": {"follow_up": follow_up},
        "reasoning": "decision point 2 asked the expert a follow-up question",
        "by": "system",
        "timestamp": NOW.isoformat(),
        "response_id": str(R1),
    }


def test_a_need_of_100_characters_is_quoted_whole_in_a_follow_up(world: World) -> None:
    need = "x" * 90 + " payroll.."
    assert len(need) == 100
    waiting(world, request_description=need)
    world.response = SimpleNamespace(user_id=EXPERT, request_id=REQUEST)
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", **assessment(needsFollowUp=True, followUpQuestion="Which plan?"))
    answer(world, llm=llm, name=None)
    [part] = world.queued()
    assert part.final_message is not None and f'"{need}"' in part.final_message
    assert world.workflows.saved[0].next_action == "follow up with the expert: Which plan?"


def test_a_follow_up_for_an_answer_not_on_record_is_not_sent(world: World) -> None:
    waiting(world)
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", **assessment(needsFollowUp=True, followUpQuestion="Which plan?"))
    answer(world, llm=llm)
    assert world.queued() == []
    assert world.workflows.saved[0].community_insights[-1]["follow_up"] == {
        "question": "Which plan?",
        "queued_message_ids": [],
        "not_sent": "the answer is not on record",
    }


def test_a_follow_up_the_guards_refuse_is_not_sent(world: World) -> None:
    waiting(world)
    world.response = SimpleNamespace(user_id=EXPERT, request_id=REQUEST)
    llm = ScriptedLlm()
    llm.decision(
        "record_expert_assessment",
        **assessment(needsFollowUp=True, followUpQuestion="Did Zorblax Quantum help?"),
    )
    answer(world, llm=llm)
    assert world.queued() == []
    [saved] = world.workflows.saved
    assert saved.community_insights[-1]["follow_up"] == {
        "question": "Did Zorblax Quantum help?",
        "queued_message_ids": [],
        "expert_user_id": str(EXPERT),
        "not_sent": "the reply guards refused it",
    }
    [guard] = [e for e in saved.conversation_log if e["by"] == "guard"]
    assert guard["step"] == saga.PROCESS_EXPERT_RESPONSE_STEP


@pytest.mark.parametrize("question", [None, "   "])
def test_no_follow_up_without_a_question(world: World, question: str | None) -> None:
    waiting(world)
    world.response = SimpleNamespace(user_id=EXPERT, request_id=REQUEST)
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", **assessment(needsFollowUp=True, followUpQuestion=question))
    answer(world, llm=llm)
    [saved] = world.workflows.saved
    assert saved.next_action == "wait"
    assert "follow_up" not in saved.community_insights[-1]
    assert world.log.of("community_responses") == []


def test_no_follow_up_when_the_model_says_none_is_needed(world: World) -> None:
    waiting(world)
    llm = ScriptedLlm()
    llm.decision(
        "record_expert_assessment", **assessment(needsFollowUp=False, followUpQuestion="Which plan?")
    )
    answer(world, llm=llm)
    assert world.workflows.saved[0].next_action == "wait"
    assert world.log.of("community_responses") == []


def test_the_last_answer_asks_no_follow_up_and_sends_no_update(world: World) -> None:
    waiting(world, completed_tasks=[{"type": saga.EXPERT_RESPONSE}])
    world.response = SimpleNamespace(user_id=EXPERT, request_id=REQUEST)
    llm = ScriptedLlm()
    llm.decision(
        "record_expert_assessment",
        **assessment(needsFollowUp=True, followUpQuestion="Which plan?", shouldUpdateUser=True),
    )
    llm.push(LlmUnavailable("down"))
    assert answer(world, llm=llm).status == "completed"
    assert world.log.of("community_responses") == []
    assert [p.message_data["kind"] for p in world.queued()] == [saga.RESEARCH_COMPLETE]


def test_an_answer_worth_telling_now_is_sent_to_the_member(world: World) -> None:
    waiting(world)
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", **assessment(shouldUpdateUser=True))
    answer(world, llm=llm)
    [part] = world.queued()
    insight = {
        "response_id": str(R1),
        "expert_first_name": "Ana",
        "summary": f"summary: {ANSWER}",
        "verbatim": ANSWER,
    }
    sources = sources_of([WEB_ROW], [TRUSTWELL_ROW], [insight])
    expected = final_message(
        NEED, [], [], sources, None, timed_out=False, peers=[("Ana", f"summary: {ANSWER}")]
    )
    assert part.final_message == expected + " More answers may follow."
    assert part.message_data == {
        "kind": saga.EXPERT_UPDATE,
        "workflow_id": str(WF),
        "expert_first_name": "Ana",
    }
    assert (part.user_id, part.agent_id, part.priority, part.conversation_context_id) == (
        MEMBER,
        "concierge",
        "medium",
        CONVERSATION,
    )


@pytest.mark.parametrize(("update", "value"), [(False, True), (True, False)])
def test_no_update_unless_the_model_says_so_and_the_answer_adds_value(
    world: World, update: bool, value: bool
) -> None:
    waiting(world)
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", **assessment(shouldUpdateUser=update, addedValue=value))
    answer(world, llm=llm)
    assert world.queued() == []


def test_an_update_the_guards_refuse_is_not_sent(world: World) -> None:
    waiting(world)
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", **assessment(shouldUpdateUser=True))
    answer(world, llm=llm, name="Zed Quux")
    assert world.queued() == []
    [guard] = [e for e in world.workflows.saved[0].conversation_log if e["by"] == "guard"]
    assert guard["step"] == saga.PROCESS_EXPERT_RESPONSE_STEP


# --- 4. The timeout and the final evaluation -------------------------------------------------------


def test_a_timeout_for_no_workflow_is_refused(world: World) -> None:
    with pytest.raises(PermanentError, match=refusal(f"no solution workflow {WF}")):
        saga.expert_responses_timeout(world.pg, WF, deps=world.deps())


@pytest.mark.parametrize(
    ("status", "step"),
    [("completed", saga.COMPLETE), (saga.IN_PROGRESS, saga.FINAL_EVALUATION), ("cancelled", saga.AWAITING)],
)
def test_a_timeout_for_a_workflow_not_waiting_is_ignored(world: World, status: str, step: str) -> None:
    waiting(world, status=status, current_step=step)
    result = saga.expert_responses_timeout(world.pg, WF, deps=world.deps())
    assert result == saga.StepResult("ignored", WF, step, f"workflow is {status} at {step}")
    assert world.workflows.saved == []
    assert world.log.of("solution_workflows", "expert_answers") == []


def test_the_timeout_collects_answers_not_yet_processed_and_completes(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    recorded = {
        "response_id": str(R1),
        "expert_first_name": "Ana",
        "summary": "We used Trustwell.",
        "verbatim": "v",
    }
    waiting(world, community_insights=[recorded])
    world.workflows.answers = [
        ExpertAnswer(R1, EXPERT, "Ana", "We used Trustwell.", "v"),
        ExpertAnswer(R2, EXPERT2, "Ben", "Trustwell was fine for us.", None),
    ]
    result = saga.expert_responses_timeout(world.pg, WF, deps=world.deps())
    assert result == saga.StepResult("completed", WF, saga.COMPLETE, "timeout")
    assert world.log.of("solution_workflows", "expert_answers")[0].args == (WF,)
    [saved] = world.workflows.saved
    assert saved.community_insights == [
        recorded,
        {
            "response_id": str(R2),
            "expert_first_name": "Ben",
            "summary": "Trustwell was fine for us.",
            "verbatim": None,
            "collected_at_timeout": True,
        },
    ]
    [timeout] = entry(saved, "expert_responses_timeout")
    assert timeout == {
        "step": "expert_responses_timeout",
        "decision": {"expert_answers": 2},
        "reasoning": "24 hours passed",
        "by": "system",
        "timestamp": NOW.isoformat(),
    }
    [final] = entry(saved, saga.FINAL_EVALUATION)
    assert final["decision"]["timed_out"] is True
    assert saved.final_recommendations is not None and saved.final_recommendations["timed_out"] is True
    [line] = logged(caplog, "solution workflow completed")
    assert line.timed_out is True  # type: ignore[attr-defined]


def test_the_final_evaluation_offline(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    insights: list[dict[str, Any]] = [
        {
            "response_id": str(R1),
            "expert_first_name": "Ana",
            "summary": "We used Trustwell.",
            "verbatim": "v1",
        },
        {"response_id": str(R2), "expert_first_name": None, "summary": None, "verbatim": "v2"},
    ]
    w = waiting(
        world,
        community_insights=insights,
        pending_tasks=[{"type": "community_request"}],
        completed_tasks=[{"type": saga.EXPERT_RESPONSE}],
        quality_threshold_met=False,
    )
    world.cancelled_tasks = 2
    saga.final_evaluation(world.pg, w, deps=world.deps(), now=NOW, timed_out=False)

    raw = fallback.final_recommendations([TRUSTWELL_ROW], insights)
    options = raw["options"]
    sources = sources_of([WEB_ROW], [TRUSTWELL_ROW], insights)
    assert entry(w, saga.FINAL_EVALUATION) == [
        {
            "step": saga.FINAL_EVALUATION,
            "decision": {**raw, "grounded_options": options, "dropped_unsourced": [], "timed_out": False},
            "reasoning": raw["reasoning"],
            "by": "fallback",
            "timestamp": NOW.isoformat(),
        }
    ]
    peers = [("Ana", "We used Trustwell."), (None, "")]
    [part] = world.queued()
    assert part.final_message == final_message(NEED, options, [], sources, None, timed_out=False, peers=peers)
    assert part.message_data == {
        "kind": saga.RESEARCH_COMPLETE,
        "workflow_id": str(WF),
        "options": options,
        "frequently_mentioned": [],
        "timed_out": False,
        "web_searched": True,
    }
    assert (part.user_id, part.agent_id, part.priority, part.conversation_context_id) == (
        MEMBER,
        "concierge",
        "high",
        CONVERSATION,
    )
    assert w.final_recommendations == {
        "options": options,
        "frequently_mentioned": [],
        "narrowing_question": None,
        "summary": raw["summary"],
        "timed_out": False,
        "queued_message_ids": [str(world.queue_ids[0])],
    }
    assert w.quality_threshold_met is True
    assert [c.kwargs for c in world.log.of("tasks", "cancel_pending")] == [
        {
            "task_type": saga.TIMEOUT_TASK,
            "user_id": MEMBER,
            "context_id": WF,
            "context_type": "solution_workflow",
            "reason": "workflow completed",
        },
        {
            "task_type": "process_community_response",
            "user_id": MEMBER,
            "context_id": WF,
            "context_type": "solution_workflow",
            "reason": "workflow completed",
        },
    ]
    assert w.completed_tasks == [
        {"type": saga.EXPERT_RESPONSE},
        {"type": "final_evaluation", "timed_out": False, "completed_at": NOW.isoformat()},
    ]
    assert w.pending_tasks == []
    assert (w.status, w.current_step, w.completed_at, w.next_action) == (
        "completed",
        saga.COMPLETE,
        NOW,
        None,
    )
    assert world.log.committed_events == []
    [event] = world.committed()
    assert event == Event(
        event_type=saga.RESEARCH_COMPLETE,
        aggregate_type="user",
        aggregate_id=MEMBER,
        payload={
            "user_id": str(MEMBER),
            "workflow_id": str(WF),
            "request_description": NEED,
            "category": "compliance",
            "options": ["Trustwell"],
            "timed_out": False,
        },
        created_by="solution_saga",
    )
    [line] = logged(caplog, "solution workflow completed")
    assert line.levelno == logging.INFO
    assert (line.workflow_id, line.timed_out, line.options, line.experts) == (str(WF), False, 1, 2)  # type: ignore[attr-defined]


def test_the_final_evaluation_with_the_model(world: World) -> None:
    w = waiting(
        world,
        community_insights=[
            {
                "response_id": str(R1),
                "expert_first_name": "Ana",
                "summary": "Drata and Vanta both work.",
                "verbatim": "x",
            }
        ],
        quality_threshold_met=True,
    )
    llm = ScriptedLlm()
    vanta = option("Vanta", url="https://vanta.example/soc2", reason="automates audits")
    made_up = option("Imaginary Corp")
    llm.decision(
        "record_final_recommendations",
        **final_decision(
            [vanta, made_up],
            frequentlyMentioned=["Drata", "Nowhere Inc"],
            narrowingQuestion="What is your budget?",
        ),
    )
    saga.final_evaluation(world.pg, w, deps=world.deps(llm), now=NOW, timed_out=True)
    note = note_of(llm, 0)
    assert note.startswith(f"MEMBER'S NEED: {NEED}\nWHY NOW: 24 hours passed\n\n")
    assert llm.requests[0].call_kind == "final_evaluation"
    assert (llm.requests[0].user_id, llm.requests[0].context_id) == (MEMBER, WF)
    assert sources_sent(llm, 0)["expert_answers"] == [{"expert": "Ana", "answer": "x"}]
    [final] = entry(w, saga.FINAL_EVALUATION)
    assert final["by"] == "llm"
    assert final["reasoning"] == "both are named in the sources"
    assert final["decision"]["grounded_options"] == [vanta]
    assert final["decision"]["dropped_unsourced"] == [{**made_up, "why": "name not in any stored source"}]
    assert final["decision"]["timed_out"] is True
    sources = sources_of([WEB_ROW], [TRUSTWELL_ROW], w.community_insights)
    [part] = world.queued()
    assert part.final_message == final_message(
        NEED,
        [vanta],
        ["Drata"],
        sources,
        "What is your budget?",
        timed_out=True,
        peers=[("Ana", "Drata and Vanta both work.")],
    )
    assert part.message_data["frequently_mentioned"] == ["Drata"]
    assert part.message_data["timed_out"] is True
    assert w.final_recommendations is not None
    assert w.final_recommendations["narrowing_question"] == "What is your budget?"
    assert w.final_recommendations["summary"] == "two vendors fit"
    assert w.final_recommendations["frequently_mentioned"] == ["Drata"]
    assert w.completed_tasks[-1] == {
        "type": "final_evaluation",
        "timed_out": True,
        "completed_at": NOW.isoformat(),
    }
    [event] = world.committed()
    assert event.payload["options"] == ["Vanta"]
    assert event.payload["timed_out"] is True


def test_the_final_evaluation_after_two_answers_says_why(world: World) -> None:
    w = waiting(world)
    llm = ScriptedLlm(LlmUnavailable("down"))
    saga.final_evaluation(world.pg, w, deps=world.deps(llm), now=NOW, timed_out=False)
    assert f"WHY NOW: {SAGA_MIN_EXPERT_RESPONSES} experts answered\n" in note_of(llm, 0)
    assert entry(w, saga.FINAL_EVALUATION)[0]["by"] == "fallback"


def test_no_options_means_a_medium_priority_message_and_no_quality_flag(world: World) -> None:
    w = waiting(world, matched_innovators=[], web_results=[], community_insights=[])
    saga.final_evaluation(world.pg, w, deps=world.deps(), now=NOW, timed_out=True)
    sources = sources_of([], [], [])
    [part] = world.queued()
    assert part.priority == "medium"
    assert part.final_message == final_message(NEED, [], [], sources, None, timed_out=True, peers=[])
    assert w.quality_threshold_met is False
    assert w.final_recommendations is not None and w.final_recommendations["options"] == []
    assert part.message_data["web_searched"] is False


def test_final_options_with_a_refused_reason_are_sent_without_it(world: World) -> None:
    w = waiting(world)
    llm = ScriptedLlm()
    vanta = option("Vanta", reason="used by Zorblax Quantum")
    llm.decision("record_final_recommendations", **final_decision([vanta]))
    saga.final_evaluation(world.pg, w, deps=world.deps(llm), now=NOW, timed_out=False)
    bare = [{**vanta, "reason": ""}]
    [part] = world.queued()
    assert part.message_data["options"] == bare
    assert part.priority == "high"
    [guard] = [e for e in w.conversation_log if e["by"] == "guard"]
    assert guard["step"] == saga.FINAL_EVALUATION


def test_refused_options_leave_the_peers_words(world: World) -> None:
    w = waiting(
        world,
        community_insights=[
            {
                "response_id": str(R1),
                "expert_first_name": "Ana",
                "summary": "Vanta was fine.",
                "verbatim": "v",
            }
        ],
    )
    llm = ScriptedLlm()
    llm.decision(
        "record_final_recommendations",
        **final_decision([option("Vanta")], narrowingQuestion="Is Zorblax Quantum an option?"),
    )
    saga.final_evaluation(world.pg, w, deps=world.deps(llm), now=NOW, timed_out=False)
    sources = sources_of([WEB_ROW], [TRUSTWELL_ROW], w.community_insights)
    [part] = world.queued()
    assert part.final_message == final_message(
        NEED, [], [], sources, None, timed_out=False, peers=[("Ana", "Vanta was fine.")]
    )
    assert part.priority == "medium"
    assert part.message_data["options"] == []
    assert w.final_recommendations is not None
    assert w.final_recommendations["narrowing_question"] == "Is Zorblax Quantum an option?"
    assert len([e for e in w.conversation_log if e["by"] == "guard"]) == 2


def test_refused_peers_leave_the_honest_empty_answer(world: World) -> None:
    w = waiting(
        world,
        community_insights=[
            {
                "response_id": str(R1),
                "expert_first_name": "Zed Quux",
                "summary": "Vanta was fine.",
                "verbatim": "v",
            }
        ],
    )
    llm = ScriptedLlm()
    llm.decision(
        "record_final_recommendations",
        **final_decision([option("Vanta")], narrowingQuestion="Is Zorblax Quantum an option?"),
    )
    saga.final_evaluation(world.pg, w, deps=world.deps(llm), now=NOW, timed_out=True)
    sources = sources_of([WEB_ROW], [TRUSTWELL_ROW], w.community_insights)
    [part] = world.queued()
    assert part.final_message == final_message(NEED, [], [], sources, None, timed_out=True)
    guards = [e["step"] for e in w.conversation_log if e["by"] == "guard"]
    assert guards == [saga.FINAL_EVALUATION] * 3


# --- Cancellation ------------------------------------------------------------------------------------

Q1, Q2, Q3 = uuid4(), uuid4(), uuid4()


def test_cancelling_a_workflow_withdraws_everything_it_started(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = a_workflow(
        initial_findings={"queued_message_ids": [str(Q1)]},
        community_insights=[
            {
                "response_id": str(R1),
                "follow_up": {"expert_user_id": str(EXPERT), "queued_message_ids": [str(Q2), str(Q3)]},
            },
            {"response_id": str(R2)},
            {"response_id": str(R3), "follow_up": {"not_sent": "x"}},
        ],
        pending_tasks=[{"type": saga.TIMEOUT_TASK}],
    )
    world.workflows.open = [w]
    world.cancelled_tasks = 2
    cancelled = saga.cancel_workflows(world.pg, user_id=MEMBER, now=NOW, about="soc 2")
    assert cancelled == [WF]
    [open_call] = world.log.of("solution_workflows", "open_for_user")
    assert open_call.args == (MEMBER,)
    assert open_call.kwargs == {"workflow_id": None, "about": "soc 2", "request_ids": None}
    assert [c.kwargs for c in world.log.of("tasks", "cancel_pending")] == [
        {
            "task_type": t,
            "user_id": MEMBER,
            "context_id": WF,
            "context_type": "solution_workflow",
            "reason": "workflow cancelled by the member",
        }
        for t in (saga.TIMEOUT_TASK, "process_community_response")
    ]
    assert [c.kwargs for c in world.log.of("queue", "cancel")] == [
        {"user_id": MEMBER, "queue_id": Q1, "reason": "research cancelled"},
        {"user_id": EXPERT, "queue_id": Q2, "reason": "research cancelled"},
        {"user_id": EXPERT, "queue_id": Q3, "reason": "research cancelled"},
    ]
    assert world.withdrawn == [
        {"request_id": REQUEST, "user_id": MEMBER, "now": NOW, "requesting_agent_type": "solution_saga"}
    ]
    [saved] = world.workflows.saved
    assert saved.conversation_log == [
        {
            "step": saga.CANCELLED,
            "decision": {"tasks_cancelled": 4, "community_request": "cancelled"},
            "reasoning": "the member no longer needs it",
            "by": "member",
            "timestamp": NOW.isoformat(),
        }
    ]
    assert (saved.status, saved.current_step, saved.cancelled_at) == ("cancelled", saga.CANCELLED, NOW)
    assert (saved.pending_tasks, saved.next_action) == ([], None)
    assert saved.last_decision_at == NOW
    [line] = logged(caplog, "solution workflows cancelled")
    assert line.levelno == logging.INFO
    assert (line.user_id, line.workflows) == (str(MEMBER), [str(WF)])  # type: ignore[attr-defined]


@pytest.mark.parametrize("error", [community.NotARequester("no"), community.UnknownRequest("no")])
def test_a_community_request_not_ours_to_withdraw_is_noted(world: World, error: Exception) -> None:
    world.workflows.open = [a_workflow()]
    world.cancel_answer = error
    saga.cancel_workflows(world.pg, user_id=MEMBER, now=NOW)
    assert world.workflows.saved[0].conversation_log[0]["decision"]["community_request"] == "not_a_requester"


def test_a_workflow_without_findings_or_a_request_is_cancelled_alone(world: World) -> None:
    other = uuid4()
    world.workflows.open = [
        a_workflow(community_request_id=None, initial_findings=None),
        a_workflow(id=other, community_request_id=None, initial_findings={"has_value_to_share": False}),
    ]
    world.cancelled_tasks = 0
    assert saga.cancel_workflows(
        world.pg, user_id=MEMBER, now=NOW, workflow_id=WF, request_ids=[REQUEST]
    ) == [WF, other]
    assert world.withdrawn == []
    assert world.log.of("queue") == []
    assert world.workflows.saved[0].conversation_log[0]["decision"] == {
        "tasks_cancelled": 0,
        "community_request": None,
    }
    assert world.log.of("solution_workflows", "open_for_user")[0].kwargs == {
        "workflow_id": WF,
        "about": None,
        "request_ids": [REQUEST],
    }


def test_nothing_open_cancels_nothing_and_logs_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert saga.cancel_workflows(world.pg, user_id=MEMBER, now=NOW) == []
    assert logged(caplog, "solution workflows cancelled") == []


def cancelled_event(payload: Any) -> Delivery:
    return a_delivery(saga.SOLUTION_CANCELLED, {"payload": payload})


def test_a_cancellation_payload_that_is_not_an_object_is_refused(world: World) -> None:
    message = "user.inquiry.solution_cancelled payload is not an object"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.handle_solution_cancelled(cancelled_event([1]), world.pg, world.deps())


@pytest.mark.parametrize("payload", [None, {}, {"user_id": "nope"}])
def test_a_cancellation_needs_a_user_id(world: World, payload: Any) -> None:
    message = "user.inquiry.solution_cancelled needs a user_id (UUID)"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.handle_solution_cancelled(cancelled_event(payload), world.pg, world.deps())


@pytest.mark.parametrize("ids", ["abc", [str(REQUEST), "nope"], [None], {"a": 1}, 5, {str(REQUEST): 1}])
def test_cancelled_community_request_ids_must_be_uuids(world: World, ids: Any) -> None:
    message = "user.inquiry.solution_cancelled: community_request_ids must be a list of UUIDs"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.handle_solution_cancelled(
            cancelled_event({"user_id": str(MEMBER), "community_request_ids": ids}), world.pg, world.deps()
        )
    assert world.log.calls == []


def opened(world: World) -> list[dict[str, Any]]:
    return [{"user": c.args[0], **c.kwargs} for c in world.log.of("solution_workflows", "open_for_user")]


def test_a_cancellation_with_nothing_named_cancels_all_the_members_research(world: World) -> None:
    world.workflows.open = [a_workflow()]
    result = saga.handle_solution_cancelled(cancelled_event({"user_id": str(MEMBER)}), world.pg, world.deps())
    assert result == {"cancelled": [str(WF)]}
    assert opened(world) == [{"user": MEMBER, "workflow_id": None, "about": None, "request_ids": None}]
    assert world.withdrawn[0]["now"] == NOW


def test_a_cancellation_of_community_requests_cancels_the_research_waiting_on_them(world: World) -> None:
    world.workflows.open = [a_workflow()]
    payload = {"user_id": str(MEMBER), "community_request_ids": [str(REQUEST)], "about": 7}
    result = saga.handle_solution_cancelled(cancelled_event(payload), world.pg, world.deps())
    assert result == {"cancelled": [str(WF)]}
    assert opened(world) == [{"user": MEMBER, "workflow_id": None, "about": None, "request_ids": [REQUEST]}]


def test_a_cancellation_naming_requests_and_a_topic_does_both(world: World) -> None:
    world.workflows.open = [a_workflow()]
    payload = {"user_id": str(MEMBER), "community_request_ids": [str(REQUEST)], "about": "soc 2"}
    result = saga.handle_solution_cancelled(cancelled_event(payload), world.pg, world.deps())
    assert result == {"cancelled": [str(WF), str(WF)]}
    assert opened(world) == [
        {"user": MEMBER, "workflow_id": None, "about": None, "request_ids": [REQUEST]},
        {"user": MEMBER, "workflow_id": None, "about": "soc 2", "request_ids": None},
    ]


def test_a_cancellation_naming_requests_and_a_workflow_does_both(world: World) -> None:
    payload = {"user_id": str(MEMBER), "community_request_ids": [str(REQUEST)], "workflow_id": str(WF)}
    assert saga.handle_solution_cancelled(cancelled_event(payload), world.pg, world.deps()) == {
        "cancelled": []
    }
    assert opened(world) == [
        {"user": MEMBER, "workflow_id": None, "about": None, "request_ids": [REQUEST]},
        {"user": MEMBER, "workflow_id": WF, "about": None, "request_ids": None},
    ]


def test_a_cancellation_by_workflow_id(world: World) -> None:
    payload = {"user_id": str(MEMBER), "workflow_id": str(WF), "community_request_ids": []}
    saga.handle_solution_cancelled(cancelled_event(payload), world.pg, world.deps())
    assert opened(world) == [{"user": MEMBER, "workflow_id": WF, "about": None, "request_ids": None}]


# --- The delivery handlers ---------------------------------------------------------------------------


def test_the_solution_needed_event_starts_a_workflow_once(world: World) -> None:
    payload = {"user_id": str(MEMBER), "request_description": NEED, "category": "compliance"}
    result = saga.handle_solution_needed(
        a_delivery(saga.SOLUTION_NEEDED, {"payload": payload}), world.pg, world.deps()
    )
    assert result == {"status": saga.AWAITING, "workflow_id": str(WF), "step": saga.AWAITING, "detail": ""}
    assert world.log.of("solution_workflows", "by_event")[0].args == (EVENT_ID,)
    assert world.log.of("solution_workflows", "add")[0].kwargs["source_event_id"] == EVENT_ID


def test_a_solution_needed_event_without_a_payload_is_refused(world: World) -> None:
    message = "user.inquiry.solution_needed needs a user_id (UUID)"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.handle_solution_needed(a_delivery(saga.SOLUTION_NEEDED, {}), world.pg, world.deps())


def response_task(context: Any, *, context_id: Any = None) -> Delivery:
    data: dict[str, Any] = {"context_json": context}
    if context_id is not None:
        data["context_id"] = context_id
    return a_delivery(saga.PROCESS_RESPONSE, data, kind="task")


def test_a_response_task_with_odd_context_is_refused(world: World) -> None:
    message = "process_community_response: context_json is not an object"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.handle_response_task(response_task(["x"]), world.pg, world.deps())


@pytest.mark.parametrize("context", [None, {}, {"workflow_id": "nope"}])
def test_a_response_task_must_name_its_workflow(world: World, context: Any) -> None:
    message = "process_community_response names no solution workflow (context_id)"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.handle_response_task(response_task(context), world.pg, world.deps())


def test_a_response_task_needs_a_response_id(world: World) -> None:
    message = "process_community_response without a response_id"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.handle_response_task(
            response_task({"workflow_id": str(WF), "response_id": "x"}), world.pg, world.deps()
        )


@pytest.mark.parametrize("text", [None, "  ", 5])
def test_a_response_task_needs_the_answer(world: World, text: Any) -> None:
    message = f"process_community_response {R1} carries no answer text"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.handle_response_task(
            response_task({"workflow_id": str(WF), "response_id": str(R1), "verbatim_answer": text}),
            world.pg,
            world.deps(),
        )


def test_a_response_task_records_the_verbatim_answer_and_its_summary(world: World) -> None:
    waiting(world)
    context = {
        "response_id": str(R1),
        "verbatim_answer": ANSWER,
        "response_summary": "Trustwell saved weeks",
        "expert_first_name": "Ana",
    }
    result = saga.handle_response_task(response_task(context, context_id=str(WF)), world.pg, world.deps())
    assert result == {
        "status": "waiting",
        "workflow_id": str(WF),
        "step": saga.AWAITING,
        "detail": f"1 of {SAGA_MIN_EXPERT_RESPONSES} expert answers",
    }
    assert world.log.of("solution_workflows", "lock")[0].args == (WF,)
    [insight] = world.workflows.saved[0].community_insights
    assert {k: insight[k] for k in ("response_id", "expert_first_name", "summary", "verbatim")} == {
        "response_id": str(R1),
        "expert_first_name": "Ana",
        "summary": "Trustwell saved weeks",
        "verbatim": ANSWER,
    }


def test_a_response_task_with_a_summary_alone(world: World) -> None:
    waiting(world)
    context = {
        "workflow_id": str(WF),
        "response_id": str(R1),
        "response_summary": ANSWER,
        "expert_first_name": 3,
    }
    saga.handle_response_task(response_task(context, context_id="not-a-uuid"), world.pg, world.deps())
    [insight] = world.workflows.saved[0].community_insights
    assert (insight["summary"], insight["verbatim"], insight["expert_first_name"]) == (ANSWER, ANSWER, None)


def test_the_timeout_task(world: World) -> None:
    waiting(world)
    task = a_delivery(saga.TIMEOUT_TASK, {"context_json": {"workflow_id": str(WF)}}, kind="task")
    result = saga.handle_timeout_task(task, world.pg, world.deps())
    assert result == {
        "status": "completed",
        "workflow_id": str(WF),
        "step": saga.COMPLETE,
        "detail": "timeout",
    }
    message = "solution_workflow_timeout names no solution workflow (context_id)"
    with pytest.raises(PermanentError, match=refusal(message)):
        saga.handle_timeout_task(a_delivery(saga.TIMEOUT_TASK, {}, kind="task"), world.pg, world.deps())


# --- Grounding for points of contact -------------------------------------------------------------------


def test_allowed_sources_are_what_the_members_recent_workflows_stored(world: World) -> None:
    world.workflows.sources = [
        WorkflowSources(WF, [WEB_ROW], [], []),
        WorkflowSources(uuid4(), [], [TRUSTWELL_ROW], [{"summary": "Drata works"}]),
    ]
    sources = saga.allowed_sources(world.pg, MEMBER, now=NOW)
    assert sources == sources_of([WEB_ROW], [], []).merge(
        sources_of([], [TRUSTWELL_ROW], [{"summary": "Drata works"}])
    )
    assert isinstance(sources, Sources)
    [call] = world.log.of("solution_workflows", "sources_for_user")
    assert call.args == (MEMBER,)
    assert call.kwargs == {"since": NOW - SAGA_SOURCES_LOOKBACK, "limit": SAGA_SOURCES_WORKFLOWS}


# --- Edges found by the mutants --------------------------------------------------------------------


def test_a_response_task_without_context_json_but_a_context_id_needs_a_response_id(world: World) -> None:
    task = a_delivery(saga.PROCESS_RESPONSE, {"context_id": str(WF)}, kind="task")
    with pytest.raises(PermanentError, match=refusal("process_community_response without a response_id")):
        saga.handle_response_task(task, world.pg, world.deps())


def test_a_follow_up_to_an_expert_who_is_not_a_member_is_refused(world: World) -> None:
    waiting(world)
    stranger = uuid4()
    world.response = SimpleNamespace(user_id=stranger, request_id=REQUEST)
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", **assessment(needsFollowUp=True, followUpQuestion="Which plan?"))
    with pytest.raises(PermanentError, match=refusal(f"no member {stranger}")):
        answer(world, llm=llm)


def test_a_follow_up_quotes_the_need_on_one_line_cut_before_a_space(world: World) -> None:
    need = "x  " + "a" * 96 + "  " + "b" * 30  # on one line, its 99th character is a space
    waiting(world, request_description=need)
    world.response = SimpleNamespace(user_id=EXPERT, request_id=REQUEST)
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", **assessment(needsFollowUp=True, followUpQuestion="Which plan?"))
    answer(world, llm=llm)
    [part] = world.queued()
    assert part.final_message is not None
    assert part.final_message.startswith(f'Thanks for your answer on "x {"a" * 96}…". ')


def test_the_community_request_summary_is_the_first_100_characters(world: World) -> None:
    need = "payroll " * 20
    saga.start_workflow(
        world.pg, needed(request_description=need.strip()), deps=world.deps(), source_event_id=EVENT_ID
    )
    [(request, _, _)] = world.routed
    assert request.request_summary == need.strip()[:100]
    assert len(request.request_summary or "") == 100


def test_the_quality_flag_once_met_stays_met(world: World) -> None:
    w = waiting(world, matched_innovators=[], web_results=[], quality_threshold_met=True)
    saga.final_evaluation(world.pg, w, deps=world.deps(), now=NOW, timed_out=True)
    assert w.final_recommendations is not None and w.final_recommendations["options"] == []
    assert w.quality_threshold_met is True


class StepWatchingLlm(ScriptedLlm):
    """Notes the workflow's step at each model call: the step a decision is taken in."""

    def __init__(self, world: World, *script: Any) -> None:
        super().__init__(*script)
        self.world = world
        self.steps: list[str] = []

    def complete(self, request: Any) -> LlmResponse:
        self.steps.append(self.world.workflows.rows[WF].current_step)
        return super().complete(request)


def test_each_decision_is_taken_in_its_step(world: World) -> None:
    llm = StepWatchingLlm(world, web_response([]), LlmUnavailable("down"))
    w = a_workflow(current_step=saga.INITIAL_RESEARCH, community_request_id=None)
    world.workflows.rows[WF] = w
    saga.initial_research(world.pg, w, deps=world.deps(llm), now=NOW)
    assert w.current_step == saga.EVALUATE_INITIAL
    saga.evaluate_initial(world.pg, w, deps=world.deps(llm), now=NOW)
    assert w.current_step == saga.AWAITING
    llm.push(LlmUnavailable("down"))
    saga.final_evaluation(world.pg, w, deps=world.deps(llm), now=NOW, timed_out=True)
    assert llm.steps == [saga.INITIAL_RESEARCH, saga.EVALUATE_INITIAL, saga.FINAL_EVALUATION]
    assert w.current_step == saga.COMPLETE


def test_an_update_for_an_answer_with_a_blank_summary_says_members_answered(world: World) -> None:
    waiting(world)
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", **assessment(shouldUpdateUser=True))
    saga.process_expert_response(
        world.pg,
        WF,
        response_id=R1,
        summary="  ",
        verbatim=ANSWER,
        expert_first_name="Ana",
        deps=world.deps(llm),
    )
    [part] = world.queued()
    assert part.final_message == (
        "Members answered, but I don't have options I can stand behind for "
        f"{NEED}. If you tell me more (budget, team size), I'll ask again. More answers may follow."
    )


def test_refused_options_and_no_peers_leave_the_honest_empty_answer(world: World) -> None:
    w = waiting(world)
    llm = ScriptedLlm()
    llm.decision(
        "record_final_recommendations",
        **final_decision([option("Vanta")], narrowingQuestion="Is Zorblax Quantum an option?"),
    )
    saga.final_evaluation(world.pg, w, deps=world.deps(llm), now=NOW, timed_out=False)
    [part] = world.queued()
    assert part.final_message == (
        "No member answered in time, and I don't have options I can stand behind for "
        f"{NEED}. If you tell me more (budget, team size), I'll ask again."
    )


def test_an_assessment_the_model_could_not_give_is_made_offline(world: World) -> None:
    waiting(world)
    llm = ScriptedLlm()
    llm.decision("record_expert_assessment", nonsense=True)
    answer(world, llm=llm)
    [decision] = entry(world.workflows.saved[0], saga.PROCESS_EXPERT_RESPONSE_STEP)
    assert decision["by"] == "fallback"
    assert decision["reasoning"] == "offline: answer recorded as given; no model judgement"


# --- 3b. The expert answers the follow-up question ----------------------------------------------------

QUESTION = "Do you have a contact at Trustwell?"
REPLY = "Dana Kim runs partnerships at Trustwell, happy to connect."


def asked(world: World, *, status: str = saga.IN_PROGRESS, sent: bool = True, **follow_up: Any) -> Workflow:
    """A workflow whose first answer (Ana's, R1) carries a follow-up question asked of EXPERT."""
    insight = {
        "response_id": str(R1),
        "expert_first_name": "Ana",
        "summary": ANSWER,
        "verbatim": ANSWER,
        "follow_up": {
            "question": QUESTION,
            "queued_message_ids": [str(uuid4())],
            "expert_user_id": str(EXPERT),
            **follow_up,
        },
    }
    done = {"status": "completed", "current_step": saga.COMPLETE, "completed_at": NOW - timedelta(hours=1)}
    w = waiting(
        world,
        community_insights=[insight],
        next_action=f"follow up with Ana: {QUESTION}",
        **(done if status == "completed" else {}),
    )
    if sent:
        world.workflows.follow_ups = [
            OpenFollowUp(WF, w.status, NEED, R1, QUESTION, NOW - timedelta(minutes=30))
        ]
    return w


def follow_up_answer(world: World, *, by: UUID = EXPERT, text: str = REPLY) -> saga.FollowUpAnswered:
    return saga.record_follow_up_answer(world.pg, WF, expert_user_id=by, answer=text, now=NOW)


def test_a_follow_up_answer_while_waiting_is_stored_for_the_final_evaluation(world: World) -> None:
    asked(world)
    result = follow_up_answer(world, text=f"  {REPLY}\n")
    assert result == saga.FollowUpAnswered("recorded", WF, saga.IN_PROGRESS, update_queued=False)
    assert result.as_dict() == {
        "status": "recorded",
        "workflow_id": str(WF),
        "workflow_status": saga.IN_PROGRESS,
        "update_queued": False,
    }
    assert world.log.methods() == [
        "solution_workflows.lock",
        "solution_workflows.open_follow_ups",
        "solution_workflows.save",
    ]
    [call] = world.log.of("solution_workflows", "open_follow_ups")
    assert call.args == (EXPERT,)
    assert call.kwargs == {"since": NOW - SAGA_FOLLOW_UP_ANSWER_WINDOW, "workflow_id": WF}
    [saved] = world.workflows.saved
    follow_up = saved.community_insights[0]["follow_up"]
    assert (follow_up["answer"], follow_up["answered_at"]) == (REPLY, NOW.isoformat())
    assert "update_queued_message_ids" not in follow_up
    assert saved.conversation_log == [
        {
            "step": saga.FOLLOW_UP_ANSWER_STEP,
            "decision": {"question": QUESTION, "answer": REPLY, "workflow_status": saga.IN_PROGRESS},
            "reasoning": "the expert answered the follow-up question",
            "by": "member",
            "timestamp": NOW.isoformat(),
            "response_id": str(R1),
        }
    ]
    assert saved.next_action == f"wait for {SAGA_MIN_EXPERT_RESPONSES} expert answers or the timeout"
    assert world.queued() == []
    # what the final evaluation reads: the model's sources, the grounding and the offline ranking
    assert saga._sources_for_model(saved)["expert_answers"] == [
        {"expert": "Ana", "answer": ANSWER, "follow_up": {"question": QUESTION, "answer": REPLY}}
    ]
    assert _sources_of(saved).backs_name("Dana Kim")


def _sources_of(w: Workflow) -> Sources:
    return sources_of(w.web_results, w.matched_innovators, w.community_insights)


def test_a_follow_up_answer_after_the_final_message_sends_the_member_one_update(world: World) -> None:
    asked(world, status="completed")
    result = follow_up_answer(world)
    assert result == saga.FollowUpAnswered("recorded", WF, "completed", update_queued=True)
    [part] = world.queued()
    assert part.user_id == MEMBER and part.agent_id == "concierge"
    assert part.message_data == {
        "kind": saga.EXPERT_UPDATE,
        "workflow_id": str(WF),
        "expert_first_name": "Ana",
    }
    assert part.final_message == (f'What members said about {NEED}: Ana said: "{REPLY}"{saga.FOLLOW_UP_LATE}')
    [saved] = world.workflows.saved
    follow_up = saved.community_insights[0]["follow_up"]
    assert follow_up["answer"] == REPLY
    assert follow_up["update_queued_message_ids"] == [str(world.queue_ids[0])]
    assert saved.next_action == f"follow up with Ana: {QUESTION}"  # a completed workflow's is kept
    assert [e["by"] for e in saved.conversation_log] == ["member"]


def test_a_follow_up_answer_the_guards_refuse_is_stored_but_not_sent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(saga, "unsendable", lambda text, sources, need: ["invented_name: Dana Kim"])
    asked(world, status="completed")
    assert follow_up_answer(world).update_queued is False
    assert world.queued() == []
    [saved] = world.workflows.saved
    assert saved.community_insights[0]["follow_up"]["update_queued_message_ids"] == []
    assert [(e["by"], e["step"]) for e in saved.conversation_log] == [
        ("member", saga.FOLLOW_UP_ANSWER_STEP),
        ("guard", saga.FOLLOW_UP_ANSWER_STEP),
    ]


def test_a_follow_up_asked_of_someone_else_is_refused(world: World) -> None:
    asked(world)
    with pytest.raises(saga.FollowUpRefused, match="no follow-up question on that research was asked"):
        follow_up_answer(world, by=EXPERT2)
    with pytest.raises(saga.FollowUpRefused, match="no follow-up question on that research was asked"):
        saga.record_follow_up_answer(world.pg, uuid4(), expert_user_id=EXPERT, answer=REPLY, now=NOW)
    assert world.workflows.saved == [] and world.queued() == []


def test_a_follow_up_not_sent_or_closed_is_refused(world: World) -> None:
    asked(world, sent=False)
    with pytest.raises(saga.FollowUpRefused, match="never sent, or the research is closed"):
        follow_up_answer(world)
    assert world.workflows.saved == [] and world.queued() == []


def test_an_empty_or_overlong_follow_up_answer_is_refused(world: World) -> None:
    asked(world)
    for text in (" ", "x" * (CONCIERGE_TEXT_MAX_CHARS + 1)):
        with pytest.raises(saga.FollowUpRefused, match="an answer is 1 to"):
            follow_up_answer(world, text=text)
    assert world.log.methods() == []


def test_a_follow_up_already_answered_records_nothing_twice(world: World) -> None:
    asked(world, status="completed", answer=REPLY, answered_at=NOW.isoformat())
    again = follow_up_answer(world)
    assert again == saga.FollowUpAnswered("already_recorded", WF, "completed")
    with pytest.raises(saga.FollowUpRefused, match="already answered"):
        follow_up_answer(world, text="Something else entirely.")
    assert world.workflows.saved == [] and world.queued() == []
    assert world.log.methods() == ["solution_workflows.lock", "solution_workflows.lock"]


def test_the_offline_final_evaluation_ranks_an_innovator_named_in_a_follow_up_answer() -> None:
    other = {**TRUSTWELL_ROW, "company_name": "Attestly", "solution_name": "Attestly"}
    insights = [{"summary": "nothing named", "follow_up": {"answer": "Attestly, without a doubt"}}]
    ranked = fallback.final_recommendations([TRUSTWELL_ROW, other], insights)
    assert ranked["options"][0]["name"] == "Attestly"
