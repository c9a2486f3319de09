"""The retention function through functions-framework: the signed daily job runs and reports;
unsigned, malformed or wrong-method calls are refused and remove nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared import bootstrap, config
from shared.adapters import webhook_signing
from tests.backbone_support import add_event, function_app, make_user

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-signing-secret"


@pytest.fixture
def retention(database_url: Any, monkeypatch: Any) -> Any:
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", SECRET)
    config.reset_settings_cache()
    bootstrap.reset()
    return function_app("retention", str(ROOT / "functions" / "retention" / "main.py")).test_client()


def signed(client: Any, body: bytes, secret: str | None = SECRET) -> Any:
    headers = {webhook_signing.SIGNATURE_HEADER: webhook_signing.sign(secret, body)} if secret else {}
    return client.post("/", data=body, content_type="application/json", headers=headers)


def test_the_signed_daily_job_runs_and_reports_every_rule(retention: Any, db: Any) -> None:
    response = signed(retention, json.dumps({"job": "retention"}).encode())
    assert response.status_code == 200
    report = response.get_json()
    assert report["job"] == "retention"
    assert set(report["removed"]) == {
        "events",
        "agent_tasks",
        "event_dead_letters",
        "agent_actions_log",
        "processed_deliveries",
        "messages",
    }
    assert report["complete"] is True


@pytest.mark.parametrize(
    ("body", "secret", "status"),
    [
        (b'{"job": "retention"}', None, 401),
        (b'{"job": "retention"}', "wrong-secret", 401),
        (b'{"job": "drop_everything"}', SECRET, 400),
        (b"not json", SECRET, 400),
        (b"\x00\xff", SECRET, 400),
    ],
)
def test_bad_calls_are_refused_and_remove_nothing(
    retention: Any, db: Any, body: bytes, secret: str | None, status: int
) -> None:
    user_id = make_user(db)
    event_id = add_event(db, "message.received", user_id)
    db.execute(
        "UPDATE events SET processed = true, processed_at = now() - interval '400 days' WHERE id = %s",
        (event_id,),
    )
    assert signed(retention, body, secret).status_code == status
    assert db.execute("SELECT count(*) AS n FROM events WHERE id = %s", (event_id,)).fetchone()["n"] == 1


def test_wrong_method_and_content_type(retention: Any) -> None:
    assert retention.get("/").status_code == 405
    response = retention.post("/", data="{}", content_type="text/plain")
    assert response.status_code == 415
