"""What a use case may be handed: the adapters, built once per process by ``shared.bootstrap``.

Use cases and delivery handlers receive a ``Deps`` (or the single adapter they need) as an
argument; none of them builds an adapter itself. Tests build a ``Deps`` with fakes, or
override single adapters through ``shared.bootstrap.override``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.adapters.apify import MutualConnections
from shared.adapters.llm import Llm
from shared.adapters.pubsub import Publisher
from shared.adapters.twilio_sms import SmsGateway
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.conversation.turn import NO_BURST_WAIT, BurstWait
from shared.service_layer.freshness import FreshnessClassifier

Clock = Callable[[], datetime]
UowFactory = Callable[[], PostgresUnitOfWork]


@dataclass(frozen=True)
class Deps:
    """The process's adapters. Each field is built lazily by ``shared.bootstrap``."""

    uow_factory: UowFactory
    llm_factory: Callable[[], Llm | None]  # None: no ANTHROPIC_API_KEY; agents use their fallback brain
    clock: Clock
    sms_factory: Callable[[], SmsGateway]  # built on first send: needs Twilio settings
    publisher_factory: Callable[[], Publisher]  # built on first publish: needs the project
    freshness: FreshnessClassifier
    verify_email_domain: str | None = None
    burst: BurstWait = NO_BURST_WAIT  # production: BurstWait.default() (shared.bootstrap)
    # Apify mutual connections (Social Butterfly); None: no APIFY_TOKEN, the research is disabled
    research_factory: Callable[[], MutualConnections | None] = lambda: None

    @property
    def llm(self) -> Llm | None:
        return self.llm_factory()

    @property
    def research(self) -> MutualConnections | None:
        return self.research_factory()

    @property
    def sms(self) -> SmsGateway:
        return self.sms_factory()

    @property
    def publisher(self) -> Publisher:
        return self.publisher_factory()
