"""The composition root takes the process's long-lived objects out of the cyclic collector's
scans: once when a function's handler is built (its module imported), once after its first
request (adapters built, lazy imports done), never again."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from shared import bootstrap, entrypoints
from shared.service_layer.deps import Deps


@pytest.fixture
def freezes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def collect(*args: Any) -> int:
        calls.append("collect")
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(bootstrap, "_heap_settled", type(bootstrap._heap_settled)())
    monkeypatch.setattr(bootstrap, "deps", lambda: None)
    return calls


def test_an_http_handler_freezes_at_build_and_after_its_first_request_only(
    freezes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def entry(request: Any, deps: Deps) -> Any:
        seen.append(request)
        return "ok"

    monkeypatch.setattr(entrypoints, "http_entry", lambda function: entry)
    handle: Any = bootstrap.http_handler("twilio_inbound")
    assert freezes == ["collect", "freeze"]
    assert handle("first") == "ok"
    assert freezes == ["collect", "freeze", "freeze"]  # no second full collection on a request
    handle("second")
    handle("third")
    assert freezes == ["collect", "freeze", "freeze"]
    assert seen == ["first", "second", "third"]


def test_an_event_handler_freezes_after_its_first_request_even_when_it_raises(
    freezes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def entry(event: Any, deps: Deps) -> None:
        raise RuntimeError("the consumer failed")

    monkeypatch.setattr(entrypoints, "event_entry", lambda function: entry)
    handle: Any = bootstrap.event_handler("agent_bouncer")
    with pytest.raises(RuntimeError):
        handle("event")
    with pytest.raises(RuntimeError):
        handle("event")
    assert freezes == ["collect", "freeze", "freeze"]
