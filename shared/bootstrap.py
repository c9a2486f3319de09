"""The composition root: the one place that builds adapters and hands functions their handlers.

Every ``functions/<name>/main.py`` asks this module for its handler (``http_handler(name)`` or
``event_handler(name)``) and does nothing else. The adapters are built lazily, once per
process, on the first invocation that needs them (never at import, so a cold start that only
answers a bad request reads no setting):

- the unit-of-work factory (``PostgresUnitOfWork`` on the process's pool, ``DATABASE_URL``);
- the LLM (``AnthropicLlm`` with the cost ledger; None without ``ANTHROPIC_API_KEY``), with
  per-call settings resolved by ``shared.agents.llm_config``;
- the SMS gateway (the real ``twilio`` client; ``TWILIO_API_BASE_URL`` points it at a stand-in);
- the Pub/Sub publisher; the clock; the freshness classifier.

Tests replace adapters by passing them in: ``with bootstrap.override(llm=fake, clock=...):``
or by building a ``Deps`` directly. Nothing reads environment variables to decide on a fake.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import flask
from cloudevents.abstract import CloudEvent
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared import entrypoints
from shared.adapters.apify import MutualConnections, build_mutual_connections
from shared.adapters.llm import Llm, PostgresCallLog, build_llm
from shared.adapters.pubsub import get_publisher
from shared.adapters.twilio_sms import default_gateway
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.conversation.turn import BurstWait
from shared.config import get_settings
from shared.logs import get_logger
from shared.service_layer.deps import Deps
from shared.service_layer.freshness import LlmFreshnessClassifier

_lock = threading.Lock()
_deps: Deps | None = None
_overrides: list[dict[str, Any]] = []

log = get_logger(__name__)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=1)
def _llm_from_settings() -> Llm | None:
    return build_llm(get_settings(), call_log=PostgresCallLog())


@lru_cache(maxsize=1)
def _research_from_settings() -> MutualConnections | None:
    return build_mutual_connections(get_settings())


def _burst(quiet_gap_seconds: float | None) -> BurstWait:
    default = BurstWait.default()
    if quiet_gap_seconds is None:
        return default
    return BurstWait(quiet_gap_seconds, default.max_wait if quiet_gap_seconds > 0 else 0.0)


def _build() -> Deps:
    settings = get_settings()
    return Deps(
        uow_factory=PostgresUnitOfWork,
        llm_factory=_llm_from_settings,
        clock=_wall_clock,
        sms_factory=default_gateway,
        publisher_factory=get_publisher,
        # platform §1.7: the LLM classifier (rules without a key), on the process's current LLM.
        freshness=LlmFreshnessClassifier(lambda: deps().llm),
        verify_email_domain=settings.verify_email_domain,
        burst=_burst(settings.burst_quiet_gap_seconds),
        research_factory=_research_from_settings,
    )


def deps() -> Deps:
    """The process's adapters, built on first use; overrides (tests) applied on top."""
    global _deps
    with _lock:
        if _deps is None:
            _deps = _build()
        current = _deps
        for layer in _overrides:
            current = replace(current, **layer)
        return current


@contextlib.contextmanager
def override(**fields: Any) -> Iterator[Deps]:
    """Replace adapters for the duration of a block (tests, tools): any ``Deps`` field, plus
    ``llm=``, ``sms=`` and ``publisher=`` for a ready model, gateway or publisher.
    ``override(llm=None)`` runs the agents' fallback brains."""
    layer: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("sms", "publisher", "llm"):
            layer[f"{name}_factory"] = _constant(value)
        else:
            layer[name] = value
    with _lock:
        _overrides.append(layer)
    try:
        yield deps()
    finally:
        with _lock:
            _overrides.remove(layer)


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def reset() -> None:
    """Forget the built adapters (a test that changed settings, the local stack restarting)."""
    global _deps
    with _lock:
        _deps = None
    _llm_from_settings.cache_clear()
    _research_from_settings.cache_clear()


_heap_settled = threading.Event()


def _freeze_heap(*, collect: bool) -> None:
    """Take every object alive now out of the cyclic collector's scans (``gc.freeze``).

    A function process holds about 215,000 tracked objects once its modules are imported; a
    full (generation 2) collection walks all of them, about 100 ms of CPU that stalls every
    request thread of the process (measured in the local stack's functions). Modules, classes
    and clients live as long as the process, so scanning them finds nothing. Frozen, they are
    skipped; what requests allocate is still collected. Done once the function's module is
    imported (before gunicorn forks its worker: the objects are also never written to by the
    collector, so their pages stay shared), and once after the first request, which builds the
    adapters and imports what they import lazily.
    """
    if collect:
        gc.collect()
    gc.freeze()


def _after_request() -> None:
    if not _heap_settled.is_set():
        _heap_settled.set()
        _freeze_heap(collect=False)


def http_handler(function: str) -> Callable[[Request], Response]:
    """The handler of an HTTP function, by its folder name."""
    entry = entrypoints.http_entry(function)
    _freeze_heap(collect=True)

    def handle(request: Request) -> Response:
        try:
            return entry(request, deps())
        finally:
            _after_request()

    return handle


_ENTERED = "yp_function_entered"  # flask.g: the function itself has started on this request


def _refuse_unconvertible_push(exc: Exception) -> Any:
    """functions-framework converts a push body into a CloudEvent before the function runs. A
    body that is JSON but no push or event (a string, a list, ``{"context": 1}``) makes that
    conversion raise (``TypeError`` and the like), which Flask answers 500, and Pub/Sub redelivers
    a 5xx again and again. Those get a 400. Anything raised once the function has started goes on
    as before: logged and answered 500, so Pub/Sub retries a transient failure."""
    if isinstance(exc, HTTPException):
        return exc
    if flask.g.get(_ENTERED):
        raise exc
    log.warning(
        "push refused: the body is neither a Pub/Sub push nor a CloudEvent",
        extra={"error": f"{type(exc).__name__}: {exc}"[:300]},
    )
    return Response(
        "the body is neither a Pub/Sub push nor a CloudEvent\n", status=400, mimetype="text/plain"
    )


def event_handler(function: str) -> Callable[[CloudEvent], None]:
    """The handler of a Pub/Sub-triggered function, by its folder name. Loaded by
    functions-framework (inside its app's context), it also makes a push body the framework
    cannot convert a 400 instead of a 500 (``_refuse_unconvertible_push``)."""
    entry = entrypoints.event_entry(function)
    _freeze_heap(collect=True)
    if flask.has_app_context():
        flask.current_app.register_error_handler(Exception, _refuse_unconvertible_push)

    def handle(cloud_event: CloudEvent) -> None:
        if flask.has_request_context():
            setattr(flask.g, _ENTERED, True)
        try:
            entry(cloud_event, deps())
        finally:
            _after_request()

    return handle
