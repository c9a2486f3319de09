"""Issue 16 end to end through ``make run``, with no API key (the offline brain): a member approved
by the operator gets the Concierge's welcome by SMS, states a goal, asks for an expert, and receives
an acknowledgment that names the real next step (the question goes to the network, and a community
request is written). No dead letter is left for the Concierge.

Kept fast: the member is written as the Bouncer leaves an onboarded newcomer (the Bouncer's journey
is ``test_local_stack.py``'s), then approved with the operator's CLI, and their zone is one where it
is early afternoon now, so quiet hours never hold the welcome back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from shared.agents.concierge.fallback import GOAL_NEXT_STEP
from shared.agents.concierge.prompts import WELCOME, WELCOME_QUESTION
from tools.localstack.phone import send_sms, sent_messages

from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.pubsub, pytest.mark.xdist_group("e2e")]

PHONE = "+14155550186"
GOAL = "Rolling out SOC 2 across our logistics platform this quarter"
ASK = "Do you know anyone who has done SOC 2 automation?"
NEXT_STEP = "I'll get that question out to the network."


def afternoon_zone(now: datetime) -> str:
    """An IANA zone where it is 13:xx now (``Etc/GMT-N`` is UTC+N)."""
    offset = 13 - now.hour
    if offset > 14:
        offset -= 24
    if offset < -12:
        offset += 24
    return "Etc/GMT" + ("" if offset == 0 else f"{-offset:+d}")


def query(stack: RunningStack, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.info.database_url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def wait_until(stack: RunningStack, what: str, probe: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    messages = query(
        stack,
        "SELECT m.role, m.direction, m.content FROM messages m JOIN users u ON u.id = m.user_id"
        " WHERE u.phone_number = %s ORDER BY m.created_at",
        PHONE,
    )
    dead = query(stack, "SELECT consumer, event_type, error_message FROM event_dead_letters")
    pytest.fail(f"timed out waiting for {what}: messages {messages}; dead letters {dead}")


def bodies(stack: RunningStack) -> list[str]:
    return [m["body"] for m in sent_messages(stack.info, PHONE)]


def test_an_approved_member_is_welcomed_states_a_goal_asks_for_an_expert_and_hears_the_next_step(
    local_stack: RunningStack,
):
    stack = local_stack
    zone = afternoon_zone(datetime.now(UTC))
    # An onboarded newcomer waiting for approval, as the Bouncer leaves them.
    (user_id,) = query(
        stack,
        "INSERT INTO users (phone_number, first_name, last_name, company, title, email, email_verified,"
        " verified, poc_agent_type, approval_status, onboarding_completed_at, timezone)"
        " VALUES (%s, 'Daniel', 'Whitaker', 'Northwind Logistics', 'VP of Operations',"
        " 'daniel@northwind.example', true, false, 'bouncer', 'pending', now(), %s) RETURNING id",
        PHONE,
        zone,
    )[0]
    query(
        stack,
        "INSERT INTO conversations (user_id, phone_number) VALUES (%s, %s) RETURNING id",
        user_id,
        PHONE,
    )

    # 1. The operator approves; the Concierge's welcome arrives by SMS (through the queue).
    approved = subprocess.run(
        [sys.executable, "-m", "tools.ops", "approve", PHONE, "--as", "concierge"],
        env={**os.environ, "DATABASE_URL": stack.info.database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert approved.returncode == 0, approved.stdout + approved.stderr
    wait_until(stack, "the welcome", lambda: WELCOME_QUESTION in bodies(stack))
    assert WELCOME in bodies(stack)

    # 2. The member states a goal: stored, and the reply says what to text next.
    assert send_sms(stack.info, PHONE, GOAL).status_code == 200
    wait_until(stack, "the goal's acknowledgment", lambda: GOAL_NEXT_STEP in bodies(stack))
    (goal,) = query(stack, "SELECT goal FROM users WHERE id = %s", user_id)
    assert goal == (GOAL,)

    # 3. The member asks for an expert: the reply names the real next step, and it happened.
    assert send_sms(stack.info, PHONE, ASK).status_code == 200
    wait_until(stack, "the acknowledgment", lambda: NEXT_STEP in bodies(stack))
    (role,) = query(
        stack, "SELECT role FROM messages WHERE user_id = %s AND content = %s", user_id, NEXT_STEP
    )
    assert role == ("concierge",)
    requests = wait_until(
        stack,
        "the community request",
        lambda: query(
            stack,
            "SELECT r.status, r.question FROM community_requests r"
            " JOIN community_request_requesters q ON q.request_id = r.id WHERE q.user_id = %s",
            user_id,
        ),
        timeout=30,
    )
    assert requests[0][1] == ASK, requests

    # 4. Nothing was dead-lettered for want of the Concierge, and every text got one answer turn.
    concierge_dead = query(
        stack,
        "SELECT count(*) FROM event_dead_letters WHERE consumer = 'agent_concierge'"
        " OR position('agent_concierge' in error_message) > 0",
    )
    assert concierge_dead == [(0,)]
    texts = bodies(stack)
    assert texts.count(NEXT_STEP) == 1 and texts.count(WELCOME_QUESTION) == 1, texts
