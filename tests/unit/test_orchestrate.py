"""The orchestrator's use case with the in-memory store: freshness, opt-out, rendering, roles, locks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.repositories import QueueRow, SendProfile
from shared.domain.send_policy import QueuedPart
from shared.service_layer.freshness import AssumeRelevantClassifier, Freshness, NewerMessage, QueuedForCheck
from shared.service_layer.orchestrate import (
    ACTION_SEND_BUDGETED,
    ACTION_SEND_EXEMPT,
    render_body,
    role_for,
    run_tick,
)
from shared.service_layer.triggers import InvalidTrigger, parse_trigger
from tests.fakes.orchestrator import InMemoryOrchestratorStore

ASSUME_RELEVANT = AssumeRelevantClassifier()

NOW = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)  # 12:00 in New York


class StaleWhenUserMentions:
    """A deterministic classifier: stale when any newer message contains the word."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.seen: list[tuple[QueuedForCheck, list[str]]] = []

    def classify(self, queued: QueuedForCheck, newer: Sequence[NewerMessage]) -> Freshness:
        self.seen.append((queued, [m.content for m in newer]))
        if any(self.word in m.content for m in newer):
            return Freshness(relevant=False, reason=f"user moved on: {self.word}")
        return Freshness(relevant=True, reason="still relevant")


class BrokenClassifier:
    def classify(self, queued: QueuedForCheck, newer: Sequence[NewerMessage]) -> Freshness:
        raise RuntimeError("classifier down")


def make_store(**profile: Any) -> tuple[InMemoryOrchestratorStore, UUID]:
    store = InMemoryOrchestratorStore()
    uid = uuid4()
    fields: dict[str, Any] = {
        "id": uid,
        "phone_number": "+14155550100",
        "timezone": "America/New_York",
        "quiet_hours_start": None,
        "quiet_hours_end": None,
        "opted_out": False,
        "verified": True,
        "poc_agent_type": "concierge",
        "response_pattern": {},
        "last_inbound_at": None,
    }
    fields.update(profile)
    store.add_user(SendProfile(**fields))
    return store, uid


def queue(
    store: InMemoryOrchestratorStore,
    uid: UUID,
    text: str | None = "hello",
    *,
    priority: str = "medium",
    agent_id: str = "concierge_1",
    due: datetime = NOW,
    created: datetime | None = None,
    fresh: bool = False,
    data: dict[str, Any] | None = None,
    sequence: tuple[UUID, int, int] | None = None,
    conversation: UUID | None = None,
) -> UUID:
    pid = uuid4()
    seq_id, pos, total = sequence if sequence else (None, None, None)
    part = QueuedPart(pid, uid, priority, due, created or due - timedelta(hours=1), seq_id, pos, total, fresh)
    store.add_row(QueueRow(part, agent_id, data or {}, text, conversation))
    return pid


def test_due_row_becomes_one_outbound_message_and_is_counted():
    store, uid = make_store()
    qid = queue(store, uid, "Your intro is ready")
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert report.sent_units == 1
    (out,) = store.outbound
    assert (out.body, out.role, out.queue_id) == ("Your intro is ready", "concierge", qid)
    row = store.queue[qid]
    assert (row.status, row.sent_at, row.delivered_message_id) == ("sent", NOW, out.id)
    (budget,) = [b for (u, d), b in store.budgets.items() if u == uid]
    assert budget.messages_sent == 1
    assert [a.action_type for a in store.actions] == [ACTION_SEND_BUDGETED]


def test_not_yet_due_rows_are_left_alone():
    store, uid = make_store()
    qid = queue(store, uid, due=NOW + timedelta(minutes=1))
    assert run_tick(store, now=NOW, classifier=ASSUME_RELEVANT).users == 0
    assert store.queue[qid].status == "queued"


def test_stale_row_is_superseded_with_the_reason_and_not_counted():
    store, uid = make_store()
    qid = queue(store, uid, fresh=True, created=NOW - timedelta(hours=2))
    store.add_inbound(uid, "actually, forget the hiring question", NOW - timedelta(hours=1))
    classifier = StaleWhenUserMentions("forget")
    report = run_tick(store, now=NOW, classifier=classifier)
    assert report.superseded_units == 1
    assert (store.queue[qid].status, store.queue[qid].reason) == ("superseded", "user moved on: forget")
    assert store.outbound == [] and store.budgets == {} and store.actions == []
    assert classifier.seen[0][1] == ["actually, forget the hiring question"]


def test_freshness_without_newer_user_messages_needs_no_classifier():
    store, uid = make_store()
    qid = queue(store, uid, fresh=True, created=NOW - timedelta(hours=2))
    store.add_inbound(uid, "older message", NOW - timedelta(hours=3))
    classifier = StaleWhenUserMentions("older")
    run_tick(store, now=NOW, classifier=classifier)
    assert store.queue[qid].status == "sent"
    assert classifier.seen == []


def test_default_classifier_and_a_failing_one_keep_the_message():
    for classifier in (AssumeRelevantClassifier(), BrokenClassifier()):
        store, uid = make_store()
        qid = queue(store, uid, fresh=True, created=NOW - timedelta(hours=2))
        store.add_inbound(uid, "something new", NOW - timedelta(minutes=30))
        run_tick(store, now=NOW, classifier=classifier)
        assert store.queue[qid].status == "sent"


def test_opted_out_user_rows_are_cancelled_with_a_reason():
    store, uid = make_store(opted_out=True)
    qid = queue(store, uid)
    assert run_tick(store, now=NOW, classifier=ASSUME_RELEVANT).cancelled_units == 1
    assert (store.queue[qid].status, store.queue[qid].reason) == ("cancelled", "user opted out")
    assert store.outbound == []


def test_row_without_text_fails_clearly_and_message_data_content_is_used():
    store, uid = make_store()
    bad = queue(store, uid, None, data={"kind": "intro", "score": 7})
    good = queue(store, uid, None, data={"content": "Sarah accepted your intro."}, priority="urgent")
    assert good != bad
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert report.failed_units == 1 and report.sent_units == 1
    assert store.queue[bad].status == "failed"
    reason = store.queue[bad].reason
    assert reason is not None
    assert "no final_message" in reason
    assert [o.body for o in store.outbound] == ["Sarah accepted your intro."]
    assert [a.action_type for a in store.actions if a.error] == ["delivery_error"]


def test_sequence_goes_whole_in_order_and_counts_once():
    store, uid = make_store()
    seq = uuid4()
    ids = [queue(store, uid, f"part {p}", sequence=(seq, p, 3)) for p in (3, 1, 2)]
    run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert [o.body for o in store.outbound] == ["part 1", "part 2", "part 3"]
    assert all(store.queue[i].status == "sent" for i in ids)
    assert sum(b.messages_sent for b in store.budgets.values()) == 1


def test_incomplete_sequence_is_left_queued():
    store, uid = make_store()
    seq = uuid4()
    ids = [queue(store, uid, f"part {p}", sequence=(seq, p, 3)) for p in (1, 3)]
    assert run_tick(store, now=NOW, classifier=ASSUME_RELEVANT).incomplete_units == 1
    assert all(store.queue[i].status == "queued" for i in ids)


def test_budget_blocks_lower_priorities_after_urgent_ones_went_first():
    store, uid = make_store()
    low = queue(store, uid, "tip", priority="low", due=NOW - timedelta(hours=2))
    urgent = queue(store, uid, "payment problem", priority="urgent")
    high = queue(store, uid, "intro accepted", priority="high")
    run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert [o.body for o in store.outbound] == ["payment problem", "intro accepted"]
    assert store.queue[low].status == "queued"
    assert store.queue[low].row.part.scheduled_for == NOW + timedelta(hours=1)  # the hour frees
    assert store.queue[urgent].status == store.queue[high].status == "sent"


def test_active_user_gets_queued_messages_at_night_unbudgeted():
    night = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # 03:00 in New York
    store, uid = make_store()
    store.add_inbound(uid, "are you there?", night - timedelta(minutes=2))
    ids = [queue(store, uid, f"m{i}", due=night) for i in range(4)]
    run_tick(store, now=night, classifier=ASSUME_RELEVANT)
    assert all(store.queue[i].status == "sent" for i in ids)
    assert store.budgets == {}
    assert {a.action_type for a in store.actions} == {ACTION_SEND_EXEMPT}


def test_locked_user_is_skipped_by_a_concurrent_tick():
    store, uid = make_store()
    qid = queue(store, uid)
    store.locked_users.add(uid)  # another tick holds this user
    assert run_tick(store, now=NOW, classifier=ASSUME_RELEVANT).skipped_users == 1
    assert store.queue[qid].status == "queued"


def test_conversation_context_is_used_when_given():
    store, uid = make_store()
    conversation = uuid4()
    queue(store, uid, conversation=conversation)
    run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert store.outbound[0].conversation_id == conversation


@pytest.mark.parametrize(
    ("agent_id", "verified", "poc", "role"),
    [
        ("concierge_abc", True, "concierge", "concierge"),
        ("innovator_1", True, "innovator", "innovator"),
        ("bouncer_x", False, "bouncer", "bouncer"),
        ("account_manager_7", True, "concierge", "concierge"),  # background agents speak through the POC
        ("solution_saga_1", True, "innovator", "innovator"),
        ("account_manager_7", False, "bouncer", "bouncer"),
    ],
)
def test_role_comes_from_the_agent_prefix_or_the_users_poc(
    agent_id: str, verified: bool, poc: str, role: str
):
    profile = SendProfile(uuid4(), "+14155550100", None, None, None, False, verified, poc, {}, None)
    assert role_for(agent_id, profile) == role


def test_render_body_prefers_final_message():
    part = QueuedPart(uuid4(), uuid4(), "medium", NOW, NOW)
    assert render_body(QueueRow(part, "concierge_1", {"content": "b"}, "  a  ", None)) == "a"
    assert render_body(QueueRow(part, "concierge_1", {"text": "b"}, " ", None)) == "b"
    assert render_body(QueueRow(part, "concierge_1", {"content": 5}, None, None)) is None


@pytest.mark.parametrize(
    ("body", "trigger"),
    [
        (b'{"sweep": true}', "sweep"),
        (b"{}", "sweep"),
        (b'{"table": "message_queue", "type": "INSERT"}', "webhook"),
    ],
)
def test_tick_requests_are_recognised(body: bytes, trigger: str):
    assert parse_trigger(body, "message_queue") == trigger


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"sweep": false}', b'{"table": "messages", "type": "INSERT"}', b"\xff\xfe"],
)
def test_other_bodies_are_refused(body: bytes):
    with pytest.raises(InvalidTrigger):
        parse_trigger(body, "message_queue")
