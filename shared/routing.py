"""The one routing table: which function consumes which work, over which Pub/Sub topic.

Three readers: the event dispatcher and task sweeper (to publish), the local stack (to
create topics and push subscriptions) and the Terraform checks (to prove the deployed
topics, subscriptions and functions match). Topic per consumer; no subscription filters
(decisions A3).

Conversational work goes to the user's point-of-contact agent (Bouncer, Concierge or
Innovator), resolved per user by ``resolve_poc``. A consumer whose function has not been
built yet is listed in ``PLANNED_CONSUMERS``; work routed to it becomes a dead letter with
a clear error and can be replayed once the function lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Consumer:
    key: str  # agent_type as stored in agent_tasks.agent_type / users.poc_agent_type
    function: str  # folder under functions/
    topic: str  # Pub/Sub topic id
    ordered: bool  # ordering key = user id


class Route(StrEnum):
    POC = "poc"  # the user's point-of-contact agent
    RECORD_ONLY = "record_only"  # audit facts with no consumer; marked processed deliberately


# Consumers whose functions exist under functions/.
CONSUMERS: dict[str, Consumer] = {
    "bouncer": Consumer("bouncer", "agent_bouncer", "agent-bouncer", ordered=True),
}

# Agents that the spec names but whose functions land in later issues.
PLANNED_CONSUMERS: dict[str, Consumer] = {
    "concierge": Consumer("concierge", "agent_concierge", "agent-concierge", ordered=True),
    "innovator": Consumer("innovator", "agent_innovator", "agent-innovator", ordered=True),
    "account_manager": Consumer("account_manager", "agent_account_manager", "agent-account-manager", False),
    "solution_saga": Consumer("solution_saga", "agent_solution_saga", "agent-solution-saga", False),
    "agent_of_humans": Consumer("agent_of_humans", "agent_of_humans", "agent-of-humans", False),
    "intro": Consumer("intro", "agent_intro", "agent-intro", False),
    "social_butterfly": Consumer(
        "social_butterfly", "agent_social_butterfly", "agent-social-butterfly", ordered=False
    ),
}

POC_AGENT_TYPES = ("bouncer", "concierge", "innovator")

# Messages that exhaust their push retries land here; the dead_letter_recorder function
# stores them in event_dead_letters.
DEAD_LETTER_TOPIC_SUFFIX = "-dead-letter"
DEAD_LETTER_RECORDER_FUNCTION = "dead_letter_recorder"

# event_type -> Route.POC, Route.RECORD_ONLY, or a consumer key.
EVENT_ROUTES: dict[str, str] = {
    "message.received": Route.POC,
    "user.email_verified": Route.POC,
    "user.onboarding_info_complete": Route.RECORD_ONLY,  # the operator's approval queue reads the table
    "user.onboarding_step.completed": Route.RECORD_ONLY,
    "user.verification.pending": Route.RECORD_ONLY,
    # The Account Manager will consume this (notify_user_of_priorities) when it lands; until then
    # nothing waits on it, and a dead letter per approval would only train operators to ignore them.
    "user.verified": Route.RECORD_ONLY,
    "user.opted_out": Route.RECORD_ONLY,
    "user.opted_in": Route.RECORD_ONLY,
}

# Task agent_type 'system' has no agent of its own; these task types go to the user's POC agent.
SYSTEM_TASKS_TO_POC = frozenset({"create_conversation_summary"})


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
        return "bouncer"
    if poc_agent_type in ("concierge", "innovator"):
        return poc_agent_type
    return "concierge"


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
        return consumer_for(resolve_poc(verified, poc_agent_type))
    return consumer_for(route)


def route_task(
    agent_type: str, task_type: str, verified: bool | None, poc_agent_type: str | None
) -> Consumer:
    """The consumer for a due agent task. Raises NoRoute."""
    if agent_type == "system" and task_type in SYSTEM_TASKS_TO_POC:
        if verified is None:
            raise NoRoute(f"task {task_type!r} needs a user to pick the point-of-contact agent")
        return consumer_for(resolve_poc(verified, poc_agent_type))
    return consumer_for(agent_type)


def all_topics() -> list[tuple[str, Consumer]]:
    """(topic, consumer) for every deployed consumer; each also has a dead-letter topic."""
    return [(c.topic, c) for c in CONSUMERS.values()]
