"""Races on the inbound webhook and the sender, with real threads against real Postgres."""

import threading
from collections.abc import Callable
from typing import Any

import pytest

from shared.adapters.twilio_sms import default_gateway
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.inbound_sms import InboundResult, InboundSms, Outcome, record_inbound_sms
from shared.service_layer.send_sms import SendOutcome, deliver_message
from tests.sms_support import ACCOUNT_SID, AUTH_TOKEN, add_outbound, configure, counts, make_user, new_sid
from tools.fakes.twilio_api import start_in_thread

pytestmark = pytest.mark.integration


def race(n: int, target: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def run(i):
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    return results


@pytest.fixture
def env(database_url, monkeypatch):
    configure(monkeypatch, DATABASE_POOL_MAX="16")


def test_simultaneous_first_messages_from_a_new_number_make_one_user_and_one_conversation(env, db):
    for attempt in range(5):
        phone = f"+1415555{attempt:04d}"

        def first_message(i: int, phone: str = phone) -> InboundResult:
            return record_inbound_sms(InboundSms(phone, f"hello {i}", new_sid()), PostgresUnitOfWork())

        results = race(8, first_message)
        assert all(r.outcome is Outcome.ROUTED for r in results)
        assert len({r.user_id for r in results}) == 1
        assert len({r.conversation_id for r in results}) == 1
        assert sum(r.new_user for r in results) == 1
    assert counts(db) == {"users": 5, "conversations": 5, "messages": 40, "events": 40}


def test_simultaneous_deliveries_of_the_same_message_sid_store_it_once(env, db):
    sid = new_sid()
    results = race(
        8, lambda i: record_inbound_sms(InboundSms("+14155550123", "same", sid), PostgresUnitOfWork())
    )
    assert sorted(r.outcome for r in results).count(Outcome.ROUTED) == 1
    assert counts(db)["messages"] == 1
    assert counts(db)["events"] == 1


def test_concurrent_sender_calls_send_a_message_exactly_once(env, db, monkeypatch):
    with start_in_thread(auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID) as standin:
        monkeypatch.setenv("TWILIO_API_BASE_URL", standin.url)
        from shared import config

        config.reset_settings_cache()
        user_id, conversation_id = make_user(db)
        [message_id] = add_outbound(user_id, conversation_id, ["exactly once"])
        results = race(
            8, lambda i: deliver_message(message_id, sleep=lambda s: None, gateway=default_gateway())
        )
        outcomes = [r[0].outcome for r in results]
        assert outcomes.count(SendOutcome.SENT) == 1
        assert set(outcomes) == {SendOutcome.SENT, SendOutcome.NOT_PENDING}
        assert len(standin.sent) == 1


def test_runaway_guard_holds_under_concurrent_sends(env, db, monkeypatch):
    with start_in_thread(auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID) as standin:
        monkeypatch.setenv("TWILIO_API_BASE_URL", standin.url)
        from shared import config

        config.reset_settings_cache()
        user_id, conversation_id = make_user(db)
        ids = [add_outbound(user_id, conversation_id, [f"burst {i}"])[0] for i in range(14)]
        results = race(14, lambda i: deliver_message(ids[i], sleep=lambda s: None, gateway=default_gateway()))
        outcomes = [r[0].outcome for r in results]
        assert outcomes.count(SendOutcome.SENT) == 10
        assert outcomes.count(SendOutcome.BLOCKED) == 4
        assert len(standin.sent) == 10


@pytest.mark.parametrize(("twilio", "code"), [("failed", 21610), ("delivered", None)])
def test_a_status_callback_racing_the_senders_claim_never_deadlocks(env, db, monkeypatch, twilio, code):
    """The sender's claim locks the user, then the message. A 21610 callback (it opts the user
    out) locks them in the same order; any other callback locks only the message. Either way no
    cycle: a callback taking the message's lock first and then the user's deadlocked 20 of 120
    racing pairs. Each pair: one message, claimed by the sender while a callback that overtook
    it (found by the callback URL's message_id) applies."""
    from shared import config
    from shared.service_layer.delivery_status import StatusUpdate, apply_delivery_status

    with start_in_thread(auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID) as standin:
        monkeypatch.setenv("TWILIO_API_BASE_URL", standin.url)
        config.reset_settings_cache()
        for pair in range(30):
            user_id, conversation_id = make_user(db, phone=f"+1415557{pair:04d}")
            [message_id] = add_outbound(user_id, conversation_id, [f"race {pair}"])
            update = StatusUpdate(new_sid(), twilio, code, message_id=message_id)

            def one(i: int, message_id: Any = message_id, update: StatusUpdate = update) -> Any:
                if i == 0:
                    return deliver_message(message_id, sleep=lambda s: None, gateway=default_gateway())
                return apply_delivery_status(update, PostgresUnitOfWork())

            race(2, one)  # a deadlock aborts one side with DeadlockDetected: race() reports it
