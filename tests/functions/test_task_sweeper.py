"""task_sweeper through functions-framework: HMAC and Cloud Scheduler OIDC auth, bad input, a real sweep."""

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from shared.adapters import oidc, webhook_signing
from tests.backbone_support import add_task, function_app, task_row

pytestmark = pytest.mark.integration

SOURCE = str(Path(__file__).resolve().parents[2] / "functions" / "task_sweeper" / "main.py")
SECRET = "test-signing-secret"
AUDIENCE = "https://task-sweeper.example.test"
SCHEDULER = "scheduler@yp-test.iam.gserviceaccount.com"
CERTS_URL = "https://certs.example.test/oauth2/v1/certs"
WEBHOOK_BODY = json.dumps({"table": "agent_tasks", "type": "INSERT"}).encode()


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SCHEDULER_OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("SCHEDULER_SERVICE_ACCOUNT_EMAIL", SCHEDULER)
    monkeypatch.setenv("GOOGLE_OIDC_CERTS_URL", CERTS_URL)
    return function_app("task_sweeper", SOURCE).test_client()


class Google:
    """A stand-in for Google's token signer: an RSA key and its certificate at the certs URL."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-google")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.certs = {"kid-1": cert.public_bytes(serialization.Encoding.PEM).decode()}
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.signer = crypt.RSASigner.from_string(pem, key_id="kid-1")  # type: ignore[no-untyped-call]

    def token(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "sub": "1234",
            "email": SCHEDULER,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        return str(jwt.encode(self.signer, claims).decode())  # type: ignore[no-untyped-call]


@pytest.fixture
def google():
    g = Google()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(CERTS_URL, json=g.certs)
        yield g


def _signed(client: Any, body: bytes) -> Any:
    return client.post(
        "/",
        data=body,
        content_type="application/json",
        headers={webhook_signing.SIGNATURE_HEADER: webhook_signing.sign(SECRET, body)},
    )


def _bearer(client: Any, token: str, body: bytes = b'{"sweep": true}') -> Any:
    return client.post(
        "/", data=body, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )


def test_unsigned_call_is_401_and_no_task_is_claimed(client, db):
    task = add_task(db)
    assert client.post("/", data=WEBHOOK_BODY, content_type="application/json").status_code == 401
    assert task_row(db, task)["status"] == "pending"


def test_wrong_method_is_405_and_malformed_body_400(client, db):
    assert client.get("/").status_code == 405
    assert client.delete("/").status_code == 405
    assert _signed(client, b"{oops").status_code == 400
    assert _signed(client, b'{"table": "events", "type": "INSERT"}').status_code == 400


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"aud": "https://someone-else.example.test"}, "audience"),
        ({"email": "intruder@example.test"}, "service account"),
        ({"email_verified": False}, "service account"),
        ({"iss": "https://evil.example.test"}, "issuer"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    ],
    ids=["audience", "email", "email-unverified", "issuer", "expired"],
)
def test_scheduler_tokens_with_wrong_claims_are_401(client, db, google, overrides, why):
    task = add_task(db)
    response = _bearer(client, google.token(**overrides))
    assert response.status_code == 401, why
    assert task_row(db, task)["status"] == "pending"


def test_a_token_signed_by_another_key_is_401(client, db, google):
    assert _bearer(client, Google().token()).status_code == 401


def test_other_authorization_schemes_are_401(client, db):
    response = client.post(
        "/", data=b"{}", content_type="application/json", headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )
    assert response.status_code == 401


@pytest.mark.pubsub
def test_cloud_scheduler_token_runs_a_sweep(client, db, google, pubsub_emulator, caplog):
    from tools.localstack.pubsub_emulator import ensure_topology

    caplog.set_level(logging.INFO, logger="shared.service_layer.backlogs")

    ensure_topology(pubsub_emulator.project, lambda consumer: "http://127.0.0.1:9/unused")
    oidc._transport = None
    task = add_task(db)
    response = _bearer(client, google.token())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["trigger"] == "sweep"
    assert response.get_json()["published"] == 1
    assert task_row(db, task)["status"] == "processing"
    assert _backlog_lines(caplog) == ["agent_tasks"]  # the scheduler's tick reports the backlog


@pytest.mark.pubsub
def test_a_signed_webhook_runs_a_sweep(client, db, pubsub_emulator, caplog):
    from tools.localstack.pubsub_emulator import ensure_topology

    caplog.set_level(logging.INFO, logger="shared.service_layer.backlogs")

    ensure_topology(pubsub_emulator.project, lambda consumer: "http://127.0.0.1:9/unused")
    task = add_task(db)
    response = _signed(client, WEBHOOK_BODY)
    assert response.status_code == 200
    assert response.get_json()["published"] == 1
    assert task_row(db, task)["status"] == "processing"
    assert _backlog_lines(caplog) == []  # a webhook per inserted task does not count the backlogs


def _backlog_lines(caplog: Any) -> list[str]:
    return [r.backlog for r in caplog.records if r.getMessage() == "backlog"]
