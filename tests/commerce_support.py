"""Arrange helpers for the Innovator-commerce tests (issue 13): innovators, upload links, Stripe.

Links and Checkout Sessions are made the way the Innovator's tools make them
(``shared.agents.innovator.commerce``), through the real ``stripe`` SDK pointed at the local
stand-in (``tools/fakes/stripe_api.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared import config
from shared.adapters.stripe_checkout import checkout_gateway
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.innovator import commerce
from tests.bouncer_support import new_user
from tools.fakes.stripe_api import StripeStandin

UPLOAD_BASE = "https://upload.example.test"
STRIPE_KEY = "sk_test_yachtparty_local"
WEBHOOK_SECRET = "whsec_yachtparty_local_test"


def innovator(db: Any, phone: str = "+14155550100", company: str = "Globex") -> UUID:
    user_id, _ = new_user(
        db,
        phone,
        first_name="Ines",
        last_name="Vendor",
        company=company,
        title="CEO",
        email=f"ines{phone[-4:]}@{company.lower()}.example",
        email_verified=True,
        verified=True,
        approval_status="approved",
        poc_agent_type="innovator",
        innovator=True,
    )
    return UUID(str(user_id))


@contextmanager
def upload_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """PROSPECT_UPLOAD_URL set (what ``upload_prospects`` builds links on)."""
    monkeypatch.setenv("PROSPECT_UPLOAD_URL", UPLOAD_BASE)
    config.reset_settings_cache()
    yield UPLOAD_BASE
    config.reset_settings_cache()


def new_link(innovator_id: UUID, now: datetime | None = None, base: str = UPLOAD_BASE) -> str:
    """A link as ``upload_prospects`` makes it; returns its token."""
    with PostgresUnitOfWork() as uow:
        result = commerce.upload_link(uow, innovator_id, now or datetime.now(UTC))
        uow.commit()
    assert result["status"] == "link_created", result
    match = re.fullmatch(re.escape(base) + r"/\?t=([A-Za-z0-9_-]+)", result["url"])
    assert match, result["url"]
    return match[1]


@contextmanager
def stripe_standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeStandin]:
    """The Stripe stand-in; STRIPE_SECRET_KEY / STRIPE_API_BASE / STRIPE_WEBHOOK_SECRET point at it."""
    with StripeStandin(api_key=STRIPE_KEY, webhook_secret=WEBHOOK_SECRET) as standin:
        monkeypatch.setenv("STRIPE_SECRET_KEY", STRIPE_KEY)
        monkeypatch.setenv("STRIPE_API_BASE", standin.url)
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        config.reset_settings_cache()
        checkout_gateway.cache_clear()
        yield standin
    checkout_gateway.cache_clear()
    config.reset_settings_cache()


def funding(user_id: UUID, credits: int) -> dict[str, Any]:
    """``request_credit_funding`` as one turn runs it: a Checkout Session and its purchase row."""
    with PostgresUnitOfWork() as uow:
        result = commerce.funding_link(uow, user_id, credits, uuid4())
        uow.commit()
    return result
