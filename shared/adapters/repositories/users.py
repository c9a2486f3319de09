"""The users aggregate: profiles, onboarding and approval state, opt-out, and the user lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Row, Sql
from shared.adapters.repositories._rows import json_object, uuid_of, uuid_or_none
from shared.domain.phone import guess_timezone

_LIKE_ESCAPE = re.compile(r"([\\%_])")


def _like_prefix(text: str) -> str:
    """``text%`` for LIKE, with LIKE's own wildcards in ``text`` matched literally."""
    return _LIKE_ESCAPE.sub(r"\\\1", text) + "%"


class UserLock(StrEnum):
    """What a user lock serialises. The one idiom: ``uow.users.lock`` / ``try_lock`` in a scope.

    A transaction-scoped advisory lock per (scope, user), released at commit or rollback. Scopes
    keep a long holder from stalling short work: a turn holds its lock across LLM calls, and the
    SMS sender must not wait for that.
    """

    TURN = "turn"  # one conversational turn at a time (held across LLM calls)
    ORCHESTRATOR = "orchestrator"  # one orchestrator decision at a time (ticks try, never wait)
    ACCOUNT = "account"  # short read-decide-write of the user's own state: sends, verification, approval
    CREDITS = "credits"  # spends of one member's credits, one at a time (never below zero)
    ACCOUNT_MANAGER = "account_manager"  # one priority run per member (a second run no-ops)


@dataclass(frozen=True)
class User:
    id: UUID
    phone_number: str
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    email: str | None
    email_verified: bool
    verified: bool
    innovator: bool
    expertise: tuple[str, ...]
    poc_agent_type: str
    referred_by: UUID | None
    name_dropped: str | None
    verification_token: str
    opted_out: bool
    timezone: str | None
    onboarding_completed_at: datetime | None
    approval_status: str | None
    verification_requested_at: datetime | None
    credit_balance: int
    created_at: datetime
    last_active_at: datetime | None
    referrer_name: str | None

    @classmethod
    def from_row(cls, row: Row) -> User:
        return cls(
            id=uuid_of(row["id"]),
            phone_number=row["phone_number"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            company=row["company"],
            title=row["title"],
            email=row["email"],
            email_verified=bool(row["email_verified"]),
            verified=bool(row["verified"]),
            innovator=bool(row["innovator"]),
            expertise=tuple(row["expertise"] or ()),
            poc_agent_type=row["poc_agent_type"],
            referred_by=uuid_or_none(row["referred_by"]),
            name_dropped=row["name_dropped"],
            verification_token=row["verification_token"],
            opted_out=bool(row["opted_out"]),
            timezone=row["timezone"],
            onboarding_completed_at=row["onboarding_completed_at"],
            approval_status=row["approval_status"],
            verification_requested_at=row["verification_requested_at"],
            credit_balance=int(row["credit_balance"] or 0),
            created_at=row["created_at"],
            last_active_at=row["last_active_at"],
            referrer_name=(row["referrer_name"] or "").strip() or None,
        )


@dataclass(frozen=True)
class TextingUser:
    """The user behind an inbound SMS, found or created, with their active conversation."""

    id: UUID
    conversation_id: UUID
    verified: bool
    poc_agent_type: str
    opted_out: bool
    created: bool  # this text created the user


@dataclass(frozen=True)
class SendProfile:
    """What scheduling and the send policy need about a user."""

    id: UUID
    phone_number: str
    timezone: str | None  # as stored; ``zone`` falls back to a guess from the phone number
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    opted_out: bool
    verified: bool
    poc_agent_type: str
    response_pattern: dict[str, Any]
    last_inbound_at: datetime | None  # the user's latest text up to the time asked about

    @property
    def zone(self) -> str | None:
        return self.timezone or guess_timezone(self.phone_number)


@dataclass(frozen=True)
class ProfileFields:
    """collect_user_info's fields; None leaves a field as it is, expertise is added to."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    linkedin_url: str | None = None
    expertise: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MemberGoal:
    goal: str | None
    goal_type: str | None
    goal_updated_at: datetime | None


@dataclass(frozen=True)
class ReferralCandidate:
    """A verified member whose name resembles a referrer's, with how well it matched."""

    id: UUID
    first_name: str
    last_name: str
    company: str | None
    score: int


@dataclass(frozen=True)
class ReferralQuery:
    """A referrer's name as typed, prepared for matching (lower case words) and its scores."""

    full: str
    first: str
    last: str
    exact: int
    partial: int
    limit: int


@dataclass(frozen=True)
class PendingMember:
    """A member waiting for an operator's decision."""

    id: UUID
    phone_number: str
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    email: str | None
    email_verified: bool
    referred_by: UUID | None
    name_dropped: str | None
    approval_status: str | None
    onboarding_completed_at: datetime | None
    created_at: datetime


class UserRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql
        # Statements this repository has run that write a users row, in this unit of work: a
        # caller that read a row can tell whether its copy may be stale (the Bouncer re-reads the
        # onboarding state only after a write). Triggers (users.credit_balance from credit_events)
        # are not counted.
        self.writes = 0

    def _write(self, name: str, **params: Any) -> Row | None:
        """Run a named query that writes a users row (every write of this repository goes here)."""
        self.writes += 1
        return self._sql.one(name, **params)

    # the lock ------------------------------------------------------------------------------
    def lock(self, user_id: UUID, scope: UserLock) -> None:
        """Wait for, then hold until the transaction ends, the user's lock in ``scope``."""
        self._sql.one("users_lock", user_id=user_id, scope=str(scope))

    def lock_recipient(self, message_id: UUID, scope: UserLock) -> UUID | None:
        """``lock`` the recipient of a message, found in the same statement; returns the recipient,
        or None (nothing locked) when there is no such message."""
        value = self._sql.scalar("users_lock_recipient", message_id=message_id, scope=str(scope))
        return None if value is None else uuid_of(value)

    def try_lock(self, user_id: UUID, scope: UserLock) -> bool:
        """Take the user's lock in ``scope`` if free; False when another transaction holds it."""
        return bool(self._sql.scalar("users_try_lock", user_id=user_id, scope=str(scope)))

    # reads ---------------------------------------------------------------------------------
    def get(self, user_id: UUID) -> User | None:
        row = self._sql.one("users_get", user_id=user_id)
        return None if row is None else User.from_row(row)

    def send_profile(self, user_id: UUID, now: datetime) -> SendProfile | None:
        row = self._sql.one("users_send_profile", user_id=user_id, now=now)
        if row is None:
            return None
        return SendProfile(
            id=uuid_of(row["id"]),
            phone_number=row["phone_number"],
            timezone=row["timezone"],
            quiet_hours_start=row["quiet_hours_start"],
            quiet_hours_end=row["quiet_hours_end"],
            opted_out=bool(row["opted_out"]),
            verified=bool(row["verified"]),
            poc_agent_type=row["poc_agent_type"],
            response_pattern=json_object(row["response_pattern"]),
            last_inbound_at=row["last_inbound_at"],
        )

    def goal(self, user_id: UUID) -> MemberGoal | None:
        row = self._sql.one("users_goal", user_id=user_id)
        return None if row is None else MemberGoal(row["goal"], row["goal_type"], row["goal_updated_at"])

    def store_goal(self, user_id: UUID, goal: str, goal_type: str | None) -> bool:
        """The member's stated goal on their own row; False when there is no such member."""
        return self._write("users_store_goal", user_id=user_id, goal=goal, goal_type=goal_type) is not None

    def id_by_verification_token(self, token: str) -> UUID | None:
        return uuid_or_none(self._sql.scalar("users_id_by_verification_token", token=token))

    def id_by_phone(self, phone_number: str) -> UUID | None:
        return uuid_or_none(self._sql.scalar("users_id_by_phone", phone=phone_number))

    def referral_candidates(self, user_id: UUID, query: ReferralQuery) -> list[ReferralCandidate]:
        """Verified members (never ``user_id``) whose name resembles the query, best first."""
        rows = self._sql.all(
            "users_referral_candidates",
            user_id=user_id,
            full=query.full,
            first=query.first,
            last=query.last,
            first_prefix=_like_prefix(query.first),
            last_prefix=_like_prefix(query.last),
            exact=query.exact,
            partial=query.partial,
            limit=query.limit,
        )
        return [
            ReferralCandidate(
                id=uuid_of(r["id"]),
                first_name=r["first_name"] or "",
                last_name=r["last_name"] or "",
                company=r["company"],
                score=int(r["score"]),
            )
            for r in rows
        ]

    def verified_by_name(self, first_name: str, last_name: str | None) -> list[UUID]:
        """Verified, reachable members with this first (and last) name, at most two: a community
        referral uses the one match and never guesses between two."""
        rows = self._sql.all("users_verified_by_name", first_name=first_name, last_name=last_name)
        return [uuid_of(r["id"]) for r in rows]

    def pending_approval(self, *, limit: int) -> list[PendingMember]:
        """Members awaiting an operator (pending first, then on hold), oldest first."""
        return [
            PendingMember(
                id=uuid_of(r["id"]),
                phone_number=r["phone_number"],
                first_name=r["first_name"],
                last_name=r["last_name"],
                company=r["company"],
                title=r["title"],
                email=r["email"],
                email_verified=bool(r["email_verified"]),
                referred_by=uuid_or_none(r["referred_by"]),
                name_dropped=r["name_dropped"],
                approval_status=r["approval_status"],
                onboarding_completed_at=r["onboarding_completed_at"],
                created_at=r["created_at"],
            )
            for r in self._sql.all("users_pending_approval", limit=limit)
        ]

    # writes --------------------------------------------------------------------------------
    def upsert_by_phone(self, phone_number: str, *, timezone: str | None) -> TextingUser:
        """Find or create the user texting from ``phone_number`` and their active conversation."""
        row = self._write("users_upsert_by_phone", phone_number=phone_number, timezone=timezone)
        assert row is not None
        return TextingUser(
            id=uuid_of(row["id"]),
            conversation_id=uuid_of(row["conversation_id"]),
            verified=bool(row["verified"]),
            poc_agent_type=row["poc_agent_type"],
            opted_out=bool(row["opted_out"]),
            created=bool(row["created"]),
        )

    def set_opted_out(self, user_id: UUID) -> bool:
        """Opt out; True when this changed something."""
        return self._write("users_set_opted_out", user_id=user_id) is not None

    def set_opted_in(self, user_id: UUID) -> bool:
        """Opt back in; True when this changed something."""
        return self._write("users_set_opted_in", user_id=user_id) is not None

    def mark_email_verified(self, user_id: UUID, email: str) -> bool:
        """Record a proven email address; False when it was verified already."""
        return self._write("users_mark_email_verified", user_id=user_id, email=email) is not None

    def update_profile(self, user_id: UUID, fields: ProfileFields) -> bool:
        """Write the given fields of a not-yet-verified user; False when nothing was written."""
        row = self._write(
            "users_update_profile",
            user_id=user_id,
            first_name=fields.first_name,
            last_name=fields.last_name,
            company=fields.company,
            title=fields.title,
            linkedin_url=fields.linkedin_url,
            expertise=list(fields.expertise) if fields.expertise is not None else None,
        )
        return row is not None

    def set_name_dropped(self, user_id: UUID, name_dropped: str) -> bool:
        """Keep an unmatched referrer's name (only while no referrer is known)."""
        row = self._write("users_set_name_dropped", user_id=user_id, name_dropped=name_dropped)
        return row is not None

    def set_referred_by(self, user_id: UUID, referrer_id: UUID) -> bool:
        """The member who referred this user (never themself)."""
        return self._write("users_set_referred_by", user_id=user_id, referrer_id=referrer_id) is not None

    def complete_onboarding(self, user_id: UUID) -> datetime | None:
        """Onboarding done, into the approval queue; None when a field or the email is missing (or done)."""
        row = self._write("users_complete_onboarding", user_id=user_id)
        return None if row is None else row["onboarding_completed_at"]

    def mark_verification_requested(self, user_id: UUID, now: datetime) -> bool:
        """The verification address is handed out; True only the first time."""
        return self._write("users_mark_verification_requested", user_id=user_id, now=now) is not None

    def approve(self, user_id: UUID, poc_agent_type: str) -> bool:
        """Operator approval: verified, with this point-of-contact agent."""
        row = self._write("users_approve", user_id=user_id, poc_agent_type=poc_agent_type)
        return row is not None

    def set_approval_status(self, user_id: UUID, approval_status: str) -> bool:
        """An operator's decision other than approval ('rejected', 'on_hold') on an unverified user."""
        row = self._write("users_set_approval_status", user_id=user_id, approval_status=approval_status)
        return row is not None
