"""The Twilio stand-in answers the real twilio client in Twilio's own format."""

import re
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from shared.adapters.twilio_sms import BaseUrlHttpClient
from tools.fakes.twilio_api import start_in_thread

ACCOUNT = "AC" + "3" * 32
TOKEN = "standin-token"


@pytest.fixture
def standin():
    with start_in_thread(auth_token=TOKEN, account_sid=ACCOUNT) as server:
        yield server


def client(standin: Any, token: str = TOKEN) -> Client:
    return Client(ACCOUNT, token, http_client=BaseUrlHttpClient(standin.url))


def test_create_message_returns_twilio_shaped_resource(standin):
    message = client(standin).messages.create(to="+14155550123", from_="+14155550100", body="hi there")
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert message.status == "queued"
    assert message.to == "+14155550123"
    assert message.from_ == "+14155550100"
    assert message.num_segments == "1"
    assert message.direction == "outbound-api"
    assert message.account_sid == ACCOUNT
    assert message.date_created is not None


def test_sent_lists_and_filters_by_recipient(standin):
    c = client(standin)
    c.messages.create(to="+14155550123", from_="+14155550100", body="a")
    c.messages.create(to="+14155550199", from_="+14155550100", body="b")
    everything = requests.get(standin.url + "/_sent", timeout=5).json()
    only = requests.get(standin.url + "/_sent", params={"to": "+14155550199"}, timeout=5).json()
    assert [m["body"] for m in everything] == ["a", "b"]
    assert [m["body"] for m in only] == ["b"]


def test_long_poll_waits_for_its_own_recipient_and_forgets_on_reset(standin):
    """/_sent?to=&min_count=&wait= counts only that phone's messages (kept per recipient), wakes
    when one arrives, and starts again from nothing after /_reset."""
    import threading
    import time

    c = client(standin)
    c.messages.create(to="+14155550123", from_="+14155550100", body="first")
    answer: dict[str, Any] = {}

    def poll() -> None:
        params = {"to": "+14155550123", "min_count": "2", "wait": "10"}
        answer["body"] = requests.get(standin.url + "/_sent", params=params, timeout=15).json()

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.3)
    c.messages.create(to="+14155550199", from_="+14155550100", body="someone else")
    time.sleep(0.3)
    assert waiter.is_alive()  # another phone's message does not answer this poll
    c.messages.create(to="+14155550123", from_="+14155550100", body="second")
    waiter.join(timeout=5)
    assert [m["body"] for m in answer["body"]] == ["first", "second"]

    assert requests.post(standin.url + "/_reset", timeout=5).status_code == 200
    after = {"to": "+14155550123", "min_count": "1", "wait": "0"}
    assert requests.get(standin.url + "/_sent", params=after, timeout=5).json() == []
    c.messages.create(to="+14155550123", from_="+14155550100", body="third")
    again = requests.get(standin.url + "/_sent", params=after, timeout=5).json()
    assert [m["body"] for m in again] == ["third"]


def test_a_message_wakes_only_its_own_phones_long_poll(standin, monkeypatch):
    """Each recipient's long polls wait on their own condition: another phone's message does not
    wake them (one shared condition woke every poller on every message), and a poll of every
    message (no ``to``) wakes for each one."""
    state = standin.state
    woken: list[str | None] = []
    for to in ("+14155550123", None):
        with state.lock:
            condition = state.arrival(to)
        monkeypatch.setattr(condition, "notify_all", lambda to=to: woken.append(to))
    c = client(standin)
    c.messages.create(to="+14155550199", from_="+14155550100", body="someone else")
    assert woken == [None]
    c.messages.create(to="+14155550123", from_="+14155550100", body="mine")
    assert woken == [None, "+14155550123", None]


def test_wrong_credentials_and_missing_fields_are_twilio_errors(standin):
    with pytest.raises(TwilioRestException) as info:
        client(standin, token="nope").messages.create(to="+14155550123", from_="+14155550100", body="x")
    assert (info.value.status, info.value.code) == (401, 20003)
    with pytest.raises(TwilioRestException) as info:
        client(standin).messages.create(to="+14155550123", body="x")
    assert info.value.code == 21603
    with pytest.raises(TwilioRestException) as info:
        client(standin).messages.create(to="+14155550123", from_="+14155550100", body="x" * 1601)
    assert info.value.code == 21617


def test_failures_can_be_injected_over_http(standin):
    requests.post(standin.url + "/_fail", json={"count": 2, "status": 429}, timeout=5).raise_for_status()
    c = client(standin)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as info:
            c.messages.create(to="+14155550123", from_="+14155550100", body="x")
        assert (info.value.status, info.value.code) == (429, 20429)
    assert c.messages.create(to="+14155550123", from_="+14155550100", body="x").status == "queued"
    requests.post(standin.url + "/_reset", timeout=5).raise_for_status()
    assert standin.sent == []


def test_sent_long_polls_until_the_message_arrives(standin):
    import threading
    import time

    def send_later() -> None:
        time.sleep(0.3)
        client(standin).messages.create(to="+14155550124", from_="+14155550100", body="later")

    threading.Thread(target=send_later).start()
    started = time.monotonic()
    params: dict[str, str | int] = {"to": "+14155550124", "min_count": 1, "wait": 10}
    found = requests.get(standin.url + "/_sent", params=params, timeout=15).json()
    assert [m["body"] for m in found] == ["later"]
    assert time.monotonic() - started < 5  # answered on arrival, not at the 10 s limit


def test_sent_long_poll_gives_up_after_wait_and_refuses_bad_parameters(standin):
    params: dict[str, str | float] = {"to": "+14155550125", "min_count": 1, "wait": 0.2}
    nothing = requests.get(standin.url + "/_sent", params=params, timeout=5)
    assert nothing.status_code == 200
    assert nothing.json() == []
    bad = requests.get(standin.url + "/_sent", params={"min_count": "many"}, timeout=5)
    assert bad.status_code == 400


def test_message_list_answers_the_real_client_filtered_by_to_from_and_date_sent(standin):
    from datetime import UTC, datetime, timedelta

    twilio = client(standin)
    twilio.messages.create(to="+14155550123", from_="+14155550100", body="first")
    twilio.messages.create(to="+14155550123", from_="+14155550100", body="second")
    twilio.messages.create(to="+14155550999", from_="+14155550100", body="other member")
    twilio.messages.create(to="+14155550123", from_="+14155550111", body="other sender")
    today = datetime.now(UTC)

    listed = twilio.messages.list(to="+14155550123", from_="+14155550100", date_sent_after=today)
    assert [m.body for m in listed] == ["second", "first"]  # newest first, like Twilio
    assert all(m.date_sent is not None and m.date_sent.tzinfo is not None for m in listed)
    assert listed[0].sid.startswith("SM")
    assert twilio.messages.list(to="+14155550123", date_sent_after=today + timedelta(days=1)) == []
    assert len(twilio.messages.list(to="+14155550123", date_sent_before=today)) == 3


def test_message_list_pages_like_twilio(standin):
    twilio = client(standin)
    for n in range(5):
        twilio.messages.create(to="+14155550123", from_="+14155550100", body=f"m{n}")
    listed = twilio.messages.list(to="+14155550123", page_size=2)
    assert [m.body for m in listed] == ["m4", "m3", "m2", "m1", "m0"]
    assert len(twilio.messages.list(to="+14155550123", limit=3, page_size=2)) == 3


def test_message_list_needs_auth_and_sane_filters(standin):
    with pytest.raises(TwilioException, match="Unable to fetch page"):
        client(standin, token="wrong").messages.list(to="+14155550123")
    url = f"{standin.url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json?DateSent%3E=not-a-date"
    assert requests.get(url, auth=(ACCOUNT, TOKEN), timeout=5).status_code == 400


def test_injected_429_carries_retry_after_and_drop_accepts_without_answering(standin):
    standin.fail(1, status=429, retry_after=7)
    url = f"{standin.url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    form = {"To": "+14155550123", "From": "+14155550100", "Body": "hi"}
    answer = requests.post(url, data=form, auth=(ACCOUNT, TOKEN), timeout=5)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    standin.fail(1, drop=True)
    with pytest.raises(requests.ConnectionError):
        requests.post(url, data=form, auth=(ACCOUNT, TOKEN), timeout=5)
    assert [m["body"] for m in standin.sent] == ["hi"]  # Twilio has it; the caller never heard
