"""The Account Manager -> Concierge story on a real database (issue 10 e2e, agents.md §6, §13, §4.8):

a member asks the community -> the Account Manager writes the expert's priority and publishes
priority.update -> the expert's Concierge schedules a re-engagement check -> the check presents it
(dedicated, queued, rendered and sent by the orchestrator) and schedules the 7-day follow-up -> a
second presentation (a natural mention in a later turn) makes it dormant and cancels that
follow-up -> the Account Manager never brings it back.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.concierge.render import PocRenderer
from shared.agents.presentation import present_priority
from shared.domain.constants import RE_ENGAGEMENT_FOLLOW_UP
from shared.domain.send_policy import QuietHours
from shared.routing import route_event, route_task
from shared.service_layer.account_manager import handle_task
from shared.service_layer.consumer import Delivery
from shared.service_layer.freshness import LlmFreshnessClassifier
from shared.service_layer.orchestrate import run_tick
from shared.service_layer.reengagement import handle_priority_update
from tests.account_manager_support import community_request, live
from tests.deps_support import make_deps
from tests.fakes.llm import ScriptedLlm, ScriptedReply
from tests.reengagement_support import T0, check, checks, priority_row, queued, reachable_member

pytestmark = pytest.mark.integration

EVE_TZ = ZoneInfo("America/New_York")  # reachable_member's timezone
QUESTION = "How did you structure your first treasury policy?"


def am_task(user: Any, request: Any) -> Delivery:
    task_id = uuid.uuid4()
    return Delivery(
        kind="task",
        id=task_id,
        type="community_request_available",
        attempt=1,
        published_at=T0,
        data={
            "task_id": str(task_id),
            "task_type": "community_request_available",
            "user_id": str(user),
            "context_id": str(request),
            "context_json": {},
        },
        attributes={"kind": "task", "claim_token": str(uuid.uuid4())},
        user_id=user,
    )


def test_a_community_ask_becomes_a_priority_is_presented_twice_and_goes_dormant(db):
    ana, _ = reachable_member(db)
    eve, _ = reachable_member(db, expertise=("finance",))

    # 1. Ana asks the community; Eve is a matching expert.
    request = community_request(db, ana, [eve], question=QUESTION)

    # 2. The Account Manager scores the ask for Eve, writes her priority, publishes priority.update.
    llm = ScriptedLlm(ScriptedReply(tool_uses=[("score_items", {"scores": [{"key": "i1", "score": 88}]})]))
    with PostgresUnitOfWork() as uow:
        handle_task(am_task(eve, request), uow, make_deps(llm=llm, clock=lambda: T0))
        uow.commit()
    [item] = live(db, eve)
    assert (item["item_type"], item["item_id"], float(item["value_score"])) == (
        "community_request",
        request,
        88,
    )
    update = db.execute(
        "SELECT * FROM events WHERE event_type = 'priority.update' AND aggregate_id = %s", (eve,)
    ).fetchone()
    assert update is not None
    assert route_event("priority.update", True, "concierge").function == "agent_concierge"  # type: ignore[union-attr]

    # 3. Eve's Concierge takes priority.update: a re-engagement check, soon.
    delivery = Delivery(
        kind="event",
        id=update["id"],
        type="priority.update",
        attempt=1,
        published_at=T0,
        data={"event_type": "priority.update", "payload": update["payload"]},
        attributes={"kind": "event", "user_id": str(eve)},
        user_id=eve,
    )
    with PostgresUnitOfWork() as uow:
        assert handle_priority_update(delivery, uow, make_deps(clock=lambda: T0))["status"] == "scheduled"  # type: ignore[index]
        uow.commit()
    [task] = checks(db, eve)
    assert route_task(task["agent_type"], task["task_type"], True, "concierge").function == "agent_concierge"

    # 4. The check presents the ask (dedicated) in a queued message and schedules the 7-day follow-up.
    now = T0 + timedelta(minutes=1)
    result = check(eve, now, task_id=task["id"], context=task["context_json"])
    assert result["status"] == "queued"
    # The consumer completes the delivered task.
    db.execute("UPDATE agent_tasks SET status = 'completed' WHERE id = %s", (task["id"],))
    assert priority_row(db, eve, request)["presentation_count"] == 1
    assert priority_row(db, eve, request)["status"] == "presented"
    [follow_up] = checks(db, eve)
    assert follow_up["scheduled_for"] == now + RE_ENGAGEMENT_FOLLOW_UP
    assert follow_up["context_json"]["priority_items"][0]["item_id"] == str(request)

    # 5. The orchestrator hands the structured row to Eve's Concierge, which writes it; it is sent.
    #    A high row takes the next slot (agents.md §1) but quiet hours still hold at send time, so
    #    the tick runs at the first instant Eve's 22:00-08:00 window allows, whatever the wall clock.
    [row] = queued(db, eve)
    send_at, quiet = row["scheduled_for"], QuietHours()
    if quiet.contains(send_at, EVE_TZ):
        send_at = quiet.end_after(send_at, EVE_TZ)
    report = run_tick(
        PostgresUnitOfWork,
        now=send_at,
        classifier=LlmFreshnessClassifier(lambda: None),
        renderer=PocRenderer(lambda: None),
    )
    assert report.sent_units == 1
    assert "treasury policy" in queued(db, eve)[0]["final_message"]

    # 6. A later turn mentions it again ('natural'): the second strike makes it dormant and cancels
    #    the pending follow-up about it.
    with PostgresUnitOfWork() as uow:
        shown = present_priority(
            uow,
            agent="concierge",
            user_id=eve,
            item_type="community_request",
            item_id=str(request),
            how="natural",
            now=now + timedelta(days=1),
        )
        uow.commit()
    assert shown is not None and shown.status == "dormant" and shown.tasks_cancelled == 1
    assert checks(db, eve) == []
    [cancelled] = checks(db, eve, status="cancelled")
    assert cancelled["id"] == follow_up["id"] and cancelled["result_json"]["reason"] == "item_marked_dormant"
    assert priority_row(db, eve, request)["status"] == "dormant"

    # 7. The Account Manager leaves the dormant item out (no scoring call, not live again).
    with PostgresUnitOfWork() as uow:
        handle_task(
            am_task(eve, request), uow, make_deps(llm=ScriptedLlm(), clock=lambda: now + timedelta(days=2))
        )
        uow.commit()
    assert live(db, eve) == []
    assert priority_row(db, eve, request)["status"] == "dormant"
