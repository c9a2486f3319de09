"""Events: facts, past tense, written to the ``events`` outbox in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Event:
    event_type: str  # dotted name, e.g. "message.received"
    aggregate_type: (
        str | None
    )  # user, conversation, message, community_request, ...; None: about no aggregate
    aggregate_id: UUID | None
    payload: dict[str, Any]
    created_by: str
    metadata: dict[str, Any] = field(default_factory=dict)


# --- The event catalogue: types other issues consume, with their payload shapes -------------------
#
# One place for the payloads agents agree on (issue 16: "agree the event payloads through the event
# catalogue in code"). Producers build the ``Event`` here; consumers read the same field names.
# Until a consumer is deployed, its events wait as replayable dead letters (shared.routing).

COMMUNITY_REQUEST_NEEDED = "community.request_needed"  # agents.md §4.3.1, platform.md §2 (Agent of Humans)
SOLUTION_RESEARCH_NEEDED = "user.inquiry.solution_needed"  # agents.md §4.3.2, §17 (Solution Saga)
SOLUTION_RESEARCH_CANCELLED = "user.inquiry.solution_cancelled"  # issue 11: the member no longer needs it


@dataclass(frozen=True)
class CommunityRequestNeeded:
    """A member's question for the community (published by ``publish_community_request``).

    The Agent of Humans de-duplicates it, matches experts and inserts ``community_requests``.
    """

    requesting_agent_type: str  # concierge | innovator | solution_saga
    requesting_user_id: UUID
    context_id: UUID | None  # the conversation it was asked in
    context_type: str  # "conversation"
    question: str
    category: str | None
    expertise_needed: tuple[str, ...]
    requester_context: str | None = None
    desired_outcome: str | None = None  # backchannel | introduction | quick_thoughts | ongoing_advice
    urgency: str = "medium"  # low | medium | high
    request_summary: str | None = None  # 3-5 words

    def event(self) -> Event:
        return Event(
            event_type=COMMUNITY_REQUEST_NEEDED,
            aggregate_type="user",
            aggregate_id=self.requesting_user_id,
            payload={
                "requesting_agent_type": self.requesting_agent_type,
                "requesting_user_id": str(self.requesting_user_id),
                "user_id": str(self.requesting_user_id),
                "context_id": str(self.context_id) if self.context_id else None,
                "context_type": self.context_type,
                "question": self.question,
                "category": self.category,
                "expertise_needed": list(self.expertise_needed),
                "requester_context": self.requester_context,
                "desired_outcome": self.desired_outcome,
                "urgency": self.urgency,
                "request_summary": self.request_summary,
            },
            created_by=self.requesting_agent_type,
        )


@dataclass(frozen=True)
class SolutionResearchNeeded:
    """A member asked about vendors or tools (published by ``request_solution_research``).

    The Solution Saga creates a ``research_solution`` task from it (platform.md §2).
    """

    requesting_agent_type: str
    user_id: UUID
    conversation_id: UUID | None
    request_description: str
    category: str | None = None
    urgency: str = "medium"  # low | medium | high

    def event(self) -> Event:
        return Event(
            event_type=SOLUTION_RESEARCH_NEEDED,
            aggregate_type="user",
            aggregate_id=self.user_id,
            payload={
                "requesting_agent_type": self.requesting_agent_type,
                "user_id": str(self.user_id),
                "conversation_id": str(self.conversation_id) if self.conversation_id else None,
                "request_description": self.request_description,
                "category": self.category,
                "urgency": self.urgency,
            },
            created_by=self.requesting_agent_type,
        )


# --- The intro flows (agents.md §12, platform.md §2.4): published by the members' own tools -------
#
# The Account Manager re-ranks everyone an intro-flow row concerns (it reads the ``*_user_id`` and
# ``*_id`` fields below); the Intro agent (issue 12) consumes the rest. Until it is deployed its events
# wait as replayable dead letters. Payloads carry ids and statuses only: never a member's contact
# details (decisions B17, double opt-in).

INTRO_OFFER_CREATED = "intro.offer_created"  # offer_introduction (§12.4 step 1)
INTRO_OFFER_ACCEPTED = "intro.offer_accepted"  # accept_intro_offer (step 3)
INTRO_OFFER_DECLINED = "intro.offer_declined"  # decline_intro_offer, by the introducee or the connector
INTRO_OFFER_CONFIRMED = "intro.offer_confirmed"  # confirm_intro_offer (step 5)
INTRO_OPPORTUNITY_ACCEPTED = "intro.opportunity_accepted"  # accept_intro_opportunity (§12.2)
INTRO_OPPORTUNITY_DECLINED = "intro.opportunity_declined"  # decline_intro_opportunity
CONNECTION_REQUEST_CREATED = "connection.request_created"  # request_connection (§5 tool 5)
CONNECTION_REQUEST_ACCEPTED = "connection.request_accepted"  # accept_connection_request (§12.3)
CONNECTION_REQUEST_DECLINED = "connection.request_declined"  # decline_connection_request
# The intro services' own transitions (issue 12): completion, sibling pause/cancel, expiry, reminders.
INTRO_OPPORTUNITY_CREATED = "intro.opportunity_created"  # prospect upgrade / Social Butterfly (§11, §14)
INTRO_OPPORTUNITY_COMPLETED = "intro.opportunity_completed"  # the +7-day "yes, we met" (B20)
INTRO_OPPORTUNITY_PAUSED = "intro.opportunity_paused"  # a sibling's connector accepted (§12.2)
INTRO_OPPORTUNITY_CANCELLED = "intro.opportunity_cancelled"  # a sibling completed (§12.2)
INTRO_OPPORTUNITY_EXPIRED = "intro.opportunity_expired"
INTRO_OFFER_COMPLETED = "intro.offer_completed"  # §12.4 step 6
INTRO_OFFER_EXPIRED = "intro.offer_expired"  # §12.4 step 7
INTRO_OFFER_REMINDER = "intro.offer_reminder"  # §12.4 step 3: 3 days unconfirmed
CONNECTION_REQUEST_COMPLETED = "connection.request_completed"
CONNECTION_REQUEST_EXPIRED = "connection.request_expired"
# The +7-day "no, we didn't meet" (B20): the row is cancelled with its reason; paused siblings reopen.
INTRO_OPPORTUNITY_NOT_MET = "intro.opportunity_not_met"
INTRO_OPPORTUNITY_RELEASED = "intro.opportunity_released"
INTRO_OFFER_NOT_MET = "intro.offer_not_met"
CONNECTION_REQUEST_NOT_MET = "connection.request_not_met"
PRIORITY_INTRO_ADDED = "priority.intro_added"  # the Intro agent stored talking points (agents.md §10)

# The intro-flow events the Intro agent handles (the rest are the Account Manager's).
INTRO_AGENT_EVENTS: tuple[str, ...] = (
    INTRO_OPPORTUNITY_CREATED,
    INTRO_OFFER_DECLINED,
    INTRO_OFFER_CONFIRMED,
    INTRO_OPPORTUNITY_DECLINED,
    CONNECTION_REQUEST_ACCEPTED,
    CONNECTION_REQUEST_DECLINED,
)

# The intro services' transitions the Account Manager re-ranks priorities on.
INTRO_SERVICE_EVENTS: tuple[str, ...] = (
    INTRO_OPPORTUNITY_PAUSED,
    INTRO_OPPORTUNITY_CANCELLED,
    INTRO_OPPORTUNITY_EXPIRED,
    INTRO_OFFER_COMPLETED,
    INTRO_OFFER_EXPIRED,
    INTRO_OFFER_REMINDER,
    CONNECTION_REQUEST_COMPLETED,
    CONNECTION_REQUEST_EXPIRED,
    INTRO_OPPORTUNITY_NOT_MET,
    INTRO_OPPORTUNITY_RELEASED,
    INTRO_OFFER_NOT_MET,
    CONNECTION_REQUEST_NOT_MET,
    PRIORITY_INTRO_ADDED,
)


@dataclass(frozen=True)
class IntroFlowChanged:
    """A member's tool created or answered an intro-flow row.

    ``item_type`` is the row's table in the singular (intro_offer, intro_opportunity,
    connection_request), the aggregate of the event; the payload names the row as
    ``<item_type>_id`` and the members it concerns by role.
    """

    event_type: str
    item_type: str  # intro_offer | intro_opportunity | connection_request
    item_id: UUID
    acting_user_id: UUID
    acting_agent_type: str  # concierge | innovator
    status: str  # the row's status after the change
    members: dict[str, UUID | None] = field(default_factory=dict)  # e.g. offering_user_id, introducee_user_id
    details: dict[str, Any] = field(default_factory=dict)  # bounty_credits, context_type, context_id, ...

    def event(self) -> Event:
        payload: dict[str, Any] = {
            f"{self.item_type}_id": str(self.item_id),
            "user_id": str(self.acting_user_id),
            "acting_agent_type": self.acting_agent_type,
            "status": self.status,
        }
        payload.update({k: str(v) if v is not None else None for k, v in self.members.items()})
        payload.update({k: str(v) if isinstance(v, UUID) else v for k, v in self.details.items()})
        return Event(
            event_type=self.event_type,
            aggregate_type=self.item_type,
            aggregate_id=self.item_id,
            payload=payload,
            created_by=self.acting_agent_type,
        )


PROSPECT_RESEARCH_NEEDED = "prospect.research_needed"  # agents.md §11, platform.md §2 (Social Butterfly)


@dataclass(frozen=True)
class ProspectResearchNeeded:
    """An uploaded prospect with a LinkedIn URL (issue 13): the Social Butterfly researches them."""

    prospect_id: UUID
    innovator_id: UUID
    linkedin_url: str
    upload_batch_id: UUID

    def event(self) -> Event:
        return Event(
            event_type=PROSPECT_RESEARCH_NEEDED,
            aggregate_type="prospect",
            aggregate_id=self.prospect_id,
            payload={
                "prospectId": str(self.prospect_id),
                "innovatorId": str(self.innovator_id),
                "researchType": "mutual_connections",
                "linkedinUrl": self.linkedin_url,
                "upload_batch_id": str(self.upload_batch_id),
                "user_id": str(self.innovator_id),
            },
            created_by="prospect_upload",
        )


PROSPECTS_BATCH_UPLOADED = "prospects.batch_uploaded"  # platform.md §2 events table: analytics


@dataclass(frozen=True)
class ProspectsBatchUploaded:
    """An innovator's upload was confirmed (issue 13): an analytics fact, written with the batch."""

    innovator_id: UUID
    upload_batch_id: UUID
    record_count: int
    duplicates_skipped: int
    research_needed: int

    def event(self) -> Event:
        return Event(
            event_type=PROSPECTS_BATCH_UPLOADED,
            aggregate_type="innovator",
            aggregate_id=self.innovator_id,
            payload={
                "record_count": self.record_count,
                "duplicates_skipped": self.duplicates_skipped,
                "research_needed": self.research_needed,
                "upload_batch_id": str(self.upload_batch_id),
                "innovator_id": str(self.innovator_id),
                "user_id": str(self.innovator_id),
            },
            created_by="prospect_upload",
        )


@dataclass(frozen=True)
class SolutionResearchCancelled:
    """The member no longer needs research they asked for (issue 11, cancellation). The Solution
    Saga cancels the matching in-progress workflow(s): by id, those waiting on one of the
    cancelled ``community_request_ids`` and those whose request mentions ``about``; with none of
    these, all of the member's."""

    requesting_agent_type: str
    user_id: UUID
    workflow_id: UUID | None = None
    about: str | None = None
    community_request_ids: tuple[UUID, ...] = ()

    def event(self) -> Event:
        return Event(
            event_type=SOLUTION_RESEARCH_CANCELLED,
            aggregate_type="user",
            aggregate_id=self.user_id,
            payload={
                "requesting_agent_type": self.requesting_agent_type,
                "user_id": str(self.user_id),
                "workflow_id": str(self.workflow_id) if self.workflow_id else None,
                "about": self.about,
                "community_request_ids": [str(i) for i in self.community_request_ids],
            },
            created_by=self.requesting_agent_type,
        )
