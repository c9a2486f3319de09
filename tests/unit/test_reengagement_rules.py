"""Re-engagement throttles, decision and rendering rules, freshness rules and routing (no I/O).

Every throttle boundary is tested on both sides (decisions B5, agents.md §4.8)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import registry, routing
from shared.adapters.llm import LlmUnavailable
from shared.adapters.repositories import Priority
from shared.agents.concierge import reengagement as decision
from shared.agents.concierge import render
from shared.domain.constants import (
    RE_ENGAGEMENT_MIN_GAP,
    RE_ENGAGEMENT_OVERRIDE_SCORE,
    RE_ENGAGEMENT_PAUSE_AFTER_UNANSWERED,
    RE_ENGAGEMENT_PAUSE_WINDOW,
)
from shared.domain.reengagement import (
    Paused,
    Proceed,
    SentReEngagement,
    Throttled,
    check_throttles,
    clamp_extend_days,
    unanswered_streak,
)
from shared.domain.reply_guards import check_reply
from shared.service_layer.freshness import (
    LlmFreshnessClassifier,
    NewerMessage,
    QueuedForCheck,
    rule_classify,
)
from tests.fakes.llm import ScriptedLlm, ScriptedReply

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def sent(ago: timedelta, *, answered: bool = False) -> SentReEngagement:
    return SentReEngagement(at=NOW - ago, answered=answered)


def throttle(*sends: SentReEngagement, paused: bool = False, resumed_at: Any = None, top: Any = None) -> Any:
    return check_throttles(now=NOW, sends=list(sends), paused=paused, resumed_at=resumed_at, top_score=top)


# --- 7-day gap ---------------------------------------------------------------------------------


def test_no_earlier_reengagement_proceeds():
    assert throttle() == Proceed()


def test_seven_day_gap_boundary_both_sides():
    just_inside = throttle(sent(RE_ENGAGEMENT_MIN_GAP - SECOND))
    assert isinstance(just_inside, Throttled)
    assert just_inside.retry_at == NOW + SECOND  # 7 days after the last one
    assert throttle(sent(RE_ENGAGEMENT_MIN_GAP)) == Proceed()  # exactly 7 days: allowed


def test_override_needs_a_score_strictly_above_90():
    recent = sent(timedelta(days=1))
    assert isinstance(throttle(recent, top=RE_ENGAGEMENT_OVERRIDE_SCORE), Throttled)
    assert throttle(recent, top=RE_ENGAGEMENT_OVERRIDE_SCORE + 0.01) == Proceed(override=True)
    assert isinstance(throttle(recent, top=None), Throttled)


# --- 3 unanswered in 90 days -------------------------------------------------------------------


def test_pause_after_three_unanswered_not_after_two():
    two = [sent(timedelta(days=d)) for d in (15, 30)]  # spaced past the backoff (14 days after 2)
    three = [sent(timedelta(days=d)) for d in (10, 20, 30)]
    assert throttle(*two) == Proceed()
    assert throttle(*three) == Paused(unanswered=RE_ENGAGEMENT_PAUSE_AFTER_UNANSWERED, newly=True)


def test_an_answered_reengagement_resets_the_streak():
    sends = [sent(timedelta(days=15)), sent(timedelta(days=25)), sent(timedelta(days=30), answered=True)]
    sends.append(sent(timedelta(days=40)))
    assert unanswered_streak(sends, now=NOW, since=None) == 2
    assert throttle(*sends) == Proceed()


def test_the_ninety_day_window_boundary_both_sides():
    recent = [sent(timedelta(days=35)), sent(timedelta(days=50))]  # past the backoff (30 days after 3)
    assert isinstance(throttle(*recent, sent(RE_ENGAGEMENT_PAUSE_WINDOW)), Paused)  # on the edge: counted
    assert throttle(*recent, sent(RE_ENGAGEMENT_PAUSE_WINDOW + SECOND)) == Proceed()  # outside: not


def test_the_pause_is_never_overridden_even_by_a_critical_priority():
    three = [sent(timedelta(days=d)) for d in (1, 20, 30)]
    assert isinstance(throttle(*three, top=99), Paused)
    assert throttle(paused=True, top=100) == Paused(unanswered=0, newly=False)


def test_sends_before_a_resume_no_longer_count():
    three = [sent(timedelta(days=d)) for d in (30, 40, 50)]
    assert throttle(*three, resumed_at=NOW - timedelta(days=35)) == Proceed()
    assert isinstance(throttle(*three, resumed_at=NOW - timedelta(days=51)), Paused)


def test_extend_days_is_held_to_30_90():
    assert [clamp_extend_days(d) for d in (0, 29, 30, 60, 90, 91, 400)] == [30, 30, 30, 60, 90, 90, 90]


# --- The decision ---------------------------------------------------------------------------------


def priority(score: float | None, *, summary: str = "Intro Pat Lee at Globex", shown: Any = None) -> Priority:
    return Priority(
        id=uuid.uuid4(),
        priority_rank=1,
        item_type="intro_opportunity",
        item_id=uuid.uuid4(),
        value_score=score,
        status="active",
        presentation_count=0 if shown is None else 1,
        last_presented_at=shown,
        item_summary=summary,
        item_primary_name=None,
        item_secondary_name=None,
        item_context=None,
    )


def data(*priorities: Priority) -> decision.ReEngagementInput:
    return decision.ReEngagementInput(user_id=uuid.uuid4(), agent="concierge", now=NOW, priorities=priorities)


def test_offline_rules_message_about_at_most_two_high_value_threads_of_the_top_three():
    top = [priority(95), priority(80), priority(75), priority(99)]  # the 4th is never considered
    result = decision.offline_decision(data(*top))
    assert result.should_message and [p.value_score for p in result.threads] == [95, 80]
    assert result.path == "rules" and result.structure == "sequence_2"


def test_offline_rules_skip_items_shown_this_week_and_extend_when_nothing_is_worth_it():
    shown = priority(95, shown=NOW - timedelta(days=2))
    assert not decision.offline_decision(data(shown)).should_message
    assert decision.offline_decision(data(priority(60))).extend_days == 30  # something, later
    assert decision.offline_decision(data(priority(20))).extend_days == 60  # nothing above 50
    assert decision.offline_decision(data()).extend_days == 60
    assert decision.offline_decision(data(priority(95, shown=NOW - timedelta(days=7)))).should_message


def test_the_llm_decision_is_held_to_known_threads_two_at_most_and_30_to_90_days():
    top = [priority(95), priority(80), priority(75)]
    llm = ScriptedLlm(
        ScriptedReply(
            tool_uses=[(decision.TOOL, {"should_message": True, "threads": ["t3", "t9", "t1", "t2"]})]
        )
    )
    result = decision.decide(llm, data(*top))
    assert result.path == "llm" and [p.value_score for p in result.threads] == [75, 95]
    request = llm.requests[0]
    assert request.force_tool == decision.TOOL and request.system == decision.SYSTEM  # the cached prefix
    assert str(top[0].item_id) not in request.messages[0]["content"]  # threads are keyed, not by id

    llm = ScriptedLlm(
        ScriptedReply(tool_uses=[(decision.TOOL, {"should_message": False, "extend_days": 200})])
    )
    assert decision.decide(llm, data(*top)).extend_days == 90
    llm = ScriptedLlm(ScriptedReply(tool_uses=[(decision.TOOL, {"should_message": True, "threads": ["t7"]})]))
    assert not decision.decide(llm, data(*top)).should_message  # nothing real to talk about


def test_llm_down_or_nonsense_falls_back_to_the_rules():
    assert decision.decide(ScriptedLlm(LlmUnavailable("down")), data(priority(95))).path == "rules"
    assert decision.decide(ScriptedLlm(ScriptedReply(text="sure")), data(priority(95))).path == "rules"
    assert decision.decide(None, data(priority(95))).path == "rules"


# --- Rendering ------------------------------------------------------------------------------------


def request(message_data: dict[str, Any]) -> render.RenderRequest:
    return render.RenderRequest(user_id=uuid.uuid4(), agent="concierge", message_data=message_data)


THREADS = {
    "kind": "re_engagement",
    "threads": [{"item_type": "intro_opportunity", "summary": "Intro Pat Lee at Globex"}],
}


def test_the_template_says_only_what_the_data_says():
    text = render.template(THREADS)
    assert text is not None and "Intro Pat Lee at Globex" in text
    two = {"threads": [{"summary": "Intro Pat Lee at Globex"}, {"summary": "Dana Wu wants to meet you"}]}
    assert "Dana Wu wants to meet you" in (render.template(two) or "")
    assert render.template({"kind": "re_engagement", "threads": []}) is None
    assert render.template({"update": "Your research is ready."}) == "Your research is ready."


def test_render_uses_the_llm_draft_when_it_passes_the_guards():
    llm = ScriptedLlm(
        ScriptedReply(text="Pat Lee at Globex is still open for an intro. Want me to set it up?")
    )
    rendered = render.render(llm, request(THREADS))
    assert rendered is not None and rendered.path == "llm" and "Pat Lee" in rendered.text
    assert llm.requests[0].call_kind == "render" and llm.requests[0].system == render.SYSTEM


def test_an_invented_person_is_regenerated_once_then_replaced_by_the_template():
    llm = ScriptedLlm(
        ScriptedReply(text="Brian Martinez at Roku wants to meet you."),
        ScriptedReply(text="I found 3 platforms for you at https://evil.example.com/x"),
    )
    rendered = render.render(llm, request(THREADS))
    assert rendered is not None and rendered.path == "template"
    assert "Brian" not in rendered.text and rendered.violations
    assert len(llm.requests) == 2


def test_render_without_llm_uses_the_template_and_nothing_sendable_is_none():
    assert render.render(None, request(THREADS)) is not None
    assert render.render(None, request({"kind": "re_engagement"})) is None


# --- Freshness ------------------------------------------------------------------------------------


def queued(**fields: Any) -> QueuedForCheck:
    return QueuedForCheck(
        queue_ids=(uuid.uuid4(),),
        user_id=uuid.uuid4(),
        created_at=NOW,
        message_data=fields.get("message_data", THREADS),
        final_message=fields.get("final_message"),
        agent_id=fields.get("agent_id", "concierge_reengagement"),
    )


def newer(*texts: str) -> list[NewerMessage]:
    return [NewerMessage(content=t, created_at=NOW + timedelta(minutes=n)) for n, t in enumerate(texts, 1)]


@pytest.mark.parametrize(
    "text", ["never mind, we already found a vendor", "No longer need this", "please stop asking about it"]
)
def test_rules_call_a_withdrawal_stale(text):
    assert not rule_classify(queued(), newer(text)).relevant


def test_rules_keep_a_message_when_the_member_just_talked_about_something_else():
    assert rule_classify(queued(), newer("Also, who do you know at Stripe?")).relevant


def test_the_llm_classifies_and_stale_means_not_relevant():
    llm = ScriptedLlm(
        ScriptedReply(
            tool_uses=[("classify_freshness", {"classification": "STALE", "reason": "topic changed"})]
        )
    )
    verdict = LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("Different topic entirely"))
    assert not verdict.relevant and verdict.reason.startswith("stale")
    assert len(verdict.reason) <= 100
    assert llm.requests[0].agent == "concierge" and llm.requests[0].call_kind == "freshness"
    llm = ScriptedLlm(ScriptedReply(tool_uses=[("classify_freshness", {"classification": "CONTEXTUAL"})]))
    assert LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("hm")).relevant


def test_freshness_falls_back_to_the_rules_without_llm_or_when_it_fails():
    stale = newer("never mind")
    assert not LlmFreshnessClassifier(lambda: None).classify(queued(), stale).relevant
    down = ScriptedLlm(LlmUnavailable("down"))
    verdict = LlmFreshnessClassifier(lambda: down).classify(queued(), stale)
    assert not verdict.relevant and verdict.reason.startswith("rules")


# --- Routing, derived from the registry -------------------------------------------------------------


def test_reengagement_checks_go_to_the_members_own_point_of_contact():
    assert {a.key for a in registry.agents_declaring("task", "re_engagement_check")} >= {
        "concierge",
        "innovator",
    }
    assert (
        routing.route_task("system", "re_engagement_check", True, "concierge").function == "agent_concierge"
    )
    assert (
        routing.route_task("system", "re_engagement_check", True, "innovator").function == "agent_innovator"
    )
    assert routing.route_task("system", "re_engagement_check", False, None).function == "agent_bouncer"
    with pytest.raises(routing.NoRoute):
        routing.route_task("system", "re_engagement_check", None, None)


def test_priority_update_goes_to_the_point_of_contact_and_is_nothing_for_the_bouncer():
    assert routing.route_event("priority.update", True, "concierge").function == "agent_concierge"  # type: ignore[union-attr]
    assert routing.route_event("priority.update", True, "innovator").function == "agent_innovator"  # type: ignore[union-attr]
    assert routing.route_event("priority.update", False, None) is None
    assert "priority.update" not in routing.RECORD_ONLY_EVENTS


LONG_QUESTION = "Any recommendations for a fundraising advisor for our Series B? We close in the spring."


def test_an_expert_is_asked_the_whole_question_and_the_template_passes_the_guards() -> None:
    """Found on the local stack: the template quoted the priority's 60-character summary,
    "... for our Serie…", and the guards refused it ("Reply" after the ellipsis read as a company),
    so the expert was never asked."""
    data = {
        "kind": "re_engagement",
        "structure": "single",
        "threads": [
            {
                "item_type": "community_request",
                "question": LONG_QUESTION,
                "summary": "Any recommendations for a fundraising advisor for our Serie…",
                "context": "expert input needed",
            }
        ],
    }
    text = render.template(data)
    assert text == (
        f"A member asked something you may know about: {LONG_QUESTION} Reply with your answer, or 'pass'."
    )
    assert check_reply([text], render.guard_context(data)) == []


def test_a_summary_cut_with_an_ellipsis_still_passes_the_guards() -> None:
    data = {
        "kind": "re_engagement",
        "structure": "single",
        "threads": [
            {
                "item_type": "community_request",
                "summary": "Any recommendations for a fundraising advisor for our Serie…",
            }
        ],
    }
    text = render.template(data)
    assert text is not None and text.endswith("Reply with your answer, or 'pass'.")
    assert check_reply([text], render.guard_context(data)) == []


def test_a_sequence_part_keeps_a_questions_question_mark() -> None:
    data = {
        "kind": "re_engagement",
        "structure": "sequence_2",
        "part": "primary",
        "threads": [{"item_type": "community_request", "question": "Which payroll provider?"}],
    }
    assert render.template(data) == "Following up on this: Which payroll provider?"
    data["part"] = "secondary"
    assert render.template(data) == (
        "Also open for you: Which payroll provider? Reply about either and I'll take it from there."
    )
