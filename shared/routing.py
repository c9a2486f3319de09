"""The one routing table: which function consumes which work, over which Pub/Sub topic.

Three readers: the event dispatcher and task sweeper (to publish), the local stack (to
create topics and push subscriptions) and the Terraform checks (to prove the deployed
topics, subscriptions and functions match). Topic per consumer; no subscription filters
(decisions A3).

Every consumer is an agent of the registry (``shared.registry``). Conversational work goes to
the user's point-of-contact agent, resolved per user by ``resolve_poc``. Events a background
agent declares go to that agent; tasks go to their ``agent_type``, and the system's own tasks
to the agent that declares them. Work several points of contact declare (``priority.update``,
the system task ``re_engagement_check``) goes to the member's own point of contact. An agent
whose function has not been built yet (``deployed=False``) is in ``PLANNED_CONSUMERS``; work
routed to it becomes a dead letter with a clear error and can be replayed once the function lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared import registry
from shared.registry import AgentSpec


@dataclass(frozen=True)
class Consumer:
    key: str  # agent_type as stored in agent_tasks.agent_type / users.poc_agent_type
    function: str  # folder under functions/
    topic: str  # Pub/Sub topic id
    ordered: bool  # ordering key = user id


def _consumer(spec: AgentSpec) -> Consumer:
    return Consumer(spec.key, spec.function, spec.topic, spec.ordered)


class Route(StrEnum):
    POC = "poc"  # the user's point-of-contact agent
    RECORD_ONLY = "record_only"  # audit facts with no consumer; marked processed deliberately


# Consumers whose functions exist under functions/.
CONSUMERS: dict[str, Consumer] = {a.key: _consumer(a) for a in registry.AGENTS if a.deployed}

# Agents that the spec names but whose functions land in later issues.
PLANNED_CONSUMERS: dict[str, Consumer] = {a.key: _consumer(a) for a in registry.AGENTS if not a.deployed}

POC_AGENT_TYPES = registry.poc_agent_keys()

# Messages that exhaust their push retries land here; the dead_letter_recorder function
# stores them in event_dead_letters.
DEAD_LETTER_TOPIC_SUFFIX = "-dead-letter"
DEAD_LETTER_RECORDER_FUNCTION = "dead_letter_recorder"

# Events for the user's point-of-contact agent, whichever it is.
POC_EVENTS = frozenset({"message.received", "user.email_verified"})

# Audit facts with no consumer; the dispatcher marks them processed deliberately.
RECORD_ONLY_EVENTS = frozenset(
    {
        "user.onboarding_info_complete",  # the operator's approval queue reads the table
        "user.onboarding_step.completed",
        "user.verification.pending",
        # The Account Manager's run report (priority.update goes to the member's point of contact).
        "account_manager.processing.completed",
        "user.opted_out",
        "user.opted_in",
        # Community monitoring facts (agents.md §7); the tables hold the state.
        "community.request_routed",
        "community.request_attached",
        "community.no_experts_found",
        "community.request_closed",
        # The Solution Saga's demand signal, for the Introductions and Innovator issues to consume.
        "solution.demand_signal",
        # Analytics (platform.md §2): an innovator's confirmed prospect upload.
        "prospects.batch_uploaded",
    }
)


def _declared_by_points_of_contact_only(event_type: str) -> bool:
    owners = registry.agents_declaring("event", event_type)
    return len(owners) > 1 and all(o.point_of_contact for o in owners)


def _event_routes() -> dict[str, str]:
    routes: dict[str, str] = {t: Route.POC for t in POC_EVENTS}
    routes.update({t: Route.RECORD_ONLY for t in RECORD_ONLY_EVENTS})
    for spec in registry.AGENTS:
        for event_type in (*spec.events, *spec.planned_events):
            if event_type in POC_EVENTS:
                continue
            if _declared_by_points_of_contact_only(event_type):
                # Several points of contact declare it (priority.update): each member's goes to theirs.
                routes[event_type] = Route.POC
                continue
            if event_type in routes:
                raise RuntimeError(f"event {event_type!r} has two consumers; the registry must name one")
            routes[event_type] = spec.key
    return routes


# event_type -> Route.POC, Route.RECORD_ONLY, or a consumer key.
EVENT_ROUTES: dict[str, str] = _event_routes()


class NoRoute(LookupError):
    """Work with no deployed consumer; the caller dead-letters it with this message."""


def dead_letter_topic(topic: str) -> str:
    return topic + DEAD_LETTER_TOPIC_SUFFIX


# What the task sweeper publishes to an agent's topic for each claimed task.
TASK_READY_EVENT = "agent.task_ready"
PUSH_SUBSCRIPTION_SUFFIX = "-push"
DEAD_LETTER_SUBSCRIPTION_SUFFIX = "-push"  # as terraform/modules/topic names it


def push_subscription(consumer: Consumer) -> str:
    """The push subscription that delivers a consumer's topic to its function."""
    return consumer.topic + PUSH_SUBSCRIPTION_SUFFIX


def dead_letter_subscription(topic: str) -> str:
    """The push subscription that delivers a topic's dead letters to the dead_letter_recorder."""
    return dead_letter_topic(topic) + DEAD_LETTER_SUBSCRIPTION_SUFFIX


def consumer_for_subscription(subscription: str) -> Consumer | None:
    """The consumer behind a push subscription id or full path (``projects/p/subscriptions/x``)."""
    name = subscription.rsplit("/", 1)[-1]
    for consumer in (*CONSUMERS.values(), *PLANNED_CONSUMERS.values()):
        if push_subscription(consumer) == name:
            return consumer
    return None


def consumer_for(key: str) -> Consumer:
    if key in CONSUMERS:
        return CONSUMERS[key]
    if key in PLANNED_CONSUMERS:
        raise NoRoute(f"consumer {key!r} ({PLANNED_CONSUMERS[key].function}) is not deployed yet")
    raise NoRoute(f"unknown consumer {key!r}")


def resolve_poc(verified: bool, poc_agent_type: str | None) -> str:
    """The point-of-contact agent for a user: Bouncer until an operator verifies them."""
    if not verified:
        return registry.ONBOARDING_AGENT
    if poc_agent_type in registry.approvable_poc_keys():
        return poc_agent_type
    return registry.DEFAULT_MEMBER_AGENT


def route_event(event_type: str, verified: bool | None, poc_agent_type: str | None) -> Consumer | None:
    """The consumer for an event, or None for a deliberate record-only event. Raises NoRoute."""
    route = EVENT_ROUTES.get(event_type)
    if route is None:
        raise NoRoute(f"no route for event type {event_type!r}")
    if route == Route.RECORD_ONLY:
        return None
    if route == Route.POC:
        if verified is None:
            raise NoRoute(f"event {event_type!r} needs a user to pick the point-of-contact agent")
        poc = resolve_poc(verified, poc_agent_type)
        if event_type not in POC_EVENTS and not registry.agent(poc).handler("event", event_type):
            return None  # e.g. priority.update for someone still with the Bouncer: nothing to do
        return consumer_for(poc)
    return consumer_for(route)


def route_task(
    agent_type: str, task_type: str, verified: bool | None, poc_agent_type: str | None
) -> Consumer:
    """The consumer for a due agent task. Raises NoRoute."""
    if agent_type == registry.SYSTEM_AGENT_TYPE:
        owner = registry.agent_for_system_task(task_type)
        if owner is not None:
            return consumer_for(owner.key)
        owners = registry.agents_declaring("task", task_type)
        if owners and all(o.point_of_contact for o in owners):
            # Several points of contact declare it (re_engagement_check): the member's own handles it.
            if verified is None:
                raise NoRoute(f"system task {task_type!r} needs a user to pick the point-of-contact agent")
            poc = resolve_poc(verified, poc_agent_type)
            if registry.agent(poc).handler("task", task_type):
                return consumer_for(poc)
            raise NoRoute(f"the point of contact {poc!r} does not handle the system task {task_type!r}")
        raise NoRoute(f"no agent declares the system task {task_type!r}")
    return consumer_for(agent_type)


def all_topics() -> list[tuple[str, Consumer]]:
    """(topic, consumer) for every deployed consumer; each also has a dead-letter topic."""
    return [(c.topic, c) for c in CONSUMERS.values()]
