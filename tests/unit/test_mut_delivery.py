"""``shared/service_layer/delivery.py``, the generic delivery handler, example by example.

Written against its mutmut survivors (docs/testing.md): the handler string resolved to the function
it names, the agent's handler found by the delivery's kind and type and handed the delivery, the
consumer's unit of work and the deps it was built with, the exact refusals (a type the agent does not
handle, a function no agent has), and what ``deliver`` hands the consumer (the push, the function's
name as the consumer, the agent's handler, the deps' unit-of-work factory and the deps' clock). The
consumer itself is replaced here by a recorder; tests/integration/test_community.py and
test_solution_saga.py run the same path on Postgres.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from cloudevents.http import CloudEvent

from shared import registry
from shared.service_layer import delivery as delivery_module
from shared.service_layer import summaries
from shared.service_layer.consumer import Delivery, Outcome, PermanentError
from shared.service_layer.delivery import agent_handler, deliver, resolve_handler
from tests.deps_support import make_deps

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
HERE = "tests.unit.test_mut_delivery"
SPEC = registry.AgentSpec(
    key="test_agent",
    point_of_contact=False,
    function="agent_test",
    topic="agent-test",
    ordered=False,
    deployed=True,
    events={"thing.happened": f"{HERE}:event_handler"},
    tasks={"thing.happened": f"{HERE}:task_handler", "do_thing": f"{HERE}:task_handler"},
)

calls: list[tuple[str, Any, Any, Any]] = []


def event_handler(delivery: Delivery, uow: Any, deps: Any) -> dict[str, Any]:
    calls.append(("event", delivery, uow, deps))
    return {"handled": "event"}


def task_handler(delivery: Delivery, uow: Any, deps: Any) -> dict[str, Any]:
    calls.append(("task", delivery, uow, deps))
    return {"handled": "task"}


def a_delivery(kind: Any, type_: str) -> Delivery:
    return Delivery(
        kind=kind,
        id=UUID("11111111-1111-4111-8111-111111111111"),
        type=type_,
        attempt=1,
        published_at=NOW,
        data={},
        attributes={},
        user_id=None,
    )


@pytest.fixture(autouse=True)
def no_calls() -> None:
    calls.clear()


def test_a_handler_string_resolves_to_the_function_it_names() -> None:
    assert resolve_handler(f"{HERE}:event_handler") is event_handler
    assert resolve_handler(f"{HERE}:task_handler") is task_handler
    assert (
        resolve_handler("shared.service_layer.summaries:handle_summary_task") is summaries.handle_summary_task
    )


def test_an_event_goes_to_the_agents_event_handler_with_the_uow_and_the_deps() -> None:
    deps, uow = make_deps(clock=lambda: NOW), object()
    event = a_delivery("event", "thing.happened")
    assert agent_handler(SPEC, deps)(event, uow) == {"handled": "event"}  # type: ignore[arg-type]
    assert len(calls) == 1
    assert calls[0][0] == "event" and calls[0][1] is event and calls[0][2] is uow and calls[0][3] is deps


def test_a_task_goes_to_the_agents_task_handler_for_its_type() -> None:
    deps, uow = make_deps(clock=lambda: NOW), object()
    task = a_delivery("task", "do_thing")
    assert agent_handler(SPEC, deps)(task, uow) == {"handled": "task"}  # type: ignore[arg-type]
    assert [c[0] for c in calls] == ["task"] and calls[0][1] is task and calls[0][3] is deps


@pytest.mark.parametrize(
    ("kind", "type_", "reason"),
    [
        ("event", "do_thing", "agent 'test_agent' does not handle event 'do_thing'"),
        ("task", "nothing.here", "agent 'test_agent' does not handle task 'nothing.here'"),
    ],
)
def test_a_type_the_agent_does_not_handle_is_a_permanent_error_naming_both(
    kind: str, type_: str, reason: str
) -> None:
    with pytest.raises(PermanentError) as refused:
        agent_handler(SPEC, make_deps(clock=lambda: NOW))(a_delivery(kind, type_), object())  # type: ignore[arg-type]
    assert str(refused.value) == reason
    assert calls == []


class RecordingConsume:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Outcome:
        self.calls.append((args, kwargs))
        return Outcome.DUPLICATE


def push() -> CloudEvent:
    return CloudEvent({"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub"}, {})


def test_deliver_hands_the_consumer_the_push_the_function_the_agents_handler_and_the_deps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consume = RecordingConsume()
    monkeypatch.setattr(delivery_module, "consume", consume)
    monkeypatch.setattr(registry, "agent_for_function", {"agent_test": SPEC}.get)
    deps, cloud = make_deps(clock=lambda: NOW, uow_factory=object()), push()
    assert deliver("agent_test", cloud, deps) is Outcome.DUPLICATE  # what the consumer answered
    [(args, kwargs)] = consume.calls
    assert args[:2] == (cloud, "agent_test") and args[0] is cloud
    assert set(kwargs) == {"uow_factory", "now"}
    assert kwargs["uow_factory"] is deps.uow_factory and kwargs["now"] == NOW
    handle, uow, event = args[2], object(), a_delivery("event", "thing.happened")
    assert handle(event, uow) == {"handled": "event"}
    assert calls[0][1] is event and calls[0][2] is uow and calls[0][3] is deps


def test_deliver_finds_the_agent_by_its_function_in_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    consume = RecordingConsume()
    monkeypatch.setattr(delivery_module, "consume", consume)
    deliver("agent_account_manager", push(), make_deps(clock=lambda: NOW))
    handle = consume.calls[0][0][2]
    with pytest.raises(PermanentError) as refused:
        handle(a_delivery("event", "nothing.here"), object())
    assert str(refused.value) == "agent 'account_manager' does not handle event 'nothing.here'"


def test_deliver_for_a_function_no_agent_has_says_so_and_consumes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consume = RecordingConsume()
    monkeypatch.setattr(delivery_module, "consume", consume)
    with pytest.raises(LookupError) as unknown:
        deliver("agent_nobody", push(), make_deps(clock=lambda: NOW))
    assert str(unknown.value) == "no agent in the registry has the function 'agent_nobody'"
    assert consume.calls == []
