"""Duplicates against the prospects an innovator uploaded before (issue 13), through functions-framework:
the preview shows them as duplicates, the confirmation never writes them twice (not even when another
link confirmed them after this preview), and each batch writes one ``prospects.batch_uploaded``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.commerce_support import innovator, new_link
from tests.functions.test_prospect_upload import batch_of, client, confirm, csrf_of, upload

pytestmark = pytest.mark.integration
__all__ = ["client"]  # the fixture, shared with the main page tests

FIRST = (
    b"First Name,Last Name,Company,email,phone,linkedin\r\n"
    b"Ada,Lovelace,Analytical,ada@example.com,,\r\n"
    b"Bea,Hopper,Navy,,+1 415 555 0199,\r\n"
    b"Cal,Ripken,Orioles,,,https://www.linkedin.com/in/cal-r\r\n"
)
SECOND = (
    b"First Name,Last Name,Company,email,phone,linkedin\r\n"
    b"Ada,Lovelace,Analytical,ADA@Example.com,,\r\n"  # the same email, another case
    b"Bea,Hopper,Navy,,(415) 555-0199,\r\n"  # the same phone, another format
    b"Cal,Ripken,Orioles,,,linkedin.com/in/CAL-R/\r\n"  # the same profile, another spelling
    b"Dan,New,Globex,dan@example.com,,\r\n"
)


def previewed(client: Any, owner: Any, data: bytes) -> tuple[str, str, str]:
    token = new_link(owner)
    csrf = csrf_of(client.get(f"/?t={token}").get_data(as_text=True))
    page = upload(client, token, csrf, data)
    assert page.status_code == 200, page.get_data(as_text=True)
    return token, csrf, page.get_data(as_text=True)


def emails(db: Any) -> list[Any]:
    rows = db.execute("SELECT email, phone_number, linkedin_url FROM prospects ORDER BY created_at, id")
    return [r["email"] or r["phone_number"] or r["linkedin_url"] for r in rows.fetchall()]


def batch_events(db: Any) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT aggregate_id, payload FROM events WHERE event_type = 'prospects.batch_uploaded'"
        " ORDER BY created_at, id"
    ).fetchall()
    return [{"innovator": r["aggregate_id"], **r["payload"]} for r in rows]


def test_a_second_upload_shows_earlier_prospects_as_duplicates_and_writes_only_new(client, db):
    owner = innovator(db)
    token, csrf, page = previewed(client, owner, FIRST)
    assert "3 valid, 0 warnings, 0 errors" in page
    assert confirm(client, token, csrf, batch_of(page)).status_code == 200
    [first] = batch_events(db)
    assert (first["innovator"], first["record_count"], first["duplicates_skipped"]) == (owner, 3, 0)
    assert first["research_needed"] == 1

    token, csrf, page = previewed(client, owner, SECOND)
    assert "1 valid, 0 warnings, 3 errors" in page
    for field in ("email", "phone_number", "linkedin_url"):
        assert f"already in your prospects ({field})" in page
    done = confirm(client, token, csrf, batch_of(page))
    assert done.status_code == 200 and "1 prospect" in done.get_data(as_text=True)
    assert sorted(emails(db)) == sorted(
        ["ada@example.com", "+14155550199", "https://www.linkedin.com/in/cal-r", "dan@example.com"]
    )
    second = next(e for e in batch_events(db) if e["upload_batch_id"] != first["upload_batch_id"])
    assert (second["record_count"], second["duplicates_skipped"], second["research_needed"]) == (1, 0, 0)
    batches = db.execute("SELECT DISTINCT upload_batch_id FROM prospects").fetchall()
    # the batch event counts are ordered by time; the second batch is the one with one row
    assert sorted(e["record_count"] for e in batch_events(db)) == [1, 3]
    assert {str(b["upload_batch_id"]) for b in batches} == {
        first["upload_batch_id"],
        second["upload_batch_id"],
    }


def test_a_list_confirmed_through_another_link_after_the_preview_is_not_written_twice(client, db):
    owner = innovator(db)
    a_token, a_csrf, a_page = previewed(client, owner, FIRST)
    b_token, b_csrf, b_page = previewed(client, owner, SECOND)
    assert "4 valid, 0 warnings, 0 errors" in b_page  # nothing was uploaded yet when B was previewed
    assert confirm(client, a_token, a_csrf, batch_of(a_page)).status_code == 200
    done = confirm(client, b_token, b_csrf, batch_of(b_page))
    assert done.status_code == 200 and "1 prospect" in done.get_data(as_text=True)
    assert len(emails(db)) == 4
    counts = sorted((e["record_count"], e["duplicates_skipped"]) for e in batch_events(db))
    assert counts == [(1, 3), (3, 0)]


def test_duplicates_are_per_innovator(client, db):
    one = innovator(db)
    other = innovator(db, "+14155550177", company="Initech")
    token, csrf, page = previewed(client, one, FIRST)
    confirm(client, token, csrf, batch_of(page))
    token, csrf, page = previewed(client, other, SECOND)
    assert "4 valid, 0 warnings, 0 errors" in page and "already in your prospects" not in page
    confirm(client, token, csrf, batch_of(page))
    owners = db.execute("SELECT innovator_id, count(*) AS n FROM prospects GROUP BY 1").fetchall()
    assert {r["innovator_id"]: r["n"] for r in owners} == {one: 3, other: 4}
