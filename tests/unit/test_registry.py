"""The registry is the one list of agents, and everything that lists agents derives from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared import registry, routing
from shared.adapters import outbound
from shared.agents import context, llm_config
from shared.service_layer import approval
from shared.service_layer.delivery import resolve_handler

ROOT = Path(__file__).resolve().parents[2]


def test_keys_functions_and_topics_are_unique():
    for attr in ("key", "function", "topic"):
        values = [getattr(a, attr) for a in registry.AGENTS]
        assert len(values) == len(set(values)), attr


def test_every_handler_the_registry_names_exists():
    for spec in registry.AGENTS:
        for path in (*spec.events.values(), *spec.tasks.values()):
            assert callable(resolve_handler(path)), path


def test_deployed_agents_have_a_function_and_undeployed_ones_do_not():
    folders = {p.parent.name for p in (ROOT / "functions").glob("*/main.py")}
    for spec in registry.AGENTS:
        assert (spec.function in folders) == spec.deployed, spec.key


def test_derived_lists_come_from_the_registry():
    assert set(routing.CONSUMERS) == {a.key for a in registry.AGENTS if a.deployed}
    assert set(routing.PLANNED_CONSUMERS) == {a.key for a in registry.AGENTS if not a.deployed}
    assert tuple(routing.POC_AGENT_TYPES) == registry.poc_agent_keys()
    assert frozenset(registry.poc_agent_keys()) == context.AGENT_ROLES
    assert frozenset(registry.outbound_roles()) == outbound.OUTBOUND_ROLES
    assert registry.approvable_poc_keys() == approval.APPROVE_AS


def test_every_llm_call_kind_has_explicit_settings():
    for spec in registry.AGENTS:
        for kind in spec.llm_calls:
            assert (spec.key, kind) in llm_config.DEFAULTS, (spec.key, kind)


def test_system_tasks_have_exactly_one_owner():
    assert registry.agent_for_system_task("create_conversation_summary") == registry.agent("summarizer")
    assert (
        routing.route_task("system", "create_conversation_summary", True, "innovator").function
        == "agent_summarizer"
    )


def test_an_event_type_has_at_most_one_background_consumer():
    seen: dict[str, str] = {}
    for spec in registry.AGENTS:
        for event_type in spec.events:
            if event_type in routing.POC_EVENTS or routing.EVENT_ROUTES[event_type] == routing.Route.POC:
                continue  # the member's point of contact, whichever it is (priority.update)
            assert event_type not in seen, (event_type, seen.get(event_type), spec.key)
            seen[event_type] = spec.key


# No second list: the agent keys appear as a literal collection nowhere but the registry.
LIST_OF_AGENTS = re.compile(
    r"""["'](bouncer|concierge|innovator)["']\s*,\s*["'](bouncer|concierge|innovator)["']"""
)


@pytest.mark.parametrize("folder", ["shared", "functions", "tools"])
def test_no_second_list_of_agents_in_code(folder):
    offenders = []
    for path in (ROOT / folder).rglob("*.py"):
        if path.name == "registry.py":
            continue
        if LIST_OF_AGENTS.search(path.read_text()):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_no_sql_role_list_literal():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "shared").rglob("*.sql")
        if re.search(r"role\s+IN\s*\(\s*'(user|bouncer|concierge|innovator)'", p.read_text())
    ]
    assert offenders == []
