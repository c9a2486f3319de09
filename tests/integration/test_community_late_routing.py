"""Requests that asked no expert are routed later by the hourly job (``route_waiting_requests``).

Found on the local stack: Sofia asked "Does anyone here have experience with SOC 2 compliance
audits?" at 23:00 in Grace's time zone. Grace ("soc 2 compliance") was the match and in her quiet
hours, so the request asked nobody (``community.no_experts_found``, 2 candidates skipped) and
nothing ever asked again: it waited for its 7-day expiry while Sofia heard "nobody in the network
matches it yet". Decisions B18 says an expert is never asked in their quiet hours, not that they are
never asked; the same held for the one-ask-a-day cap and for a member who matches joining later.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import COMMUNITY_REQUEST_EXPIRY
from shared.service_layer import community
from tests.integration.test_community import (
    NOW,
    cloud_event,
    deliver_event,
    events,
    needed,
    person,
    requests,
    tasks,
)

pytestmark = pytest.mark.integration


def sweep(at: Any) -> community.LateRoutingReport:
    with PostgresUnitOfWork() as uow:
        report = community.route_waiting_requests(uow, now=at)
        uow.commit()
    return report


def asked(db: Any, request_id: UUID) -> list[UUID]:
    rows = db.execute(
        "SELECT expert_user_id FROM community_request_experts WHERE request_id = %s", [request_id]
    ).fetchall()
    return [r["expert_user_id"] for r in rows]


def test_an_expert_in_quiet_hours_is_asked_by_the_first_run_after_them(db: Any) -> None:
    asker = person(db, "Sofia")
    grace = person(db, "Grace", expertise=["soc 2 compliance"])
    db.execute("UPDATE users SET timezone = 'Asia/Tokyo' WHERE id = %s", [grace])  # 01:00 there at NOW
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(asker, expertise_needed=["soc 2 compliance"])))
    [request] = requests(db)
    assert request["target_user_ids"] == [] and events(db, community.NO_EXPERTS_FOUND)

    assert sweep(NOW + timedelta(hours=3)).as_dict() == {"examined": 1, "routed": 0, "experts": 0}  # 04:00
    assert sweep(NOW + timedelta(hours=7)).as_dict() == {"examined": 1, "routed": 1, "experts": 1}  # 08:00
    [request] = requests(db)
    assert request["target_user_ids"] == [grace] and asked(db, request["id"]) == [grace]
    [task] = tasks(db, community.REQUEST_AVAILABLE)
    assert task["user_id"] == grace and task["context_id"] == request["id"]
    [routed] = events(db, community.REQUEST_ROUTED)
    assert routed["payload"]["expert_user_ids"] == [str(grace)] and routed["payload"]["routed_late"]
    # asked once: the next run finds nothing waiting
    assert sweep(NOW + timedelta(hours=8)).as_dict() == {"examined": 0, "routed": 0, "experts": 0}
    assert len(tasks(db, community.REQUEST_AVAILABLE)) == 1


def test_experts_asked_that_day_are_asked_the_next(db: Any) -> None:
    experts = [person(db, "Ana", expertise=["payroll"]), person(db, "Ben", expertise=["payroll"])]
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(person(db, "A1"))))
    later = NOW + timedelta(hours=1)
    benefits = needed(person(db, "A2"), category="benefits")
    deliver_event(cloud_event(community.REQUEST_NEEDED, benefits), now=later)
    second = requests(db)[1]
    assert second["target_user_ids"] == []
    assert sweep(later).routed == 0  # still the same local day for both
    assert sweep(NOW + timedelta(days=1)).routed == 1
    assert set(asked(db, second["id"])) == set(experts)


def test_a_member_who_matches_and_joins_later_is_asked(db: Any) -> None:
    asker = person(db, "Asha")
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(asker, expertise_needed=["falconry"])))
    assert sweep(NOW).routed == 0
    unverified = person(db, "Hal", expertise=["falconry"], verified=False)
    assert sweep(NOW + timedelta(hours=1)).routed == 0  # not a member until approved
    db.execute("UPDATE users SET verified = true WHERE id = %s", [unverified])
    assert sweep(NOW + timedelta(hours=2)).routed == 1
    [request] = requests(db)
    assert request["target_user_ids"] == [unverified]


def test_the_asker_is_never_asked_and_closed_or_expired_requests_are_left(db: Any) -> None:
    asker = person(db, "Asha", expertise=["falconry"])
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(asker, expertise_needed=["falconry"])))
    assert sweep(NOW).as_dict() == {"examined": 1, "routed": 0, "experts": 0}  # only the asker matches
    person(db, "Hal", expertise=["falconry"])
    assert sweep(NOW + COMMUNITY_REQUEST_EXPIRY + timedelta(minutes=1)).examined == 0  # expired
    db.execute("UPDATE community_requests SET status = 'cancelled'")
    assert sweep(NOW + timedelta(hours=1)).examined == 0
