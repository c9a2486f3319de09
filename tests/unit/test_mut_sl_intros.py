"""The intro services (``shared/service_layer/intros.py``) on the recording unit of work, example by
example: the double opt-in answers and their refusals, the sibling pause / cancel / release, the bounty
paid once at completion (never on acceptance), the contact exchange only once both sides said yes, the
+7-day follow-up, the Intro agent's handlers, the expiry job and the 3-day reminder.

No database: every repository call the service makes is recorded (``tests/fakes/uow.py``) and asserted
with its arguments; events count only once committed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.repositories.credits import LedgerEntry, NewLedgerEntry
from shared.adapters.repositories.offers import (
    IntroAnswer,
    IntroParties,
    MemberCard,
    NewConnectionRequest,
    NewIntroOffer,
    OpportunityBrief,
    OwnedIntro,
    RoutedRequest,
)
from shared.adapters.repositories.queue import NewQueuedPart
from shared.adapters.repositories.tasks import NewTask
from shared.adapters.repositories.users import SendProfile
from shared.agents.concierge.decision import OfferIntroArgs, RequestConnectionArgs
from shared.agents.concierge.intro_port import IntroActor
from shared.agents.intro.talking_points import fallback_talking_points
from shared.domain import events as ev
from shared.domain.constants import (
    CONNECTION_REQUEST_EXPIRY,
    INTRO_EXPIRY_BATCH,
    INTRO_FOLLOWUP_AFTER,
    INTRO_OFFER_EXPIRY,
    INTRO_OFFER_REMINDER_AFTER,
    NOT_MET_REASON_MAX,
    TASK_MAX_RETRIES,
)
from shared.domain.events import Event
from shared.domain.intros import FOLLOWUP_QUESTION, IntroRefused, NotOpen, NotYours
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.intros import (
    REMINDER_TEXT,
    ExpiryReport,
    IntroService,
    Outcome,
    exchange_contacts,
    handle_event,
    handle_followup_task,
    record_outcome,
    run_intro_expiry,
)
from tests.deps_support import make_deps
from tests.fakes.llm import ScriptedLlm
from tests.fakes.uow import Call, RecordingRepo, RecordingUow, ScriptedRepo, UowLog, uow_factory

LOGGER = "shared.service_layer.intros"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ME = UUID(int=1)  # the acting member
OTHER = UUID(int=2)  # the other side
THIRD = UUID(int=3)
ITEM = UUID(int=100)
SIBLING_A = UUID(int=101)
SIBLING_B = UUID(int=102)
CONTEXT = UUID(int=200)
PROSPECT = UUID(int=300)
CONVERSATION = UUID(int=400)
SERVICE = IntroService()
SYSTEM = UUID(int=0)


def actor(user_id: UUID = ME, agent: str = "concierge") -> IntroActor:
    return IntroActor(user_id=user_id, agent=agent, now=NOW)


def user(user_id: UUID, poc: str = "concierge", *, opted_out: bool = False) -> SimpleNamespace:
    return SimpleNamespace(id=user_id, opted_out=opted_out, poc_agent_type=poc)


def profile(user_id: UUID, now: datetime) -> SendProfile:
    return SendProfile(
        id=user_id,
        phone_number="+14155550100",
        timezone="UTC",
        quiet_hours_start=None,
        quiet_hours_end=None,
        opted_out=False,
        verified=True,
        poc_agent_type="concierge",
        response_pattern={},
        last_inbound_at=now,
    )


def ledger_entry(entry: NewLedgerEntry) -> LedgerEntry:
    return LedgerEntry(
        id=uuid4(),
        user_id=entry.user_id,
        event_type=entry.event_type,
        amount=entry.amount,
        reference_type=entry.reference_type,
        reference_id=entry.reference_id,
        idempotency_key=entry.idempotency_key,
        description=entry.description,
        recorded_by=entry.recorded_by,
        created_at=NOW,
    )


def card(
    user_id: UUID,
    first: str | None = "Dana",
    last: str | None = "Lee",
    *,
    company: str | None = None,
    title: str | None = None,
    email: str | None = None,
) -> MemberCard:
    return MemberCard(id=user_id, first_name=first, last_name=last, company=company, title=title, email=email)


class World:
    """One unit of work over recording repositories; ``intro_offers`` answers what the test scripts."""

    def __init__(self, **intro_answers: Any) -> None:
        self.log = UowLog()
        self.users: dict[UUID, SimpleNamespace] = {
            ME: user(ME, "concierge"),
            OTHER: user(OTHER, "innovator"),
            THIRD: user(THIRD, "concierge"),
        }
        self.conversations: dict[UUID, SimpleNamespace] = {ME: SimpleNamespace(id=CONVERSATION)}
        self.intros = ScriptedRepo("intro_offers", self.log, **intro_answers)
        self.repos: dict[str, object] = {
            "intro_offers": self.intros,
            "priorities": ScriptedRepo("priorities", self.log, set_item_status=None),
            "users": ScriptedRepo("users", self.log, get=self.users.get, send_profile=profile),
            "conversations": ScriptedRepo("conversations", self.log, latest_for_user=self.conversations.get),
            "queue": ScriptedRepo("queue", self.log, add=lambda part, now: uuid4()),
            "tasks": ScriptedRepo("tasks", self.log, add=lambda task: uuid4()),
            "credits": ScriptedRepo("credits", self.log, append=ledger_entry),
        }
        self.uow = RecordingUow(self.log, **self.repos)

    def run(self, fn: Any) -> Any:
        with self.uow as uow:
            result = fn(uow.as_postgres())
            uow.commit()
        return result

    def refused(self, fn: Any) -> IntroRefused:
        with self.uow as uow, pytest.raises(IntroRefused) as raised:
            fn(uow.as_postgres())
        return raised.value

    def events(self) -> list[tuple[str, str | None, UUID | None, dict[str, Any], str]]:
        return [event_tuple(e) for e in self.log.committed_events]

    def intro_calls(self) -> list[Call]:
        return self.log.of("intro_offers")

    def queued(self) -> list[tuple[UUID, str, str | None, dict[str, Any], str, UUID | None]]:
        parts: list[NewQueuedPart] = [c.args[0] for c in self.log.of("queue", "add")]
        return [
            (p.user_id, p.agent_id, p.final_message, p.message_data, p.priority, p.conversation_context_id)
            for p in parts
        ]

    def tasks(self) -> list[NewTask]:
        return [c.args[0] for c in self.log.of("tasks", "add")]

    def awards(self) -> list[NewLedgerEntry]:
        return [c.args[0] for c in self.log.of("credits", "append")]

    def actioned(self) -> list[Call]:
        return self.log.of("priorities")


def event_tuple(e: Event) -> tuple[str, str | None, UUID | None, dict[str, Any], str]:
    return (e.event_type, e.aggregate_type, e.aggregate_id, e.payload, e.created_by)


def call(method: str, *args: Any, **kwargs: Any) -> Call:
    return Call("intro_offers", method, args, kwargs)


def actioned(user_id: UUID, item_type: str, item_id: UUID) -> Call:
    return Call("priorities", "set_item_status", (user_id, item_type, item_id, "actioned"), {})


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def followup_task(
    kind: str, item_id: UUID, first: UUID | None, members: list[UUID], created_by: str
) -> NewTask:
    return NewTask(
        task_type="intro_followup_check",
        agent_type="intro",
        user_id=first,
        scheduled_for=NOW + INTRO_FOLLOWUP_AFTER,
        priority="medium",
        context_json={"kind": kind, "item_id": str(item_id), "members": [str(m) for m in members]},
        context_id=item_id,
        context_type=kind,
        created_by=created_by,
        dedupe_key=f"intro_followup_check:{first or '-'}:{kind}:{item_id}",
        max_retries=TASK_MAX_RETRIES,
    )


# --- offer_introduction (agents.md §12.4 step 1) ------------------------------------------------------


def offer_args(**overrides: Any) -> OfferIntroArgs:
    fields: dict[str, Any] = {
        "prospect_name": "Tony Ruiz",
        "target_context": "He runs streaming at Roku",
        "prospect_company": "Roku",
        "prospect_title": "VP Streaming",
    }
    fields.update(overrides)
    return OfferIntroArgs(**fields)


def test_an_offer_answering_a_community_request_names_its_asker_and_actions_the_request() -> None:
    world = World(
        routed_request=RoutedRequest(CONTEXT, OTHER, "open"),
        add_offer=OwnedIntro(ITEM, "pending_introducee_response"),
    )
    args = offer_args(context_type="community_request", context_id=CONTEXT, reason="They met at a panel")
    result = world.run(lambda uow: SERVICE.offer_introduction(uow, actor(), args))
    assert result == {
        "intro_offer": "created",
        "intro_offer_id": str(ITEM),
        "prospect_name": "Tony Ruiz",
        "waiting_on": "the other side to accept",
    }
    assert world.intro_calls() == [
        call("routed_request", ME, CONTEXT),
        call(
            "add_offer",
            NewIntroOffer(
                user_id=ME,
                introducee_user_id=OTHER,
                prospect_name="Tony Ruiz",
                prospect_company="Roku",
                prospect_title="VP Streaming",
                prospect_context="He runs streaming at Roku\nThey met at a panel",
                context_type="community_request",
                context_id=CONTEXT,
                expires_at=NOW + INTRO_OFFER_EXPIRY,
            ),
        ),
    ]
    assert world.events() == [
        (
            ev.INTRO_OFFER_CREATED,
            "intro_offer",
            ITEM,
            {
                "intro_offer_id": str(ITEM),
                "user_id": str(ME),
                "acting_agent_type": "concierge",
                "status": "pending_introducee_response",
                "offering_user_id": str(ME),
                "introducee_user_id": str(OTHER),
                "prospect_name": "Tony Ruiz",
                "context_type": "community_request",
                "context_id": str(CONTEXT),
            },
            "concierge",
        )
    ]
    assert world.actioned() == [actioned(ME, "community_request", CONTEXT)]


def test_an_offer_answering_a_connection_request_names_its_requestor() -> None:
    world = World(
        connection_requestor=OwnedIntro(OTHER, "open"),
        add_offer=OwnedIntro(ITEM, "pending_introducee_response"),
    )
    args = offer_args(context_type="connection_request", context_id=CONTEXT)
    result = world.run(lambda uow: SERVICE.offer_introduction(uow, actor(), args))
    assert result["waiting_on"] == "the other side to accept"
    [_, add] = world.intro_calls()
    assert world.intro_calls()[0] == call("connection_requestor", ME, CONTEXT)
    offer: NewIntroOffer = add.args[0]
    assert (offer.introducee_user_id, offer.context_type, offer.context_id) == (
        OTHER,
        "connection_request",
        CONTEXT,
    )
    assert offer.prospect_context == "He runs streaming at Roku"
    assert world.events()[0][3]["introducee_user_id"] == str(OTHER)
    assert world.actioned() == [actioned(ME, "connection_request", CONTEXT)]


def test_a_spontaneous_offer_needs_no_context_id() -> None:
    world = World(add_offer=OwnedIntro(ITEM, "nominated"))
    result = world.run(lambda uow: SERVICE.offer_introduction(uow, actor(), offer_args()))
    assert result["waiting_on"] == "nobody yet (a nomination)"
    [add] = world.intro_calls()
    assert (add.args[0].context_type, add.args[0].context_id) == ("nomination", None)


def test_a_spontaneous_offer_is_stored_as_a_nomination_waiting_on_nobody() -> None:
    world = World(add_offer=OwnedIntro(ITEM, "nominated"))
    args = offer_args(context_id=CONTEXT, prospect_company=None, prospect_title=None)
    result = world.run(lambda uow: SERVICE.offer_introduction(uow, actor(), args))
    assert result == {
        "intro_offer": "created",
        "intro_offer_id": str(ITEM),
        "prospect_name": "Tony Ruiz",
        "waiting_on": "nobody yet (a nomination)",
    }
    assert world.intro_calls() == [
        call(
            "add_offer",
            NewIntroOffer(
                user_id=ME,
                introducee_user_id=None,
                prospect_name="Tony Ruiz",
                prospect_company=None,
                prospect_title=None,
                prospect_context="He runs streaming at Roku",
                context_type="nomination",
                context_id=None,
                expires_at=NOW + INTRO_OFFER_EXPIRY,
            ),
        )
    ]
    [(_, _, _, payload, _)] = world.events()
    assert (payload["status"], payload["introducee_user_id"], payload["context_type"]) == (
        "nominated",
        None,
        "nomination",
    )
    assert payload["context_id"] is None
    assert world.actioned() == []


@pytest.mark.parametrize("context_type", ["community_request", "connection_request"])
def test_an_offer_answering_something_needs_its_id(context_type: str) -> None:
    world = World()
    with world.uow as uow, pytest.raises(ValueError) as raised:
        SERVICE.offer_introduction(uow.as_postgres(), actor(), offer_args(context_type=context_type))
    assert str(raised.value) == f"context_id is required when context_type is {context_type}"
    assert world.log.calls == []


@pytest.mark.parametrize("routed", [None, RoutedRequest(CONTEXT, None, "open")])
def test_an_offer_for_a_community_request_that_did_not_reach_the_member_is_refused(
    routed: RoutedRequest | None,
) -> None:
    world = World(routed_request=routed)
    args = offer_args(context_type="community_request", context_id=CONTEXT)
    refused = world.refused(lambda uow: SERVICE.offer_introduction(uow, actor(), args))
    assert isinstance(refused, NotYours)
    assert str(refused) == "no open community request that reached this member has that id"
    assert world.intro_calls() == [call("routed_request", ME, CONTEXT)]
    assert world.uow._pending == []


def test_an_offer_for_a_connection_request_not_addressed_to_the_member_is_refused() -> None:
    world = World(connection_requestor=None)
    args = offer_args(context_type="connection_request", context_id=CONTEXT)
    refused = world.refused(lambda uow: SERVICE.offer_introduction(uow, actor(), args))
    assert isinstance(refused, NotYours)
    assert str(refused) == "no open connection request to this member from a member has that id"
    assert world.intro_calls() == [call("connection_requestor", ME, CONTEXT)]


# --- answer_opportunity (§12.2) ------------------------------------------------------------------------


def opportunity_answer(status: str, other: UUID | None = OTHER, bounty: int = 50) -> IntroAnswer:
    return IntroAnswer(ITEM, status, bounty, other, prospect_id=PROSPECT)


def sibling(
    sibling_id: UUID, status: str, payee: UUID | None = THIRD, other: UUID | None = OTHER, bounty: int = 50
) -> IntroParties:
    return IntroParties("intro_opportunity", sibling_id, status, payee, other, bounty)


def test_accepting_an_opportunity_locks_the_prospect_first_pauses_siblings_and_exchanges_contacts() -> None:
    world = World(
        lock_prospect=None,
        respond_opportunity=opportunity_answer("accepted"),
        pause_siblings=[sibling(SIBLING_A, "paused"), sibling(SIBLING_B, "paused", payee=None, other=None)],
        member_cards={
            ME: card(ME, "Sam", "Hill", company="Acme", title="CTO", email="sam@acme.com"),
            OTHER: card(OTHER, "Ina", "Vo", company="Roku"),
        },
    )
    result = world.run(
        lambda uow: SERVICE.answer_opportunity(uow, actor(), ITEM, accept=True, reason="happy to")
    )
    assert result == {
        "intro_opportunity": "accepted",
        "intro_opportunity_id": str(ITEM),
        "siblings_paused": 2,
    }
    assert world.intro_calls() == [
        call("lock_prospect", ME, ITEM),
        call("respond_opportunity", ME, ITEM, status="accepted", response="happy to", now=NOW),
        call("pause_siblings", ITEM),
        call("member_cards", [ME, OTHER]),
    ]
    base = {"user_id": str(ME), "acting_agent_type": "concierge"}
    assert world.events() == [
        (
            ev.INTRO_OPPORTUNITY_ACCEPTED,
            "intro_opportunity",
            ITEM,
            {
                "intro_opportunity_id": str(ITEM),
                **base,
                "status": "accepted",
                "connector_user_id": str(ME),
                "innovator_id": str(OTHER),
                "prospect_id": str(PROSPECT),
                "bounty_credits": 50,
            },
            "concierge",
        ),
        (
            ev.INTRO_OPPORTUNITY_PAUSED,
            "intro_opportunity",
            SIBLING_A,
            {
                "intro_opportunity_id": str(SIBLING_A),
                **base,
                "status": "paused",
                "connector_user_id": str(THIRD),
                "innovator_id": str(OTHER),
                "bounty_credits": 50,
                "paused_by": str(ITEM),
            },
            "concierge",
        ),
        (
            ev.INTRO_OPPORTUNITY_PAUSED,
            "intro_opportunity",
            SIBLING_B,
            {
                "intro_opportunity_id": str(SIBLING_B),
                **base,
                "status": "paused",
                "connector_user_id": None,
                "innovator_id": None,
                "bounty_credits": 50,
                "paused_by": str(ITEM),
            },
            "concierge",
        ),
    ]
    assert world.actioned() == [actioned(ME, "intro_opportunity", ITEM)]
    about = "Reply here once the intro is made."
    assert world.queued() == [
        (
            ME,
            "concierge",
            f"You're connected: Ina Vo (Roku). {about}",
            {"kind": "intro_contacts"},
            "high",
            CONVERSATION,
        ),
        (
            OTHER,
            "innovator",
            f"You're connected: Sam Hill (CTO, Acme), sam@acme.com. {about}",
            {"kind": "intro_contacts"},
            "high",
            None,
        ),
    ]
    assert world.tasks() == [followup_task("intro_opportunity", ITEM, ME, [ME, OTHER], "concierge")]
    assert world.awards() == []  # acceptance alone pays nothing (B20)


def test_accepting_an_opportunity_for_a_prospect_with_no_member_innovator_exchanges_nothing() -> None:
    world = World(
        lock_prospect=None, respond_opportunity=opportunity_answer("accepted", other=None), pause_siblings=[]
    )
    result = world.run(lambda uow: SERVICE.answer_opportunity(uow, actor(), ITEM, accept=True, reason=None))
    assert result["siblings_paused"] == 0
    assert [c.method for c in world.intro_calls()] == [
        "lock_prospect",
        "respond_opportunity",
        "pause_siblings",
    ]
    assert world.queued() == []
    assert world.tasks() == [followup_task("intro_opportunity", ITEM, ME, [ME], "concierge")]
    assert world.events()[0][3]["innovator_id"] is None


def test_declining_an_opportunity_takes_no_lock_pauses_nothing_and_schedules_nothing() -> None:
    world = World(respond_opportunity=opportunity_answer("declined"))
    result = world.run(
        lambda uow: SERVICE.answer_opportunity(uow, actor(), ITEM, accept=False, reason="not now")
    )
    assert result == {"intro_opportunity": "declined", "intro_opportunity_id": str(ITEM)}
    assert world.intro_calls() == [
        call("respond_opportunity", ME, ITEM, status="declined", response="not now", now=NOW)
    ]
    [(event_type, _, _, payload, _)] = world.events()
    assert (event_type, payload["status"]) == (ev.INTRO_OPPORTUNITY_DECLINED, "declined")
    assert world.actioned() == [actioned(ME, "intro_opportunity", ITEM)]
    assert (world.queued(), world.tasks()) == ([], [])


@pytest.mark.parametrize(
    ("owned", "kind", "text"),
    [
        (None, NotYours, "no intro opportunity addressed to this member has that id"),
        (OwnedIntro(ITEM, "presented"), NotOpen, "that intro opportunity is expired; nothing changed"),
        (OwnedIntro(ITEM, "paused"), NotOpen, "that intro opportunity is paused; nothing changed"),
    ],
)
def test_an_opportunity_answer_that_changed_nothing_is_refused(
    owned: OwnedIntro | None, kind: type[IntroRefused], text: str
) -> None:
    world = World(lock_prospect=None, respond_opportunity=None, opportunity_of=owned)
    refused = world.refused(
        lambda uow: SERVICE.answer_opportunity(uow, actor(), ITEM, accept=True, reason=None)
    )
    assert type(refused) is kind and str(refused) == text
    assert world.intro_calls()[-1] == call("opportunity_of", ME, ITEM)
    assert world.uow._pending == [] and world.actioned() == []


# --- answer_connection_request (§12.3) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "status", "event_type"),
    [(True, "accepted", ev.CONNECTION_REQUEST_ACCEPTED), (False, "declined", ev.CONNECTION_REQUEST_DECLINED)],
)
def test_answering_a_connection_request(accept: bool, status: str, event_type: str) -> None:
    world = World(respond_connection_request=IntroAnswer(ITEM, status, 40, OTHER, prospect_id=PROSPECT))
    result = world.run(
        lambda uow: SERVICE.answer_connection_request(uow, actor(), ITEM, accept=accept, reason="why")
    )
    assert result == {"connection_request": status, "connection_request_id": str(ITEM)}
    assert world.intro_calls() == [
        call("respond_connection_request", ME, ITEM, status=status, response="why", now=NOW)
    ]
    assert world.events() == [
        (
            event_type,
            "connection_request",
            ITEM,
            {
                "connection_request_id": str(ITEM),
                "user_id": str(ME),
                "acting_agent_type": "concierge",
                "status": status,
                "introducee_user_id": str(ME),
                "requestor_user_id": str(OTHER),
                "requestor_prospect_id": str(PROSPECT),
                "bounty_credits": 40,
            },
            "concierge",
        )
    ]
    assert world.actioned() == [actioned(ME, "connection_request", ITEM)]
    # the contacts are exchanged by the Intro agent on the event, not here
    assert (world.queued(), world.tasks(), world.awards()) == ([], [], [])


@pytest.mark.parametrize(
    ("owned", "kind", "text"),
    [
        (None, NotYours, "no connection request addressed to this member has that id"),
        (OwnedIntro(ITEM, "open"), NotOpen, "that connection request is expired; nothing changed"),
        (OwnedIntro(ITEM, "accepted"), NotOpen, "that connection request is accepted; nothing changed"),
    ],
)
def test_a_connection_request_answer_that_changed_nothing_is_refused(
    owned: OwnedIntro | None, kind: type[IntroRefused], text: str
) -> None:
    world = World(respond_connection_request=None, connection_request_of=owned)
    refused = world.refused(
        lambda uow: SERVICE.answer_connection_request(uow, actor(), ITEM, accept=False, reason=None)
    )
    assert type(refused) is kind and str(refused) == text
    assert world.intro_calls()[-1] == call("connection_request_of", ME, ITEM)
    assert world.uow._pending == [] and world.actioned() == []


# --- answer_offer (§12.4 steps 2-5) -------------------------------------------------------------------


def offer_answer(status: str, other: UUID | None = OTHER) -> IntroAnswer:
    return IntroAnswer(ITEM, status, 25, other, context_type="community_request", context_id=CONTEXT)


@pytest.mark.parametrize(
    ("action", "owned_role", "method", "status", "event_type", "word", "offering", "introducee"),
    [
        (
            "accept",
            "introducee",
            "introducee_respond",
            "pending_connector_confirmation",
            ev.INTRO_OFFER_ACCEPTED,
            "accepted",
            OTHER,
            ME,
        ),
        (
            "decline",
            "introducee",
            "introducee_respond",
            "introducee_declined",
            ev.INTRO_OFFER_DECLINED,
            "declined",
            OTHER,
            ME,
        ),
        (
            "confirm",
            "connector",
            "connector_respond",
            "confirmed",
            ev.INTRO_OFFER_CONFIRMED,
            "confirmed",
            ME,
            OTHER,
        ),
        (
            "decline",
            "connector",
            "connector_respond",
            "connector_declined",
            ev.INTRO_OFFER_DECLINED,
            "declined",
            ME,
            OTHER,
        ),
    ],
)
def test_answering_an_offer(  # noqa: PLR0917
    action: Any,
    owned_role: str,
    method: str,
    status: str,
    event_type: str,
    word: str,
    offering: UUID,
    introducee: UUID,
) -> None:
    world = World(offer_of=OwnedIntro(ITEM, "whatever", owned_role), **{method: offer_answer(status)})
    result = world.run(lambda uow: SERVICE.answer_offer(uow, actor(), ITEM, action=action, reason="r"))
    expected: dict[str, Any] = {"intro_offer": word, "intro_offer_id": str(ITEM)}
    if action == "accept":
        expected["waiting_on"] = "the connector to confirm"
    assert result == expected
    assert world.intro_calls() == [
        call("offer_of", ME, ITEM),
        call(method, ME, ITEM, status=status, response="r", now=NOW),
    ]
    assert world.events() == [
        (
            event_type,
            "intro_offer",
            ITEM,
            {
                "intro_offer_id": str(ITEM),
                "user_id": str(ME),
                "acting_agent_type": "concierge",
                "status": status,
                "offering_user_id": str(offering),
                "introducee_user_id": str(introducee),
                "bounty_credits": 25,
                "context_type": "community_request",
                "context_id": str(CONTEXT),
                "answered_by": owned_role,
            },
            "concierge",
        )
    ]
    assert world.actioned() == [actioned(ME, "intro_offer", ITEM)]
    assert (world.queued(), world.tasks(), world.awards()) == ([], [], [])


def test_an_offer_that_is_not_the_members_is_refused_before_any_answer() -> None:
    world = World(offer_of=None)
    refused = world.refused(
        lambda uow: SERVICE.answer_offer(uow, actor(), ITEM, action="accept", reason=None)
    )
    assert type(refused) is NotYours
    assert str(refused) == "no intro offer addressed to this member has that id"
    assert world.intro_calls() == [call("offer_of", ME, ITEM)]


@pytest.mark.parametrize(
    ("action", "owned_role", "owned_status", "method", "kind", "text"),
    [
        # the connector tries the introducee's answer
        (
            "accept",
            "connector",
            "pending_introducee_response",
            "introducee_respond",
            NotOpen,
            "that intro offer waits on the introducee, not on this member; nothing changed",
        ),
        # the introducee tries the connector's confirm, before or after accepting
        (
            "confirm",
            "introducee",
            "pending_introducee_response",
            "connector_respond",
            NotOpen,
            "that intro offer still waits on the introducee to accept; nothing changed",
        ),
        (
            "confirm",
            "introducee",
            "pending_connector_confirmation",
            "connector_respond",
            NotOpen,
            "that intro offer waits on the member who offered it, not on this member; nothing changed",
        ),
        # the connector confirms (or declines) before the introducee accepted
        (
            "confirm",
            "connector",
            "pending_introducee_response",
            "connector_respond",
            NotOpen,
            "that intro offer still waits on the introducee to accept; nothing changed",
        ),
        (
            "decline",
            "connector",
            "pending_introducee_response",
            "connector_respond",
            NotOpen,
            "that intro offer still waits on the introducee to accept; nothing changed",
        ),
        # the right side, but the row is past its answer
        (
            "accept",
            "introducee",
            "pending_introducee_response",
            "introducee_respond",
            NotOpen,
            "that intro offer is expired; nothing changed",
        ),
        (
            "confirm",
            "connector",
            "confirmed",
            "connector_respond",
            NotOpen,
            "that intro offer is confirmed; nothing changed",
        ),
        (
            "decline",
            "introducee",
            "introducee_declined",
            "introducee_respond",
            NotOpen,
            "that intro offer is introducee declined; nothing changed",
        ),
    ],
)
def test_an_offer_answer_that_changed_nothing_is_refused(  # noqa: PLR0917
    action: Any, owned_role: str, owned_status: str, method: str, kind: type[IntroRefused], text: str
) -> None:
    world = World(offer_of=OwnedIntro(ITEM, owned_status, owned_role), **{method: None})
    refused = world.refused(lambda uow: SERVICE.answer_offer(uow, actor(), ITEM, action=action, reason=None))
    assert type(refused) is kind and str(refused) == text
    assert [c.method for c in world.intro_calls()] == ["offer_of", method]
    assert world.uow._pending == [] and world.actioned() == []


# --- request_connection (agents.md §5 tool 5) ---------------------------------------------------------


def test_requesting_a_connection_stores_the_request_and_reveals_nothing_about_the_target() -> None:
    world = World(add_connection_request=(ITEM, True))
    args = RequestConnectionArgs(target_user_id=OTHER, intro_context="We sell to media", offer_credits=30)
    result = world.run(lambda uow: SERVICE.request_connection(uow, actor(agent="innovator"), args))
    assert result == {"connection_request": "created", "connection_request_id": str(ITEM)}
    assert world.intro_calls() == [
        call(
            "add_connection_request",
            NewConnectionRequest(
                user_id=ME,
                target_user_id=OTHER,
                intro_context="We sell to media",
                bounty_credits=30,
                expires_at=NOW + CONNECTION_REQUEST_EXPIRY,
            ),
        )
    ]
    assert world.events() == [
        (
            ev.CONNECTION_REQUEST_CREATED,
            "connection_request",
            ITEM,
            {
                "connection_request_id": str(ITEM),
                "user_id": str(ME),
                "acting_agent_type": "innovator",
                "status": "open",
                "requestor_user_id": str(ME),
                "introducee_user_id": str(OTHER),
                "bounty_credits": 30,
            },
            "innovator",
        )
    ]
    assert world.awards() == []  # a bounty is paid on completion, never charged here


def test_a_repeated_connection_request_is_reported_and_emits_nothing() -> None:
    world = World(add_connection_request=(ITEM, False))
    args = RequestConnectionArgs(target_user_id=OTHER, intro_context="again")
    result = world.run(lambda uow: SERVICE.request_connection(uow, actor(), args))
    assert result == {"connection_request": "already_requested", "connection_request_id": str(ITEM)}
    assert world.events() == []


def test_a_connection_request_to_no_member_the_innovator_may_ask_is_refused() -> None:
    world = World(add_connection_request=None)
    args = RequestConnectionArgs(target_user_id=OTHER, intro_context="hi")
    refused = world.refused(lambda uow: SERVICE.request_connection(uow, actor(), args))
    assert type(refused) is NotYours
    assert str(refused) == "no member this member can ask to meet has that id"


# --- record_outcome: "did you meet?" (B20) ------------------------------------------------------------


def parties(
    kind: str, status: str, payee: UUID | None = OTHER, other: UUID | None = ME, bounty: int = 50
) -> IntroParties:
    return IntroParties(kind, ITEM, status, payee, other, bounty, prospect_name="Tony Ruiz")


def test_a_completed_opportunity_cancels_its_siblings_and_pays_the_connector_once() -> None:
    world = World(
        complete_opportunity=parties("intro_opportunity", "completed", payee=OTHER, other=ME),
        cancel_siblings=[sibling(SIBLING_A, "cancelled"), sibling(SIBLING_B, "cancelled")],
    )
    outcome = world.run(lambda uow: record_outcome(uow, actor(), "intro_opportunity", ITEM, met=True))
    assert outcome == Outcome("intro_opportunity", ITEM, "completed", 50, [SIBLING_A, SIBLING_B], [])
    assert world.intro_calls() == [call("complete_opportunity", ME, ITEM, NOW), call("cancel_siblings", ITEM)]
    base = {"user_id": str(ME), "acting_agent_type": "concierge"}
    assert world.events() == [
        (
            ev.INTRO_OPPORTUNITY_COMPLETED,
            "intro_opportunity",
            ITEM,
            {
                "intro_opportunity_id": str(ITEM),
                **base,
                "status": "completed",
                "connector_user_id": str(OTHER),
                "innovator_id": str(ME),
                "bounty_credits": 50,
                "reported_by": str(ME),
            },
            "concierge",
        ),
        *[
            (
                ev.INTRO_OPPORTUNITY_CANCELLED,
                "intro_opportunity",
                s,
                {
                    "intro_opportunity_id": str(s),
                    **base,
                    "status": "cancelled",
                    "connector_user_id": str(THIRD),
                    "innovator_id": str(OTHER),
                    "bounty_credits": 50,
                    "completed_by": str(ITEM),
                },
                "concierge",
            )
            for s in (SIBLING_A, SIBLING_B)
        ],
    ]
    assert world.awards() == [
        NewLedgerEntry(
            user_id=OTHER,
            amount=50,
            event_type="intro_completed",
            reference_type="intro_opportunity",
            reference_id=ITEM,
            idempotency_key=f"intro_completed_{ITEM}_{OTHER}",
            description="Introduction completed",
            recorded_by="concierge",
        )
    ]
    assert world.queued() == [
        (
            OTHER,
            "innovator",
            "Good news: the intro you made happened. 50 credits are on their way to you. Thank you!",
            {"kind": "intro_outcome"},
            "medium",
            None,
        )
    ]


@pytest.mark.parametrize(
    ("kind", "method", "event_type", "payee_key", "other_key"),
    [
        ("intro_offer", "complete_offer", ev.INTRO_OFFER_COMPLETED, "offering_user_id", "introducee_user_id"),
        (
            "connection_request",
            "complete_connection_request",
            ev.CONNECTION_REQUEST_COMPLETED,
            "introducee_user_id",
            "requestor_user_id",
        ),
    ],
)
def test_a_completed_offer_or_request_pays_its_payee_and_touches_no_siblings(
    kind: str, method: str, event_type: str, payee_key: str, other_key: str
) -> None:
    world = World(**{method: parties(kind, "completed", payee=OTHER, other=ME, bounty=1)})
    outcome = world.run(lambda uow: record_outcome(uow, actor(), kind, ITEM, met=True))
    assert outcome.as_dict() == {
        "kind": kind,
        "id": str(ITEM),
        "status": "completed",
        "paid": 1,
        "siblings_cancelled": 0,
        "siblings_released": 0,
    }
    assert world.intro_calls() == [call(method, ME, ITEM, NOW)]
    [(got_type, aggregate, _, payload, _)] = world.events()
    assert (got_type, aggregate, payload[payee_key], payload[other_key]) == (
        event_type,
        kind,
        str(OTHER),
        str(ME),
    )
    [award] = world.awards()
    assert (award.amount, award.reference_type, award.idempotency_key) == (
        1,
        kind,
        f"intro_completed_{ITEM}_{OTHER}",
    )
    assert world.queued()[0][2] == (
        "Good news: the intro you made happened. 1 credits are on their way to you. Thank you!"
    )


def test_a_completion_with_no_bounty_pays_nothing_and_says_nothing_of_credits() -> None:
    world = World(complete_offer=parties("intro_offer", "completed", payee=OTHER, bounty=0))
    outcome = world.run(lambda uow: record_outcome(uow, actor(), "intro_offer", ITEM, met=True))
    assert outcome.paid == 0
    assert world.awards() == []
    assert [q[2] for q in world.queued()] == ["Good news: the intro you made happened. Thank you!"]


def test_the_payee_reporting_the_meeting_is_paid_but_not_told() -> None:
    world = World(complete_offer=parties("intro_offer", "completed", payee=ME, other=OTHER, bounty=20))
    outcome = world.run(lambda uow: record_outcome(uow, actor(), "intro_offer", ITEM, met=True))
    assert outcome.paid == 20
    assert [a.user_id for a in world.awards()] == [ME]
    assert world.queued() == []


def test_a_completion_with_no_member_payee_pays_and_tells_no_one() -> None:
    world = World(
        complete_connection_request=parties(
            "connection_request", "completed", payee=None, other=ME, bounty=40
        )
    )
    outcome = world.run(lambda uow: record_outcome(uow, actor(), "connection_request", ITEM, met=True))
    assert outcome.paid == 0
    assert (world.awards(), world.queued()) == ([], [])
    assert world.events()[0][3]["introducee_user_id"] is None


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("intro_opportunity", "complete_opportunity"),
        ("intro_offer", "complete_offer"),
        ("connection_request", "complete_connection_request"),
    ],
)
def test_a_completion_that_changed_nothing_is_refused_and_pays_nothing(kind: str, method: str) -> None:
    world = World(**{method: None})
    refused = world.refused(lambda uow: record_outcome(uow, actor(), kind, ITEM, met=True))
    assert type(refused) is NotOpen
    label = kind.replace("_", " ")
    assert str(refused) == (
        f"no accepted {label} of this member has that id, or it is already completed; nothing changed"
    )
    assert world.intro_calls() == [call(method, ME, ITEM, NOW)]
    assert (world.uow._pending, world.awards(), world.queued()) == ([], [], [])


def test_an_unknown_kind_is_a_programming_error() -> None:
    world = World()
    with world.uow as uow, pytest.raises(ValueError) as raised:
        record_outcome(uow.as_postgres(), actor(), "intro", ITEM, met=False)
    assert str(raised.value) == "kind must be one of intro_opportunity, intro_offer, connection_request"
    assert world.log.calls == []


def test_not_met_on_an_opportunity_releases_its_siblings_pays_nothing_and_tells_the_connector(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(
        not_met_opportunity=parties("intro_opportunity", "cancelled", payee=OTHER, other=ME),
        release_siblings=[sibling(SIBLING_A, "open")],
    )
    outcome = world.run(
        lambda uow: record_outcome(uow, actor(), "intro_opportunity", ITEM, met=False, reason="  busy  ")
    )
    assert outcome == Outcome("intro_opportunity", ITEM, "cancelled", 0, [], [SIBLING_A])
    assert world.intro_calls() == [
        call("not_met_opportunity", ME, ITEM, NOW, "busy"),
        call("release_siblings", ITEM),
    ]
    base = {"user_id": str(ME), "acting_agent_type": "concierge"}
    assert world.events() == [
        (
            ev.INTRO_OPPORTUNITY_NOT_MET,
            "intro_opportunity",
            ITEM,
            {
                "intro_opportunity_id": str(ITEM),
                **base,
                "status": "cancelled",
                "connector_user_id": str(OTHER),
                "innovator_id": str(ME),
                "bounty_credits": 50,
                "reported_by": str(ME),
                "reason": "busy",
            },
            "concierge",
        ),
        (
            ev.INTRO_OPPORTUNITY_RELEASED,
            "intro_opportunity",
            SIBLING_A,
            {
                "intro_opportunity_id": str(SIBLING_A),
                **base,
                "status": "open",
                "connector_user_id": str(THIRD),
                "innovator_id": str(OTHER),
                "bounty_credits": 50,
                "not_met": str(ITEM),
            },
            "concierge",
        ),
    ]
    assert world.awards() == []
    assert world.queued() == [
        (
            OTHER,
            "innovator",
            "Thanks for offering that intro. I heard the two of them didn't get to meet, so I've closed it;"
            " no action needed from you.",
            {"kind": "intro_outcome"},
            "medium",
            None,
        )
    ]
    [record] = records(caplog, "intro did not happen")
    assert (record.levelno, record.kind, record.id, record.reason) == (  # type: ignore[attr-defined]
        logging.INFO,
        "intro_opportunity",
        str(ITEM),
        "busy",
    )


@pytest.mark.parametrize(
    ("kind", "method", "event_type"),
    [
        ("intro_offer", "not_met_offer", ev.INTRO_OFFER_NOT_MET),
        ("connection_request", "not_met_connection_request", ev.CONNECTION_REQUEST_NOT_MET),
    ],
)
def test_not_met_on_an_offer_or_request_keeps_no_siblings(kind: str, method: str, event_type: str) -> None:
    world = World(**{method: parties(kind, "cancelled", payee=ME, other=OTHER)})
    outcome = world.run(lambda uow: record_outcome(uow, actor(), kind, ITEM, met=False))
    assert outcome.as_dict()["siblings_released"] == 0
    assert world.intro_calls() == [call(method, ME, ITEM, NOW, None)]
    [(got, _, _, payload, _)] = world.events()
    assert (got, payload["reason"]) == (event_type, None)
    assert world.queued() == []  # the payee answered themselves


@pytest.mark.parametrize(
    ("reason", "stored"),
    [
        (None, None),
        ("   ", None),
        ("x" * NOT_MET_REASON_MAX, "x" * NOT_MET_REASON_MAX),
        (" " + "y" * (NOT_MET_REASON_MAX + 1) + " ", "y" * NOT_MET_REASON_MAX),
    ],
)
def test_a_not_met_reason_is_trimmed_and_cut_to_its_limit(reason: str | None, stored: str | None) -> None:
    world = World(not_met_offer=parties("intro_offer", "cancelled", payee=ME))
    world.run(lambda uow: record_outcome(uow, actor(), "intro_offer", ITEM, met=False, reason=reason))
    assert world.intro_calls() == [call("not_met_offer", ME, ITEM, NOW, stored)]


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("intro_opportunity", "not_met_opportunity"),
        ("intro_offer", "not_met_offer"),
        ("connection_request", "not_met_connection_request"),
    ],
)
def test_a_not_met_that_changed_nothing_is_refused(kind: str, method: str) -> None:
    world = World(**{method: None})
    refused = world.refused(lambda uow: record_outcome(uow, actor(), kind, ITEM, met=False, reason="x"))
    assert type(refused) is NotOpen
    assert str(refused) == (
        f"no accepted {kind.replace('_', ' ')} of this member has that id, or its outcome is already"
        " recorded; nothing changed"
    )
    assert world.intro_calls() == [call(method, ME, ITEM, NOW, "x")]
    assert world.uow._pending == []


@pytest.mark.parametrize(("met", "word"), [(True, "met"), (False, "not_met")])
def test_the_members_answer_goes_to_their_latest_intro_waiting_on_it(met: bool, word: str) -> None:
    world = World(
        awaiting_outcome=OwnedIntro(ITEM, "confirmed", "intro_offer"),
        complete_offer=parties("intro_offer", "completed", payee=ME, bounty=0),
        not_met_offer=parties("intro_offer", "cancelled", payee=ME),
    )
    result = world.run(lambda uow: SERVICE.record_outcome(uow, actor(), met=met, reason="no time"))
    status = "completed" if met else "cancelled"
    assert result == {
        "intro_outcome": word,
        "kind": "intro_offer",
        "id": str(ITEM),
        "status": status,
        "paid": 0,
        "siblings_cancelled": 0,
        "siblings_released": 0,
    }
    expected = (
        call("complete_offer", ME, ITEM, NOW) if met else call("not_met_offer", ME, ITEM, NOW, "no time")
    )
    assert world.intro_calls() == [call("awaiting_outcome", ME), expected]


def test_an_answer_with_no_intro_waiting_on_it_is_refused() -> None:
    world = World(awaiting_outcome=None)
    refused = world.refused(lambda uow: SERVICE.record_outcome(uow, actor(), met=True, reason=None))
    assert type(refused) is NotYours
    assert str(refused) == "this member has no accepted introduction waiting to hear whether they met"


# --- contact exchange (B17) and what each side hears ---------------------------------------------------


@pytest.mark.parametrize(
    ("other_card", "text"),
    [
        (
            card(OTHER, "Ina", "Vo", company="Roku", title="CTO", email="ina@roku.com"),
            "Ina Vo (CTO, Roku), ina@roku.com",
        ),
        (card(OTHER, "Ina", None, title="CTO"), "Ina"),
        (card(OTHER, None, "Vo", company="Roku"), "Vo (Roku)"),
        (card(OTHER, None, None, email="x@y.com"), "A member, x@y.com"),
    ],
)
def test_a_contact_card_names_title_and_company_only_together(other_card: MemberCard, text: str) -> None:
    world = World(member_cards={ME: card(ME), OTHER: other_card})
    sent = world.run(lambda uow: exchange_contacts(uow, NOW, ME, OTHER, about="Go."))
    assert sent == 2
    assert world.queued()[0][2] == f"You're connected: {text}. Go."


def test_no_card_is_sent_when_either_side_has_none() -> None:
    world = World(member_cards={ME: card(ME)})
    assert world.run(lambda uow: exchange_contacts(uow, NOW, ME, OTHER, about="Go.")) == 0
    assert world.queued() == []
    world = World(member_cards={OTHER: card(OTHER)})
    assert world.run(lambda uow: exchange_contacts(uow, NOW, ME, OTHER, about="Go.")) == 0
    assert world.queued() == []


def test_a_blank_about_leaves_no_trailing_space() -> None:
    world = World(member_cards={ME: card(ME), OTHER: card(OTHER, "Ina", "Vo")})
    world.run(lambda uow: exchange_contacts(uow, NOW, ME, OTHER, about=""))
    assert [q[2] for q in world.queued()] == ["You're connected: Ina Vo.", "You're connected: Dana Lee."]


def test_an_opted_out_or_unknown_member_is_not_sent_their_card() -> None:
    world = World(member_cards={ME: card(ME), OTHER: card(OTHER, "Ina", "Vo")})
    world.users[ME] = user(ME, opted_out=True)
    assert world.run(lambda uow: exchange_contacts(uow, NOW, ME, OTHER, about="Go.")) == 1
    assert [q[0] for q in world.queued()] == [OTHER]
    world = World(member_cards={ME: card(ME), OTHER: card(OTHER, "Ina", "Vo")})
    del world.users[OTHER]
    assert world.run(lambda uow: exchange_contacts(uow, NOW, ME, OTHER, about="Go.")) == 1
    assert [q[0] for q in world.queued()] == [ME]


def test_a_card_that_fails_the_tone_check_is_not_sent_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(member_cards={ME: card(ME), OTHER: card(OTHER, "Ina", "Vo", company="Pretty Young Things")})
    assert world.run(lambda uow: exchange_contacts(uow, NOW, ME, OTHER, about="Go.")) == 1
    assert [q[0] for q in world.queued()] == [OTHER]
    assert world.log.of("users", "get") == [Call("users", "get", (OTHER,), {})]
    [record] = records(caplog, "intro message refused by the tone check")
    assert (record.levelno, record.user_id, record.words) == (  # type: ignore[attr-defined]
        logging.WARNING,
        str(ME),
        ["pretty", "young"],
    )


# --- the Intro agent's event handlers -----------------------------------------------------------------


def delivery(event_type: str, payload: Any, kind: Any = "event", **data: Any) -> Delivery:
    body = {"payload": payload, **data} if payload is not None else data
    return Delivery(
        kind=kind,
        id=uuid4(),
        type=event_type,
        attempt=1,
        published_at=NOW,
        data=body,
        attributes={},
        user_id=None,
    )


def deps(world: World, llm: ScriptedLlm | None = None) -> Any:
    return make_deps(
        llm=llm,
        clock=lambda: NOW,
        uow_factory=uow_factory(world.log, **world.repos),
        verify_email_domain=None,
    )


def handle(world: World, d: Delivery) -> Any:
    return world.run(lambda uow: handle_event(d, uow, deps(world)))


def test_a_confirmed_offer_exchanges_contacts_and_schedules_the_followup() -> None:
    world = World(member_cards={ME: card(ME), OTHER: card(OTHER, "Ina", "Vo")})
    payload = {"intro_offer_id": str(ITEM), "offering_user_id": str(ME), "introducee_user_id": str(OTHER)}
    assert handle(world, delivery(ev.INTRO_OFFER_CONFIRMED, payload)) == {
        "contacts_sent": 2,
        "followup": "scheduled",
    }
    assert world.intro_calls() == [call("member_cards", [ME, OTHER])]
    assert [(q[0], q[2]) for q in world.queued()] == [
        # the offering member (connector) makes the introduction; the introducee meets that person
        (
            ME,
            "You're connected: Ina Vo. Over to you for the introduction you offered. "
            "Reply here once it's made.",
        ),
        (
            OTHER,
            "You're connected: Dana Lee. They'll make the introduction they offered. "
            "Reply here once you've met.",
        ),
    ]
    assert world.tasks() == [followup_task("intro_offer", ITEM, ME, [ME, OTHER], "intro")]
    assert world.events() == []


def test_an_accepted_connection_request_from_a_member_exchanges_contacts() -> None:
    world = World(member_cards={ME: card(ME), OTHER: card(OTHER, "Ina", "Vo")})
    payload = {
        "connection_request_id": str(ITEM),
        "introducee_user_id": str(ME),
        "requestor_user_id": str(OTHER),
    }
    assert handle(world, delivery(ev.CONNECTION_REQUEST_ACCEPTED, payload)) == {
        "contacts_sent": 2,
        "followup": "scheduled",
    }
    assert world.intro_calls() == [call("member_cards", [ME, OTHER])]
    assert world.queued()[0][2] == "You're connected: Ina Vo. Reply here once you've met."
    assert world.tasks() == [followup_task("connection_request", ITEM, ME, [ME, OTHER], "intro")]


def test_an_accepted_connection_request_from_a_prospect_exchanges_nothing() -> None:
    world = World()
    payload = {"connection_request_id": str(ITEM), "introducee_user_id": str(ME), "requestor_user_id": None}
    assert handle(world, delivery(ev.CONNECTION_REQUEST_ACCEPTED, payload)) == {
        "contacts_sent": 0,
        "reason": "requestor is a prospect",
    }
    assert world.log.calls == []


@pytest.mark.parametrize(
    ("event_type", "payload", "text"),
    [
        (
            ev.INTRO_OFFER_CONFIRMED,
            {"offering_user_id": str(ME), "introducee_user_id": str(OTHER)},
            "intro_offer_id is missing or not a uuid: None",
        ),
        (
            ev.INTRO_OFFER_CONFIRMED,
            {"intro_offer_id": str(ITEM), "offering_user_id": "nope", "introducee_user_id": str(OTHER)},
            "offering_user_id is missing or not a uuid: 'nope'",
        ),
        (
            ev.INTRO_OFFER_CONFIRMED,
            {"intro_offer_id": str(ITEM), "offering_user_id": str(ME)},
            "introducee_user_id is missing or not a uuid: None",
        ),
        (
            ev.CONNECTION_REQUEST_ACCEPTED,
            {"introducee_user_id": str(ME), "requestor_user_id": str(OTHER)},
            "connection_request_id is missing or not a uuid: None",
        ),
        (
            ev.CONNECTION_REQUEST_ACCEPTED,
            {"connection_request_id": str(ITEM), "requestor_user_id": str(OTHER)},
            "introducee_user_id is missing or not a uuid: None",
        ),
        (
            ev.CONNECTION_REQUEST_ACCEPTED,
            {"connection_request_id": str(ITEM), "introducee_user_id": str(ME), "requestor_user_id": 7},
            "requestor_user_id is missing or not a uuid: 7",
        ),
        (ev.INTRO_OPPORTUNITY_CREATED, {}, "intro_opportunity_id is missing or not a uuid: None"),
        (ev.INTRO_OFFER_CONFIRMED, ["not", "an", "object"], "intro.offer_confirmed payload is not an object"),
        ("intro.something_else", {}, "the Intro agent does not handle intro.something_else"),
    ],
)
def test_a_malformed_or_unknown_event_is_a_permanent_error(event_type: str, payload: Any, text: str) -> None:
    world = World()
    with world.uow as uow, pytest.raises(PermanentError) as raised:
        handle_event(delivery(event_type, payload), uow.as_postgres(), deps(world))
    assert str(raised.value) == text
    assert world.log.calls == []


def test_an_event_without_a_payload_reads_as_an_empty_one() -> None:
    world = World()
    with world.uow as uow, pytest.raises(PermanentError) as raised:
        handle_event(delivery(ev.INTRO_OFFER_CONFIRMED, None), uow.as_postgres(), deps(world))
    assert str(raised.value) == "intro_offer_id is missing or not a uuid: None"


@pytest.mark.parametrize(
    "event_type", [ev.INTRO_OFFER_DECLINED, ev.INTRO_OPPORTUNITY_DECLINED, ev.CONNECTION_REQUEST_DECLINED]
)
@pytest.mark.parametrize(
    ("payload", "given"), [({"reason": "busy"}, True), ({}, False), ({"reason": ""}, False)]
)
def test_a_decline_is_recorded_and_logged(
    event_type: str, payload: dict[str, Any], given: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World()
    assert handle(world, delivery(event_type, payload)) == {"recorded": event_type}
    [record] = records(caplog, "intro declined")
    assert (record.levelno, record.event_type, record.reason_given) == (  # type: ignore[attr-defined]
        logging.INFO,
        event_type,
        given,
    )
    assert world.log.calls == []


def brief(talking_points: str | None = None) -> OpportunityBrief:
    return OpportunityBrief(
        id=ITEM,
        status="open",
        connector_user_id=ME,
        innovator_id=OTHER,
        prospect_name="Tony Ruiz",
        prospect_company="Roku",
        prospect_title="VP Streaming",
        innovator_name="Ina Vo",
        innovator_company="Streamly",
        solution_description="Ad insertion",
        intro_context=None,
        bounty_credits=50,
        talking_points=talking_points,
    )


def test_a_new_opportunity_gets_talking_points_and_the_connector_a_priority() -> None:
    world = World(opportunity_brief=brief(), set_talking_points=True)
    result = handle(world, delivery(ev.INTRO_OPPORTUNITY_CREATED, {"intro_opportunity_id": str(ITEM)}))
    assert result == {"talking_points": "fallback"}
    assert world.intro_calls() == [
        call("opportunity_brief", ITEM),
        call("set_talking_points", ITEM, fallback_talking_points(brief())),
    ]
    assert world.events() == [
        (
            ev.PRIORITY_INTRO_ADDED,
            "intro_opportunity",
            ITEM,
            {"intro_opportunity_id": str(ITEM), "connector_user_id": str(ME), "priority": "high"},
            "intro",
        )
    ]


def test_talking_points_come_from_the_llm_when_there_is_one() -> None:
    world = World(opportunity_brief=brief(), set_talking_points=True)
    llm = ScriptedLlm()
    points = (
        "Streamly sells ad insertion to streaming teams like Roku's.\n"
        "You earn 50 credits once the intro happens."
    )
    llm.reply(points)
    d = delivery(ev.INTRO_OPPORTUNITY_CREATED, {"intro_opportunity_id": str(ITEM)})
    result = world.run(lambda uow: handle_event(d, uow, deps(world, llm)))
    assert result == {"talking_points": "llm"}
    assert [r.call_kind for r in llm.requests] == ["talking_points"]
    assert world.intro_calls() == [call("opportunity_brief", ITEM), call("set_talking_points", ITEM, points)]


def test_talking_points_already_stored_are_not_written_again() -> None:
    world = World(opportunity_brief=brief("stored"))
    result = handle(world, delivery(ev.INTRO_OPPORTUNITY_CREATED, {"intro_opportunity_id": str(ITEM)}))
    assert result == {"talking_points": "already stored"}
    assert world.intro_calls() == [call("opportunity_brief", ITEM)]
    assert world.events() == []


def test_talking_points_stored_by_a_racing_run_add_no_priority() -> None:
    world = World(opportunity_brief=brief(), set_talking_points=False)
    result = handle(world, delivery(ev.INTRO_OPPORTUNITY_CREATED, {"intro_opportunity_id": str(ITEM)}))
    assert result == {"talking_points": "already stored"}
    assert world.events() == []


def test_talking_points_for_no_opportunity_are_a_permanent_error() -> None:
    world = World(opportunity_brief=None)
    with world.uow as uow, pytest.raises(PermanentError) as raised:
        handle_event(
            delivery(ev.INTRO_OPPORTUNITY_CREATED, {"intro_opportunity_id": str(ITEM)}),
            uow.as_postgres(),
            deps(world),
        )
    assert str(raised.value) == f"no intro opportunity {ITEM}"


# --- the +7-day follow-up task ------------------------------------------------------------------------


def test_the_followup_asks_each_side_about_the_other_by_name() -> None:
    world = World(member_cards={ME: card(ME, "Sam", "Hill"), OTHER: card(OTHER, "Ina", "Vo")})
    context = {"kind": "connection_request", "item_id": str(ITEM), "members": [str(ME), str(OTHER)]}
    d = delivery("intro_followup_check", None, kind="task", context_json=context)
    result = world.run(lambda uow: handle_followup_task(d, uow, deps(world)))
    assert result == {"asked": 2, "kind": "connection_request", "id": str(ITEM)}
    assert world.intro_calls() == [call("member_cards", [ME, OTHER])]
    assert world.queued() == [
        (
            ME,
            "concierge",
            FOLLOWUP_QUESTION.format(name="Ina Vo"),
            {"kind": "intro_followup"},
            "medium",
            CONVERSATION,
        ),
        (
            OTHER,
            "innovator",
            FOLLOWUP_QUESTION.format(name="Sam Hill"),
            {"kind": "intro_followup"},
            "medium",
            None,
        ),
    ]


def test_an_offers_followup_asks_about_the_person_offered() -> None:
    """An offer joins the introducee to the person the connector (first) offered, not to the
    connector: found on the local stack, where Priya would have been asked whether she and Maya met."""
    world = World(
        member_cards={ME: card(ME, "Sam", "Hill"), OTHER: card(OTHER, "Ina", "Vo")}, prospect_of="Jim Park"
    )
    context = {"kind": "intro_offer", "item_id": str(ITEM), "members": [str(ME), str(OTHER)]}
    d = delivery("intro_followup_check", None, kind="task", context_json=context)
    assert world.run(lambda uow: handle_followup_task(d, uow, deps(world)))["asked"] == 2
    assert world.intro_calls() == [call("member_cards", [ME, OTHER]), call("prospect_of", ITEM)]
    assert [(q[0], q[2]) for q in world.queued()] == [
        (ME, "Quick check-in on your intro of Ina Vo to Jim Park: did they meet? Reply yes or no."),
        (
            OTHER,
            "Quick check-in on your intro with Jim Park, through Sam Hill: did you meet? Reply yes or no.",
        ),
    ]


def test_the_followup_without_the_other_sides_card_asks_about_the_introduction() -> None:
    world = World(member_cards={ME: card(ME, "Sam", "Hill")})
    context = {"kind": "intro_opportunity", "item_id": str(ITEM), "members": [str(ME), str(OTHER)]}
    d = delivery("intro_followup_check", None, kind="task", context_json=context)
    assert world.run(lambda uow: handle_followup_task(d, uow, deps(world)))["asked"] == 2
    assert [q[2] for q in world.queued()] == [
        FOLLOWUP_QUESTION.format(name="your introduction"),
        FOLLOWUP_QUESTION.format(name="Sam Hill"),
    ]


def test_the_followup_with_no_members_asks_no_one() -> None:
    world = World(member_cards={})
    d = delivery("intro_followup_check", None, kind="task")
    assert world.run(lambda uow: handle_followup_task(d, uow, deps(world))) == {
        "asked": 0,
        "kind": None,
        "id": None,
    }
    assert world.intro_calls() == [call("member_cards", [])]


@pytest.mark.parametrize(
    ("context", "text"),
    [
        (["a list"], "intro_followup_check without a context"),
        ({"members": ["nope"]}, "member is missing or not a uuid: 'nope'"),
    ],
)
def test_a_malformed_followup_is_a_permanent_error(context: Any, text: str) -> None:
    world = World()
    d = delivery("intro_followup_check", None, kind="task", context_json=context)
    with world.uow as uow, pytest.raises(PermanentError) as raised:
        handle_followup_task(d, uow.as_postgres(), deps(world))
    assert str(raised.value) == text


# --- the expiry and reminder job ----------------------------------------------------------------------


def expiry_world(**answers: Any) -> World:
    defaults: dict[str, Any] = {
        "expire_opportunities": [],
        "expire_offers": [],
        "expire_connection_requests": [],
        "claim_offer_reminders": [],
    }
    return World(**{**defaults, **answers})


def test_expiry_moves_each_flow_in_batches_and_commits_its_events_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = expiry_world(
        expire_opportunities=[IntroParties("intro_opportunity", ITEM, "expired", ME, OTHER, 50)],
        expire_offers=[
            IntroParties("intro_offer", SIBLING_A, "expired", None, OTHER, 0),
            IntroParties("intro_offer", SIBLING_B, "expired", None, None, 0),
        ],
    )
    report = run_intro_expiry(uow_factory(world.log, **world.repos), now=NOW)
    assert report == ExpiryReport({"intro_opportunity": 1, "intro_offer": 2, "connection_request": 0}, 0)
    assert world.intro_calls() == [
        call("expire_opportunities", NOW, INTRO_EXPIRY_BATCH),
        call("expire_offers", NOW, INTRO_EXPIRY_BATCH),
        call("expire_connection_requests", NOW, INTRO_EXPIRY_BATCH),
        call("claim_offer_reminders", NOW, NOW - INTRO_OFFER_REMINDER_AFTER, INTRO_EXPIRY_BATCH),
    ]
    expired = {"expired_at": NOW.isoformat(), "acting_agent_type": "intro"}
    assert world.events() == [
        (
            ev.INTRO_OPPORTUNITY_EXPIRED,
            "intro_opportunity",
            ITEM,
            {
                "intro_opportunity_id": str(ITEM),
                "user_id": str(ME),  # the system acts: the event names the row's own member
                "acting_agent_type": "intro",
                "status": "expired",
                "connector_user_id": str(ME),
                "innovator_id": str(OTHER),
                "bounty_credits": 50,
                "expired_at": expired["expired_at"],
            },
            "intro",
        ),
        (
            ev.INTRO_OFFER_EXPIRED,
            "intro_offer",
            SIBLING_A,
            {
                "intro_offer_id": str(SIBLING_A),
                "user_id": str(OTHER),  # no payee: the other member
                "acting_agent_type": "intro",
                "status": "expired",
                "offering_user_id": None,
                "introducee_user_id": str(OTHER),
                "bounty_credits": 0,
                "expired_at": expired["expired_at"],
            },
            "intro",
        ),
        (
            ev.INTRO_OFFER_EXPIRED,
            "intro_offer",
            SIBLING_B,
            {
                "intro_offer_id": str(SIBLING_B),
                "user_id": str(SYSTEM),  # no member at all: the system itself
                "acting_agent_type": "intro",
                "status": "expired",
                "offering_user_id": None,
                "introducee_user_id": None,
                "bounty_credits": 0,
                "expired_at": expired["expired_at"],
            },
            "intro",
        ),
    ]
    assert (world.log.entered, world.log.commits, world.log.exits_without_commit) == (1, 1, 0)
    [record] = records(caplog, "intro expiry run")
    assert record.levelno == logging.INFO
    assert (record.expired, record.reminded) == (  # type: ignore[attr-defined]
        {"intro_opportunity": 1, "intro_offer": 2, "connection_request": 0},
        0,
    )
    assert report.as_dict() == {
        "expired": {"intro_opportunity": 1, "intro_offer": 2, "connection_request": 0},
        "reminded": 0,
    }


def test_expiry_of_connection_requests_names_the_introducee() -> None:
    world = expiry_world(
        expire_connection_requests=[IntroParties("connection_request", ITEM, "expired", OTHER, None, 40)]
    )
    report = run_intro_expiry(uow_factory(world.log, **world.repos), now=NOW)
    assert report.expired == {"intro_opportunity": 0, "intro_offer": 0, "connection_request": 1}
    [(event_type, aggregate, item, payload, created_by)] = world.events()
    assert (event_type, aggregate, item, created_by) == (
        ev.CONNECTION_REQUEST_EXPIRED,
        "connection_request",
        ITEM,
        "intro",
    )
    assert (payload["user_id"], payload["introducee_user_id"], payload["requestor_user_id"]) == (
        str(OTHER),
        str(OTHER),
        None,
    )


def test_an_unconfirming_connector_is_reminded_once_with_the_prospects_name() -> None:
    world = expiry_world(
        claim_offer_reminders=[
            IntroParties("intro_offer", ITEM, "pending_connector_confirmation", ME, OTHER, 25, "Tony Ruiz"),
            IntroParties("intro_offer", SIBLING_A, "pending_connector_confirmation", THIRD, OTHER, 25, None),
            IntroParties("intro_offer", SIBLING_B, "pending_connector_confirmation", None, OTHER, 25, "Al"),
        ]
    )
    report = run_intro_expiry(uow_factory(world.log, **world.repos), now=NOW)
    assert report.reminded == 3
    assert [e[:3] for e in world.events()] == [
        (ev.INTRO_OFFER_REMINDER, "intro_offer", ITEM),
        (ev.INTRO_OFFER_REMINDER, "intro_offer", SIBLING_A),
        (ev.INTRO_OFFER_REMINDER, "intro_offer", SIBLING_B),
    ]
    assert world.events()[0][3] == {
        "intro_offer_id": str(ITEM),
        "user_id": str(ME),
        "acting_agent_type": "intro",
        "status": "pending_connector_confirmation",
        "offering_user_id": str(ME),
        "introducee_user_id": str(OTHER),
        "bounty_credits": 25,
    }
    assert world.queued() == [
        (
            ME,
            "concierge",
            "Reminder: you offered an intro to Tony Ruiz, and the other side said yes. "
            "Can you still make it? Reply to confirm, or tell me if it's not going to work.",
            {"kind": "intro_offer_reminder"},
            "medium",
            CONVERSATION,
        ),
        (
            THIRD,
            "concierge",
            REMINDER_TEXT.format(prospect="them"),
            {"kind": "intro_offer_reminder"},
            "medium",
            None,
        ),
    ]


class Offers(RecordingRepo):
    """Offers waiting on their connector since ``accepted_at``; claimed once (the SQL's rule:
    accepted at or before the cutoff, not reminded yet)."""

    name = "intro_offers"

    def __init__(self, log: UowLog, accepted_at: dict[UUID, datetime]) -> None:
        super().__init__(log)
        self.accepted_at = accepted_at
        self.reminded: set[UUID] = set()

    def expire_opportunities(self, now: datetime, limit: int) -> list[IntroParties]:
        return []

    expire_offers = expire_connection_requests = expire_opportunities

    def claim_offer_reminders(
        self, now: datetime, accepted_before: datetime, limit: int
    ) -> list[IntroParties]:
        self.record("claim_offer_reminders", now, accepted_before, limit)
        due = [i for i, at in self.accepted_at.items() if at <= accepted_before and i not in self.reminded]
        self.reminded.update(due)
        return [
            IntroParties("intro_offer", i, "pending_connector_confirmation", ME, OTHER, 25, "Tony")
            for i in due
        ]


def test_the_reminder_comes_three_days_after_acceptance_not_a_second_sooner_and_only_once() -> None:
    world = World()
    offers = Offers(
        world.log,
        {
            ITEM: NOW - INTRO_OFFER_REMINDER_AFTER,
            SIBLING_A: NOW - INTRO_OFFER_REMINDER_AFTER + timedelta(seconds=1),
        },
    )
    make = uow_factory(world.log, **{**world.repos, "intro_offers": offers})
    assert run_intro_expiry(make, now=NOW).reminded == 1
    assert offers.reminded == {ITEM}
    assert run_intro_expiry(make, now=NOW).reminded == 0
    assert run_intro_expiry(make, now=NOW + timedelta(seconds=1)).reminded == 1
    assert offers.reminded == {ITEM, SIBLING_A}
    assert len(world.queued()) == 2


def test_events_of_an_answer_are_kept_only_when_the_caller_commits() -> None:
    world = World(respond_connection_request=IntroAnswer(ITEM, "accepted", 0, OTHER))
    with world.uow as uow:
        SERVICE.answer_connection_request(uow.as_postgres(), actor(), ITEM, accept=True, reason=None)
    assert world.log.committed_events == [] and world.log.exits_without_commit == 1
