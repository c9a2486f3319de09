"""End to end through the local stack started by ``make run``: signed Twilio webhooks in,
SMS out through the real twilio client and the Twilio stand-in. The stacks are shared with the
other e2e modules (``conftest.py``), so each test has its own phone and asks about its own rows."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shared.agents.concierge.prompts import WELCOME_QUESTION
from shared.routing import CONSUMERS
from tools.localstack.phone import send_sms, sent_messages, verify_email, wait_for_replies
from tools.localstack.stack_info import PROJECT

from .conftest import KeyedStack, RunningStack
from .models import is_bouncer

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.pubsub, pytest.mark.xdist_group("e2e")]


def _tap_topic(stack: RunningStack, topic: str, name: str) -> tuple[Any, str]:
    """A pull subscription on a topic, so the test can see what was published to it."""
    os.environ["PUBSUB_EMULATOR_HOST"] = stack.info.pubsub_emulator_host
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(PROJECT, name)
    subscriber.create_subscription(name=path, topic=f"projects/{PROJECT}/topics/{topic}")
    return subscriber, path


def _pull_until(subscriber: Any, path: str, predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = subscriber.pull(subscription=path, max_messages=50, timeout=5)
        for received in response.received_messages:
            subscriber.acknowledge(subscription=path, ack_ids=[received.ack_id])
            if predicate(received.message):
                return received.message
    pytest.fail(f"nothing matching arrived on {path}")


def _query(stack: RunningStack, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.info.database_url) as conn:
        return conn.execute(sql, params).fetchall()


def test_inbound_sms_reaches_the_point_of_contact_topic_and_gets_a_reply(local_stack: RunningStack):
    phone = "+14155550171"
    subscriber, tap = _tap_topic(local_stack, CONSUMERS["bouncer"].topic, "e2e-tap-bouncer")
    response = send_sms(local_stack.info, phone, "hello, a friend gave me this number")
    assert response.status_code == 200
    assert "<Response" in response.text

    def ours(message: Any) -> bool:  # the stack is shared: this phone's member's event
        if message.attributes.get("event_type") != "message.received":
            return False
        users = _query(local_stack, "SELECT id::text FROM users WHERE phone_number = %s", phone)
        return bool(users) and json.loads(message.data).get("user_id") == users[0][0]

    message = _pull_until(subscriber, tap, ours, timeout=90)
    payload = json.loads(message.data)
    assert payload["user_id"] and message.ordering_key == payload["user_id"]  # per-user order (A3)
    replies = wait_for_replies(local_stack.info, phone, 0, timeout=90)
    assert replies, "the Bouncer never replied"
    assert all(r["to"] == phone for r in replies)

    # The reply went through the one outbound path and its delivery was tracked.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        statuses = _query(
            local_stack,
            "SELECT m.status FROM messages m JOIN users u ON u.id = m.user_id "
            "WHERE u.phone_number = %s AND m.direction = 'outbound'",
            phone,
        )
        if statuses and all(s == "delivered" for (s,) in statuses):
            break
        time.sleep(0.5)
    assert statuses and all(s == "delivered" for (s,) in statuses), statuses


def test_a_replayed_webhook_is_not_answered_twice(local_stack: RunningStack):
    phone = "+14155550172"
    sid = "SM" + "a" * 32
    assert send_sms(local_stack.info, phone, "hi there", message_sid=sid).status_code == 200
    first = wait_for_replies(local_stack.info, phone, 0, timeout=90)
    assert first
    assert send_sms(local_stack.info, phone, "hi there", message_sid=sid).status_code == 200
    time.sleep(5)
    assert len(sent_messages(local_stack.info, phone)) == len(first)
    rows = _query(local_stack, "SELECT count(*) FROM messages WHERE twilio_message_sid = %s", sid)
    assert rows == [(1,)]


def test_a_newcomer_is_onboarded_offline_verified_by_email_and_approved(local_stack: RunningStack):
    """The fallback brain (no API key) onboards a member end to end; then, approved, the member is
    welcomed by the Concierge and their question is answered (issue 16)."""
    _onboard_verify_and_approve(local_stack, "+14155550173")
    _approved_member_is_welcomed_and_answered(local_stack, "+14155550173")


def _approved_member_is_welcomed_and_answered(stack: RunningStack, phone: str) -> None:
    """The welcome is queued (delivered by the orchestrator outside quiet hours); the member's
    question gets the Concierge's answer naming the real next step; nothing is dead-lettered for
    want of the Concierge, and the community request waits for its consumer as a dead letter."""
    info = stack.info
    queued = _query(
        stack,
        "SELECT q.agent_id, q.final_message FROM message_queue q JOIN users u ON u.id = q.user_id "
        "WHERE u.phone_number = %s AND q.agent_id = 'concierge' ORDER BY q.sequence_position",
        phone,
    )
    assert queued and queued[-1] == ("concierge", WELCOME_QUESTION), queued
    assert send_sms(info, phone, "Do you know anyone at Stripe?").status_code == 200
    answer = "I'll get that question out to the network."
    deadline = time.monotonic() + 90
    bodies: list[str] = []
    while time.monotonic() < deadline and answer not in bodies:
        bodies = [m["body"] for m in sent_messages(info, phone)]
        time.sleep(0.5)
    assert answer in bodies, bodies[-3:]
    (role,) = _query(
        stack,
        "SELECT m.role FROM messages m JOIN users u ON u.id = m.user_id "
        "WHERE u.phone_number = %s AND m.content = %s",
        phone,
        answer,
    )
    assert role == ("concierge",)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the Agent of Humans routes the member's question
        waiting = _query(
            stack,
            "SELECT r.status FROM community_requests r JOIN community_request_requesters q"
            " ON q.request_id = r.id JOIN users u ON u.id = q.user_id WHERE u.phone_number = %s",
            phone,
        )
        if waiting:
            break
        time.sleep(0.5)
    assert waiting and waiting[0][0] == "open", waiting
    concierge_dead = _query(
        stack,
        "SELECT count(*) FROM event_dead_letters WHERE consumer = 'agent_concierge' "
        "OR position('agent_concierge' in error_message) > 0",
    )
    assert concierge_dead == [(0,)]


def _onboard_verify_and_approve(stack: RunningStack, phone: str) -> None:
    """Text the Bouncer through onboarding, email the verification address, approve as operator."""
    info = stack.info
    seen = 0
    script = [
        "Hi, Maria Lopez told me to text you",
        "I'm Daniel James Whitaker",
        "I work at Northwind Logistics",
        "I'm the VP of Operations",
    ]
    for line in script:
        assert send_sms(info, phone, line).status_code == 200
        new = wait_for_replies(info, phone, seen, timeout=90)
        assert new, f"no reply to {line!r}"
        seen += len(new)
    transcript = [m["body"] for m in sent_messages(info, phone)]
    assert any(f"@{info.verify_email_domain}" in body for body in transcript), transcript
    (user,) = _query(
        stack,
        "SELECT first_name, last_name, company, title, verified FROM users WHERE phone_number = %s",
        phone,
    )
    assert user[0] == "Daniel"
    assert user[1].endswith("Whitaker")
    assert "Northwind" in user[2]
    assert "VP" in user[3] or "Operations" in user[3]
    assert user[4] is False

    response = verify_email(info, phone, "Daniel Whitaker <daniel@northwind.example>")
    assert response.status_code == 200, response.text
    new = wait_for_replies(info, phone, seen, timeout=90)
    assert new, "no reply after email verification"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        (row,) = _query(
            stack,
            "SELECT email, email_verified, onboarding_completed_at IS NOT NULL, verified "
            "FROM users WHERE phone_number = %s",
            phone,
        )
        if row[2]:
            break
        time.sleep(0.5)
    assert row[0] == "daniel@northwind.example"
    assert row[1] is True
    assert row[2] is True, "onboarding was not completed after email verification"
    assert row[3] is False, "the Bouncer must never verify anyone"

    approved = subprocess.run(
        [sys.executable, "-m", "tools.ops", "approve", phone, "--as", "concierge"],
        env={**os.environ, "DATABASE_URL": info.database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert approved.returncode == 0, approved.stdout + approved.stderr
    (row,) = _query(stack, "SELECT verified, poc_agent_type FROM users WHERE phone_number = %s", phone)
    assert row == (True, "concierge")


def test_with_an_api_key_a_newcomer_is_onboarded_through_the_messages_api(keyed_stack: KeyedStack) -> None:
    """The same journey with ANTHROPIC_API_KEY set: every turn is two Messages API calls made by
    the real anthropic client, answered by a loopback endpoint that plays the Bouncer's model
    deterministically (evals.runner.scripted_responder, through tests/e2e/models.py), and every
    call lands in the cost ledger."""
    stack, fake = keyed_stack.stack, keyed_stack.fake
    phone = "+14155550175"
    assert any("brain: Claude" in line for line in stack.output), stack.output[-20:]
    seen_requests = len(fake.requests)
    _onboard_verify_and_approve(stack, phone)
    member = "SELECT id FROM users WHERE phone_number = %s"
    rows = _query(
        stack,
        "SELECT count(*), sum(cost_usd) > 0 FROM agent_actions_log "
        f"WHERE action_type = 'llm_call' AND error IS NULL AND user_id = ({member})",
        phone,
    )
    assert rows[0][0] >= 10  # five turns, two calls each
    ours = [r for r in fake.requests[seen_requests:] if is_bouncer(r.body)]  # the stack is shared
    kinds = [r.body.get("tool_choice", {}).get("type") for r in ours]
    assert kinds[:2] == ["tool", None]  # Call 1 decides with a forced tool, Call 2 writes prose
    assert any(block.get("cache_control") for block in ours[0].body["system"])
    assert rows[0][1] is True
    fallbacks = _query(
        stack,
        "SELECT count(*) FROM agent_actions_log"
        f" WHERE action_type = 'bouncer_fallback' AND user_id = ({member})",
        phone,
    )
    assert fallbacks == [(0,)], "with a key, no turn may fall back to the templates"


def test_the_readme_run_command_stops_everything_on_ctrl_c(local_stack: RunningStack) -> None:
    """Run last on the shared stack (conftest.py orders it so): it stops it."""
    _assert_health_lists_everything_up(local_stack)
    _assert_ctrl_c_stops_everything(local_stack)


def _assert_health_lists_everything_up(stack: RunningStack) -> None:
    """The start-up health summary names every part the issue lists, each up."""
    parts = [
        "postgresql",
        "pubsub emulator",
        "twilio stand-in",
        "stripe stand-in",
        "notify relay",
        "scheduler loop",
        *stack.info.function_urls,
    ]
    status: dict[str, str | None] = {}
    for part in parts:
        pattern = re.compile(rf"^\[stack\] {{3}}{re.escape(part)} +(\S+)")
        status[part] = next((m.group(1) for line in stack.output if (m := pattern.match(line))), None)
    assert status == dict.fromkeys(parts, "up"), stack.output[:60]


def _assert_ctrl_c_stops_everything(stack: RunningStack) -> None:
    pids = list(stack.info.pids.values())
    assert pids
    # make re-raises the Ctrl-C it received once the stack has exited: -SIGINT is a clean stop.
    assert stack.stop() in (0, -signal.SIGINT)
    assert "[stack] stopped" in stack.output, stack.output[-20:]
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        pytest.fail(f"function process {pid} survived Ctrl-C")
    # The runner stopped every child itself and told the orphan guard so: it signalled nothing.
    guard_log = [
        json.loads(line) for line in (stack.state_dir / "logs" / "guard.log").read_text().splitlines()
    ]
    assert guard_log[-1]["message"] == "the runner stopped cleanly; the guard exits", guard_log[-3:]
    assert not [entry for entry in guard_log if entry["message"].startswith("SIG")]


KILLED_STACK_GONE_WITHIN = 120.0  # seconds; a liveness deadline (the guard's grace is 10 s)


def test_a_runner_killed_with_sigkill_leaves_no_process_behind(keyed_stack: KeyedStack) -> None:
    """Issue 15, leaked processes: SIGKILL to the runner's process group (the OOM killer, kill -9,
    a CI timeout) runs none of its cleanup; the orphan guard stops the functions, the emulator
    and the private cluster, then exits itself. It kills the keyed stack once the keyed tests
    are done with it (it runs last of them: conftest.py), so it costs no stack start of its own."""
    stack = keyed_stack.stack
    processes: dict[int, tuple[str, str]] = {}
    try:
        processes = _descendants(stack.proc.pid)
        postmaster = int((stack.state_dir / "pg" / "postmaster.pid").read_text().split()[0])
        processes[postmaster] = (_start_time(postmaster), "postgres (postmaster)")
        kinds = {cmdline for _, cmdline in processes.values()}
        assert set(stack.info.pids.values()) <= set(processes), "the function masters are the runner's"
        assert any("java" in cmd for cmd in kinds), "no emulator java found under the runner"
        assert any("tools.localstack.guard" in cmd for cmd in kinds), "no orphan guard under the runner"

        os.killpg(stack.proc.pid, signal.SIGKILL)  # make, the runner: nothing of theirs cleans up
        stack.proc.wait(timeout=10)
        deadline = time.monotonic() + KILLED_STACK_GONE_WITHIN
        left = _still_running(processes)
        while left and time.monotonic() < deadline:
            time.sleep(1.0)
            left = _still_running(processes)
        assert not left, f"left running after the runner's SIGKILL: {left}"
        guard_log = (stack.state_dir / "logs" / "guard.log").read_text()
        assert "the runner is gone without a clean stop" in guard_log
    finally:
        for pid in _still_running(processes):  # a failed run must not leak a stack either
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stack.stop()
        shutil.rmtree(stack.state_dir, ignore_errors=True)


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _start_time(pid: int) -> str:
    fields = _stat(pid)
    return fields[19] if fields else ""


def _descendants(root: int) -> dict[int, tuple[str, str]]:
    """Every process under ``root``: pid -> (start time, command line)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: dict[int, tuple[str, str]] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[pid] = (_start_time(pid), cmdline.strip())
        todo.extend(children.get(pid, []))
    return found


def _still_running(processes: dict[int, tuple[str, str]]) -> dict[int, str]:
    """Those of ``processes`` still running: same pid and start time, not a zombie."""
    left: dict[int, str] = {}
    for pid, (started, cmdline) in processes.items():
        fields = _stat(pid)
        if fields and fields[0] not in ("Z", "X") and fields[19] == started:
            left[pid] = cmdline[:120]
    return left
