"""One reply to a burst (issue 16, 1b): three texts sent 0.3 s apart get one reply turn, for the
offline brain and for the LLM, because the turn waits for the member to pause first."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.conversation.turn import BurstWait, settle_burst
from shared.service_layer.bouncer import run_bouncer_turn
from shared.service_layer.concierge import run_member_turn
from tests.bouncer_support import new_user, say
from tests.deps_support import composed_llm, make_deps

pytestmark = pytest.mark.integration

# The texts go 0.3 s apart; a quiet gap of 2 s leaves 1.7 s for a stall of this thread on a loaded
# machine before the turn would take a pause for the end of the burst (1 s left 0.7 s).
BURST = BurstWait(quiet_gap=2.0, max_wait=6.0)
TEXTS = ["hey", "sorry, hit send too early", "Dana Kim told me to text this number"]


def _turns(db: Any, user_id: Any) -> list[Any]:
    rows: list[Any] = db.execute("SELECT id FROM agent_turns WHERE user_id = %s", [user_id]).fetchall()
    return rows


def _answered_by(db: Any, user_id: Any) -> set[Any]:
    rows = db.execute(
        "SELECT answered_by_turn_id FROM messages WHERE user_id = %s AND direction = 'inbound'", [user_id]
    ).fetchall()
    return {r["answered_by_turn_id"] for r in rows}


def _burst_while(db: Any, user_id: Any, conv: Any, run: Any) -> Any:
    """Send the first text, start the turn (as the first delivery would), send two more 0.3 s apart."""
    say(db, user_id, conv, TEXTS[0])
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(run()))
    worker.start()
    for text in TEXTS[1:]:
        time.sleep(0.3)
        say(db, user_id, conv, text)
    worker.join(timeout=30)
    assert result, "the turn did not finish"
    return result[0]


def test_offline_bouncer_answers_a_burst_once(db):
    user_id, conv = new_user(db)
    result = _burst_while(db, user_id, conv, lambda: run_bouncer_turn(user_id, make_deps(burst=BURST)))
    assert result.path == "fallback"
    assert len(_turns(db, user_id)) == 1
    assert _answered_by(db, user_id) == {_turns(db, user_id)[0]["id"]}  # all three texts, one turn
    # the later deliveries of the same burst find nothing unanswered
    assert run_bouncer_turn(user_id, make_deps(burst=BURST)).status == "noop"


def test_llm_concierge_answers_a_burst_once(db, anthropic_fake):
    user_id, conv = new_user(db, verified=True, poc_agent_type="concierge", first_name="Ana")
    anthropic_fake.tool_use(
        "make_decision",
        {"next_scenario": "single_topic_response", "tools_to_execute": [], "context_for_call_2": {}},
    )
    anthropic_fake.reply("Good to hear from you, Ana. What are you working on this quarter?")
    deps = make_deps(llm=composed_llm(), burst=BURST)
    result = _burst_while(db, user_id, conv, lambda: run_member_turn(user_id, deps, innovator=False))
    assert result.status == "answered"
    assert len(_turns(db, user_id)) == 1
    assert len(anthropic_fake.requests) <= 2  # one decision and one reply: no second turn


def test_settle_returns_at_once_when_the_member_is_already_quiet(db):
    user_id, conv = new_user(db)
    say(db, user_id, conv, "hey")
    db.execute("UPDATE messages SET created_at = now() - interval '5 seconds' WHERE user_id = %s", [user_id])
    slept: list[float] = []
    assert settle_burst(user_id, PostgresUnitOfWork, BurstWait(2.0, 8.0, slept.append)) == 0.0
    assert slept == []


def test_settle_never_waits_past_the_bound_from_the_first_text(db):
    user_id, conv = new_user(db)
    say(db, user_id, conv, "hey")
    db.execute(
        "UPDATE messages SET created_at = now() - interval '7.5 seconds' WHERE user_id = %s", [user_id]
    )
    say(db, user_id, conv, "still there?")  # the latest text is fresh, the first is 7.5 s old
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        db.execute(  # time passes: everything ages by what was slept
            "UPDATE messages SET created_at = created_at - make_interval(secs => %s) WHERE user_id = %s",
            [seconds, user_id],
        )

    settle_burst(user_id, PostgresUnitOfWork, BurstWait(2.0, 8.0, sleep))
    assert slept and sum(slept) <= 0.6  # bounded by 8 s from the first text, not 2 s from the last


def test_a_text_arriving_as_the_turn_begins_still_waits_for_its_burst(db):
    """Found by ``bench.load``: a delivery settles on nothing unanswered, then, holding the lock,
    finds a text that arrived a moment later. It must not answer that text at once: the text's
    burst (a second text 0.3 s later) still gets one reply."""
    user_id, conv = new_user(db)
    opened = 0
    second: list[threading.Thread] = []

    def rest_of_the_burst() -> None:
        time.sleep(0.3)
        say(db, user_id, conv, TEXTS[1])

    def uow_factory() -> PostgresUnitOfWork:
        nonlocal opened
        opened += 1
        if opened == 2:  # settle_burst has looked (nothing unanswered); the turn is about to lock
            say(db, user_id, conv, TEXTS[0])
            second.append(threading.Thread(target=rest_of_the_burst))
            second[0].start()
        return PostgresUnitOfWork()

    result = run_bouncer_turn(user_id, make_deps(burst=BURST, uow_factory=uow_factory))
    second[0].join(timeout=10)
    assert result.status == "answered"
    turns = _turns(db, user_id)
    assert len(turns) == 1
    assert _answered_by(db, user_id) == {turns[0]["id"]}  # both texts, one turn
