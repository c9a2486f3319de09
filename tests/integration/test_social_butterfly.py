"""The Social Butterfly (issue 12 §4, agents.md §11) on real Postgres, with the real apify-client against the
loopback Apify stand-in (tools/fakes/apify_api.py): no test reaches the internet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from shared import config
from shared.adapters.apify import build_mutual_connections
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.social_butterfly import handle_research_needed
from tests.deps_support import make_deps
from tests.integration.test_concierge_intros import member
from tools.fakes.apify_api import ApifyFake

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ACTOR = "yachtparty/linkedin-mutual-connections"


@pytest.fixture
def apify(monkeypatch: pytest.MonkeyPatch) -> Any:
    with ApifyFake() as fake:
        monkeypatch.setenv("APIFY_TOKEN", fake.token)
        monkeypatch.setenv("APIFY_API_URL", fake.base_url)
        config.reset_settings_cache()
        yield fake
    config.reset_settings_cache()


def delivery(payload: Any) -> Delivery:
    return Delivery(
        kind="event",
        id=UUID(int=3),
        type="prospect.research_needed",
        attempt=1,
        published_at=NOW,
        data={"payload": payload},
        attributes={},
        user_id=None,
    )


def handle(payload: Any, deps: Any) -> Any:
    with PostgresUnitOfWork() as uow:
        result = handle_research_needed(delivery(payload), uow, deps)
        uow.commit()
    return result


def setup(db: Any) -> tuple[Any, Any, Any]:
    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    connector, _ = member(db, "+14155550102")
    db.execute(
        "UPDATE users SET linkedin_url = 'https://www.linkedin.com/in/ana-k/' WHERE id = %s", [connector]
    )
    prospect = db.execute(
        "INSERT INTO prospects (linkedin_url, first_name, last_name, company, innovator_id)"
        " VALUES ('https://linkedin.com/in/tony-ruiz', 'Tony', 'Ruiz', 'Roku', %s) RETURNING id",
        [innovator],
    ).fetchone()["id"]
    return innovator, connector, prospect


def test_mutual_connections_become_intro_opportunities_once(db, apify):
    innovator, connector, prospect = setup(db)
    apify.items_for(
        ACTOR,
        [
            {"fullName": "Ana K", "profileUrl": "https://linkedin.com/in/ana-k", "headline": "VP Sales"},
            {"fullName": "Not A Member", "profileUrl": "https://linkedin.com/in/stranger"},
        ],
    )
    deps = replace(
        make_deps(clock=lambda: NOW), research_factory=lambda: build_mutual_connections(config.get_settings())
    )
    payload = {
        "prospectId": str(prospect),
        "innovatorId": str(innovator),
        "researchType": "linkedin_mutual_connections",
    }
    assert handle(payload, deps) == {"status": "researched", "found": 2, "matched": 1, "created": 1}
    assert handle(payload, deps)["created"] == 0  # a redelivery creates no second opportunity
    rows = db.execute("SELECT connector_user_id, bounty_credits, status FROM intro_opportunities").fetchall()
    assert [(r["connector_user_id"], r["bounty_credits"], r["status"]) for r in rows] == [
        (connector, 50, "open")
    ]
    research = db.execute(
        "SELECT mutual_connections, users_researching FROM linkedin_research_prospects"
    ).fetchall()
    assert len(research) == 1 and len(research[0]["mutual_connections"]) == 2
    types = [r["event_type"] for r in db.execute("SELECT event_type FROM events").fetchall()]
    assert types.count("intro.opportunity_created") == 1 and types.count("prospect.research_complete") == 2
    assert apify.inputs[0][1]["profileUrl"] == "https://linkedin.com/in/tony-ruiz"


def test_without_a_token_it_is_disabled_with_a_log_and_writes_nothing(db, caplog):
    innovator, _, prospect = setup(db)
    payload = {"prospect_id": str(prospect), "innovator_id": str(innovator)}
    with caplog.at_level("WARNING"):
        assert handle(payload, make_deps())["status"] == "disabled"
    assert "no APIFY_TOKEN" in caplog.text
    assert db.execute("SELECT count(*) AS n FROM intro_opportunities").fetchone()["n"] == 0


def test_bad_input_is_a_permanent_error_and_a_failed_run_is_retried(db, apify):
    innovator, _, prospect = setup(db)
    deps = replace(
        make_deps(clock=lambda: NOW), research_factory=lambda: build_mutual_connections(config.get_settings())
    )
    with pytest.raises(PermanentError):
        handle({"prospect_id": "not-a-uuid", "innovator_id": str(innovator)}, deps)
    with pytest.raises(PermanentError):
        handle({"prospect_id": str(prospect), "innovator_id": str(innovator), "research_type": "x"}, deps)
    apify.fail_next()
    with pytest.raises(RuntimeError, match="did not succeed"):
        handle({"prospect_id": str(prospect), "innovator_id": str(innovator)}, deps)
    assert db.execute("SELECT count(*) AS n FROM linkedin_research_prospects").fetchone()["n"] == 0
