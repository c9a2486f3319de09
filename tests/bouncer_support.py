"""Arrange and read helpers shared by the Bouncer's integration tests (real Postgres).

Members and their texts are created through the project's repositories, the way the SMS webhook,
onboarding and approval create them; reads for assertions stay plain SQL.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.adapters.repositories.users import ProfileFields
from shared.adapters.unit_of_work import PostgresUnitOfWork
from tests.fixture_support import fixture_sql

DOMAIN = "verify.example.test"
PROFILE = {"first_name", "last_name", "company", "title"}


def new_user(db: Any, phone: Any = "+14155550100", **fields: Any) -> Any:
    """A member texting from ``phone`` and their active conversation: (user id, conversation id).

    Built the way the product builds members: the first text creates them; ``fields`` then go
    through onboarding (profile fields, ``email`` / ``email_verified``, ``name_dropped``,
    ``approval_status='pending'``), and ``verified=True`` with ``poc_agent_type`` is an
    operator's approval (``innovator=True`` comes with approval as an innovator).
    """
    known = PROFILE | {"email", "email_verified", "name_dropped", "approval_status", "verified"}
    unknown = set(fields) - known - {"poc_agent_type", "innovator"}
    if unknown:
        raise TypeError(f"new_user cannot set {sorted(unknown)}")
    with PostgresUnitOfWork() as uow:
        member = uow.users.upsert_by_phone(phone, timezone=None)
        profile = {k: v for k, v in fields.items() if k in PROFILE}
        if profile:
            uow.users.update_profile(member.id, ProfileFields(**profile))
        if fields.get("email") or fields.get("email_verified"):
            uow.users.mark_email_verified(
                member.id, fields.get("email") or f"{phone[1:]}@members.example.test"
            )
        if fields.get("name_dropped"):
            uow.users.set_name_dropped(member.id, fields["name_dropped"])
        status = fields.get("approval_status")
        if status == "pending":
            assert uow.users.complete_onboarding(member.id) is not None, "onboarding needs every field"
        elif status and not fields.get("verified"):
            uow.users.set_approval_status(member.id, status)
        if fields.get("verified"):
            poc = fields.get("poc_agent_type") or ("innovator" if fields.get("innovator") else "concierge")
            uow.users.approve(member.id, poc)
        uow.commit()
    return member.id, member.conversation_id


def say(db: Any, user_id: Any, conversation_id: Any, text: Any) -> Any:
    """An inbound SMS from the user, as twilio_inbound stores it."""
    with PostgresUnitOfWork() as uow:
        uow.messages.add_inbound(
            conversation_id=conversation_id,
            user_id=user_id,
            content=text,
            message_sid="SM" + uuid.uuid4().hex,
            media_urls=[],
            num_segments=None,
            routed=True,
        )
        uow.commit()


def replies(db: Any, user_id: Any) -> Any:
    """The Bouncer's outbound messages to the user, in sending order."""
    with PostgresUnitOfWork() as uow:
        return [m.content for m in uow.messages.outbound_for_user(user_id)]


def deliver_queued(now: Any = None) -> Any:
    """One message-orchestrator tick on this test's database (proactive messages leave the queue)."""
    from datetime import UTC, datetime

    from shared.service_layer.freshness import AssumeRelevantClassifier
    from shared.service_layer.orchestrate import run_tick

    return run_tick(PostgresUnitOfWork, now=now or datetime.now(UTC), classifier=AssumeRelevantClassifier())


def queued(db: Any, user_id: Any) -> Any:
    """The user's message_queue rows, oldest first."""
    return fixture_sql(db).all("check_queued_in_sequence", user_id=user_id)
