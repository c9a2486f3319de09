"""The retention job (``shared/service_layer/retention.py``), example by example, over an in-memory
unit of work.

Written against mutmut (docs/testing.md): each rule's period and cutoff (the two configurable
ones with and without their setting), the batch loop on both sides of its edges (a short batch
ends the rule, a full one asks again, the cap leaves the rest and marks the run incomplete), one
unit of work committed per batch, the report and its JSON form, the run's log line with its
fields (docs/operating.md), and the request bodies the entry point accepts and refuses with their
exact texts. What each rule's SQL keeps and removes is ``tests/integration/test_retention.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from shared import config
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import RETENTION_BATCH, RETENTION_MAX_BATCHES_PER_RULE
from shared.service_layer.retention import (
    RETENTION_JOB,
    RetentionReport,
    UowFactory,
    parse_retention_job,
    retention_periods,
    run_retention,
)

LOGGER = "shared.service_layer.retention"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RULES = [
    "events",
    "agent_tasks",
    "event_dead_letters",
    "agent_actions_log",
    "processed_deliveries",
    "messages",
]
DEFAULT_PERIODS = {
    "events": 90 * DAY,
    "agent_tasks": 30 * DAY,
    "event_dead_letters": 90 * DAY,
    "agent_actions_log": 365 * DAY,
    "processed_deliveries": 8 * DAY,
    "messages": 365 * DAY,
}


@dataclass
class Store:
    backlog: dict[str, int] = field(default_factory=dict)  # rows each rule may still remove
    calls: list[tuple[str, datetime, int]] = field(default_factory=list)
    committed: list[str] = field(default_factory=list)
    units: int = 0


class FakeUow:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.retention = self
        self._staged: list[str] = []

    def __enter__(self) -> FakeUow:
        self.store.units += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._staged = []

    def remove_batch(self, rule: str, *, cutoff: datetime, batch: int) -> int:
        self.store.calls.append((rule, cutoff, batch))
        n = min(batch, self.store.backlog.get(rule, 0))
        self.store.backlog[rule] = self.store.backlog.get(rule, 0) - n
        self._staged.append(rule)
        return n

    def commit(self) -> None:
        self.store.committed.extend(self._staged)
        self._staged = []


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("RETENTION_MESSAGE_DAYS", raising=False)
    monkeypatch.delenv("RETENTION_ACTION_LOG_DAYS", raising=False)
    config.reset_settings_cache()
    yield
    config.reset_settings_cache()


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[logging.LogRecord]]]:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    yield lambda: [r for r in caplog.records if r.name == LOGGER]


def _factory(store: Store) -> UowFactory:
    return lambda: cast(PostgresUnitOfWork, FakeUow(store))


# --- periods --------------------------------------------------------------------------------------


def test_default_periods() -> None:
    assert retention_periods() == DEFAULT_PERIODS
    assert list(retention_periods()) == RULES


def test_the_message_and_action_log_periods_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_MESSAGE_DAYS", "30")
    monkeypatch.setenv("RETENTION_ACTION_LOG_DAYS", "60")
    config.reset_settings_cache()
    assert retention_periods() == {**DEFAULT_PERIODS, "agent_actions_log": 60 * DAY, "messages": 30 * DAY}


# --- run_retention --------------------------------------------------------------------------------


def test_an_empty_run_asks_each_rule_once_with_its_cutoff(
    lines: Callable[[], list[logging.LogRecord]],
) -> None:
    store = Store()
    report = run_retention(_factory(store), now=NOW)
    assert store.calls == [(rule, NOW - DEFAULT_PERIODS[rule], RETENTION_BATCH) for rule in RULES]
    assert RETENTION_BATCH == 500
    assert store.units == 6
    assert store.committed == RULES
    assert report == RetentionReport(
        removed=dict.fromkeys(RULES, 0),
        cutoffs={rule: NOW - DEFAULT_PERIODS[rule] for rule in RULES},
        complete=True,
    )
    [line] = lines()
    assert line.levelno == logging.INFO
    assert line.getMessage() == "retention run"
    assert line.removed == dict.fromkeys(RULES, 0)  # type: ignore[attr-defined]
    assert line.complete is True  # type: ignore[attr-defined]
    assert line.retention_outcome == "ran"  # type: ignore[attr-defined]


def test_a_short_batch_ends_the_rule_and_a_full_one_asks_again() -> None:
    store = Store(backlog={"events": 7, "agent_tasks": 6, "messages": 5})
    report = run_retention(_factory(store), now=NOW, batch=3, max_batches=5)
    assert [(rule, batch) for rule, _, batch in store.calls] == [
        ("events", 3),
        ("events", 3),
        ("events", 3),  # 3, 3, 1
        ("agent_tasks", 3),
        ("agent_tasks", 3),
        ("agent_tasks", 3),  # 3, 3, 0: a full batch asks again
        ("event_dead_letters", 3),
        ("agent_actions_log", 3),
        ("processed_deliveries", 3),
        ("messages", 3),
        ("messages", 3),  # 3, 2
    ]
    assert report.removed == {
        "events": 7,
        "agent_tasks": 6,
        "event_dead_letters": 0,
        "agent_actions_log": 0,
        "processed_deliveries": 0,
        "messages": 5,
    }
    assert report.complete is True
    assert store.units == len(store.calls)  # one unit of work per batch
    assert len(store.committed) == len(store.calls)


def test_the_batch_cap_leaves_the_rest_for_the_next_run(lines: Callable[[], list[logging.LogRecord]]) -> None:
    store = Store(backlog={"agent_tasks": 10})
    report = run_retention(_factory(store), now=NOW, batch=3, max_batches=2)
    assert [rule for rule, _, _ in store.calls].count("agent_tasks") == 2
    assert report.removed["agent_tasks"] == 6
    assert store.backlog["agent_tasks"] == 4
    assert report.complete is False
    assert report.removed["messages"] == 0  # the rules after it still ran
    [line] = lines()
    assert line.complete is False  # type: ignore[attr-defined]
    assert line.removed["agent_tasks"] == 6  # type: ignore[attr-defined]


def test_exactly_the_cap_of_full_batches_is_incomplete() -> None:
    store = Store(backlog={"events": 6})
    report = run_retention(_factory(store), now=NOW, batch=3, max_batches=2)
    assert report.removed["events"] == 6
    assert report.complete is False  # the last batch was full: there may be more


def test_one_short_batch_within_the_cap_is_complete() -> None:
    store = Store(backlog={"events": 5})
    report = run_retention(_factory(store), now=NOW, batch=3, max_batches=2)
    assert report.removed["events"] == 5
    assert report.complete is True


def test_the_default_cap() -> None:
    store = Store(backlog={"events": 10**9})
    report = run_retention(_factory(store), now=NOW)
    assert [rule for rule, _, _ in store.calls].count("events") == RETENTION_MAX_BATCHES_PER_RULE == 200
    assert report.removed["events"] == 200 * 500
    assert report.complete is False


def test_configured_periods_set_the_cutoffs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_MESSAGE_DAYS", "30")
    config.reset_settings_cache()
    report = run_retention(_factory(Store()), now=NOW)
    assert report.cutoffs["messages"] == NOW - 30 * DAY
    assert report.cutoffs["agent_actions_log"] == NOW - 365 * DAY


def test_the_report_as_json() -> None:
    assert RetentionReport().as_dict() == {"removed": {}, "cutoffs": {}, "complete": True}
    report = RetentionReport(removed={"events": 2}, cutoffs={"events": NOW}, complete=False)
    assert report.as_dict() == {
        "removed": {"events": 2},
        "cutoffs": {"events": "2026-12-02T03:00:00+00:00"},
        "complete": False,
    }
    report.as_dict()["removed"]["events"] = 9
    assert report.removed == {"events": 2}  # a copy


# --- parse_retention_job --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"", b"  \n", b"{}", b'{"sweep": true}', b'{"job": "retention"}', b' {"job":"retention"} ']
)
def test_accepted_bodies(body: bytes) -> None:
    assert parse_retention_job(body) == RETENTION_JOB == "retention"


@pytest.mark.parametrize("body", [b"{", b"not json", b"\xff\xfe{", b"\x80"])
def test_a_body_that_is_not_json(body: bytes) -> None:
    with pytest.raises(ValueError) as caught:
        parse_retention_job(body)
    assert str(caught.value) == "body is not JSON"
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(
    "body",
    [b'{"job": "other"}', b'{"sweep": false}', b'{"sweep": true, "job": "retention"}', b"[]", b"null", b"0"],
)
def test_other_json_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError) as caught:
        parse_retention_job(body)
    assert str(caught.value) == 'expected {} or {"job": "retention"}'
