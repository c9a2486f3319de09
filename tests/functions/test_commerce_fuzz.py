"""Hostile input at the two commerce entry points never becomes a 5xx and never writes (issue 13).

Hypothesis throws generated forms and files at ``prospect_upload`` (with a real link and CSRF
token, or forged ones) and generated payloads, signed and unsigned, at ``stripe_webhook``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.commerce_support import WEBHOOK_SECRET, innovator, new_link, stripe_standin, upload_settings
from tests.fuzz_support import fuzz_settings, no_server_error
from tools.fakes.stripe_api import sign_payload

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("fuzz")]

ROOT = Path(__file__).resolve().parents[2]
FUZZ = fuzz_settings(40)

nasty = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ["\x00", "=cmd|' /C calc'!A0", "<script>alert(1)</script>", "../../etc/passwd", "𝕏" * 50]
    ),
)
csv_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(st.lists(nasty, max_size=6), max_size=8).map(
        lambda rows: "\r\n".join(
            ",".join(json.dumps(c) for c in r) for r in [["email", "phone", "name"], *rows]
        ).encode("utf-8", "surrogatepass")
    ),
)


def _app(name: str) -> Any:
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        name, str(ROOT / "functions" / name / "main.py")
    ).test_client()


@pytest.fixture
def env(database_url: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with upload_settings(monkeypatch), stripe_standin(monkeypatch):
        yield


@pytest.fixture
def link(env: None, db: Any) -> tuple[str, str]:
    token = new_link(innovator(db))
    page = _app("prospect_upload").get(f"/?t={token}").get_data(as_text=True)
    csrf = re.search(r'name=csrf value="([^"]+)"', page)
    assert csrf
    return token, csrf[1]


@FUZZ
@given(
    data=csv_bytes,
    name=nasty,
    action=st.sampled_from(["preview", "confirm", "", "x"]),
    forged=st.booleans(),
    batch=nasty,
)
def test_prospect_upload_never_answers_5xx(env, db, link, data, name, action, forged, batch):  # noqa: PLR0917
    token, csrf = link
    form = {"t": token, "csrf": "forged" if forged else csrf, "action": action, "batch": batch}
    response = _app("prospect_upload").post(
        "/", data={**form, "file": (io.BytesIO(data), name or "f.csv")}, content_type="multipart/form-data"
    )
    no_server_error("prospect_upload", response, (form, data[:200], name))
    assert response.mimetype == "text/html"
    assert db.execute("SELECT count(*) AS n FROM prospects").fetchone()["n"] == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(
    payload=st.one_of(
        json_values.map(json.dumps),
        st.fixed_dictionaries(
            {
                "id": st.text(max_size=20),
                "type": st.sampled_from(["checkout.session.completed", "charge.refunded", ""]),
                "data": st.fixed_dictionaries({"object": st.dictionaries(st.text(max_size=20), json_values)}),
            }
        ).map(json.dumps),
        st.text(max_size=200),
    ),
    signed=st.booleans(),
)
def test_stripe_webhook_never_answers_5xx_and_credits_nothing(env, db, payload, signed):
    headers = {"Stripe-Signature": sign_payload(payload, WEBHOOK_SECRET)} if signed else {}
    response = _app("stripe_webhook").post(
        "/", data=payload.encode("utf-8", "surrogatepass"), headers=headers
    )
    no_server_error("stripe_webhook", response, payload[:300])
    assert response.status_code == 400 or signed
    assert db.execute("SELECT count(*) AS n FROM credit_events").fetchone()["n"] == 0
