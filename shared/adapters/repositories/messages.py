"""The messages aggregate: inbound SMS, outbound rows and the sender's transitions, delivery
callbacks, system triggers, and what services read back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.adapters.postgres import Row, Sql
from shared.adapters.repositories._rows import uuid_of, uuid_or_none


@dataclass(frozen=True)
class Message:
    id: UUID
    conversation_id: UUID
    user_id: UUID
    role: str
    direction: str
    content: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class HistoryItem:
    """A message as agents and summaries read it back."""

    id: UUID
    role: str
    direction: str
    content: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class InboundMessage:
    """An inbound routed message (a user text or a system trigger) a turn may answer."""

    id: UUID
    conversation_id: UUID
    role: str
    direction: str
    content: str
    created_at: datetime


@dataclass(frozen=True)
class BurstAge:
    """Seconds since the newest and the oldest unanswered text of a member."""

    since_last: float
    since_first: float


@dataclass(frozen=True)
class UserText:
    """Something the user wrote, and when."""

    content: str
    created_at: datetime


@dataclass(frozen=True)
class InboundText:
    """One inbound text of a member, by id (goal and challenge mentions)."""

    id: UUID
    content: str
    created_at: datetime


@dataclass(frozen=True)
class Sendable:
    """An outbound message with what the sender needs about its recipient."""

    id: UUID
    user_id: UUID
    phone_number: str
    opted_out: bool
    status: str
    content: str
    sequence_id: UUID | None
    sequence_position: int | None


@dataclass(frozen=True)
class Claimed:
    """A successful claim: when its lease started, and the row's tries counting this one."""

    claimed_at: datetime
    attempts: int


@dataclass(frozen=True)
class Reconcilable:
    """A message whose send lease ran out, locked for reconciliation."""

    id: UUID
    user_id: UUID
    phone_number: str
    status: str
    message_sid: str | None
    content: str
    attempts: int
    created_at: datetime
    claimed_at: datetime | None


@dataclass(frozen=True)
class TrackedMessage:
    """An outbound message a delivery-status callback is about."""

    id: UUID
    user_id: UUID
    status: str


@dataclass(frozen=True)
class OutboundPart:
    """One outbound row to write: its text and, for a sequence, where it stands."""

    content: str
    num_segments: int
    sequence_id: UUID | None = None
    sequence_position: int | None = None
    sequence_total: int | None = None


@dataclass(frozen=True)
class SystemTrigger:
    id: UUID
    created_at: datetime


class MessageRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    # writes --------------------------------------------------------------------------------
    def add_inbound(
        self,
        *,
        conversation_id: UUID,
        user_id: UUID,
        content: str,
        message_sid: str,
        media_urls: list[str],
        num_segments: int | None,
        routed: bool,
    ) -> UUID | None:
        """Store one inbound SMS; None when its MessageSid was stored before (a replay)."""
        row = self._sql.one(
            "messages_insert_inbound",
            conversation_id=conversation_id,
            user_id=user_id,
            content=content,
            message_sid=message_sid,
            media_urls=media_urls,
            num_segments=num_segments,
            routed=routed,
        )
        return None if row is None else uuid_of(row["id"])

    def add_system_trigger(self, *, conversation_id: UUID, user_id: UUID, content: str) -> SystemTrigger:
        """An internal trigger: role system, inbound, routed, never sendable (B14)."""
        row = self._sql.one(
            "messages_insert_system", conversation_id=conversation_id, user_id=user_id, content=content
        )
        assert row is not None
        return SystemTrigger(id=uuid_of(row["id"]), created_at=row["created_at"])

    def add_outbound(
        self,
        *,
        conversation_id: UUID,
        user_id: UUID,
        role: str,
        part: OutboundPart,
        message_queue_id: UUID | None,
    ) -> UUID:
        """One pending outbound row (use ``add_outbound_messages``, the one outbound path)."""
        row = self._sql.one(
            "messages_insert_outbound",
            conversation_id=conversation_id,
            user_id=user_id,
            role=role,
            content=part.content,
            num_segments=part.num_segments,
            message_queue_id=message_queue_id,
            sequence_id=part.sequence_id,
            sequence_position=part.sequence_position,
            sequence_total=part.sequence_total,
        )
        assert row is not None
        return uuid_of(row["id"])

    # the sender ----------------------------------------------------------------------------
    def recipient(self, message_id: UUID) -> UUID | None:
        return uuid_or_none(self._sql.scalar("messages_recipient", message_id=message_id))

    def for_send(self, message_id: UUID) -> Sendable | None:
        row = self._sql.one("messages_for_send", message_id=message_id)
        if row is None:
            return None
        return Sendable(
            id=uuid_of(row["id"]),
            user_id=uuid_of(row["user_id"]),
            phone_number=row["phone_number"],
            opted_out=bool(row["opted_out"]),
            status=row["status"],
            content=row["content"],
            sequence_id=uuid_or_none(row["sequence_id"]),
            sequence_position=row["sequence_position"],
        )

    def earlier_part_unsent(self, sequence_id: UUID, sequence_position: int | None) -> bool:
        return bool(
            self._sql.scalar(
                "messages_sequence_predecessor_unsent",
                sequence_id=sequence_id,
                sequence_position=sequence_position,
            )
        )

    def claim_for_sending(self, message_id: UUID) -> Claimed | None:
        """pending -> sending: the lease start and tries so far; None when someone else got there first."""
        row = self._sql.one("messages_claim_for_sending", message_id=message_id)
        if row is None:
            return None
        return Claimed(claimed_at=row["claimed_at"], attempts=int(row["attempts"]))

    def count_recent_outbound(self, user_id: UUID, *, excluding: UUID, since: datetime) -> int:
        return int(
            self._sql.scalar(
                "messages_count_recent_outbound", user_id=user_id, message_id=excluding, since=since
            )
        )

    def block(self, message_id: UUID, *, error_code: int | None, error_message: str) -> None:
        self._sql.one(
            "messages_block", message_id=message_id, error_code=error_code, error_message=error_message
        )

    def fail(
        self, message_id: UUID, *, error_code: int | None, error_message: str, extra_attempts: int
    ) -> None:
        self._sql.one(
            "messages_fail",
            message_id=message_id,
            error_code=error_code,
            error_message=error_message,
            extra_attempts=extra_attempts,
        )

    def record_sent(
        self, message_id: UUID, *, message_sid: str, status: str, num_segments: int, extra_attempts: int
    ) -> None:
        self._sql.one(
            "messages_record_sent",
            message_id=message_id,
            message_sid=message_sid,
            status=status,
            num_segments=num_segments,
            extra_attempts=extra_attempts,
        )

    def next_sequence_part(self, sequence_id: UUID, sequence_position: int | None) -> UUID | None:
        return uuid_or_none(
            self._sql.scalar(
                "messages_next_sequence_part", sequence_id=sequence_id, sequence_position=sequence_position
            )
        )

    def stale_pending(self, *, older_than: datetime, limit: int) -> list[UUID]:
        rows = self._sql.all("messages_stale_pending", older_than=older_than, limit=limit)
        return [uuid_of(r["id"]) for r in rows]

    # stranded sends (the lease ran out) --------------------------------------------------------
    def stale_sending(self, *, older_than: datetime, limit: int) -> list[UUID]:
        rows = self._sql.all("messages_stale_sending", older_than=older_than, limit=limit)
        return [uuid_of(r["id"]) for r in rows]

    def lock_for_reconcile(self, message_id: UUID) -> Reconcilable | None:
        row = self._sql.one("messages_lock_for_reconcile", message_id=message_id)
        if row is None:
            return None
        return Reconcilable(
            id=uuid_of(row["id"]),
            user_id=uuid_of(row["user_id"]),
            phone_number=row["phone_number"],
            status=row["status"],
            message_sid=row["twilio_message_sid"],
            content=row["content"],
            attempts=int(row["attempts"]),
            created_at=row["created_at"],
            claimed_at=row["claimed_at"],
        )

    def renew_lease(self, message_id: UUID, *, lease: datetime | None) -> datetime | None:
        """The new lease start, or None when someone else renewed or settled the row first."""
        at: datetime | None = self._sql.scalar("messages_renew_lease", message_id=message_id, lease=lease)
        return at

    def release_claim(
        self,
        message_id: UUID,
        *,
        lease: datetime | None,
        extra_attempts: int = 0,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> bool:
        """sending -> pending for this lease holder; False when the row moved on meanwhile."""
        return (
            self._sql.one(
                "messages_release_claim",
                message_id=message_id,
                lease=lease,
                extra_attempts=extra_attempts,
                error_code=error_code,
                error_message=error_message,
            )
            is not None
        )

    def known_sids(self, sids: list[str]) -> set[str]:
        return {r["sid"] for r in self._sql.all("messages_known_sids", sids=sids)}

    def record_reconciled(
        self,
        message_id: UUID,
        *,
        message_sid: str,
        status: str,
        error_code: int | None,
        sent_at: datetime | None,
    ) -> bool:
        return (
            self._sql.one(
                "messages_record_reconciled",
                message_id=message_id,
                message_sid=message_sid,
                status=status,
                error_code=error_code,
                sent_at=sent_at,
            )
            is not None
        )

    # delivery callbacks --------------------------------------------------------------------
    def callback_recipient(self, message_sid: str, message_id: UUID | None) -> UUID | None:
        """The recipient of the message a status callback is about (not locked)."""
        return uuid_or_none(
            self._sql.scalar("messages_callback_recipient", message_sid=message_sid, message_id=message_id)
        )

    def lock_by_sid(self, message_sid: str, message_id: UUID | None) -> TrackedMessage | None:
        row = self._sql.one("messages_lock_by_sid", message_sid=message_sid, message_id=message_id)
        if row is None:
            return None
        return TrackedMessage(id=uuid_of(row["id"]), user_id=uuid_of(row["user_id"]), status=row["status"])

    def apply_delivery_status(
        self,
        message_id: UUID,
        *,
        message_sid: str,
        status: str,
        error_code: int | None,
        error_message: str | None,
    ) -> None:
        self._sql.one(
            "messages_apply_delivery_status",
            message_id=message_id,
            message_sid=message_sid,
            status=status,
            error_code=error_code,
            error_message=error_message,
        )

    # turns -------------------------------------------------------------------------------------
    def unanswered_inbound(self, user_id: UUID) -> list[InboundMessage]:
        """Inbound routed messages no turn has answered yet, oldest first."""
        return [
            InboundMessage(
                id=uuid_of(r["id"]),
                conversation_id=uuid_of(r["conversation_id"]),
                role=r["role"],
                direction=r["direction"],
                content=r["content"],
                created_at=r["created_at"],
            )
            for r in self._sql.all("messages_unanswered_inbound", user_id=user_id)
        ]

    def unanswered_texts_age(self, user_id: UUID) -> BurstAge | None:
        """How long ago the member's unanswered texts came in (database clock); None when none."""
        row = self._sql.one("messages_unanswered_texts_age", user_id=user_id)
        if row is None or row["since_last"] is None:
            return None
        return BurstAge(float(row["since_last"]), float(row["since_first"]))

    def mark_answered(self, turn_id: UUID, message_ids: list[UUID]) -> list[UUID]:
        """Mark inbound messages answered by a turn; returns those no other turn had answered."""
        rows = self._sql.all("messages_mark_answered", turn_id=turn_id, message_ids=message_ids)
        return [uuid_of(r["id"]) for r in rows]

    def trigger_exists(self, user_id: UUID, task_id: UUID) -> bool:
        """Has the system trigger of this task been inserted already (a redelivered task)?"""
        return bool(self._sql.scalar("messages_trigger_exists", user_id=user_id, task_id=str(task_id)))

    # reads ---------------------------------------------------------------------------------
    def recent_history(self, conversation_id: UUID, *, limit: int, roles: list[str]) -> list[HistoryItem]:
        """The last ``limit`` messages an agent may see (``roles`` and outbound system), newest first."""
        rows = self._sql.all(
            "messages_recent_history", conversation_id=conversation_id, limit=limit, roles=roles
        )
        return [_history_item(r) for r in rows]

    def history_count(self, conversation_id: UUID, *, roles: list[str]) -> int:
        """How many messages ``recent_history`` could return for this conversation."""
        row = self._sql.one("messages_history_count", conversation_id=conversation_id, roles=roles)
        return int(row["n"]) if row else 0

    def since_summary(
        self, conversation_id: UUID, last_summary_message_id: UUID | None, *, limit: int
    ) -> list[HistoryItem]:
        """Routed messages after the last summarised one, oldest first."""
        rows = self._sql.all(
            "messages_since_summary",
            conversation_id=conversation_id,
            last_summary_message_id=last_summary_message_id,
            limit=limit,
        )
        return [_history_item(r) for r in rows]

    def initial_setup_due(self, user_id: UUID, *, min_inbound: int) -> bool:
        """The member has sent ``min_inbound`` texts and the Account Manager never ran for them."""
        return bool(self._sql.scalar("messages_initial_setup_due", user_id=user_id, min_inbound=min_inbound))

    def last_user_text_at(self, user_id: UUID) -> datetime | None:
        """When the user last wrote to us."""
        at: datetime | None = self._sql.scalar("messages_last_user_text_at", user_id=user_id)
        return at

    def last_reply_at(self, user_id: UUID, role: str) -> datetime | None:
        """When the agent writing as ``role`` last wrote to the user."""
        at: datetime | None = self._sql.scalar("messages_last_reply_at", user_id=user_id, role=role)
        return at

    def user_texts_since(self, user_id: UUID, since: datetime, limit: int) -> list[UserText]:
        rows = self._sql.all("messages_user_texts_since", user_id=user_id, since=since, limit=limit)
        return [UserText(content=r["content"], created_at=r["created_at"]) for r in rows]

    def inbound_by_ids(self, user_id: UUID, ids: Sequence[UUID]) -> list[InboundText]:
        """The member's own inbound texts among ``ids`` (others' messages and outbound rows are left out)."""
        rows = self._sql.all("messages_inbound_by_ids", ids=list(ids), user_id=user_id)
        return [
            InboundText(id=uuid_of(r["id"]), content=r["content"] or "", created_at=r["created_at"])
            for r in rows
        ]

    def outbound_for_user(self, user_id: UUID) -> list[Message]:
        """Every outbound message to the user, in sending order."""
        rows = self._sql.all("messages_outbound_for_user", user_id=user_id)
        return [
            Message(
                id=uuid_of(r["id"]),
                conversation_id=uuid_of(r["conversation_id"]),
                user_id=uuid_of(r["user_id"]),
                role=r["role"],
                direction=r["direction"],
                content=r["content"],
                status=r["status"],
                created_at=r["created_at"],
            )
            for r in rows
        ]


def _history_item(row: Row) -> HistoryItem:
    return HistoryItem(
        id=uuid_of(row["id"]),
        role=row["role"],
        direction=row["direction"],
        content=row["content"] or "",
        status=row["status"],
        created_at=row["created_at"],
    )
