"""Building the adapters a use case takes, for tests: ``make_deps(llm=..., clock=...)``.

Tests pass fakes in; nothing here reads an environment variable to pick a fake. The real
adapters (Postgres, the SDKs pointed at loopback stand-ins) come from the test's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.adapters.llm import CallLog, Llm, PostgresCallLog, build_llm
from shared.adapters.pubsub import Publisher, get_publisher
from shared.adapters.twilio_sms import SmsGateway, default_gateway
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.conversation.turn import NO_BURST_WAIT
from shared.config import get_settings
from shared.service_layer.deps import Deps
from shared.service_layer.freshness import AssumeRelevantClassifier, FreshnessClassifier


def settings_llm(call_log: CallLog | None = None) -> Llm | None:
    """The real adapter as the settings describe it (the ``anthropic_fake`` fixture points it at
    the loopback Messages API); None without a key."""
    return build_llm(get_settings(), call_log if call_log is not None else PostgresCallLog())


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
