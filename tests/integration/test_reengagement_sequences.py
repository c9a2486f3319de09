"""One re-engagement as 2-3 SMS (agents.md §4.8) and the extra loop protections (at most 5 in 90 days,
backoff 7 -> 14 -> 30 -> 60 -> 90 days) on real Postgres, on a controllable clock: the check queues
one sequence row per SMS, and the orchestrator has the point of contact write each and sends them
whole, counted once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.concierge.render import PocRenderer
from shared.service_layer.freshness import LlmFreshnessClassifier
from shared.service_layer.orchestrate import run_tick
from tests.integration.test_concierge import open_request
from tests.reengagement_support import (
    DAY,
    SECOND,
    T0,
    actions,
    add_priority,
    check,
    checks,
    logged_send,
    queued,
    reachable_member,
    user_text,
)

pytestmark = pytest.mark.integration


def tick(now: Any) -> Any:
    return run_tick(
        PostgresUnitOfWork,
        now=now,
        classifier=LlmFreshnessClassifier(lambda: None),
        renderer=PocRenderer(lambda: None),
    )


def two_threads(db: Any, user: Any) -> None:
    add_priority(db, user, 95, summary="Intro Pat Lee at Globex", rank=1)
    add_priority(db, user, 85, summary="Dana Wu wants to meet you", item_type="connection_request", rank=2)


def test_reassurance_update_and_opportunity_go_out_as_one_sequence_counted_once(db):
    ana, _ = reachable_member(db)
    open_request(db, ana, "Who do you use for SOC 2 automation?", "SOC 2 automation vendors")
    two_threads(db, ana)

    assert check(ana, T0)["status"] == "queued"

    rows = queued(db, ana)
    assert [r["message_data"]["part"] for r in rows] == ["reassurance", "update", "opportunity"]
    assert len({r["sequence_id"] for r in rows}) == 1 and rows[0]["sequence_id"] is not None
    assert sorted(r["sequence_position"] for r in rows) == [1, 2, 3]
    assert {r["sequence_total"] for r in rows} == {3}
    [sent_log] = actions(db, ana, "re_engagement_message_sent")  # one re-engagement, three SMS
    assert (sent_log["output_data"]["structure"], sent_log["output_data"]["parts"]) == ("sequence_3", 3)

    report = tick(max(r["scheduled_for"] for r in rows))

    assert report.sent_units == 1 and report.sent_rows == 3 and report.rendered_rows == 3
    sent = sorted(queued(db, ana), key=lambda r: r["sequence_position"])
    assert [r["status"] for r in sent] == ["sent"] * 3
    texts = [r["final_message"] for r in sent]
    assert "SOC 2 automation vendors" in texts[0]
    assert "Pat Lee" in texts[1] and "Dana Wu" in texts[2]
    outbound = db.execute(
        "SELECT content FROM messages WHERE user_id = %s AND direction = 'outbound'", (ana,)
    ).fetchall()
    assert sorted(m["content"] for m in outbound) == sorted(texts)
    assert all("{" not in t for t in texts)
    budget = db.execute("SELECT sum(messages_sent) AS n FROM user_message_budget WHERE user_id = %s", (ana,))
    assert budget.fetchone()["n"] == 1  # a sequence counts once against the daily budget


def test_two_threads_without_an_own_request_are_primary_then_secondary(db):
    ana, _ = reachable_member(db)
    two_threads(db, ana)
    check(ana, T0)
    assert [r["message_data"]["part"] for r in queued(db, ana)] == ["primary", "secondary"]


def test_one_thread_stays_one_sms(db):
    ana, _ = reachable_member(db)
    add_priority(db, ana, 95)
    check(ana, T0)
    [row] = queued(db, ana)
    assert row["sequence_id"] is None and "part" not in row["message_data"]


def test_the_backoff_after_two_unanswered_is_14_days_both_sides(db):
    ana, _ = reachable_member(db)
    add_priority(db, ana, 80)
    logged_send(db, ana, T0 - 30 * DAY)
    logged_send(db, ana, T0)  # two unanswered in a row: the next waits 14 days, not 7
    throttled = check(ana, T0 + 14 * DAY - SECOND)
    assert throttled == {
        "status": "throttled",
        "reason": "backoff",
        "retry_at": (T0 + 14 * DAY).isoformat(),
    }
    [retry] = checks(db, ana)
    assert retry["scheduled_for"] == T0 + 14 * DAY and retry["context_json"]["reason"] == "backoff"
    assert check(ana, T0 + 14 * DAY)["status"] == "queued"


def test_an_answer_brings_the_gap_back_to_7_days(db):
    ana, conversation = reachable_member(db)
    add_priority(db, ana, 80)
    logged_send(db, ana, T0 - 30 * DAY)
    user_text(db, ana, conversation, T0 - 29 * DAY)
    logged_send(db, ana, T0)
    assert check(ana, T0 + 7 * DAY)["status"] == "queued"


def test_a_sixth_reengagement_in_90_days_waits_for_the_oldest_to_leave_the_window(db):
    ana, conversation = reachable_member(db)
    add_priority(db, ana, 95)
    for n in range(5):  # five answered re-engagements, 15 days apart
        at = T0 - timedelta(days=80 - 15 * n)
        logged_send(db, ana, at)
        user_text(db, ana, conversation, at + DAY)
    capped = check(ana, T0 + 10 * DAY - SECOND)
    assert capped["status"] == "throttled" and capped["reason"] == "90_day_cap"
    assert capped["retry_at"] == (T0 + 10 * DAY).isoformat()  # the oldest (80 days ago) leaves then
    assert check(ana, T0 + 10 * DAY)["status"] == "queued"
