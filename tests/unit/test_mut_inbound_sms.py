"""The inbound webhook's use case (``shared/service_layer/inbound_sms.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "inbound_sms.py"): the form
parser's exact refusals and bounds (400 / 413), the MMS media checks, each outcome of recording
a text (routed, keyword, opted out, duplicate), what each keyword writes, the Account Manager
triggers, and the "inbound SMS recorded" log line. ``FakeUow`` stands in for
``PostgresUnitOfWork`` and records every repository call; the SQL behind them (upsert on the
phone, ON CONFLICT on the MessageSid) is tested on Postgres (tests/integration/test_sms_races.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from shared.adapters.repositories.messages import OutboundPart
from shared.adapters.repositories.users import TextingUser
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.events import Event
from shared.domain.opt_out import HELP_TEXT, Keyword
from shared.service_layer import inbound_sms
from shared.service_layer.inbound_sms import (
    CREATED_BY,
    MAX_MEDIA_URL_CHARS,
    InboundResult,
    InboundSms,
    InvalidInbound,
    Outcome,
    parse_inbound_form,
    record_inbound_sms,
)

LOGGER = "shared.service_layer.inbound_sms"
SID = "SM" + "b" * 32
PHONE = "+14155550123"


# --- the form parser --------------------------------------------------------------------------


def form(**params: str) -> dict[str, str]:
    return {"From": PHONE, "Body": "hello", "MessageSid": SID, **params}


def refusal(params: dict[str, str]) -> tuple[str, int]:
    with pytest.raises(InvalidInbound) as info:
        parse_inbound_form(params)
    assert str(info.value) == info.value.reason
    return info.value.reason, info.value.status


def test_a_plain_text_parses() -> None:
    sms = parse_inbound_form(form(From=" +1 415 555 0123", MessageSid=f" {SID} ", Body=" hi "))
    assert sms == InboundSms(from_number=PHONE, body=" hi ", message_sid=SID, media_urls=[])


def test_missing_parameters_are_named_in_order() -> None:
    assert refusal({}) == ("missing parameter(s): From, Body, MessageSid", 400)
    assert refusal({"From": PHONE, "Body": ""}) == ("missing parameter(s): MessageSid", 400)


def test_an_empty_body_is_a_text() -> None:
    assert parse_inbound_form(form(Body="")).body == ""


@pytest.mark.parametrize("sid", ["SM" + "b" * 31, "XX" + "b" * 32, ""])
def test_a_sid_that_is_not_twilios_shape_is_refused(sid: str) -> None:
    assert refusal(form(MessageSid=sid)) == ("MessageSid is not a Twilio message SID", 400)


def test_an_unusable_phone_number_is_refused_with_the_reason() -> None:
    assert refusal(form(From="abc")) == (
        "From is not a usable phone number: the string supplied did not seem to be a phone number",
        400,
    )


def test_a_nul_in_the_body_is_refused() -> None:
    assert refusal(form(Body="a\x00b")) == ("Body contains a NUL character", 400)


def test_the_body_limit_is_1600_utf16_units_and_answers_413() -> None:
    assert parse_inbound_form(form(Body="x" * 1600)).body == "x" * 1600
    assert refusal(form(Body="x" * 1601)) == ("Body longer than 1600 characters", 413)
    assert refusal(form(Body="\U0001f600" * 801)) == ("Body longer than 1600 characters", 413)


def test_invalid_inbound_defaults_to_400() -> None:
    assert InvalidInbound("why").status == 400


def media(*urls: str, count: str | None = None) -> dict[str, str]:
    params = form(NumMedia=str(len(urls)) if count is None else count)
    params.update({f"MediaUrl{i}": url for i, url in enumerate(urls)})
    return params


def test_media_urls_are_kept_in_order() -> None:
    urls = ["https://api.twilio.com/m/0", "http://example.test/1"]
    assert parse_inbound_form(media(*urls)).media_urls == urls
    assert parse_inbound_form(media(count="")).media_urls == []
    assert parse_inbound_form(media(count="0")).media_urls == []
    ten = [f"https://x.test/{i}" for i in range(10)]
    assert parse_inbound_form(media(*ten)).media_urls == ten


def test_num_media_bounds() -> None:
    assert refusal(media(count="x")) == ("NumMedia is not a number", 400)
    assert refusal(media(count="-1")) == ("NumMedia must be between 0 and 10", 400)
    eleven = [f"https://x.test/{i}" for i in range(11)]
    assert refusal(media(*eleven)) == ("NumMedia must be between 0 and 10", 400)


def test_a_missing_media_url_is_named() -> None:
    assert refusal(media("https://x.test/0", count="2")) == ("MediaUrl1 missing for NumMedia=2", 400)
    assert refusal(media("", count="1")) == ("MediaUrl0 missing for NumMedia=1", 400)


@pytest.mark.parametrize(
    "url",
    [
        "https://x.test/" + "a" * (MAX_MEDIA_URL_CHARS - 14),
        "https://x.test/a\nb",
        "https://x.test/\x1f",
        "https://x.test/\x7f",
        "http://[",
        "ftp://x.test/a",
        "https:///path",
        "x.test/a",
    ],
)
def test_a_media_url_that_is_not_http_is_refused(url: str) -> None:
    assert refusal(media("https://ok.test/0", url)) == ("MediaUrl1 is not an http(s) URL", 400)


def test_a_media_url_of_exactly_2048_characters_is_kept() -> None:
    url = "https://x.test/" + "a" * (MAX_MEDIA_URL_CHARS - 15)
    assert len(url) == 2048
    assert parse_inbound_form(media(url)).media_urls == [url]
    assert parse_inbound_form(media("https://x.test/ ~")).media_urls == ["https://x.test/ ~"]


# --- recording a text ---------------------------------------------------------------------------


@dataclass
class Store:
    opted_out: bool = False
    verified: bool = False
    created: bool = False
    replay: bool = False
    initial_setup_due: bool = False
    user_id: UUID = field(default_factory=uuid4)
    conversation_id: UUID = field(default_factory=uuid4)
    message_id: UUID = field(default_factory=uuid4)
    set_changes: bool = True  # set_opted_out / set_opted_in changed something
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    reviews: list[tuple[Any, ...]] = field(default_factory=list)
    commits: int = 0

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [c[1:] for c in self.calls if c[0] == name]


class FakeMessages:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add_inbound(self, **kwargs: Any) -> UUID | None:
        self.store.calls.append(("add_inbound", kwargs))
        return None if self.store.replay else self.store.message_id

    def add_outbound(self, **kwargs: Any) -> UUID:
        self.store.calls.append(("add_outbound", kwargs))
        return uuid4()

    def initial_setup_due(self, user_id: UUID, *, min_inbound: int) -> bool:
        self.store.calls.append(("initial_setup_due", user_id, min_inbound))
        return self.store.initial_setup_due


class FakeUsers:
    def __init__(self, store: Store) -> None:
        self.store = store

    def upsert_by_phone(self, phone_number: str, *, timezone: str | None) -> TextingUser:
        self.store.calls.append(("upsert_by_phone", phone_number, timezone))
        s = self.store
        return TextingUser(
            id=s.user_id,
            conversation_id=s.conversation_id,
            verified=s.verified,
            poc_agent_type="concierge",
            opted_out=s.opted_out,
            created=s.created,
        )

    def set_opted_out(self, user_id: UUID) -> bool:
        self.store.calls.append(("set_opted_out", user_id))
        return self.store.set_changes

    def set_opted_in(self, user_id: UUID) -> bool:
        self.store.calls.append(("set_opted_in", user_id))
        return self.store.set_changes


class FakeUow:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.messages = FakeMessages(store)
        self.users = FakeUsers(store)
        self.pending: list[Event] = []

    def __enter__(self) -> FakeUow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pending = []

    def emit(self, event: Event) -> None:
        self.pending.append(event)

    def commit(self) -> list[UUID]:
        self.store.events.extend(self.pending)
        self.pending = []
        self.store.commits += 1
        return []


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    store = Store()

    def request_review(
        uow: Any, /, user_id: UUID, *, trigger: str, now: datetime, message_id: UUID | None = None
    ) -> bool:
        assert uow.store is store
        store.reviews.append((user_id, trigger, now, message_id))
        return True

    monkeypatch.setattr(inbound_sms, "request_review", request_review)
    return store


def record(store: Store, body: str = "hello", media_urls: list[str] | None = None) -> InboundResult:
    sms = InboundSms(from_number=PHONE, body=body, message_sid=SID, media_urls=media_urls or [])
    return record_inbound_sms(sms, cast(PostgresUnitOfWork, FakeUow(store)))


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def test_an_ordinary_text_is_stored_routed_and_announced(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store.created = True
    urls = ["https://x.test/0", "https://x.test/1"]
    result = record(store, "hello there", urls)
    assert result == InboundResult(
        Outcome.ROUTED,
        user_id=store.user_id,
        conversation_id=store.conversation_id,
        message_id=store.message_id,
        keyword=None,
        new_user=True,
    )
    assert store.named("upsert_by_phone") == [(PHONE, "America/Los_Angeles")]
    [(inbound,)] = store.named("add_inbound")
    assert inbound == {
        "conversation_id": store.conversation_id,
        "user_id": store.user_id,
        "content": "hello there",
        "message_sid": SID,
        "media_urls": urls,
        "num_segments": 1,
        "routed": True,
    }
    assert inbound["media_urls"] is not urls  # a copy
    assert store.events == [
        Event(
            event_type="message.received",
            aggregate_type="user",
            aggregate_id=store.user_id,
            payload={
                "user_id": str(store.user_id),
                "conversation_id": str(store.conversation_id),
                "message_id": str(store.message_id),
                "message_sid": SID,
            },
            created_by="twilio_inbound",
        )
    ]
    assert CREATED_BY == "twilio_inbound"
    assert store.commits == 1
    # not verified: no Account Manager trigger is even looked at
    assert store.named("initial_setup_due") == [] and store.reviews == []
    [line] = logged(caplog, "inbound SMS recorded")
    assert line.levelno == logging.INFO
    assert {k: line.__dict__[k] for k in ("outcome", "user_id", "message_id", "message_sid")} == {
        "outcome": "routed",
        "user_id": str(store.user_id),
        "message_id": str(store.message_id),
        "message_sid": SID,
    }
    assert line.__dict__["keyword"] is None
    assert line.__dict__["new_user"] is True
    assert line.__dict__["media"] == 2


def test_an_empty_body_stores_no_segment_count(store: Store) -> None:
    assert record(store, "").outcome is Outcome.ROUTED
    [(inbound,)] = store.named("add_inbound")
    assert inbound["num_segments"] is None and inbound["content"] == ""


def test_a_long_body_counts_its_segments(store: Store) -> None:
    record(store, "x" * 161)
    [(inbound,)] = store.named("add_inbound")
    assert inbound["num_segments"] == 2


def test_a_replayed_sid_writes_nothing_and_is_logged(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store.replay = True
    store.verified = True
    assert record(store, "STOP") == InboundResult(Outcome.DUPLICATE)
    assert (store.commits, store.events, store.reviews) == (0, [], [])
    assert store.named("set_opted_out") == []
    [line] = logged(caplog, "replayed inbound SMS ignored")
    assert line.levelno == logging.INFO
    assert line.__dict__["message_sid"] == SID
    assert logged(caplog, "inbound SMS recorded") == []


def test_a_text_from_an_opted_out_member_is_stored_unrouted(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store.opted_out = store.verified = True
    result = record(store, "hello goal")
    assert result.outcome is Outcome.OPTED_OUT and result.keyword is None and result.new_user is False
    [(inbound,)] = store.named("add_inbound")
    assert inbound["routed"] is False
    assert (store.events, store.reviews, store.commits) == ([], [], 1)
    [line] = logged(caplog, "inbound SMS recorded")
    assert line.__dict__["outcome"] == "opted_out"
    assert line.__dict__["new_user"] is False
    assert line.__dict__["media"] == 0


def keyword_payload(store: Store) -> dict[str, str]:
    return {"user_id": str(store.user_id), "message_id": str(store.message_id), "source": "keyword"}


def test_stop_opts_out_with_an_event(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    result = record(store, "STOP")
    assert (result.outcome, result.keyword, result.message_id) == (
        Outcome.KEYWORD,
        Keyword.OPT_OUT,
        store.message_id,
    )
    [(inbound,)] = store.named("add_inbound")
    assert inbound["routed"] is False
    assert store.named("set_opted_out") == [(store.user_id,)]
    assert store.events == [
        Event("user.opted_out", "user", store.user_id, keyword_payload(store), CREATED_BY)
    ]
    assert store.commits == 1
    [line] = logged(caplog, "inbound SMS recorded")
    assert (line.__dict__["outcome"], line.__dict__["keyword"]) == ("keyword", "opt_out")


def test_stop_when_already_opted_out_emits_nothing(store: Store) -> None:
    store.set_changes = False
    assert record(store, "STOP").keyword is Keyword.OPT_OUT
    assert store.events == [] and store.commits == 1


def test_start_opts_in_with_an_event(store: Store) -> None:
    store.opted_out = True
    result = record(store, "START")
    assert (result.outcome, result.keyword) == (Outcome.KEYWORD, Keyword.OPT_IN)
    assert store.named("set_opted_in") == [(store.user_id,)]
    assert store.named("set_opted_out") == []
    assert store.events == [Event("user.opted_in", "user", store.user_id, keyword_payload(store), CREATED_BY)]


def test_yes_opts_an_opted_out_member_back_in_but_is_an_ordinary_text_otherwise(store: Store) -> None:
    store.opted_out = True
    result = record(store, "yes")
    assert (result.outcome, result.keyword) == (Outcome.KEYWORD, Keyword.OPT_IN)
    assert store.named("set_opted_in") == [(store.user_id,)]
    other = Store()
    outcome = record_inbound_sms(
        InboundSms(from_number=PHONE, body="yes", message_sid=SID), cast(PostgresUnitOfWork, FakeUow(other))
    )
    assert (outcome.outcome, outcome.keyword) == (Outcome.ROUTED, None)


def test_start_when_already_opted_in_emits_nothing(store: Store) -> None:
    store.set_changes = False
    assert record(store, "START").keyword is Keyword.OPT_IN
    assert store.events == []


def test_help_answers_through_the_outbound_path(store: Store) -> None:
    result = record(store, "HELP")
    assert (result.outcome, result.keyword) == (Outcome.KEYWORD, Keyword.HELP)
    [(outbound,)] = store.named("add_outbound")
    assert outbound["conversation_id"] == store.conversation_id
    assert outbound["user_id"] == store.user_id
    assert outbound["role"] == "system"
    assert outbound["message_queue_id"] is None
    part = outbound["part"]
    assert isinstance(part, OutboundPart) and part.content == HELP_TEXT
    assert store.events == [] and store.commits == 1
    assert store.named("set_opted_out") == store.named("set_opted_in") == []


def test_help_from_an_opted_out_member_sends_nothing(store: Store) -> None:
    store.opted_out = True
    result = record(store, "HELP")
    assert (result.outcome, result.keyword) == (Outcome.KEYWORD, Keyword.HELP)
    assert store.named("add_outbound") == [] and store.events == [] and store.commits == 1


def test_a_keyword_from_a_verified_member_requests_no_review(store: Store) -> None:
    store.verified = store.initial_setup_due = True
    record(store, "HELP")
    assert store.reviews == [] and store.named("initial_setup_due") == []


def test_a_verified_members_third_text_requests_initial_setup(store: Store) -> None:
    store.verified = store.initial_setup_due = True
    before = datetime.now(UTC)
    assert record(store, "hello").outcome is Outcome.ROUTED
    assert store.named("initial_setup_due") == [(store.user_id, 3)]
    [(user_id, trigger, now, message_id)] = store.reviews
    assert (user_id, trigger, message_id) == (store.user_id, "initial_setup", store.message_id)
    assert now.tzinfo is not None and before <= now <= datetime.now(UTC) + timedelta(seconds=1)
    assert len(store.events) == 1


def test_goal_keywords_request_an_explicit_mention_review(store: Store) -> None:
    store.verified = True
    record(store, "my goal is to hire")
    assert [(r[0], r[1], r[3]) for r in store.reviews] == [
        (store.user_id, "explicit_mention", store.message_id)
    ]


def test_both_triggers_fire_together_with_one_clock(store: Store) -> None:
    store.verified = store.initial_setup_due = True
    record(store, "working on a raise")
    assert [r[1] for r in store.reviews] == ["initial_setup", "explicit_mention"]
    assert store.reviews[0][2] == store.reviews[1][2]


def test_no_trigger_no_review(store: Store) -> None:
    store.verified = True
    record(store, "hello")
    assert store.reviews == []
    assert store.named("initial_setup_due") == [(store.user_id, 3)]
