"""THE one outbound path (decisions B14).

Every agent reply, every orchestrated proactive message and every HELP answer becomes
``messages`` rows (direction 'outbound', status 'pending') written inside the caller's
transaction. After commit, the insert trigger's webhook calls the SMS sender, which is the
only code that talks to Twilio: opt-out, the runaway guard and delivery tracking live there.

Several bodies form one sequence (sequence_id / position / total) delivered in order. A
body over Twilio's 1,600-character limit is split on word boundaries into several parts of
the same sequence (see ``shared/domain/sms.py``); nothing is truncated.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID, uuid4

from shared import registry
from shared.adapters.repositories.messages import OutboundPart
from shared.domain.sms import count_segments, split_long_body
from shared.logs import get_logger

log = get_logger(__name__)

OUTBOUND_ROLES = frozenset(registry.outbound_roles())


class OutboundWriter(Protocol):
    """Writes one outbound row (``MessageRepository``, i.e. ``uow.messages``)."""

    def add_outbound(
        self,
        *,
        conversation_id: UUID,
        user_id: UUID,
        role: str,
        part: OutboundPart,
        message_queue_id: UUID | None,
    ) -> UUID: ...


def add_outbound_messages(
    messages: OutboundWriter,
    *,
    user_id: UUID,
    conversation_id: UUID,
    role: str,
    bodies: list[str],
    message_queue_id: UUID | None = None,
) -> list[UUID]:
    """Insert pending outbound messages, in order; return their ids. Blank bodies are skipped.

    ``messages`` is the unit of work's ``uow.messages``.
    """
    if role not in OUTBOUND_ROLES:
        raise ValueError(f"outbound role must be one of {sorted(OUTBOUND_ROLES)}, not {role!r}")
    parts = [part for body in bodies if body.strip() for part in split_long_body(body.strip())]
    if not parts:
        log.warning(
            "no outbound message written: every body was blank",
            extra={"user_id": str(user_id), "conversation_id": str(conversation_id), "role": role},
        )
        return []
    sequence_id = uuid4() if len(parts) > 1 else None
    return [
        messages.add_outbound(
            conversation_id=conversation_id,
            user_id=user_id,
            role=role,
            part=OutboundPart(
                content=content,
                num_segments=count_segments(content),
                sequence_id=sequence_id,
                sequence_position=position if sequence_id else None,
                sequence_total=len(parts) if sequence_id else None,
            ),
            message_queue_id=message_queue_id,
        )
        for position, content in enumerate(parts, start=1)
    ]
