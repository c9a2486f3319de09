"""Concierge / Innovator re-engagement on a real database, on a controllable clock (decisions B5,
agents.md §4.8): the throttles at each boundary on both sides, the stored pause and the operator's
resume, the decision, priority.update, rendering and freshness in the orchestrator, and the
inbound Account Manager triggers."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from shared.adapters.llm import LlmUnavailable
from shared.adapters.tasks import create_task
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.concierge.render import PocRenderer
from shared.domain.constants import RE_ENGAGEMENT_FOLLOW_UP, RE_ENGAGEMENT_MIN_GAP
from shared.routing import route_task
from shared.service_layer.freshness import LlmFreshnessClassifier
from shared.service_layer.inbound_sms import InboundSms, record_inbound_sms
from shared.service_layer.orchestrate import run_tick
from tests.fakes.llm import ScriptedLlm, ScriptedReply
from tests.reengagement_support import (
    DAY,
    SECOND,
    T0,
    actions,
    add_priority,
    check,
    checks,
    logged_send,
    phone_of,
    priority_row,
    priority_update,
    queued,
    reachable_member,
    user_text,
)

pytestmark = pytest.mark.integration


def decide(**arguments: Any) -> ScriptedReply:
    return ScriptedReply(tool_uses=[("reengagement_decision", arguments)])


def test_a_check_queues_structured_threads_logs_the_send_presents_them_and_schedules_the_next(db):
    ana, conversation = reachable_member(db)
    item = add_priority(db, ana, 95)

    result = check(ana, T0)

    assert result["status"] == "queued" and result["path"] == "rules" and not result["override"]
    [row] = queued(db, ana)
    assert row["final_message"] is None and row["status"] == "queued"  # no ready prose: rendered at send
    assert row["message_data"]["kind"] == "re_engagement"
    assert row["message_data"]["threads"][0]["summary"] == "Intro Pat Lee at Globex"
    assert row["agent_id"] == "concierge_reengagement" and row["requires_fresh_context"]
    assert row["conversation_context_id"] == conversation
    [sent] = actions(db, ana, "re_engagement_message_sent")
    assert sent["created_at"] == T0 and sent["context_id"] == row["id"]
    assert priority_row(db, ana, item)["presentation_count"] == 1
    [presented] = actions(db, ana, "priority_presented")
    assert presented["input_data"]["how"] == "dedicated"
    [follow_up] = checks(db, ana)
    assert follow_up["scheduled_for"] == T0 + RE_ENGAGEMENT_FOLLOW_UP and follow_up["agent_type"] == "system"
    assert follow_up["context_json"]["priority_items"][0]["item_id"] == str(item)
    assert route_task("system", "re_engagement_check", True, "concierge").function == "agent_concierge"


def test_seven_day_gap_on_a_controllable_clock_both_sides(db):
    ana, _ = reachable_member(db)
    add_priority(db, ana, 80)
    logged_send(db, ana, T0)

    early = check(ana, T0 + RE_ENGAGEMENT_MIN_GAP - SECOND)

    assert early["status"] == "throttled"
    assert queued(db, ana) == []
    [retry] = checks(db, ana)
    assert retry["scheduled_for"] == T0 + RE_ENGAGEMENT_MIN_GAP
    assert retry["context_json"]["throttled"] is True and retry["context_json"]["reason"] == "7_day_limit"
    assert len(actions(db, ana, "re_engagement_throttled")) == 1
    assert len(actions(db, ana, "re_engagement_message_sent")) == 1  # nothing counted for the throttled one

    on_time = check(ana, T0 + RE_ENGAGEMENT_MIN_GAP)

    assert on_time["status"] == "queued" and len(queued(db, ana)) == 1


def test_a_priority_above_90_overrides_the_gap_and_exactly_90_does_not(db):
    ana, _ = reachable_member(db)
    item = add_priority(db, ana, 90)
    logged_send(db, ana, T0 - DAY)

    assert check(ana, T0)["status"] == "throttled"

    db.execute("UPDATE user_priorities SET value_score = 90.5 WHERE item_id = %s", (item,))
    result = check(ana, T0)
    assert result["status"] == "queued" and result["override"] is True
    assert actions(db, ana, "re_engagement_message_sent")[-1]["output_data"]["override"] is True


def test_three_unanswered_pause_is_stored_overrides_nothing_and_only_an_operator_resumes(
    db, ops_cli, monkeypatch
):
    from rich.console import Console

    from tools.ops import reengagement as ops_reengagement

    monkeypatch.setattr(ops_reengagement, "console", Console(width=250))
    ana, conversation = reachable_member(db)
    add_priority(db, ana, 99)
    for days in (30, 20, 10):
        logged_send(db, ana, T0 - timedelta(days=days))

    first = check(ana, T0)

    assert first == {"status": "paused", "unanswered": 3}
    state = db.execute("SELECT * FROM re_engagement_state WHERE user_id = %s", (ana,)).fetchone()
    assert state["paused_at"] == T0 and state["unanswered"] == 3
    assert checks(db, ana) == [] and queued(db, ana) == []  # no new task: manual override required
    # Even a reply now does not lift the stored pause; a critical priority does not either.
    user_text(db, ana, conversation, T0 + SECOND)
    assert check(ana, T0 + DAY)["status"] == "paused"
    assert len(actions(db, ana, "re_engagement_paused")) == 2

    listed = ops_cli("reengagement", "paused")
    assert listed.exit_code == 0 and str(ana) in listed.output
    resumed = ops_cli("reengagement", "resume", phone_of(db, ana), "--operator", "ops-test")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed" in resumed.output
    state = db.execute("SELECT * FROM re_engagement_state WHERE user_id = %s", (ana,)).fetchone()
    assert state["paused_at"] is None and state["resumed_by"] == "ops-test"
    assert len(checks(db, ana)) == 1  # the next check, now
    again = ops_cli("reengagement", "resume", str(ana))
    assert again.exit_code == 0 and "was not paused" in again.output
    assert ops_cli("reengagement", "resume", "not-a-member").exit_code == 1

    # Earlier sends no longer count; the 7-day gap since the last one (10 days ago) has passed.
    assert check(ana, T0 + 2 * DAY)["status"] == "queued"


def test_two_unanswered_or_an_answered_streak_does_not_pause(db):
    ana, conversation = reachable_member(db)
    add_priority(db, ana, 95)
    for days in (30, 20, 10):
        logged_send(db, ana, T0 - timedelta(days=days))
    user_text(db, ana, conversation, T0 - timedelta(days=25))  # answered the oldest one

    assert check(ana, T0)["status"] == "queued"
    assert db.execute("SELECT count(*) AS n FROM re_engagement_state").fetchone()["n"] == 0


def test_no_message_extends_by_the_llms_days_and_logs_nothing_as_sent(db):
    ana, _ = reachable_member(db)
    add_priority(db, ana, 95)
    llm = ScriptedLlm(decide(should_message=False, extend_days=45, reason="member said they are heads-down"))

    result = check(ana, T0, llm=llm)

    assert result == {"status": "no_message", "extend_days": 45, "path": "llm"}
    [next_check] = checks(db, ana)
    assert next_check["scheduled_for"] == T0 + timedelta(days=45)
    assert next_check["context_json"]["attemptCount"] == 2
    assert queued(db, ana) == [] and actions(db, ana, "re_engagement_message_sent") == []
    assert len(actions(db, ana, "re_engagement_deferred")) == 1
    request = llm.requests[0]
    assert (
        request.call_kind == "reengagement_decision"
        and "Intro Pat Lee at Globex" in request.messages[0]["content"]
    )


def test_the_llm_picks_the_threads_and_an_outage_falls_back_to_the_rules(db):
    ana, _ = reachable_member(db)
    add_priority(db, ana, 95, rank=1)
    second = add_priority(db, ana, 60, rank=2, summary="Dana Wu wants to meet you")
    result = check(ana, T0, llm=ScriptedLlm(decide(should_message=True, threads=["t2"])))
    assert result["status"] == "queued" and result["path"] == "llm"
    assert queued(db, ana)[0]["message_data"]["threads"][0]["summary"] == "Dana Wu wants to meet you"
    assert priority_row(db, ana, second)["presentation_count"] == 1

    bob, _ = reachable_member(db)
    add_priority(db, bob, 95)
    assert check(bob, T0, llm=ScriptedLlm(LlmUnavailable("overloaded")))["path"] == "rules"


def test_a_member_who_texted_since_the_task_was_created_is_skipped(db):
    ana, conversation = reachable_member(db)
    add_priority(db, ana, 95)
    with PostgresUnitOfWork() as uow:
        task_id = create_task(
            uow,
            task_type="re_engagement_check",
            agent_type="system",
            user_id=ana,
            scheduled_for=T0,
            priority="low",
            context_json={},
            created_by="test",
        )
        uow.commit()
    db.execute("UPDATE agent_tasks SET created_at = %s WHERE id = %s", (T0 - DAY, task_id))
    user_text(db, ana, conversation, T0 - DAY + SECOND)

    assert check(ana, T0, task_id=task_id) == {"status": "skipped", "reason": "user has responded"}
    assert queued(db, ana) == []


def test_unverified_or_opted_out_members_are_skipped(db):
    ana, _ = reachable_member(db)
    add_priority(db, ana, 95)
    db.execute("UPDATE users SET opted_out = true WHERE id = %s", (ana,))
    assert check(ana, T0)["status"] == "skipped"
    assert queued(db, ana) == []


def test_priority_update_schedules_one_check_for_the_point_of_contact(db):
    ana, _ = reachable_member(db, poc="innovator")
    item = add_priority(db, ana, 85)

    first = priority_update(ana, T0, max_score=85, items=[item])
    again = priority_update(ana, T0, max_score=88, items=[item])

    assert first["status"] == "scheduled" and again["status"] == "already_scheduled"
    [task] = checks(db, ana)
    assert task["agent_type"] == "system" and task["context_json"]["reason"] == "new_priority"
    assert route_task("system", "re_engagement_check", True, "innovator").function == "agent_innovator"
    # The check it scheduled runs the Innovator's re-engagement.
    result = check(ana, T0 + timedelta(minutes=1), task_id=task["id"], context=task["context_json"])
    assert result["status"] == "queued"
    assert queued(db, ana)[0]["agent_id"] == "innovator_reengagement"


# --- The orchestrator renders structured rows and checks their freshness --------------------------------


def tick(now: Any, *, llm: Any = None) -> Any:
    return run_tick(
        PostgresUnitOfWork,
        now=now,
        classifier=LlmFreshnessClassifier(lambda: llm),
        renderer=PocRenderer(lambda: llm),
    )


def test_the_point_of_contact_writes_the_prose_of_a_structured_row_with_the_template(db):
    ana, _ = reachable_member(db)
    add_priority(db, ana, 95)
    check(ana, T0)
    [row] = queued(db, ana)

    report = tick(row["scheduled_for"])

    assert report.sent_units == 1 and report.rendered_rows == 1
    row = queued(db, ana)[0]
    assert row["status"] == "sent" and "Intro Pat Lee at Globex" in row["final_message"]
    [message] = db.execute(
        "SELECT * FROM messages WHERE user_id = %s AND direction = 'outbound'", (ana,)
    ).fetchall()
    assert message["role"] == "concierge" and message["content"] == row["final_message"]
    assert "{" not in message["content"]  # never the raw data


def test_the_llm_writes_the_prose_and_an_invented_person_never_reaches_the_member(db):
    ana, _ = reachable_member(db)
    add_priority(db, ana, 95)
    check(ana, T0)
    [row] = queued(db, ana)
    llm = ScriptedLlm(
        ScriptedReply(text="Brian Martinez at Roku would love to meet you!"),
        ScriptedReply(text="Still keen on the intro to Pat Lee at Globex? Say the word and I'll set it up."),
    )

    tick(row["scheduled_for"], llm=llm)

    sent = queued(db, ana)[0]["final_message"]
    assert sent.startswith("Still keen on the intro to Pat Lee") and "Brian" not in sent
    assert [r.call_kind for r in llm.requests] == ["render", "render"]


def test_a_row_the_member_made_stale_is_superseded_not_sent(db):
    ana, conversation = reachable_member(db)
    add_priority(db, ana, 95)
    check(ana, T0)
    [row] = queued(db, ana)
    user_text(db, ana, conversation, row["created_at"] + SECOND, "never mind, we already hired someone")

    report = tick(row["scheduled_for"] + 20 * timedelta(minutes=1))

    assert report.superseded_units == 1 and report.sent_units == 0
    row = queued(db, ana)[0]
    assert row["status"] == "superseded" and row["superseded_reason"].startswith("rules")


def test_freshness_asks_the_llm_when_there_is_one(db):
    ana, conversation = reachable_member(db)
    add_priority(db, ana, 95)
    check(ana, T0)
    [row] = queued(db, ana)
    user_text(db, ana, conversation, row["created_at"] + SECOND, "btw who do you know at Stripe")
    verdict = {"classification": "CONTEXTUAL", "should_reformulate": True, "reason": "aside"}
    llm = ScriptedLlm(
        ScriptedReply(tool_uses=[("classify_freshness", verdict)]),
        ScriptedReply(
            text="Noted on Stripe, I will ask around. Still keen on the intro to Pat Lee at Globex?"
        ),
    )

    report = tick(row["scheduled_for"] + 20 * timedelta(minutes=1), llm=llm)

    assert report.sent_units == 1
    assert [r.call_kind for r in llm.requests] == ["freshness", "render"]
    # Reformulated: the point of contact wrote it with the member's newer text in view.
    assert "who do you know at Stripe" in llm.requests[1].messages[0]["content"]
    assert queued(db, ana)[0]["final_message"].startswith("Noted on Stripe")


# --- Inbound: the Account Manager reviews a member who texts (agents.md §6 triggers) ---------------------


def inbound(db: Any, user: Any, body: str) -> None:
    sms = InboundSms(from_number=phone_of(db, user), body=body, message_sid="SM" + uuid.uuid4().hex)
    with PostgresUnitOfWork() as uow:
        record_inbound_sms(sms, uow)


def reviews(db: Any, user: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = db.execute(
        "SELECT * FROM agent_tasks WHERE user_id = %s AND task_type = 'account_manager_review'"
        " ORDER BY created_at",
        (user,),
    ).fetchall()
    return rows


def test_goal_keywords_and_the_third_text_request_one_review_each_deduped(db):
    ana, _ = reachable_member(db)

    inbound(db, ana, "My goal is to close our seed round by March")
    inbound(db, ana, "also trying to hire a controller")
    assert [r["context_json"]["trigger"] for r in reviews(db, ana)] == ["explicit_mention"]  # one pending

    inbound(db, ana, "thanks")  # the 3rd text; the Account Manager never ran for Ana
    triggers = sorted(r["context_json"]["trigger"] for r in reviews(db, ana))
    assert triggers == ["explicit_mention", "initial_setup"]
    assert reviews(db, ana)[0]["context_json"]["message_id"]

    inbound(db, ana, "one more")
    assert len(reviews(db, ana)) == 2


def test_a_newcomer_with_the_bouncer_gets_no_review(db):
    user = db.execute(
        "INSERT INTO users (phone_number, verified, poc_agent_type) VALUES ('+14155559911', false, 'bouncer')"
        " RETURNING id"
    ).fetchone()["id"]
    for text in ("hi, my goal is to meet investors", "two", "three"):
        inbound(db, user, text)
    assert reviews(db, user) == []


def test_the_reengagement_message_data_is_json_without_prose(db):
    ana, _ = reachable_member(db)
    add_priority(db, ana, 95)
    check(ana, T0)
    data = queued(db, ana)[0]["message_data"]
    assert set(data) == {"kind", "structure", "threads"}
    assert json.dumps(data)  # plain JSON


# --- The real anthropic client against the loopback Messages API --------------------------------------


def test_decision_freshness_and_rendering_through_the_real_client(db, anthropic_fake):
    from tests.deps_support import composed_llm

    llm = composed_llm()  # the real adapter on the loopback fake, its calls in agent_actions_log
    ana, conversation = reachable_member(db)
    add_priority(db, ana, 95)
    anthropic_fake.tool_use(
        "reengagement_decision", {"should_message": True, "threads": ["t1"], "reason": "new"}
    )
    assert check(ana, T0, llm=llm)["path"] == "llm"
    [row] = queued(db, ana)
    user_text(db, ana, conversation, row["created_at"] + SECOND, "also, any good payroll vendors?")
    anthropic_fake.tool_use("classify_freshness", {"classification": "CONTEXTUAL", "reason": "side question"})
    anthropic_fake.reply("Still want the intro to Pat Lee at Globex? I can set it up this week.")

    report = tick(row["scheduled_for"] + 20 * timedelta(minutes=1), llm=llm)

    assert report.sent_units == 1
    assert queued(db, ana)[0]["final_message"].startswith("Still want the intro to Pat Lee")
    bodies = [r.body for r in anthropic_fake.requests]
    assert [b["tool_choice"]["name"] for b in bodies[:2]] == ["reengagement_decision", "classify_freshness"]
    assert all(b["system"][-1].get("cache_control") for b in bodies)  # the static prompt is the cached prefix
    kinds = [
        r["input_data"]["call_kind"]
        for r in db.execute(
            "SELECT input_data FROM agent_actions_log WHERE action_type = 'llm_call' AND user_id = %s"
            " ORDER BY created_at",
            (ana,),
        ).fetchall()
    ]
    assert kinds == ["reengagement_decision", "freshness", "render"]


# --- Bad input: a clear permanent error or a harmless no-op, nothing written twice ----------------------


def test_malformed_deliveries_are_permanent_errors_or_no_ops(db):
    from shared.service_layer.consumer import Delivery, PermanentError
    from shared.service_layer.reengagement import handle_priority_update, handle_reengagement_task
    from tests.deps_support import make_deps
    from tests.reengagement_support import task_delivery

    ana, _ = reachable_member(db)
    deps = make_deps(clock=lambda: T0)
    bad_context = task_delivery(ana)
    bad_context.data["context_json"] = ["not", "an", "object"]
    nobody = task_delivery(uuid.uuid4())
    no_user = Delivery(
        kind="event",
        id=uuid.uuid4(),
        type="priority.update",
        attempt=1,
        published_at=T0,
        data={"payload": {"userId": "not-a-uuid"}},
        attributes={},
        user_id=None,
    )
    for handler, delivery in (
        (handle_reengagement_task, bad_context),
        (handle_reengagement_task, nobody),
        (handle_priority_update, no_user),
    ):
        with PostgresUnitOfWork() as uow, pytest.raises(PermanentError):
            handler(delivery, uow, deps)

    garbage = Delivery(
        kind="event",
        id=uuid.uuid4(),
        type="priority.update",
        attempt=1,
        published_at=T0,
        data={
            "payload": {"userId": str(ana), "maxScore": "lots", "priorities": [{"itemType": "x"}, 7, None]}
        },
        attributes={},
        user_id=None,
    )
    with PostgresUnitOfWork() as uow:
        assert handle_priority_update(garbage, uow, deps)["status"] == "scheduled"  # type: ignore[index]
        uow.commit()
    [task] = checks(db, ana)
    assert "priority_items" not in task["context_json"] and task["context_json"]["maxScore"] == 0


def test_a_redelivered_check_writes_nothing_twice(db):
    from shared.service_layer.consumer import Delivery
    from shared.service_layer.reengagement import handle_reengagement_task
    from tests.deps_support import make_deps
    from tests.reengagement_support import task_delivery

    ana, _ = reachable_member(db)
    add_priority(db, ana, 95)
    delivery: Delivery = task_delivery(ana)
    with PostgresUnitOfWork() as uow:
        handle_reengagement_task(delivery, uow, make_deps(clock=lambda: T0))
        uow.commit()
    # The same task again (a retry after a lost acknowledgement): throttled, and the
    # follow-up it would schedule is the one already pending (same dedupe key).
    with PostgresUnitOfWork() as uow:
        again = handle_reengagement_task(delivery, uow, make_deps(clock=lambda: T0 + SECOND))
        assert again is not None and again["status"] == "throttled"  # the item above 90 was just shown
        uow.commit()
    assert len(queued(db, ana)) == 1 and len(actions(db, ana, "re_engagement_message_sent")) == 1
    assert len(checks(db, ana)) == 1
