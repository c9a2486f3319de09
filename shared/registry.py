"""The agent registry: the one list of agents. Everything that names agents derives from it.

One ``AgentSpec`` per agent holds its key (also its ``messages.role``, ``agent_tasks.agent_type``
and ``users.poc_agent_type``), whether it is a point of contact, its consumer function and
topic, the event and task types it handles with the handler for each, and its LLM call kinds.

Derived from it, and nowhere else:
- the routing table (``shared.routing``): consumers, topics, point-of-contact resolution;
- outbound ``messages.role`` values, the roles approval accepts, the per-call LLM settings
  (``shared.agents.llm_config``);
- the migrations' CHECK constraints are held against it by ``tests/unit/test_registry.py``.

Handlers are named ``"module:function"`` and imported only when a delivery needs them
(``shared.service_layer.delivery``), so this module stays a leaf that any layer may import.
A handler has the signature ``handle(delivery, uow, deps) -> dict | None``.

Adding an agent: see CONTRIBUTING.md, "Adding an agent".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from shared.domain.events import (
    COMMUNITY_REQUEST_NEEDED,
    INTRO_AGENT_EVENTS,
    INTRO_SERVICE_EVENTS,
    PROSPECT_RESEARCH_NEEDED,
    SOLUTION_RESEARCH_CANCELLED,
    SOLUTION_RESEARCH_NEEDED,
)

Kind = Literal["event", "task"]

# The role of rows the platform itself writes into ``messages`` (inbound triggers, notices).
SYSTEM_ROLE = "system"
# The role of a member's own inbound texts.
USER_ROLE = "user"
# agent_tasks.agent_type for work the database schedules on behalf of no particular agent
# (the summary trigger); routed to whichever agent declares the task type.
SYSTEM_AGENT_TYPE = "system"


@dataclass(frozen=True)
class CallDefaults:
    """Sampling defaults of one LLM call kind (agents.md §0.4, platform.md §7.2); the model is
    the ``ANTHROPIC_MODEL`` setting unless ``LLM_OVERRIDES`` says otherwise."""

    temperature: float
    max_tokens: int
    # The conversation is in the cached prefix, the per-turn block after it (docs/llm.md, "Prompt
    # caching"): for calls that see a member's growing conversation turn after turn.
    cache_history: bool = False
    cache_ttl: str = "5m"  # '1h' for a member's prefix that must outlive minutes between texts


# agents.md §0.4 and §16: the shapes every conversational agent's calls share.
_DECISION = CallDefaults(temperature=0.1, max_tokens=800, cache_history=True, cache_ttl="1h")
_REENGAGEMENT = CallDefaults(temperature=0.6, max_tokens=1000)
_SYSTEM_DECISION = CallDefaults(temperature=0.3, max_tokens=800, cache_history=True, cache_ttl="1h")
_REPLY = CallDefaults(temperature=0.7, max_tokens=500, cache_history=True, cache_ttl="1h")
_SCORING = CallDefaults(temperature=0.1, max_tokens=1000)


@dataclass(frozen=True)
class AgentSpec:
    key: str  # agent_type everywhere; the messages.role of what it sends
    point_of_contact: bool  # talks to members directly (owns their conversation)
    function: str  # folder under functions/
    topic: str  # Pub/Sub topic id its function is pushed from
    ordered: bool  # ordering key = user id
    deployed: bool  # False: named by the spec, built by a later issue; work for it dead-letters
    events: Mapping[str, str] = field(default_factory=dict)  # event_type -> "module:function"
    tasks: Mapping[str, str] = field(default_factory=dict)  # task_type -> "module:function"
    llm_calls: Mapping[str, CallDefaults] = field(default_factory=dict)  # call kind -> defaults
    description: str = ""
    # Events a planned agent (deployed=False) will handle once built: they are routed to it now, so
    # they wait as replayable dead letters ("not deployed yet") instead of having no route at all.
    planned_events: tuple[str, ...] = ()

    @property
    def role(self) -> str:
        return self.key

    def handler(self, kind: Kind, type_: str) -> str | None:
        return (self.events if kind == "event" else self.tasks).get(type_)


_SUMMARY = "shared.service_layer.summaries:handle_summary_task"
_AM_EVENT = "shared.service_layer.account_manager:handle_event"
_AM_TASK = "shared.service_layer.account_manager:handle_task"
# Concierge / Innovator re-engagement and the Account Manager's priority.update (decisions B5,
# agents.md §4.1, §4.8):
# declared by both members' points of contact, so routing sends each member's work to their own.
_POC_REENGAGEMENT = {"re_engagement_check": "shared.service_layer.reengagement:handle_reengagement_task"}
_POC_PRIORITY_UPDATE = {"priority.update": "shared.service_layer.reengagement:handle_priority_update"}
_RENDER = CallDefaults(
    temperature=0.7, max_tokens=500
)  # platform.md §1.8: writing what background agents queued
_SAGA = "shared.service_layer.solution_saga:"

AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec(
        key="bouncer",
        point_of_contact=True,
        function="agent_bouncer",
        topic="agent-bouncer",
        ordered=True,
        deployed=True,
        events={
            "message.received": "shared.service_layer.bouncer:handle_turn_event",
            "user.email_verified": "shared.service_layer.bouncer:handle_turn_event",
        },
        tasks={"re_engagement_check": "shared.service_layer.bouncer:handle_followup_task"},
        llm_calls={
            "decision": CallDefaults(temperature=0.1, max_tokens=500),
            "reengagement_decision": CallDefaults(temperature=0.6, max_tokens=500),
            "reply": CallDefaults(temperature=0.7, max_tokens=300),
            "referral_match": CallDefaults(temperature=0.1, max_tokens=300),
            "render": _RENDER,
        },
        description="Onboards and screens newcomers.",
    ),
    AgentSpec(
        key="concierge",
        point_of_contact=True,
        function="agent_concierge",
        topic="agent-concierge",
        ordered=True,
        deployed=True,
        events={
            "message.received": "shared.service_layer.concierge:handle_turn_event",
            "user.email_verified": "shared.service_layer.concierge:handle_turn_event",
            **_POC_PRIORITY_UPDATE,
        },
        tasks=_POC_REENGAGEMENT,
        llm_calls={
            "decision": _DECISION,
            "reengagement_decision": _REENGAGEMENT,
            "system_decision": _SYSTEM_DECISION,
            "reply": _REPLY,
            "render": _RENDER,
        },
        description="Point of contact for verified members.",
    ),
    AgentSpec(
        key="innovator",
        point_of_contact=True,
        function="agent_innovator",
        topic="agent-innovator",
        ordered=True,
        deployed=True,
        events={
            "message.received": "shared.service_layer.concierge:handle_innovator_turn_event",
            "user.email_verified": "shared.service_layer.concierge:handle_innovator_turn_event",
            **_POC_PRIORITY_UPDATE,
        },
        tasks=_POC_REENGAGEMENT,
        llm_calls={
            "decision": CallDefaults(temperature=0.1, max_tokens=1000, cache_history=True, cache_ttl="1h"),
            "reengagement_decision": _REENGAGEMENT,
            "system_decision": _SYSTEM_DECISION,
            "reply": _REPLY,
            "render": _RENDER,
        },
        description="Point of contact for members who sell solutions.",
    ),
    AgentSpec(
        key="summarizer",
        point_of_contact=False,
        function="agent_summarizer",
        topic="agent-summarizer",
        ordered=False,
        deployed=True,
        tasks={"create_conversation_summary": _SUMMARY},
        llm_calls={"summary": CallDefaults(temperature=0.3, max_tokens=500)},  # platform.md §6.4
        description="Rolling conversation summaries for every member, whatever their point of contact.",
    ),
    AgentSpec(
        key="account_manager",
        point_of_contact=False,
        function="agent_account_manager",
        topic="agent-account-manager",
        ordered=False,
        deployed=True,
        events={
            t: _AM_EVENT
            for t in (
                "user.verified",
                "intro.approved",
                "intro.opportunity_accepted",
                "intro.opportunity_completed",
                "connection.request_created",
                "intro.offer_created",
                "intro.offer_accepted",
                "solution.research_complete",
                *INTRO_SERVICE_EVENTS,  # the intro services' own transitions (issue 12)
                "prospect.research_complete",  # the Social Butterfly's counts (agents.md §11)
            )
        },
        tasks={
            t: _AM_TASK
            for t in (
                "account_manager_review",
                "community_request_available",
                "community_response_available",
                "notify_expert_of_impact",
            )
        },
        llm_calls={"priority_scoring": _SCORING},
        description="Ranks what matters to each member.",
    ),
    AgentSpec(
        key="agent_of_humans",
        point_of_contact=False,
        function="agent_of_humans",
        topic="agent-of-humans",
        ordered=False,
        deployed=True,
        events={
            COMMUNITY_REQUEST_NEEDED: "shared.service_layer.community:handle_request_needed",
            "community.response_received": "shared.service_layer.community:handle_response_received",
        },
        llm_calls={"usefulness_score": CallDefaults(temperature=0.1, max_tokens=300)},  # agents.md §8.10
        description="Routes community questions to human experts, scores answers and pays for them.",
    ),
    AgentSpec(
        key="solution_saga",
        point_of_contact=False,
        function="agent_solution_saga",
        topic="agent-solution-saga",
        ordered=False,
        deployed=True,
        events={
            SOLUTION_RESEARCH_NEEDED: _SAGA + "handle_solution_needed",
            SOLUTION_RESEARCH_CANCELLED: _SAGA + "handle_solution_cancelled",
        },
        tasks={
            "process_community_response": _SAGA + "handle_response_task",
            "solution_workflow_timeout": _SAGA + "handle_timeout_task",
        },
        llm_calls={
            "web_research": CallDefaults(temperature=0.2, max_tokens=1500),  # with the web search tool
            "evaluate_initial": _SCORING,
            "process_expert_response": _SCORING,
            "final_evaluation": _SCORING,
        },
        description="Researches vendors: web search, innovators, an expert round, findings within 24 h.",
    ),
    AgentSpec(
        key="intro",
        point_of_contact=False,
        function="agent_intro",
        topic="agent-intro",
        ordered=False,
        deployed=True,
        events={t: "shared.service_layer.intros:handle_event" for t in INTRO_AGENT_EVENTS},
        tasks={
            "intro_followup_check": "shared.service_layer.intros:handle_followup_task",
            "prospect_upgrade_check": "shared.service_layer.prospects:handle_upgrade_task",  # §2.8, §14
        },
        llm_calls={"talking_points": CallDefaults(temperature=0.5, max_tokens=500)},
        description="Brokers double opt-in introductions: talking points, contact exchange, follow-up.",
    ),
    AgentSpec(
        key="social_butterfly",
        point_of_contact=False,
        function="agent_social_butterfly",
        topic="agent-social-butterfly",
        ordered=False,
        deployed=True,
        events={PROSPECT_RESEARCH_NEEDED: "shared.service_layer.social_butterfly:handle_research_needed"},
        description="Finds mutual connections for prospects (Apify; disabled without APIFY_TOKEN).",
    ),
)

_BY_KEY: dict[str, AgentSpec] = {a.key: a for a in AGENTS}
_BY_FUNCTION: dict[str, AgentSpec] = {a.function: a for a in AGENTS}


def agent(key: str) -> AgentSpec:
    """The spec of one agent; ``KeyError`` names the known keys."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown agent {key!r}; known: {', '.join(_BY_KEY)}") from None


def agent_for_function(function: str) -> AgentSpec | None:
    return _BY_FUNCTION.get(function)


def agent_keys() -> tuple[str, ...]:
    return tuple(_BY_KEY)


def deployed_agents() -> tuple[AgentSpec, ...]:
    return tuple(a for a in AGENTS if a.deployed)


def poc_agent_keys() -> tuple[str, ...]:
    """Agents that can be a member's point of contact (``users.poc_agent_type``)."""
    return tuple(a.key for a in AGENTS if a.point_of_contact)


def approvable_poc_keys() -> tuple[str, ...]:
    """What an operator may approve a member as: every point of contact but the Bouncer."""
    return tuple(k for k in poc_agent_keys() if k != ONBOARDING_AGENT)


def outbound_roles() -> tuple[str, ...]:
    """``messages.role`` values for outbound messages: the points of contact, and the system."""
    return (*poc_agent_keys(), SYSTEM_ROLE)


def message_roles() -> tuple[str, ...]:
    """Every ``messages.role``: the member, the points of contact, the system."""
    return (USER_ROLE, *outbound_roles())


def task_agent_types() -> tuple[str, ...]:
    """Every ``agent_tasks.agent_type``: the agents, and the system's own tasks."""
    return (*agent_keys(), SYSTEM_AGENT_TYPE)


def agents_declaring(kind: Kind, type_: str) -> tuple[AgentSpec, ...]:
    """Every agent that declares a handler for this event or task type."""
    return tuple(a for a in AGENTS if a.handler(kind, type_))


def agent_for_system_task(task_type: str) -> AgentSpec | None:
    """The agent that declares a task the system scheduled (``agent_type = 'system'``); None when
    none or several do (several points of contact: routed by the member's, ``shared.routing``)."""
    owners = agents_declaring("task", task_type)
    return owners[0] if len(owners) == 1 else None


# The point of contact of everyone until an operator verifies them (decisions B10).
ONBOARDING_AGENT = "bouncer"
# The point of contact a verified member gets when none is recorded.
DEFAULT_MEMBER_AGENT = "concierge"
