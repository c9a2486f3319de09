"""What a use case may be handed (``shared/service_layer/deps.py``): each adapter built lazily.

Written against the module's mutmut survivors (docs/testing.md, "Mutation testing"): ``llm``,
``research``, ``sms`` and ``publisher`` each answer what their factory builds, and build it on
each read (the composition root, ``shared.bootstrap``, caches; a factory that needs settings is
not called until the adapter is used); the defaults (no research without ``APIFY_TOKEN``, no
burst wait, no email domain).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.agents.conversation.turn import NO_BURST_WAIT
from shared.service_layer.deps import Deps
from shared.service_layer.freshness import AssumeRelevantClassifier

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


class Counting:
    """A factory that answers a new object on each call and counts its calls."""

    def __init__(self) -> None:
        self.built: list[object] = []

    def __call__(self) -> Any:
        self.built.append(object())
        return self.built[-1]


def refuse() -> Any:
    raise AssertionError("not built unless read")


def deps(**factories: Any) -> Deps:
    fields: dict[str, Any] = {
        "uow_factory": refuse,
        "llm_factory": refuse,
        "clock": lambda: NOW,
        "sms_factory": refuse,
        "publisher_factory": refuse,
        "freshness": AssumeRelevantClassifier(),
    }
    fields.update(factories)
    return Deps(**fields)


@pytest.mark.parametrize(
    ("attribute", "factory"),
    [
        ("llm", "llm_factory"),
        ("research", "research_factory"),
        ("sms", "sms_factory"),
        ("publisher", "publisher_factory"),
    ],
)
def test_each_adapter_is_what_its_factory_builds_on_each_read(attribute: str, factory: str) -> None:
    counting = Counting()
    d = deps(**{factory: counting})
    assert counting.built == []
    first = getattr(d, attribute)
    assert counting.built == [first]
    second = getattr(d, attribute)
    assert counting.built == [first, second] and first is not second


def test_building_the_deps_builds_no_adapter() -> None:
    d = deps()
    assert d.clock() == NOW


def test_without_an_llm_key_the_llm_is_none() -> None:
    assert deps(llm_factory=lambda: None).llm is None


def test_the_defaults_are_no_research_no_burst_wait_and_no_email_domain() -> None:
    d = deps()
    assert d.research is None
    assert d.burst is NO_BURST_WAIT
    assert d.verify_email_domain is None


def test_deps_are_frozen() -> None:
    d = deps()
    with pytest.raises(AttributeError):
        d.clock = lambda: NOW  # type: ignore[misc]
