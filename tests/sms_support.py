"""Helpers shared by the SMS channel's tests: settings, signed Twilio and webhook requests, arranging rows."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import functions_framework
import pytest
from twilio.request_validator import RequestValidator

from shared import config
from shared.adapters import webhook_signing
from tests.fixture_support import fixture_sql

ROOT = Path(__file__).resolve().parent.parent
AUTH_TOKEN = "test-auth-token-" + "0" * 16
ACCOUNT_SID = "AC" + "1" * 32
WEBHOOK_SECRET = "test-webhook-secret"
PUBLIC_BASE_URL = "https://sms.example.test"
FROM_NUMBER = "+14155550100"


def configure(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    env = {
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "WEBHOOK_SIGNING_SECRET": WEBHOOK_SECRET,
        **extra,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config.reset_settings_cache()


def app_client(name: str) -> Any:
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        name, str(ROOT / "functions" / name / "main.py")
    ).test_client()


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def inbound_params(
    from_number: str = "+14155550123", body: str = "hello", sid: str | None = None
) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": from_number,
        "To": FROM_NUMBER,
        "MessageSid": sid or new_sid(),
        "SmsSid": sid or new_sid(),
        "NumMedia": "0",
    }


def twilio_post(
    client: Any,
    params: dict[str, str],
    *,
    path: str = "/",
    token: str = AUTH_TOKEN,
    base: str = PUBLIC_BASE_URL,
    signature: str | None = None,
) -> Any:
    url = base + path
    sig = signature if signature is not None else RequestValidator(token).compute_signature(url, params)
    return client.post(
        path,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sig},
    )


def internal_post(
    client: Any, payload: Any, *, secret: str | None = WEBHOOK_SECRET, raw: bytes | None = None
) -> Any:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {webhook_signing.SIGNATURE_HEADER: webhook_signing.sign(secret, body)} if secret else {}
    return client.post("/", data=body, content_type="application/json", headers=headers)


def counts(db: Any) -> dict[str, int]:
    row = fixture_sql(db).one("check_row_counts")
    assert row is not None
    return dict(row)


def make_user(db: Any, phone: str = "+14155550123", *, opted_out: bool = False) -> tuple[UUID, UUID]:
    """A member texting from ``phone`` (opted out if asked) and their active conversation."""
    from shared.adapters.unit_of_work import PostgresUnitOfWork

    with PostgresUnitOfWork() as uow:
        member = uow.users.upsert_by_phone(phone, timezone=None)
        if opted_out:
            uow.users.set_opted_out(member.id)
        uow.commit()
    return member.id, member.conversation_id


def add_outbound(
    user_id: UUID, conversation_id: UUID, bodies: list[str], role: str = "bouncer"
) -> list[UUID]:
    from shared.adapters.outbound import add_outbound_messages
    from shared.adapters.unit_of_work import PostgresUnitOfWork

    with PostgresUnitOfWork() as uow:
        ids = add_outbound_messages(
            uow.messages, user_id=user_id, conversation_id=conversation_id, role=role, bodies=bodies
        )
        uow.commit()
    return ids
