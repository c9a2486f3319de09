"""The inbound verification email (``shared/service_layer/email_verification.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "Mutation testing"): each outcome
(no ``verify-`` recipient, an unknown token, an address already verified, verified), the user lock
(account scope) taken only for a known token, every write of a verification in order (the email
marked verified with the sender, the inbound system trigger and its JSON, the
``agent_actions_log`` row), the ``user.email_verified`` event kept only on commit, and the log
lines with their fields. ``RecordingUow`` stands in for ``PostgresUnitOfWork``; the SQL is tested
on Postgres (tests/integration/test_bouncer_llm.py, test_bouncer_fallback.py).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from shared.adapters.email_parsing import InboundEmail
from shared.adapters.repositories import ActionRecord, User, UserLock
from shared.domain.events import Event
from shared.service_layer.email_verification import (
    ACKNOWLEDGMENT_TYPE,
    Outcome,
    VerificationResult,
    address_for,
    record_verification_email,
)
from tests.fakes.rows import user_row
from tests.fakes.uow import ScriptedRepo, UowLog, uow_factory

LOGGER = "shared.service_layer.email_verification"
USER_ID = UUID("00000000-0000-0000-0000-0000000000aa")
CONVERSATION_ID = UUID("00000000-0000-0000-0000-0000000000cc")
MESSAGE_ID = UUID("00000000-0000-0000-0000-0000000000dd")
DOMAIN = "verify.example"
NOW = datetime(2026, 3, 4, 9, 7, tzinfo=UTC)


def email(*recipients: str, sender: str = "ada@acme.example", shape: str = "maileroo") -> InboundEmail:
    return InboundEmail(
        recipients=recipients or (f"verify-abcdef0123456789xy@{DOMAIN}",),
        sender=sender,
        shape=shape,
        message_id="<m-1@acme.example>",
    )


def user(**changes: Any) -> User:
    return replace(
        user_row(
            USER_ID,
            NOW,
            company="Acme",
            title="CTO",
            poc_agent_type="bouncer",
            name_dropped="Grace",
            verification_token="abcdef0123456789xy",
            verification_requested_at=NOW,
        ),
        **changes,
    )


class World:
    def __init__(self, found: User | None, *, token_known: bool = True) -> None:
        self.log = UowLog()
        self.users = ScriptedRepo(
            "users",
            self.log,
            id_by_verification_token=USER_ID if token_known else None,
            lock=None,
            get=found,
            mark_email_verified=True,
        )
        self.conversations = ScriptedRepo("conversations", self.log, active_or_open=CONVERSATION_ID)
        self.messages = ScriptedRepo("messages", self.log, add_system_trigger=SimpleNamespace(id=MESSAGE_ID))
        self.actions = ScriptedRepo("actions", self.log, record=None)

    def factory(self) -> Any:
        return uow_factory(
            self.log,
            users=self.users,
            conversations=self.conversations,
            messages=self.messages,
            actions=self.actions,
        )

    def record(self, mail: InboundEmail, domain: str | None = DOMAIN) -> VerificationResult:
        return record_verification_email(mail, domain=domain, uow_factory=self.factory())


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def test_the_address_is_the_token_at_the_domain() -> None:
    assert address_for("abc123", DOMAIN) == "verify-abc123@verify.example"


def test_a_verification_writes_everything_in_order_and_commits(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(user())
    mail = email("someone@else.example", f"verify-ABCDEF0123456789XY@{DOMAIN.upper()}")
    before = datetime.now(UTC)
    result = world.record(mail)
    after = datetime.now(UTC)
    assert result == VerificationResult(Outcome.VERIFIED, USER_ID, MESSAGE_ID)
    assert world.log.methods() == [
        "users.id_by_verification_token",
        "users.lock",
        "users.get",
        "users.mark_email_verified",
        "conversations.active_or_open",
        "messages.add_system_trigger",
        "actions.record",
    ]
    calls = world.log.calls
    assert calls[0].args == ("abcdef0123456789xy",)
    assert calls[1].args == (USER_ID, UserLock.ACCOUNT)
    assert calls[2].args == (USER_ID,)
    assert calls[3].args == (USER_ID, "ada@acme.example")
    assert calls[4].args == (USER_ID,)
    trigger = calls[5]
    assert trigger.args == ()
    content = trigger.kwargs.pop("content")
    assert trigger.kwargs == {"conversation_id": CONVERSATION_ID, "user_id": USER_ID}
    verified_at = json.loads(content)["verified_at"]
    assert before <= datetime.fromisoformat(verified_at) <= after
    assert content == json.dumps(
        {"type": ACKNOWLEDGMENT_TYPE, "email": "ada@acme.example", "verified_at": verified_at}, sort_keys=True
    )
    assert ACKNOWLEDGMENT_TYPE == "email_verified_acknowledgment"
    assert calls[6].args == (
        ActionRecord(
            agent_type="bouncer",
            action_type="email_verified",
            user_id=USER_ID,
            context_id=MESSAGE_ID,
            context_type="message",
            input_data={
                "shape": "maileroo",
                "recipients": ["someone@else.example", f"verify-ABCDEF0123456789XY@{DOMAIN.upper()}"],
                "message_id": "<m-1@acme.example>",
            },
            output_data={"email": "ada@acme.example", "email_verified": True},
        ),
    )
    assert world.log.commits == 1
    assert world.log.committed_events == [
        Event(
            event_type="user.email_verified",
            aggregate_type="user",
            aggregate_id=USER_ID,
            payload={
                "user_id": str(USER_ID),
                "conversation_id": str(CONVERSATION_ID),
                "message_id": str(MESSAGE_ID),
                "email": "ada@acme.example",
                "verified_at": verified_at,
            },
            created_by="email_inbound",
        )
    ]
    [record] = records(caplog, "email verified")
    assert record.levelno == logging.INFO
    assert record.user_id == str(USER_ID)  # type: ignore[attr-defined]
    assert record.shape == "maileroo"  # type: ignore[attr-defined]


def test_the_verification_time_is_utc() -> None:
    world = World(user())
    world.record(email())
    content = json.loads(world.log.of("messages", "add_system_trigger")[0].kwargs["content"])
    assert datetime.fromisoformat(content["verified_at"]).utcoffset() is not None
    assert content["verified_at"].endswith("+00:00")


def test_no_verify_recipient_opens_no_transaction(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(user())
    result = world.record(email("ada@acme.example", shape="ses_envelope"))
    assert result == VerificationResult(Outcome.NO_TOKEN)
    assert result.user_id is None and result.message_id is None
    assert world.log.entered == 0 and world.log.calls == []
    [record] = records(caplog, "verification email without a verify- recipient")
    assert record.levelno == logging.INFO
    assert record.shape == "ses_envelope"  # type: ignore[attr-defined]


def test_a_verify_recipient_at_another_domain_is_no_token() -> None:
    world = World(user())
    assert world.record(email("verify-abcdef0123456789xy@other.example")).outcome is Outcome.NO_TOKEN
    assert world.log.entered == 0


def test_without_a_configured_domain_any_domain_is_read() -> None:
    world = World(user())
    assert (
        world.record(email("verify-abcdef0123456789xy@other.example"), domain=None).outcome
        is Outcome.VERIFIED
    )
    assert world.log.calls[0].args == ("abcdef0123456789xy",)


def test_an_unknown_token_takes_no_lock_and_writes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(user(), token_known=False)
    assert world.record(email(shape="generic")) == VerificationResult(Outcome.UNKNOWN_TOKEN)
    assert world.log.methods() == ["users.id_by_verification_token"]
    assert world.log.commits == 0 and world.log.committed_events == []
    [record] = records(caplog, "verification email for an unknown token")
    assert record.levelno == logging.WARNING
    assert record.shape == "generic"  # type: ignore[attr-defined]
    assert records(caplog, "email verified") == []


def test_a_user_gone_once_locked_is_an_unknown_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(None)
    assert world.record(email()) == VerificationResult(Outcome.UNKNOWN_TOKEN)
    assert world.log.methods() == ["users.id_by_verification_token", "users.lock", "users.get"]
    assert world.log.commits == 0
    assert len(records(caplog, "verification email for an unknown token")) == 1


def test_an_address_already_verified_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(user(email_verified=True, email="old@acme.example"))
    assert world.record(email()) == VerificationResult(Outcome.ALREADY_VERIFIED, USER_ID)
    assert world.log.methods() == ["users.id_by_verification_token", "users.lock", "users.get"]
    assert world.log.commits == 0 and world.log.committed_events == []
    [record] = records(caplog, "verification email for an already verified address")
    assert record.levelno == logging.INFO
    assert record.user_id == str(USER_ID)  # type: ignore[attr-defined]
    assert records(caplog, "email verified") == []
