"""Credit amounts, ledger keys, the intro flows' refusals and the event catalogue's payloads, pinned
(decisions B8, B17, B19, B20; agents.md §12, §15; platform.md §4.1). Each value here is one a member
sees, a ledger row stores or a consumer reads by name."""

from __future__ import annotations

from uuid import UUID

import pytest

from shared.domain import credits, intros
from shared.domain.events import (
    COMMUNITY_REQUEST_NEEDED,
    PROSPECT_RESEARCH_NEEDED,
    PROSPECTS_BATCH_UPLOADED,
    SOLUTION_RESEARCH_CANCELLED,
    SOLUTION_RESEARCH_NEEDED,
    CommunityRequestNeeded,
    Event,
    IntroFlowChanged,
    ProspectResearchNeeded,
    ProspectsBatchUploaded,
    SolutionResearchCancelled,
    SolutionResearchNeeded,
)

A = UUID("00000000-0000-0000-0000-00000000000a")
B = UUID("00000000-0000-0000-0000-00000000000b")
C = UUID("00000000-0000-0000-0000-00000000000c")

# --- credits (decisions B8) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usefulness", "paid"),
    [(1, 0), (6, 0), (7, 15), (8, 25), (9, 35), (10, 45)],
)
def test_an_expert_answer_pays_nothing_below_seven_then_fifteen_plus_ten_a_point(usefulness, paid):
    assert credits.expert_answer_credits(usefulness) == paid


@pytest.mark.parametrize("usefulness", [0, 11, -1])
def test_a_usefulness_outside_one_to_ten_is_refused_with_the_range(usefulness):
    with pytest.raises(ValueError) as info:
        credits.expert_answer_credits(usefulness)
    assert str(info.value) == f"usefulness must be 1-10, not {usefulness}"


def test_the_fixed_amounts_and_the_defaults_of_the_bounties():
    assert credits.prospect_conversion_credits() == 25
    assert credits.intro_opportunity_bounty(None) == 50
    assert credits.intro_opportunity_bounty(0) == 0  # an explicit bounty, even 0, is the opportunity's own
    assert credits.intro_opportunity_bounty(120) == 120
    assert credits.intro_offer_bounty(None) == 25
    assert credits.intro_offer_bounty(0) == 0
    assert credits.intro_offer_bounty(40) == 40


def test_each_fact_has_its_own_idempotency_key():
    assert credits.community_response_key(A) == f"community_response_{A}"
    assert credits.intro_completed_key(A, B) == f"intro_completed_{A}_{B}"
    assert credits.intro_offer_confirmed_key(A, B) == f"intro_offer_confirmed_{A}_{B}"
    assert credits.prospect_converted_key(A, B) == f"prospect_converted_{A}_{B}"
    assert credits.credit_purchase_key("cs_test_123") == "credit_purchase_cs_test_123"
    assert credits.operator_adjustment_key(A) == f"operator_adjustment_{A}"


# --- intro refusals (agents.md §12) ----------------------------------------------------------------


def test_an_item_that_is_not_the_members_is_refused_as_not_theirs():
    refusal = intros.refusal(intros.INTRO_OFFER, None)
    assert isinstance(refusal, intros.NotYours) and isinstance(refusal, LookupError)
    assert str(refusal) == "no intro offer addressed to this member has that id"


def test_an_item_no_longer_waiting_is_refused_with_its_status_and_nothing_changed():
    refusal = intros.refusal(intros.CONNECTION_REQUEST, "pending_connector_confirmation")
    assert isinstance(refusal, intros.NotOpen) and isinstance(refusal, ValueError)
    assert str(refusal) == "that connection request is pending connector confirmation; nothing changed"


@pytest.mark.parametrize(
    ("status", "reads_as"),
    [
        ("open", "expired"),
        ("presented", "expired"),
        ("clarifying", "expired"),
        ("pending_introducee_response", "expired"),
        ("pending_connector_confirmation", "expired"),
        ("accepted", "accepted"),
        ("completed", "completed"),
        ("declined", "declined"),
    ],
)
def test_a_row_open_by_status_but_past_its_date_reads_as_expired(status, reads_as):
    assert intros.closed_status(status) == reads_as


def test_the_followup_question_names_the_other_member():
    assert intros.FOLLOWUP_QUESTION.format(name="Dana") == (
        "Quick check-in on your intro with Dana: did you two meet? Reply yes or no."
    )


def test_every_followup_question_opens_as_the_offline_rules_read_it():
    """The Concierge reads a yes or no as the check-in's answer when its last text opens so."""
    for text in (
        intros.FOLLOWUP_QUESTION.format(name="Dana"),
        intros.FOLLOWUP_OFFER_CONNECTOR.format(introducee="Dana", prospect="Jim"),
        intros.FOLLOWUP_OFFER_INTRODUCEE.format(prospect="Jim", connector="Ana"),
    ):
        assert text.startswith(intros.FOLLOWUP_OPENING)


# --- the event catalogue ---------------------------------------------------------------------------


def test_a_community_request_event_carries_every_field_by_its_agreed_name():
    event = CommunityRequestNeeded(
        requesting_agent_type="concierge",
        requesting_user_id=A,
        context_id=B,
        context_type="conversation",
        question="Who knows SOC 2?",
        category="security",
        expertise_needed=("soc2", "audit"),
        requester_context="CISO at a fintech",
        desired_outcome="backchannel",
        urgency="high",
        request_summary="SOC 2 audit help",
    ).event()
    assert event == Event(
        event_type=COMMUNITY_REQUEST_NEEDED,
        aggregate_type="user",
        aggregate_id=A,
        payload={
            "requesting_agent_type": "concierge",
            "requesting_user_id": str(A),
            "user_id": str(A),
            "context_id": str(B),
            "context_type": "conversation",
            "question": "Who knows SOC 2?",
            "category": "security",
            "expertise_needed": ["soc2", "audit"],
            "requester_context": "CISO at a fintech",
            "desired_outcome": "backchannel",
            "urgency": "high",
            "request_summary": "SOC 2 audit help",
        },
        created_by="concierge",
        metadata={},
    )
    assert COMMUNITY_REQUEST_NEEDED == "community.request_needed"


def test_a_community_request_without_context_has_the_defaults():
    request = CommunityRequestNeeded(
        requesting_agent_type="innovator",
        requesting_user_id=A,
        context_id=None,
        context_type="conversation",
        question="q",
        category=None,
        expertise_needed=(),
    )
    payload = request.event().payload
    assert payload["context_id"] is None
    assert (payload["urgency"], payload["desired_outcome"], payload["requester_context"]) == (
        "medium",
        None,
        None,
    )
    assert payload["request_summary"] is None and payload["expertise_needed"] == []


def test_a_solution_research_event():
    event = SolutionResearchNeeded(
        requesting_agent_type="concierge",
        user_id=A,
        conversation_id=B,
        request_description="a CRM for 20 people",
        category="crm",
    ).event()
    assert event == Event(
        event_type=SOLUTION_RESEARCH_NEEDED,
        aggregate_type="user",
        aggregate_id=A,
        payload={
            "requesting_agent_type": "concierge",
            "user_id": str(A),
            "conversation_id": str(B),
            "request_description": "a CRM for 20 people",
            "category": "crm",
            "urgency": "medium",
        },
        created_by="concierge",
    )
    assert SOLUTION_RESEARCH_NEEDED == "user.inquiry.solution_needed"
    bare = SolutionResearchNeeded("innovator", A, None, "x").event().payload
    assert bare["conversation_id"] is None and bare["category"] is None


def test_an_intro_flow_event_names_the_row_and_members_but_no_contact_details():
    event = IntroFlowChanged(
        event_type="intro.offer_created",
        item_type="intro_offer",
        item_id=A,
        acting_user_id=B,
        acting_agent_type="concierge",
        status="pending_introducee_response",
        members={"offering_user_id": B, "introducee_user_id": C, "prospect_id": None},
        details={"bounty_credits": 25, "context_id": C, "context_type": "conversation"},
    ).event()
    assert event == Event(
        event_type="intro.offer_created",
        aggregate_type="intro_offer",
        aggregate_id=A,
        payload={
            "intro_offer_id": str(A),
            "user_id": str(B),
            "acting_agent_type": "concierge",
            "status": "pending_introducee_response",
            "offering_user_id": str(B),
            "introducee_user_id": str(C),
            "prospect_id": None,
            "bounty_credits": 25,
            "context_id": str(C),
            "context_type": "conversation",
        },
        created_by="concierge",
    )
    plain = IntroFlowChanged("intro.offer_created", "intro_offer", A, B, "concierge", "open").event()
    assert plain.payload == {
        "intro_offer_id": str(A),
        "user_id": str(B),
        "acting_agent_type": "concierge",
        "status": "open",
    }


def test_a_prospect_research_event_uses_the_social_butterflys_field_names():
    event = ProspectResearchNeeded(
        prospect_id=A, innovator_id=B, linkedin_url="https://linkedin.com/in/x", upload_batch_id=C
    ).event()
    assert event == Event(
        event_type=PROSPECT_RESEARCH_NEEDED,
        aggregate_type="prospect",
        aggregate_id=A,
        payload={
            "prospectId": str(A),
            "innovatorId": str(B),
            "researchType": "mutual_connections",
            "linkedinUrl": "https://linkedin.com/in/x",
            "upload_batch_id": str(C),
            "user_id": str(B),
        },
        created_by="prospect_upload",
    )
    assert PROSPECT_RESEARCH_NEEDED == "prospect.research_needed"


def test_a_batch_upload_event_counts_the_batch():
    event = ProspectsBatchUploaded(
        innovator_id=A, upload_batch_id=B, record_count=10, duplicates_skipped=2, research_needed=3
    ).event()
    assert event == Event(
        event_type=PROSPECTS_BATCH_UPLOADED,
        aggregate_type="innovator",
        aggregate_id=A,
        payload={
            "record_count": 10,
            "duplicates_skipped": 2,
            "research_needed": 3,
            "upload_batch_id": str(B),
            "innovator_id": str(A),
            "user_id": str(A),
        },
        created_by="prospect_upload",
    )
    assert PROSPECTS_BATCH_UPLOADED == "prospects.batch_uploaded"


def test_a_cancelled_research_event_names_what_to_cancel():
    event = SolutionResearchCancelled(
        requesting_agent_type="concierge", user_id=A, workflow_id=B, about="crm", community_request_ids=(C, B)
    ).event()
    assert event == Event(
        event_type=SOLUTION_RESEARCH_CANCELLED,
        aggregate_type="user",
        aggregate_id=A,
        payload={
            "requesting_agent_type": "concierge",
            "user_id": str(A),
            "workflow_id": str(B),
            "about": "crm",
            "community_request_ids": [str(C), str(B)],
        },
        created_by="concierge",
    )
    assert SOLUTION_RESEARCH_CANCELLED == "user.inquiry.solution_cancelled"
    everything = SolutionResearchCancelled("innovator", A).event().payload
    assert everything["workflow_id"] is None and everything["about"] is None
    assert everything["community_request_ids"] == []
