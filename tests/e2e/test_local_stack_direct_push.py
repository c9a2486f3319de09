"""The local stack in its direct-push delivery mode (``YP_LOCAL_PUSH=direct``, i.e. ``make run
ARGS=--push direct``): it starts, the functions publish to the direct-push server, and a text
gets its reply through it (not through the emulator's push subscriptions)."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest

from tools.localstack.phone import send_sms, wait_for_replies

from .conftest import start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.pubsub, pytest.mark.xdist_group("e2e")]


def test_the_stack_starts_with_direct_push_and_a_text_is_answered_through_it() -> None:
    stack = start_stack({"YP_LOCAL_PUSH": "direct"})
    try:
        assert stack.info.pubsub_push == "direct"
        assert (
            stack.info.pubsub_publish_host
            and stack.info.pubsub_publish_host != stack.info.pubsub_emulator_host
        )
        assert any("pubsub direct push" in line and " up " in line for line in stack.output)

        phone = "+14155550191"
        assert send_sms(stack.info, phone, "hello, a friend gave me this number").status_code == 200
        assert wait_for_replies(stack.info, phone, 0, timeout=90), "the Bouncer never replied"
        # SIGTERM: the runner stops on it however the test was started (SIGINT may be ignored).
        os.killpg(stack.proc.pid, signal.SIGTERM)
        stack.reader.join(timeout=180)  # the runner has exited once its output closes
        if stack.reader.is_alive():
            pytest.fail("the stack did not stop within 180 s of SIGTERM:\n" + "\n".join(stack.thread_dump()))
        stats = json.loads((stack.state_dir / "direct-push-stats.json").read_text())
        assert stats["acked"] >= 1  # the dispatcher's publish was delivered by direct push
        assert any(sub.endswith("/agent-bouncer-push") for sub in stats["peak_in_flight"])
    finally:
        stack.stop()
        shutil.rmtree(stack.state_dir, ignore_errors=True)
