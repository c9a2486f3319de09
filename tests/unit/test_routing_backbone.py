import pytest

from shared import routing
from shared.routing import (
    CONSUMERS,
    PLANNED_CONSUMERS,
    NoRoute,
    consumer_for_subscription,
    dead_letter_subscription,
    push_subscription,
    route_event,
    route_task,
)


def test_unverified_users_reach_the_bouncer_whatever_their_poc():
    assert route_event("message.received", False, "concierge") == CONSUMERS["bouncer"]


def test_verified_members_reach_their_point_of_contact():
    assert route_event("message.received", True, "concierge") == CONSUMERS["concierge"]
    assert route_event("message.received", True, "innovator") == CONSUMERS["innovator"]
    assert route_event("message.received", True, "bouncer") == CONSUMERS["concierge"]  # default member agent
    assert route_event("user.email_verified", True, "concierge") == CONSUMERS["concierge"]


def test_work_for_a_planned_agent_is_a_clear_no_route_until_it_lands(monkeypatch):
    # Every agent is deployed now (issue 12 deployed the last two): the Intro agent plays a planned one.
    monkeypatch.setitem(routing.PLANNED_CONSUMERS, "intro", routing.CONSUMERS["intro"])
    monkeypatch.delitem(routing.CONSUMERS, "intro")
    with pytest.raises(NoRoute, match=r"agent_intro.*not deployed"):
        route_task("intro", "intro_followup", True, "concierge")


def test_research_requests_go_to_the_solution_saga():
    consumer = route_event("user.inquiry.solution_needed", True, "concierge")
    assert consumer is not None and consumer.function == "agent_solution_saga"
    timeout = route_task("solution_saga", "solution_workflow_timeout", True, "concierge")
    assert timeout.topic == "agent-solution-saga"


def test_community_requests_go_to_the_agent_of_humans():
    consumer = route_event("community.request_needed", True, "concierge")
    assert consumer is not None and consumer.function == "agent_of_humans"


def test_record_only_events_have_no_consumer():
    assert route_event("user.opted_out", None, None) is None


def test_unknown_event_types_and_missing_users_are_no_route():
    with pytest.raises(NoRoute, match="no route for event type"):
        route_event("no.such_event", False, "bouncer")
    with pytest.raises(NoRoute, match="needs a user"):
        route_event("message.received", None, None)


def test_system_summary_tasks_go_to_the_summarizer_whatever_the_poc():
    for verified, poc in ((False, None), (True, "concierge"), (True, "innovator")):
        assert route_task("system", "create_conversation_summary", verified, poc) == CONSUMERS["summarizer"]
    with pytest.raises(NoRoute):
        route_task("system", "something_else", False, None)


def test_subscription_names_round_trip_for_every_consumer():
    for consumer in (*CONSUMERS.values(), *PLANNED_CONSUMERS.values()):
        name = push_subscription(consumer)
        assert consumer_for_subscription(name) == consumer
        assert consumer_for_subscription(f"projects/p/subscriptions/{name}") == consumer
        assert dead_letter_subscription(consumer.topic).startswith(routing.dead_letter_topic(consumer.topic))
    assert consumer_for_subscription("something-else") is None


def test_topic_and_subscription_names_are_valid_pubsub_ids():
    import re

    valid = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")
    for topic, consumer in routing.all_topics():
        for name in (
            topic,
            routing.dead_letter_topic(topic),
            push_subscription(consumer),
            dead_letter_subscription(topic),
        ):
            assert valid.match(name), name
