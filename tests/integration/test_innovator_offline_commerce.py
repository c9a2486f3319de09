"""The Innovator's offline brain asked for its commerce links (issue 13, issue 16 §6) on real Postgres:
"here's my list" makes a real single-use upload link and "buy 500 credits" a real Checkout Session on
the Stripe stand-in (the real ``stripe`` SDK), and the reply quotes each returned link exactly."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from shared import config
from tests.bouncer_support import replies
from tests.commerce_support import UPLOAD_BASE, stripe_standin, upload_settings
from tests.integration.test_concierge import member, offline

pytestmark = pytest.mark.integration

URL = re.compile(r"https?://\S+")


@pytest.fixture(autouse=True)
def _settings() -> Any:
    config.reset_settings_cache()


def innovator(db: Any) -> Any:
    user_id, conv = member(db, poc="innovator", innovator=True)
    db.execute("INSERT INTO innovators (user_id, company_name) VALUES (%s, 'Globex')", [user_id])
    return user_id, conv


def test_offline_innovator_texts_the_real_upload_link(db, monkeypatch):
    with upload_settings(monkeypatch):
        user_id, conv = innovator(db)
        offline(db, user_id, conv, "Here's my list", innovator=True)
        [reply] = replies(db, user_id)
        [link] = URL.findall(reply)
        assert re.fullmatch(re.escape(UPLOAD_BASE) + r"/\?t=[A-Za-z0-9_-]+", link), reply
        token = db.execute("SELECT innovator_id, used_at FROM prospect_upload_tokens").fetchone()
        assert (token["innovator_id"], token["used_at"]) == (user_id, None)


def test_offline_innovator_texts_the_real_checkout_link(db, monkeypatch):
    with contextlib.ExitStack() as stack:
        standin = stack.enter_context(stripe_standin(monkeypatch))
        user_id, conv = innovator(db)
        offline(db, user_id, conv, "buy 500 credits", innovator=True)
        [session] = standin.sessions.values()
        [reply] = replies(db, user_id)
        assert URL.findall(reply) == [session["url"]], reply
        assert "500 credits" in reply
        assert session["client_reference_id"] == str(user_id)
        purchase = db.execute("SELECT user_id, credits, stripe_session_id FROM credit_purchases").fetchone()
        assert (purchase["user_id"], purchase["credits"], purchase["stripe_session_id"]) == (
            user_id,
            500,
            session["id"],
        )


def test_offline_innovator_without_an_upload_page_gives_no_link(db, monkeypatch):
    monkeypatch.delenv("PROSPECT_UPLOAD_URL", raising=False)
    config.reset_settings_cache()
    user_id, conv = innovator(db)
    offline(db, user_id, conv, "upload my prospects", innovator=True)
    [reply] = replies(db, user_id)
    assert "http" not in reply and "no link" in reply
    assert db.execute("SELECT count(*) AS n FROM prospect_upload_tokens").fetchone()["n"] == 0


def test_offline_concierge_member_gets_no_commerce_link(db, monkeypatch):
    with upload_settings(monkeypatch):
        user_id, conv = member(db)
        offline(db, user_id, conv, "here's my list")
        assert all("http" not in r for r in replies(db, user_id))
        assert db.execute("SELECT count(*) AS n FROM prospect_upload_tokens").fetchone()["n"] == 0


def test_offline_innovator_asking_how_their_intros_are_going_gets_the_counts(db):
    """agents.md §5 tool 3 without a model: before, "how are my intros going?" got "tell me what
    you need". The counts are the member's own rows, both kinds added up."""
    user_id, conv = innovator(db)
    offline(db, user_id, conv, "how are my intros going?", innovator=True)
    assert replies(db, user_id) == ["No intros in progress yet."]
    connector, connector_conv = member(db, "+14155550120", email="c@globex.com")
    target, _ = member(db, "+14155550121", email="t@globex.com")
    db.execute(
        "INSERT INTO intro_opportunities (connector_user_id, innovator_id, first_name, last_name,"
        " prospect_company) VALUES (%s, %s, 'Tony', 'Ruiz', 'Roku')",
        [connector, user_id],
    )
    db.execute(
        "INSERT INTO connection_requests (introducee_user_id, requestor_user_id, requestor_name,"
        " intro_context, status) VALUES (%s, %s, 'Ines Vendor', 'AP automation', 'accepted')",
        [target, user_id],
    )
    offline(db, user_id, conv, "any update on my intros?", innovator=True)
    assert replies(db, user_id)[-1] == (
        "Your intros so far: 2 in all; 1 waiting on an answer, 1 accepted, 0 completed, 0 declined."
    )
    # someone else's intros are not theirs
    offline(db, connector, connector_conv, "how are my intros going?")
    assert all("Your intros" not in r for r in replies(db, connector))
