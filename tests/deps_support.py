"""Building the adapters a use case takes, for tests: ``make_deps(llm=..., clock=...)``.

Tests pass fakes in; nothing here reads an environment variable to pick a fake. The real LLM
adapter is built from explicit settings (``anthropic_llm``): the ``anthropic_fake`` fixture
hands it to the composition root (``bootstrap.override(llm=...)``), and ``composed_llm()``
returns what the root hands out now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared import bootstrap
from shared.adapters.llm import AnthropicLlm, CallLog, Llm, PostgresCallLog, build_client
from shared.adapters.pubsub import Publisher, get_publisher
from shared.adapters.twilio_sms import SmsGateway, default_gateway
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.conversation.turn import NO_BURST_WAIT
from shared.config import get_settings
from shared.service_layer.deps import Deps
from shared.service_layer.freshness import AssumeRelevantClassifier, FreshnessClassifier

FAKE_ANTHROPIC_KEY = "test-key-for-the-local-fake"
FAKE_TIMEOUT_SECONDS = 5.0  # per attempt; a test of timeouts passes a shorter one
FAKE_MAX_RETRIES = 1


def anthropic_llm(
    base_url: str,
    *,
    call_log: CallLog | None = None,
    timeout_seconds: float = FAKE_TIMEOUT_SECONDS,
    max_retries: int = FAKE_MAX_RETRIES,
) -> AnthropicLlm:
    """The real adapter (the official ``anthropic`` SDK) on explicit settings: the Messages API at
    ``base_url`` (the loopback fake), a test key, a short timeout and one retry. Its calls go to
    ``call_log`` (default: the ledger in Postgres, ``agent_actions_log``)."""
    client = build_client(FAKE_ANTHROPIC_KEY, base_url, timeout_seconds, max_retries)
    return AnthropicLlm(client, call_log if call_log is not None else PostgresCallLog())


def composed_llm() -> Llm | None:
    """The LLM the composition root hands out now: inside the ``anthropic_fake`` fixture the real
    adapter on the loopback fake; otherwise what the settings describe (None without a key)."""
    return bootstrap.deps().llm


# The name tests used before the fixture went through the composition root (branches in flight
# still call it); same function.
settings_llm = composed_llm


def make_deps(
    *,
    llm: Llm | None = None,
    clock: Callable[[], datetime] | None = None,
    sms: SmsGateway | None = None,
    publisher: Publisher | None = None,
    freshness: FreshnessClassifier | None = None,
    **fields: Any,
) -> Deps:
    return Deps(
        uow_factory=fields.pop("uow_factory", PostgresUnitOfWork),
        llm_factory=lambda: llm,
        clock=clock or (lambda: datetime.now(UTC)),
        sms_factory=(lambda: sms) if sms is not None else default_gateway,
        publisher_factory=(lambda: publisher) if publisher is not None else get_publisher,
        freshness=freshness or AssumeRelevantClassifier(),
        verify_email_domain=fields.pop("verify_email_domain", get_settings().verify_email_domain),
        burst=fields.pop("burst", NO_BURST_WAIT),  # tests answer at once unless they test bursts
    )
