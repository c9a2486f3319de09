"""The prospect_upload function through functions-framework (issue 13): link, preview, confirm, and
every bad input answered by a clear page that writes nothing."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from shared.domain.constants import PROSPECT_UPLOAD_MAX_BYTES, PROSPECT_UPLOAD_MAX_ROWS
from tests.commerce_support import innovator, new_link, upload_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CSV = (
    "\ufeffFirst Name,Last Name,Company,email,phone,linkedin_url\r\n"
    "Ada,Lovelace,Analytical,ada@example.com,+1 415 555 0123,https://www.linkedin.com/in/ada\r\n"
    "Bob,Builder,,bob@@example,,\r\n"
    "Cy,Young,Acme,,,\r\n"
    "Dee,Dup,Acme,ADA@example.com,,\r\n"
    '"=HYPERLINK(""http://evil.example"",""click"")",<script>alert(1)</script>,Corp,eve@example.com,,\r\n'
).encode()


@pytest.fixture
def client(database_url: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with upload_settings(monkeypatch):
        yield functions_framework.create_app(  # type: ignore[no-untyped-call]
            "prospect_upload", str(ROOT / "functions" / "prospect_upload" / "main.py")
        ).test_client()


def csrf_of(page: str) -> str:
    match = re.search(r'name=csrf value="([^"]+)"', page)
    assert match, page
    return html.unescape(match[1])


def batch_of(page: str) -> str:
    match = re.search(r'name=batch value="([^"]+)"', page)
    assert match, page
    return match[1]


def upload(client: Any, token: str, csrf: str, data: bytes, name: str = "list.csv") -> Any:
    return client.post(
        "/",
        data={"t": token, "csrf": csrf, "action": "preview", "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def confirm(client: Any, token: str, csrf: str, batch: str) -> Any:
    return client.post("/", data={"t": token, "csrf": csrf, "action": "confirm", "batch": batch})


def prospects(db: Any) -> Any:
    return db.execute("SELECT * FROM prospects ORDER BY email NULLS LAST").fetchall()


def test_link_preview_confirm_writes_one_batch(client, db):
    owner = innovator(db)
    token = new_link(owner)
    form = client.get(f"/?t={token}")
    assert form.status_code == 200
    assert form.headers["Content-Security-Policy"].startswith("default-src 'none'")
    page = form.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and "<script" not in page
    csrf = csrf_of(page)

    preview = upload(client, token, csrf, CSV)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200, text
    assert "1 valid, 1 warnings, 3 errors" in text
    assert "duplicate of row 2 (email)" in text
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "=HYPERLINK(&quot;http://evil.example&quot;" in text
    assert '<a href="http://evil' not in text
    assert prospects(db) == []  # nothing before the confirmation

    done = confirm(client, token, csrf, batch_of(text))
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "2 prospects" in done.get_data(as_text=True)
    rows = prospects(db)
    assert [r["email"] for r in rows] == ["ada@example.com", "eve@example.com"]
    assert {r["innovator_id"] for r in rows} == {owner}
    assert len({r["upload_batch_id"] for r in rows}) == 1 and rows[0]["upload_batch_id"] is not None
    assert {r["upload_source"] for r in rows} == {"csv"}
    assert rows[0]["phone_number"] == "+14155550123"
    assert rows[1]["first_name"] == '=HYPERLINK("http://evil.example","click")'  # stored as text
    research = db.execute(
        "SELECT aggregate_id, payload FROM events WHERE event_type = 'prospect.research_needed'"
    ).fetchall()
    assert [(e["aggregate_id"], e["payload"]["linkedinUrl"]) for e in research] == [
        (rows[0]["id"], "https://www.linkedin.com/in/ada")
    ]
    assert research[0]["payload"]["innovatorId"] == str(owner)

    # A double submit writes the batch once and shows the success page again.
    again = confirm(client, token, csrf, batch_of(text))
    assert again.status_code == 200 and "already saved" in again.get_data(as_text=True)
    assert len(prospects(db)) == 2
    # The link is spent: opening it again is a clear page, not a form.
    reused = client.get(f"/?t={token}")
    assert reused.status_code == 410 and "already used" in reused.get_data(as_text=True)
    assert "Traceback" not in reused.get_data(as_text=True)


def test_token_is_stored_hashed_and_expires(client, db):
    owner = innovator(db)
    token = new_link(owner, now=datetime.now(UTC) - timedelta(hours=25))
    stored = db.execute("SELECT token_sha256 FROM prospect_upload_tokens").fetchone()["token_sha256"]
    assert token not in stored and len(stored) == 64
    expired = client.get(f"/?t={token}")
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)


@pytest.mark.parametrize("query", ["", "?t=", "?t=short", "?t=" + "A" * 43, "?t=%3Cscript%3E" * 5])
def test_unknown_links_get_a_clear_page(client, db, query):
    response = client.get("/" + query)
    assert response.status_code == 404
    assert "This upload link is not valid." in response.get_data(as_text=True)


def test_csrf_is_required_on_every_form(client, db):
    token = new_link(innovator(db))
    csrf = csrf_of(client.get(f"/?t={token}").get_data(as_text=True))
    for bad in ("", "forged", csrf[:-1] + ("A" if csrf[-1] != "A" else "B")):
        refused = upload(client, token, bad, CSV)
        assert refused.status_code == 403
    text = upload(client, token, csrf, CSV).get_data(as_text=True)
    assert confirm(client, token, "forged", batch_of(text)).status_code == 403
    assert prospects(db) == []


def test_a_link_of_innovator_a_never_writes_for_b(client, db):
    a = innovator(db, "+14155550100", "Alpha")
    b = innovator(db, "+14155550111", "Beta")
    token_a, token_b = new_link(a), new_link(b)
    csrf_a = csrf_of(client.get(f"/?t={token_a}").get_data(as_text=True))
    csrf_b = csrf_of(client.get(f"/?t={token_b}").get_data(as_text=True))
    batch_a = batch_of(upload(client, token_a, csrf_a, CSV).get_data(as_text=True))
    # B's link with A's CSRF token or A's batch: refused; a forged innovator field is ignored.
    assert confirm(client, token_b, csrf_a, batch_a).status_code == 403
    assert confirm(client, token_b, csrf_b, batch_a).status_code == 409
    response = client.post(
        "/",
        data={"t": token_a, "csrf": csrf_a, "action": "confirm", "batch": batch_a, "innovator_id": str(b)},
    )
    assert response.status_code == 200
    assert {r["innovator_id"] for r in prospects(db)} == {a}


@pytest.mark.parametrize(("name", "stored"), [("\x00", None), ("list\x00.csv", "list.csv")])
def test_a_file_name_with_a_nul_is_previewed_and_stored_without_it(client, db, name, stored):
    """Found by the fuzz suite (a 500: Postgres text cannot hold NUL): the name is the client's."""
    token = new_link(innovator(db))
    csrf = csrf_of(client.get(f"/?t={token}").get_data(as_text=True))
    response = upload(client, token, csrf, b"email\nsolo@example.com\n", name=name)
    assert response.status_code == 200, response.get_data(as_text=True)
    row = db.execute("SELECT preview_file_name FROM prospect_upload_tokens").fetchone()
    assert row["preview_file_name"] == stored


def test_a_new_upload_replaces_the_preview(client, db):
    token = new_link(innovator(db))
    csrf = csrf_of(client.get(f"/?t={token}").get_data(as_text=True))
    first = batch_of(upload(client, token, csrf, CSV).get_data(as_text=True))
    second = batch_of(upload(client, token, csrf, b"email\nsolo@example.com\n").get_data(as_text=True))
    assert confirm(client, token, csrf, first).status_code == 409
    assert confirm(client, token, csrf, second).status_code == 200
    assert [r["email"] for r in prospects(db)] == ["solo@example.com"]


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ("email\nä@x.com\n".encode("latin-1"), 422, "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", 422, "binary"),
        (b"name,company\nAnn,Co\n", 422, "No contact column"),
        (b"", 422, "empty"),
        (
            (
                "email\n" + "".join(f"p{i}@example.com\n" for i in range(PROSPECT_UPLOAD_MAX_ROWS + 1))
            ).encode(),
            422,
            "more than 10,000 rows",
        ),
    ],
)
def test_refused_files_write_nothing(client, db, data, status, message):
    token = new_link(innovator(db))
    csrf = csrf_of(client.get(f"/?t={token}").get_data(as_text=True))
    response = upload(client, token, csrf, data)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert prospects(db) == []
    assert db.execute("SELECT preview_rows FROM prospect_upload_tokens").fetchone()["preview_rows"] is None


def test_oversized_upload_is_413_before_reading(client, db):
    token = new_link(innovator(db))
    csrf = csrf_of(client.get(f"/?t={token}").get_data(as_text=True))
    big = b"email\n" + b"a@b.co\n" * (PROSPECT_UPLOAD_MAX_BYTES // 7 + 20_000)
    response = upload(client, token, csrf, big)
    assert response.status_code == 413
    assert "larger than 5 MB" in response.get_data(as_text=True)
    assert prospects(db) == []


def test_malformed_requests_get_pages_not_stack_traces(client, db):
    token = new_link(innovator(db))
    csrf = csrf_of(client.get(f"/?t={token}").get_data(as_text=True))
    cases = [
        client.put("/"),
        client.post("/", data={"t": token, "csrf": csrf, "action": "drop_tables"}),
        client.post("/", data={"t": token, "csrf": csrf, "action": "confirm", "batch": "not-a-uuid"}),
        client.post("/", data={"t": token, "csrf": csrf, "action": "preview"}),  # no file
        client.post("/", data=b"\xff\xfe garbage", content_type="multipart/form-data; boundary=x"),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.status_code
        assert response.mimetype == "text/html"
        assert "Traceback" not in response.get_data(as_text=True)
    assert prospects(db) == []
