"""``ops purchases``: credit purchases and their ledger rows (issue 13), on real Postgres."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console

from shared.adapters.stripe_checkout import verify_event
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.credit_purchases import record_stripe_event
from tests.commerce_support import (
    UPLOAD_BASE,
    WEBHOOK_SECRET,
    funding,
    innovator,
    stripe_standin,
    upload_settings,
)
from tools.fakes.stripe_api import StripeStandin, event_for, sign_payload

pytestmark = pytest.mark.integration


@pytest.fixture
def standin(database_url: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeStandin]:
    with stripe_standin(monkeypatch) as running:
        yield running


@pytest.fixture
def cli(ops_cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from tools.ops import purchases

    monkeypatch.setattr(purchases, "console", Console(width=250))
    return ops_cli


def pay(standin: StripeStandin, session_id: str, **overrides: Any) -> str:
    event = event_for({**standin.sessions[session_id], "payment_status": "paid", **overrides})
    payload = json.dumps(event)
    verified = verify_event(payload.encode(), sign_payload(payload, WEBHOOK_SECRET), WEBHOOK_SECRET)
    return record_stripe_event(verified, uow_factory=PostgresUnitOfWork, now=datetime.now(UTC)).outcome


def test_purchases_lists_paid_open_and_refused_with_ledger_rows(
    cli: Any, db: Any, standin: StripeStandin
) -> None:
    buyer = innovator(db)
    paid = funding(buyer, 100)["url"].rsplit("/", 1)[1]
    funding(buyer, 250)
    refused = funding(buyer, 500)["url"].rsplit("/", 1)[1]
    assert pay(standin, paid) == "credited"
    assert pay(standin, refused, amount_total=1) == "mismatch"
    result = cli("purchases")
    assert result.exit_code == 0, result.output
    assert "Credit purchases (3)" in result.output
    assert paid in result.output and f"credit_purchase_{paid}" in result.output and "+100" in result.output
    assert "refused" in result.output and "amount_total 1 != 45000" in result.output
    only_paid = cli("purchases", "--status", "paid")
    assert "Credit purchases (1)" in only_paid.output
    assert cli("purchases", "--status", "bogus").exit_code == 2


def test_operators_can_make_the_links_the_tools_make(
    cli: Any, db: Any, standin: StripeStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = innovator(db)
    with upload_settings(monkeypatch):
        made = cli("upload-link", "+14155550100")
        assert made.exit_code == 0, made.output
        assert made.output.strip().startswith(UPLOAD_BASE + "/?t=")
        funded = cli("funding-link", "+14155550100", "250")
        assert funded.exit_code == 0, funded.output
        [session] = standin.sessions.values()
        assert funded.output.strip() == session["url"] and session["client_reference_id"] == str(buyer)
        assert cli("upload-link", "+14155550999").exit_code == 1
        assert cli("funding-link", "+14155550100", "999999").exit_code == 1
    assert db.execute("SELECT count(*) AS n FROM prospect_upload_tokens").fetchone()["n"] == 1
    assert db.execute("SELECT count(*) AS n FROM credit_purchases").fetchone()["n"] == 1
