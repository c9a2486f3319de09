"""The Concierge's and the Innovator's use cases (``shared/service_layer/concierge.py``).

Written against the module's mutmut survivors (docs/testing.md, "Mutation testing"): which agent
each entry point runs (the Concierge for ``handle_turn_event``, the Innovator for
``handle_innovator_turn_event`` and ``run_member_turn(innovator=True)``), that each agent carries
the Community service and the intro service, what the turn is handed (the member, the LLM, the
unit-of-work factory, the clock, the burst wait), the answer each handler returns, the
``<agent> turn`` log line and its fields, and that the Community service's two tools call the
Community use cases with the arguments they were given. ``run_turn`` and the two Community use
cases have no injection point in this module: they are monkeypatched here, and tested on Postgres
(tests/integration/test_concierge.py, test_community.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.agents.concierge.agent import ConciergeAgent
from shared.agents.conversation.protocol import TurnResult
from shared.agents.conversation.turn import BurstWait
from shared.agents.innovator.agent import InnovatorAgent
from shared.service_layer import community, concierge
from shared.service_layer.concierge import (
    CommunityService,
    handle_innovator_turn_event,
    handle_turn_event,
    run_member_turn,
)
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.intros import IntroService
from tests.deps_support import make_deps
from tests.fakes.llm import ScriptedLlm

LOGGER = "shared.service_layer.concierge"
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
USER_ID = UUID("00000000-0000-0000-0000-0000000000a1")


@dataclass
class Turns:
    """``run_turn`` stand-in: records each call and answers ``result``."""

    result: TurnResult = field(
        default_factory=lambda: TurnResult(status="answered", path="llm", bodies=["Hi Dana", "Two intros"])
    )
    calls: list[tuple[Any, UUID, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, agent: Any, user_id: UUID, **kwargs: Any) -> TurnResult:
        self.calls.append((agent, user_id, kwargs))
        return self.result


@pytest.fixture
def turns(monkeypatch: pytest.MonkeyPatch) -> Turns:
    recorder = Turns()
    monkeypatch.setattr(concierge, "run_turn", recorder)
    return recorder


def make_deps_for_turn() -> tuple[Any, dict[str, Any]]:
    llm = ScriptedLlm()

    def uow_factory() -> Any:
        raise AssertionError("the turn stand-in opens no unit of work")

    def clock() -> datetime:
        return NOW

    burst = BurstWait(quiet_gap=1.5, max_wait=4.0)
    deps = make_deps(llm=llm, clock=clock, uow_factory=uow_factory, burst=burst)
    return deps, {"llm": llm, "uow_factory": uow_factory, "clock": clock, "burst": burst}


def assert_handed(turns: Turns, expected: dict[str, Any]) -> None:
    ((_, user_id, kwargs),) = turns.calls
    assert user_id == USER_ID
    assert set(kwargs) == {"llm", "uow_factory", "clock", "burst"}
    for name, value in expected.items():
        assert kwargs[name] is value, name


def assert_services(agent: Any) -> None:
    assert isinstance(agent.community, CommunityService)
    assert isinstance(agent.intros, IntroService)


def delivery(*, user_id: UUID | None = USER_ID, data: dict[str, Any] | None = None) -> Delivery:
    return Delivery(
        kind="event",
        id=uuid4(),
        type="message.received",
        attempt=1,
        published_at=NOW,
        data=data or {},
        attributes={},
        user_id=user_id,
    )


# --- which agent, handed what -----------------------------------------------------------------


def test_a_member_turn_is_the_concierges_by_default(turns: Turns) -> None:
    deps, expected = make_deps_for_turn()
    result = run_member_turn(USER_ID, deps)
    assert result is turns.result
    agent = turns.calls[0][0]
    assert type(agent) is ConciergeAgent
    assert_services(agent)
    assert_handed(turns, expected)


def test_an_innovator_member_turn_is_the_innovators(turns: Turns) -> None:
    deps, expected = make_deps_for_turn()
    run_member_turn(USER_ID, deps, innovator=True)
    agent = turns.calls[0][0]
    assert type(agent) is InnovatorAgent
    assert_services(agent)
    assert_handed(turns, expected)


def test_the_concierge_event_runs_a_concierge_turn_and_answers_its_outcome(turns: Turns) -> None:
    deps, expected = make_deps_for_turn()
    assert handle_turn_event(delivery(), None, deps) == {  # type: ignore[arg-type]
        "status": "answered",
        "path": "llm",
        "replies": 2,
    }
    agent = turns.calls[0][0]
    assert type(agent) is ConciergeAgent
    assert_services(agent)
    assert_handed(turns, expected)


def test_the_innovator_event_runs_an_innovator_turn_and_answers_its_outcome(turns: Turns) -> None:
    deps, expected = make_deps_for_turn()
    turns.result = TurnResult(status="silent", path="fallback", bodies=[])
    assert handle_innovator_turn_event(delivery(), None, deps) == {  # type: ignore[arg-type]
        "status": "silent",
        "path": "fallback",
        "replies": 0,
    }
    agent = turns.calls[0][0]
    assert type(agent) is InnovatorAgent
    assert_services(agent)
    assert_handed(turns, expected)


@pytest.mark.parametrize("handler", [handle_turn_event, handle_innovator_turn_event])
def test_the_member_may_come_from_the_body(turns: Turns, handler: Any) -> None:
    deps, _ = make_deps_for_turn()
    handler(delivery(user_id=None, data={"payload": {"user_id": str(USER_ID)}}), None, deps)
    assert turns.calls[0][1] == USER_ID


@pytest.mark.parametrize("handler", [handle_turn_event, handle_innovator_turn_event])
def test_an_event_without_a_member_runs_no_turn(turns: Turns, handler: Any) -> None:
    deps, _ = make_deps_for_turn()
    with pytest.raises(PermanentError, match="carries no user id"):
        handler(delivery(user_id=None), None, deps)
    assert turns.calls == []


# --- the log line -----------------------------------------------------------------------------


@pytest.mark.parametrize(("innovator", "message"), [(False, "concierge turn"), (True, "innovator turn")])
def test_each_turn_is_logged_with_the_agents_name_and_its_outcome(
    turns: Turns, caplog: pytest.LogCaptureFixture, innovator: bool, message: str
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    deps, _ = make_deps_for_turn()
    turns.result = TurnResult(status="answered", path="template", bodies=["one", "two", "three"])
    run_member_turn(USER_ID, deps, innovator=innovator)
    (line,) = [r for r in caplog.records if r.name == LOGGER]
    assert (line.levelno, line.getMessage()) == (logging.INFO, message)
    assert (line.user_id, line.status, line.path, line.replies) == (  # type: ignore[attr-defined]
        str(USER_ID),
        "answered",
        "template",
        3,
    )


# --- the Community service the agents' tools call ---------------------------------------------


@dataclass
class Reply:
    answer: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return self.answer


def test_the_community_reply_tool_records_the_experts_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, dict[str, Any]]] = []
    answer = {"status": "recorded", "response_id": "r1"}

    def handle_expert_reply(uow: Any, **kwargs: Any) -> Reply:
        seen.append((uow, kwargs))
        return Reply(answer)

    monkeypatch.setattr(community, "handle_expert_reply", handle_expert_reply)
    uow, request_id, expert = object(), uuid4(), uuid4()
    got = CommunityService().reply(
        uow,  # type: ignore[arg-type]
        request_id=request_id,
        expert_user_id=expert,
        text="Talk to Sam at Acme.",
        now=NOW,
    )
    assert got == answer
    assert seen == [
        (
            uow,
            {"request_id": request_id, "expert_user_id": expert, "text": "Talk to Sam at Acme.", "now": NOW},
        )
    ]


def test_the_community_cancel_tool_cancels_the_members_request(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, dict[str, Any]]] = []

    def cancel_request(uow: Any, **kwargs: Any) -> str:
        seen.append((uow, kwargs))
        return "cancelled"

    monkeypatch.setattr(community, "cancel_request", cancel_request)
    uow, request_id = object(), uuid4()
    assert CommunityService().cancel(uow, request_id=request_id, user_id=USER_ID, now=NOW) == "cancelled"  # type: ignore[arg-type]
    assert seen == [(uow, {"request_id": request_id, "user_id": USER_ID, "now": NOW})]
