"""The conversations aggregate: a member's SMS thread (at most one active) and its summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.adapters.postgres import Row, Sql
from shared.adapters.repositories._rows import uuid_of, uuid_or_none


@dataclass(frozen=True)
class Conversation:
    id: UUID
    user_id: UUID
    status: str
    conversation_summary: str | None
    last_summary_message_id: UUID | None
    messages_since_summary: int
    created_at: datetime
    last_message_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Conversation:
        return cls(
            id=uuid_of(row["id"]),
            user_id=uuid_of(row["user_id"]),
            status=row["status"],
            conversation_summary=row["conversation_summary"],
            last_summary_message_id=uuid_or_none(row["last_summary_message_id"]),
            messages_since_summary=int(row["messages_since_summary"] or 0),
            created_at=row["created_at"],
            last_message_at=row["last_message_at"],
        )


@dataclass(frozen=True)
class SummaryTarget:
    """A conversation to summarise (locked), with the profile fields a summary may use."""

    id: UUID
    user_id: UUID
    conversation_summary: str | None
    last_summary_message_id: UUID | None
    messages_since_summary: int
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    email_verified: bool
    verified: bool
    poc_agent_type: str


class ConversationRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def get(self, conversation_id: UUID) -> Conversation | None:
        row = self._sql.one("conversations_get", conversation_id=conversation_id)
        return None if row is None else Conversation.from_row(row)

    def active_for_user(self, user_id: UUID) -> Conversation | None:
        row = self._sql.one("conversations_active_for_user", user_id=user_id)
        return None if row is None else Conversation.from_row(row)

    def latest_for_user(self, user_id: UUID) -> Conversation | None:
        """The user's active conversation, else their most recent one."""
        row = self._sql.one("conversations_latest_for_user", user_id=user_id)
        return None if row is None else Conversation.from_row(row)

    def set_status(self, conversation_id: UUID, status: str) -> bool:
        """Pause, close or reopen; False when it had that status already."""
        return (
            self._sql.one("conversations_set_status", conversation_id=conversation_id, status=status)
            is not None
        )

    def lock_for_summary(self, conversation_id: UUID) -> SummaryTarget | None:
        row = self._sql.one("conversations_lock_for_summary", conversation_id=conversation_id)
        if row is None:
            return None
        return SummaryTarget(
            id=uuid_of(row["id"]),
            user_id=uuid_of(row["user_id"]),
            conversation_summary=row["conversation_summary"],
            last_summary_message_id=uuid_or_none(row["last_summary_message_id"]),
            messages_since_summary=int(row["messages_since_summary"] or 0),
            first_name=row["first_name"],
            last_name=row["last_name"],
            company=row["company"],
            title=row["title"],
            email_verified=bool(row["email_verified"]),
            verified=bool(row["verified"]),
            poc_agent_type=row["poc_agent_type"],
        )

    def store_summary(self, conversation_id: UUID, summary: str, last_message_id: UUID) -> None:
        """The summary and where it stops; the message counter starts again."""
        self._sql.one(
            "conversations_store_summary",
            conversation_id=conversation_id,
            summary=summary,
            last_message_id=last_message_id,
        )

    def active_or_open(self, user_id: UUID) -> UUID:
        """The user's active conversation, opened now if they have none."""
        active = self.active_for_user(user_id)
        if active is not None:
            return active.id
        opened = self._sql.scalar("conversations_open", user_id=user_id)
        if opened is not None:
            return uuid_of(opened)
        active = self.active_for_user(user_id)  # opened concurrently by another writer
        if active is None:
            raise LookupError(f"no user {user_id}")
        return active.id
