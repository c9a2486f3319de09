"""Tapbacks reach us as text (``Liked “…”``): a like of the question just asked is a yes, any other
reaction is an acknowledgment that gets no reply. Real PostgreSQL, the offline brain and the
Bouncer's LLM path.

Noted and left in the previous session ("iPhone tapbacks not read"). Run against the previous code
(b1b898f), a like of the question below got "Got it. I can put a question to the network or look
into vendors for you; tell me what you need." and the connection request stayed open; a laugh, or
a like of "I'll get that question out to the network.", got the same reply.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared import config
from shared.domain import events as catalogue
from shared.service_layer.bouncer import run_bouncer_turn
from shared.service_layer.concierge import run_member_turn
from tests.bouncer_support import DOMAIN, new_user, replies, say
from tests.deps_support import composed_llm, make_deps
from tests.integration.test_concierge_intros import connection_request, member, presented

pytestmark = pytest.mark.integration

ASK = "Dana Kim at Acme wants to meet you about selling SOC 2 automation. Want me to introduce you?"


@pytest.fixture(autouse=True)
def _settings(monkeypatch: Any) -> Any:
    monkeypatch.setenv("VERIFY_EMAIL_DOMAIN", DOMAIN)
    config.reset_settings_cache()


def agent_said(db: Any, user_id: Any, conv: Any, text: str, role: str = "concierge") -> None:
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, routed)"
        " VALUES (%s, %s, %s, %s, 'outbound', 'sent', true)",
        [conv, user_id, role, text],
    )


def unanswered(db: Any, user_id: Any) -> int:
    row = db.execute(
        "SELECT count(*) AS n FROM messages WHERE user_id = %s AND direction = 'inbound'"
        " AND answered_by_turn_id IS NULL",
        [user_id],
    ).fetchone()
    return int(row["n"])


def asked(db: Any) -> tuple[Any, Any]:
    user_id, conv = member(db)
    requestor, _ = member(db, "+14155550112", poc="innovator", innovator=True, email="dana@acme.com")
    request = connection_request(db, user_id, requestor)
    presented(db, user_id, "connection_request", request, "Dana Kim wants to meet you")
    agent_said(db, user_id, conv, ASK)
    return (user_id, conv), request


def request_status(db: Any, request: Any) -> str:
    row = db.execute("SELECT status FROM connection_requests WHERE id = %s", [request]).fetchone()
    return str(row["status"])


@pytest.mark.parametrize(
    "tapback",
    [
        f"Liked \u201c{ASK}\u201d",
        f'Loved "{ASK}"',
        f"Reacted \U0001f44d\U0001f3fd to \u201c{ASK}\u201d",
        "Liked \u201cDana Kim at Acme wants to meet you about selling\u2026\u201d",  # shortened by the phone
    ],
)
def test_a_like_of_the_question_just_asked_accepts_like_a_yes(db, tapback):
    (user_id, conv), request = asked(db)
    say(db, user_id, conv, tapback)
    result = run_member_turn(user_id, make_deps())
    assert result.path == "fallback" and len(result.bodies) == 1
    assert request_status(db, request) == "accepted"
    sql = "SELECT 1 FROM events WHERE event_type = %s"
    accepted = db.execute(sql, [catalogue.CONNECTION_REQUEST_ACCEPTED])
    assert len(accepted.fetchall()) == 1
    assert unanswered(db, user_id) == 0


def test_a_like_of_the_offline_mention_with_its_instructions_after_the_question_accepts(db):
    """The offline brain's mention ends "Would you like the intro? Reply yes or no."."""
    (user_id, conv), request = asked(db)
    mention = "Separately: Dana Kim wants to meet you. Would you like the intro? Reply yes or no."
    agent_said(db, user_id, conv, mention)
    say(db, user_id, conv, f"Liked \u201c{mention}\u201d")
    run_member_turn(user_id, make_deps())
    assert request_status(db, request) == "accepted"


def test_a_dislike_of_the_question_declines(db):
    (user_id, conv), request = asked(db)
    say(db, user_id, conv, f"Disliked \u201c{ASK}\u201d")
    run_member_turn(user_id, make_deps())
    assert request_status(db, request) == "declined"


@pytest.mark.parametrize(
    "tapback",
    [
        f"Laughed at \u201c{ASK}\u201d",  # a reaction, not an answer
        f"Removed a like from \u201c{ASK}\u201d",
        "Liked \u201cI'll get that question out to the network.\u201d",  # a statement
    ],
)
def test_a_reaction_that_answers_nothing_gets_no_reply_and_is_marked_answered(db, tapback):
    (user_id, conv), request = asked(db)
    agent_said(db, user_id, conv, "I'll get that question out to the network.")
    before = replies(db, user_id)
    say(db, user_id, conv, tapback)
    result = run_member_turn(user_id, make_deps())
    assert result.status == "silent" and result.bodies == []
    assert replies(db, user_id) == before
    assert unanswered(db, user_id) == 0  # the next turn does not answer it either
    assert request_status(db, request) == "open"
    turn = db.execute("SELECT status, path FROM agent_turns WHERE user_id = %s", [user_id]).fetchone()
    assert (turn["status"], turn["path"]) == ("silent", "")


def test_a_like_of_an_older_question_is_not_a_yes_to_it(db):
    (user_id, conv), request = asked(db)
    say(db, user_id, conv, "thanks, let me think")
    agent_said(db, user_id, conv, "Sure, take your time.")
    say(db, user_id, conv, f"Liked \u201c{ASK}\u201d")
    run_member_turn(user_id, make_deps())
    assert request_status(db, request) == "open"


def test_a_text_in_the_form_that_quotes_nothing_we_sent_is_answered_as_a_text(db):
    (user_id, conv), _ = asked(db)
    say(db, user_id, conv, 'Loved "Dune"')
    result = run_member_turn(user_id, make_deps())
    assert result.status == "answered" and len(result.bodies) == 1


def test_a_reaction_with_a_text_in_the_same_burst_answers_the_text(db):
    (user_id, conv), request = asked(db)
    say(db, user_id, conv, f"Laughed at \u201c{ASK}\u201d")
    say(db, user_id, conv, "Sure, I'd like to meet them")
    result = run_member_turn(user_id, make_deps())
    assert len(result.bodies) == 1 and request_status(db, request) == "accepted"


def test_the_bouncer_reads_a_like_of_its_question_as_an_acknowledgment(db, anthropic_fake):
    """Its questions ask for a name or a place: a like answers none. No LLM call, no reply, and
    the follow-up cycle starts again from the reaction."""
    user_id, conv = new_user(db)
    agent_said(db, user_id, conv, "Hey! Who told you about this?", role="bouncer")
    say(db, user_id, conv, "Liked \u201cHey! Who told you about this?\u201d")
    result = run_bouncer_turn(user_id, make_deps(llm=composed_llm()))
    assert result.status == "silent" and anthropic_fake.requests == []
    assert replies(db, user_id) == ["Hey! Who told you about this?"]
    assert unanswered(db, user_id) == 0
    task = db.execute(
        "SELECT task_type FROM agent_tasks WHERE user_id = %s AND status = 'pending'", [user_id]
    ).fetchone()
    assert task["task_type"] == "re_engagement_check"
