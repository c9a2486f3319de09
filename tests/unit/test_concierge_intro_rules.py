"""The Concierge's rules around the item presented last (issue 16 §1 the expert's side, §6 offline brain):
the offline plan for each rule, its honest reply, and the decision step's answer check, on fakes only."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from shared.adapters.repositories import OpenFollowUp, Priority
from shared.agents.concierge import fallback as brain
from shared.agents.concierge.agent import ConciergeAgent
from shared.agents.concierge.decision import ConciergeDecision, FollowUpAnswerArgs
from shared.agents.concierge.state import ConciergeTurn, ConciergeTurnState, MemberContext
from shared.agents.concierge.tools import concierge_tools
from shared.agents.conversation.protocol import ToolResult, Turn
from shared.domain.member_intents import IntentKind, read_intent, read_intents, read_yes_no, split_prospect

ITEM = str(uuid.uuid4())
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def plan(text: str, item_type: str | None, *, summary: str = "", role: str | None = None) -> list[Any]:
    presented = brain.Presented(item_type, ITEM, summary, role) if item_type else None
    intents = [i for i in read_intents([text]) if i.kind is not IntentKind.OTHER]
    return brain.plan(intents, goal_text=None, texts=[text], presented=presented)


# --- reading the member ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("I know someone at Stripe", "someone at Stripe"),
        ("I can intro you to Jim Park at Stripe", "Jim Park at Stripe"),
        ("let me connect you with Dana from Acme.", "Dana from Acme"),
        ("Happy to introduce you to the CTO there", "CTO there"),
        ("Yes, I know Tony", "Tony"),
    ],
)
def test_offers_to_introduce_are_read(text, topic):
    intent = read_intent(text)
    assert (intent.kind, intent.topic) == (IntentKind.OFFER_INTRO, topic)


@pytest.mark.parametrize("text", ["I know, right?", "I know Vanta is good", "Do you know anyone at Stripe?"])
def test_what_is_not_an_offer(text):
    assert read_intent(text).kind is not IntentKind.OFFER_INTRO


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("yes", True),
        ("Yes, I know Tony", True),
        ("sure, I'd like to meet them", True),
        ("sounds good!", True),
        ("no thanks", False),
        ("nope", False),
        ("not interested.", False),
        ("no, I can't do it after all", False),
        ("maybe later?", None),
        ("yesterday was busy", None),
        ("know what, never mind", None),
    ],
)
def test_yes_and_no(text, answer):
    assert read_yes_no(text) is answer


def test_split_prospect():
    assert split_prospect("Jim Park at Stripe") == ("Jim Park", "Stripe")
    assert split_prospect("someone at Stripe") == ("someone at Stripe", "Stripe")
    assert split_prospect("Tony") == ("Tony", None)
    # found on the local stack: the company was "Pictet who runs their family office desk"
    assert split_prospect("someone at Pictet who runs their family office desk") == (
        "someone at Pictet who runs their family office desk",
        "Pictet",
    )
    assert split_prospect("Jim Park at Stripe, their payments lead") == ("Jim Park", "Stripe")
    assert split_prospect("Jan de Vries at Procter and Gamble") == ("Jan de Vries", "Procter and Gamble")
    assert split_prospect("Ana at Johnson & Johnson") == ("Ana", "Johnson & Johnson")


# --- the offline plan ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "item_type", "role", "expected"),
    [
        ("Yes, I know Tony", "intro_opportunity", None, ("accept_intro_opportunity", "intro_opportunity_id")),
        ("no thanks", "intro_opportunity", None, ("decline_intro_opportunity", "intro_opportunity_id")),
        ("sure, I'd like to meet them", "connection_request", None, ("accept_connection_request", None)),
        ("not interested", "connection_request", None, ("decline_connection_request", None)),
        ("yes please", "intro_offer", "introducee", ("accept_intro_offer", "intro_offer_id")),
        ("no", "intro_offer", "introducee", ("decline_intro_offer", "intro_offer_id")),
        ("yes", "intro_offer", "connector", ("confirm_intro_offer", "intro_offer_id")),
        ("no, I can't do it", "intro_offer", "connector", ("decline_intro_offer", "intro_offer_id")),
    ],
)
def test_yes_or_no_answers_the_item_presented_last(text, item_type, role, expected):
    [(name, args)] = plan(text, item_type, role=role)
    assert name == expected[0]
    assert list(args.values()) == [ITEM]


def test_an_expert_answer_is_recorded_in_their_words():
    answer = "We used Drata, about ten weeks end to end"
    assert plan(answer, "community_request") == [
        ("record_community_response", {"request_id": ITEM, "response_text": answer})
    ]


@pytest.mark.parametrize(
    ("text", "recorded"), [("pass", "pass"), ("ask Dana Kim", "ask Dana Kim"), ("no", "pass")]
)
def test_an_expert_pass_or_referral_goes_to_the_community_service(text, recorded):
    assert plan(text, "community_request") == [
        ("record_community_response", {"request_id": ITEM, "response_text": recorded})
    ]


@pytest.mark.parametrize(
    "text",
    [
        "ok thanks",
        "yes",
        "what is this about?",
        "yes, happy to help",
        "yes I can help with that",
        "Yes! I'd be happy to share what we learned there",
        "sure, I know this area well",
    ],
)
def test_a_short_reply_or_a_question_is_not_an_expert_answer(text):
    assert plan(text, "community_request") == []


@pytest.mark.parametrize(
    "texts",
    [
        ["what kind of goods are they shipping? and by truck or rail?"],
        ["what stage is the company?", "and which country?"],
        ["what is this about?"],
    ],
)
def test_a_question_back_from_an_expert_gets_the_question_as_asked(texts):
    """Found on the local stack: Leo, asked about freight into Mexico, asked back what goods and by
    truck or rail, and got "Got it. ... tell me what you need"."""
    summary = "any advice on freight operations for cross-border shipments into Mexico?"
    presented = brain.Presented("community_request", ITEM, summary)
    intents = [i for i in read_intents(texts) if i.kind is not IntentKind.OTHER]
    assert brain.plan(intents, goal_text=None, texts=texts, presented=presented) == []
    assert brain.render([], intents, texts=texts, presented=presented) == [
        f'I only have the question as the member asked it: "{summary}" If you know the area, text me your '
        "answer as it stands (what it depends on helps), or reply 'pass'."
    ]


def test_a_question_back_needs_a_question_asked_of_them_and_a_question():
    presented = brain.Presented("community_request", ITEM, "a VP of Marketing to hire")
    said = brain.render([], [], texts=["what stage?"], presented=presented)
    assert said[0].startswith('I only have the question as the member asked it: "a VP of Marketing to hire."')
    intro = brain.Presented("connection_request", ITEM, "Sam would like to meet you")
    assert brain.render([], [], texts=["who is Sam?"], presented=intro) == [brain.HONEST_ACK]
    assert brain.render([], [], texts=["let me think about it"], presented=presented) == [brain.HONEST_ACK]
    assert brain.render([], [], texts=["what is this about?"]) == [brain.ABOUT_US]


@pytest.mark.parametrize(
    "answer",
    [
        # found on the local stack: this got "Go ahead: text me your answer ...", a bare yes's reply
        "Yes, I ran ops at a forwarder there for 6 years. Happy to share which carriers are reliable "
        "and how customs clearance works at the port.",
        "yes, we used Gusto for three years and it handled multi-state payroll well",
        "No, but we used DHL in Rotterdam and they were fast and cheap",
    ],
)
def test_a_yes_or_no_that_goes_on_to_answer_is_the_answer(answer):
    assert plan(answer, "community_request") == [
        ("record_community_response", {"request_id": ITEM, "response_text": answer})
    ]


@pytest.mark.parametrize(
    ("text", "recorded"),
    [
        ("no, sorry, not my area", "pass"),
        ("nope", "pass"),
        ("No thanks", "No thanks"),  # a pass in its own words: the Community service reads it
        ("not my area, sorry", "not my area, sorry"),
    ],
)
def test_a_no_without_a_but_is_a_pass(text, recorded):
    assert plan(text, "community_request") == [
        ("record_community_response", {"request_id": ITEM, "response_text": recorded})
    ]


@pytest.mark.parametrize("item_type", ["community_request", "connection_request"])
def test_i_know_someone_answering_a_request_is_an_intro_offer_for_it(item_type):
    [(name, args)] = plan("I know someone at Vanta", item_type)
    assert name == "offer_introduction"
    assert args["context_type"] == item_type and args["context_id"] == ITEM
    assert (args["prospect_name"], args["prospect_company"]) == ("someone at Vanta", "Vanta")


def test_i_want_to_meet_is_never_an_intro_offer():
    [(name, args)] = plan("Do you know anyone at Stripe?", "community_request")
    assert name == "publish_community_request" and args["desired_outcome"] == "introduction"


def test_stop_asking_me_about_the_presented_item_declines_it_else_cancels_own_request():
    assert plan("stop asking me about the Roku intro", "intro_opportunity", summary="Intro Tony at Roku") == [
        ("decline_intro_opportunity", {"intro_opportunity_id": ITEM})
    ]
    assert plan("stop asking me about that", "connection_request") == [
        ("decline_connection_request", {"connection_request_id": ITEM})
    ]
    assert plan("stop asking me about SOC 2", "intro_opportunity", summary="Intro Tony at Roku") == [
        ("cancel_community_request", {"about": "SOC 2"})
    ]


def test_a_yes_with_nothing_presented_does_nothing():
    assert plan("yes", None) == []
    assert brain.render([], []) == [brain.HONEST_ACK]


# --- the honest reply ------------------------------------------------------------------------------------


def test_the_reply_acknowledges_only_what_succeeded():
    ok = ToolResult("accept_connection_request", True, {"connection_request": "accepted"})
    assert brain.render([ok], []) == ["Noted that you'd like to meet them."]
    failed = ToolResult(
        "accept_connection_request", False, {"error": "no connection request", "errorType": "failed"}
    )
    assert brain.render([failed], []) == [brain.TOOL_TROUBLE]
    offered = ToolResult("offer_introduction", True, {"intro_offer": "created", "prospect_name": "Jim Park"})
    [reply] = brain.render([offered], [])
    assert "Jim Park" in reply and "both sides agree" in reply
    refused = ToolResult(
        "record_community_response", True, {"community_response": "refused", "say": "Closed."}
    )
    assert brain.render([refused], []) == ["Closed."]


# --- the decision step's answer check (§4.6) --------------------------------------------------------------


def priority(item_type: str, *, presented_ago: timedelta | None) -> Priority:
    return Priority(
        id=uuid.uuid4(),
        priority_rank=1,
        item_type=item_type,
        item_id=uuid.uuid4(),
        value_score=80,
        status="presented" if presented_ago else "active",
        presentation_count=1 if presented_ago else 0,
        last_presented_at=NOW - presented_ago if presented_ago else None,
        item_summary=f"a {item_type}",
        item_primary_name=None,
        item_secondary_name=None,
        item_context=None,
    )


def turn(*priorities: Priority, text: str = "Drata, about ten weeks") -> ConciergeTurn:
    state = ConciergeTurnState(
        member=MemberContext(goal="SOC 2", goal_type=None, priorities=list(priorities))
    )
    inbound = [SimpleNamespace(id=uuid.uuid4(), role="user", content=text, created_at=NOW)]
    user = SimpleNamespace(credit_balance=40, first_name="Nina")
    ctx = SimpleNamespace(history=[], user_id=uuid.uuid4(), conversation_id=None, user=user)
    return Turn(ctx=cast(Any, ctx), uow=cast(Any, None), inbound=cast(Any, inbound), state=state, now=NOW)


def decision(**fields: Any) -> ConciergeDecision:
    return ConciergeDecision.model_validate({"next_scenario": "single_topic_response", **fields})


def test_an_answer_to_the_presented_request_is_recorded_by_code_against_that_request():
    request = priority("community_request", presented_ago=timedelta(hours=1))
    older = priority("intro_opportunity", presented_ago=timedelta(days=2))
    t = turn(older, request)
    calls = ConciergeAgent().actions(t, decision(answers_presented_request=True))
    assert calls == [
        (
            "record_community_response",
            {"request_id": str(request.item_id), "response_text": "Drata, about ten weeks"},
        )
    ]


def test_the_answer_check_is_dropped_when_the_last_presented_item_is_not_a_request():
    request = priority("community_request", presented_ago=timedelta(days=2))
    intro = priority("intro_opportunity", presented_ago=timedelta(hours=1))
    t = turn(request, intro)
    assert ConciergeAgent().actions(t, decision(answers_presented_request=True)) == []
    assert isinstance(t.decision, ConciergeDecision) and t.decision.answers_presented_request is False


def test_a_clarification_records_nothing():
    request = priority("community_request", presented_ago=timedelta(hours=1))
    calls = ConciergeAgent().actions(
        turn(request),
        decision(
            next_scenario="request_clarification",
            answers_presented_request=True,
            clarification_needed={
                "ambiguous_request": "x",
                "interpretations": [{"label": "a", "description": "a"}, {"label": "b", "description": "b"}],
            },
        ),
    )
    assert calls == []


def test_the_decision_guidance_names_the_last_presented_request():
    request = priority("community_request", presented_ago=timedelta(hours=1))
    guidance = ConciergeAgent().decision_guidance(turn(request))
    assert "LAST PRESENTED COMMUNITY REQUEST" in guidance and str(request.item_id) in guidance
    assert "25 credits" in guidance


def test_the_member_s_credit_balance_is_in_the_decision_context_and_the_reply_facts():
    """The model can answer "how many credits do I have?", and the reply guards, which read the
    decision context, let the number through."""
    t = turn()
    assert (
        "CREDIT BALANCE (say it only when the member asks): 40 credits"
        in ConciergeAgent().decision_guidance(t)
    )
    t.decision = decision()
    assert '"credit_balance_if_asked": 40' in ConciergeAgent().reply_guidance(t)


# --- a research follow-up question asked of the member (the Solution Saga's) --------------------------

WORKFLOW = uuid.uuid4()
FOLLOW_UP = OpenFollowUp(
    workflow_id=WORKFLOW,
    workflow_status="in_progress",
    request_description="SOC 2 automation",
    response_id=uuid.uuid4(),
    question="Do you have a contact at Vanta?",
    sent_at=NOW - timedelta(minutes=30),
)


def follow_up_turn(*priorities: Priority, text: str = "Dana Kim runs partnerships there") -> ConciergeTurn:
    t = turn(*priorities, text=text)
    assert t.state.member is not None
    t.state.member = replace(t.state.member, follow_up=FOLLOW_UP)
    return t


@pytest.mark.parametrize(
    "text",
    [
        "Dana Kim runs partnerships there",
        "Drata",
        "Yes, Dana Kim runs partnerships there.",
        "Not at Vanta, but I know their auditor well",
    ],
)
def test_a_reply_to_the_follow_up_question_asked_last_is_recorded_as_its_answer(text):
    assert plan(text, brain.FOLLOW_UP_QUESTION) == [
        ("record_follow_up_answer", {"workflow_id": ITEM, "answer_text": text})
    ]


@pytest.mark.parametrize(
    "text", ["yes", "No.", "sure thing", "pass", "ask Dana Kim", "STOP", "help", "Which Vanta team?"]
)
def test_a_keyword_a_bare_yes_or_no_a_pass_or_a_question_is_not_a_follow_up_answer(text):
    assert all(name != "record_follow_up_answer" for name, _ in plan(text, brain.FOLLOW_UP_QUESTION))


@pytest.mark.parametrize("text", ["yes", "No.", "nope", "Yep!", "sure thing", "not really"])
def test_a_bare_yes_or_no_answers_a_follow_up_question_that_a_yes_or_no_answers(text):
    assert plan(text, brain.FOLLOW_UP_QUESTION, summary=FOLLOW_UP.question) == [
        ("record_follow_up_answer", {"workflow_id": ITEM, "answer_text": text})
    ]


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("Which vendor did you pick?", "yes"),  # an open question: a yes says nothing
        ("Did you pick Drata or Vanta?", "yes"),  # alternatives
        ("Thanks for the answer. How long did the rollout take?", "no"),  # the last sentence asks
        ("Do you have a contact at Vanta?", "ok"),  # agrees to something; answers nothing
        ("Do you have a contact at Vanta?", "go ahead"),
        ("Do you have a contact at Vanta?", "no thanks"),  # a pass
        ("Do you have a contact at Vanta?", "STOP"),
    ],
)
def test_a_bare_reply_that_does_not_answer_the_follow_up_question_is_not_recorded(question, text):
    calls = plan(text, brain.FOLLOW_UP_QUESTION, summary=question)
    assert all(name != "record_follow_up_answer" for name, _ in calls)


def test_a_new_ask_of_their_own_is_not_a_follow_up_answer():
    [(name, _)] = plan("do you know anyone at Stripe?", brain.FOLLOW_UP_QUESTION)
    assert name == "publish_community_request"


def test_the_follow_up_is_what_was_presented_last_only_when_it_went_out_after_every_item():
    older = priority("community_request", presented_ago=timedelta(hours=2))
    t = follow_up_turn(older)
    assert t.state.member is not None and t.state.member.last_presented_follow_up == FOLLOW_UP
    assert ConciergeAgent()._presented(t) == brain.Presented(
        brain.FOLLOW_UP_QUESTION, str(WORKFLOW), FOLLOW_UP.question
    )
    newer = priority("community_request", presented_ago=timedelta(minutes=5))
    t = follow_up_turn(older, newer)
    assert t.state.member is not None and t.state.member.last_presented_follow_up is None
    presented = ConciergeAgent()._presented(t)
    assert presented is not None and presented.item_type == "community_request"
    assert ConciergeAgent()._presented(turn(older)) == brain.Presented(
        "community_request", str(older.item_id), "a community_request"
    )


def test_the_decision_guidance_names_the_open_follow_up_question_and_its_tool():
    guidance = ConciergeAgent().decision_guidance(follow_up_turn())
    assert "OPEN FOLLOW-UP QUESTION (the last thing asked of them;" in guidance
    assert f"workflow_id {WORKFLOW}: Do you have a contact at Vanta?" in guidance
    assert "record_follow_up_answer" in guidance
    later = priority("intro_opportunity", presented_ago=timedelta(minutes=1))
    assert "OPEN FOLLOW-UP QUESTION (asked earlier;" in ConciergeAgent().decision_guidance(
        follow_up_turn(later)
    )
    assert "OPEN FOLLOW-UP QUESTION" not in ConciergeAgent().decision_guidance(turn())


def test_the_follow_up_answer_tool_calls_the_saga_for_the_turns_member_and_the_reply_says_so():
    calls: list[dict[str, Any]] = []

    class Saga:
        def record_follow_up_answer(self, uow: Any, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            return {"status": "recorded", "workflow_id": str(kwargs["workflow_id"])}

    tool = concierge_tools()["record_follow_up_answer"]
    t = turn()
    args = FollowUpAnswerArgs(workflow_id=WORKFLOW, answer_text="Dana Kim")
    with pytest.raises(RuntimeError, match="not available"):
        tool.handler(t, args)
    t.state.saga = Saga()
    assert tool.handler(t, args) == {"follow_up_answer": "recorded", "workflow_id": str(WORKFLOW)}
    assert calls == [{"workflow_id": WORKFLOW, "expert_user_id": t.user_id, "answer": "Dana Kim", "now": NOW}]
    done = ToolResult("record_follow_up_answer", True, {"follow_up_answer": "recorded"})
    assert brain.render([done], []) == [brain.FOLLOW_UP_ACKS["recorded"]]
    again = ToolResult("record_follow_up_answer", True, {"follow_up_answer": "already_recorded"})
    assert brain.render([again], []) == [brain.FOLLOW_UP_ACKS["already_recorded"]]
