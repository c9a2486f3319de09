"""The answer to the welcome question is read as the member's goal whatever order the welcome's two
parts come back in: they share one created_at, so ``(created_at, id)`` order between them is arbitrary
(found by tests/e2e/test_member_journey.py)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.agents.concierge.prompts import WELCOME, WELCOME_QUESTION
from tests.bouncer_support import replies
from tests.integration.test_concierge import member, offline

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("question_id_first", [True, False])
def test_the_goal_is_stored_whichever_welcome_part_sorts_last(db: Any, question_id_first: bool) -> None:
    user_id, conv = member(db)
    low, high = sorted([uuid.uuid4(), uuid.uuid4()])
    ids = (
        {WELCOME: high, WELCOME_QUESTION: low}
        if question_id_first
        else {WELCOME: low, WELCOME_QUESTION: high}
    )
    for text in (WELCOME, WELCOME_QUESTION):  # one send: both parts at the same instant
        db.execute(
            "INSERT INTO messages (id, conversation_id, user_id, role, content, direction, status,"
            " created_at)"
            " VALUES (%s, %s, %s, 'concierge', %s, 'outbound', 'sent', '2026-12-01 12:00:00+00')",
            [ids[text], conv, user_id, text],
        )
    offline(db, user_id, conv, "Scaling our EMEA sales team this year")
    goal = db.execute("SELECT goal FROM users WHERE id = %s", [user_id]).fetchone()["goal"]
    assert goal == "Scaling our EMEA sales team this year"
    assert "Noted, that's what you're working on." in replies(db, user_id)
