"""What operators do with community health and credits (``shared/service_layer/community_ops.py``).

Written against the module's mutmut survivors (docs/testing.md, "Mutation testing"): the health
report's window and load cap, the answered rate (a day with no requests is 0, not a division by
zero), a member's ledger with the name shown and the limit asked for, and an operator's grant or
revoke: the refusals (no operator, no reason, 0 credits, an unknown phone), the row written
through the credit ledger (event type, amount, reference, the key tied to the reference, the
reason and the operator's name, trimmed). The repositories are ``ScriptedRepo`` s
(tests/fakes/uow.py) recording every call; the real ledger rules (``shared/service_layer/credits``)
run on them. The SQL is tested on Postgres (tests/integration/test_community_ops.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.repositories.community_requests import ReportRow
from shared.adapters.repositories.credits import LedgerEntry, NewLedgerEntry
from shared.adapters.repositories.users import User, UserLock
from shared.domain import credits as credit_rules
from shared.domain.constants import EXPERT_ASKS_PER_LOCAL_DAY
from shared.service_layer import community_ops
from shared.service_layer.community_ops import (
    ADJUSTMENT_REFERENCE,
    CommunityDay,
    MemberLedger,
    UnknownPhone,
    adjust,
    community_report,
    member_ledger,
)
from shared.service_layer.credits import InsufficientCredits
from tests.fakes.rows import user_row
from tests.fakes.uow import Call, RecordingUow, ScriptedRepo, UowLog

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
PHONE = "+14155550188"
USER_ID = UUID("00000000-0000-0000-0000-0000000000aa")


def make_user(**changes: Any) -> User:
    return replace(
        user_row(
            USER_ID,
            NOW,
            phone_number=PHONE,
            first_name="Dana",
            last_name="Kim",
            verified=True,
            verification_token="token",
            credit_balance=7,
        ),
        **changes,
    )


def entry_of(new: NewLedgerEntry) -> LedgerEntry:
    return LedgerEntry(
        id=uuid4(),
        user_id=new.user_id,
        event_type=new.event_type,
        amount=new.amount,
        reference_type=new.reference_type,
        reference_id=new.reference_id,
        idempotency_key=new.idempotency_key,
        description=new.description,
        recorded_by=new.recorded_by,
        created_at=NOW,
    )


def uow_with(
    log: UowLog, *, user: User | None = None, user_id: UUID | None = USER_ID, balance: int = 50
) -> Any:
    users = ScriptedRepo("users", log, id_by_phone=user_id, get=user, lock=None)
    ledger = ScriptedRepo("credits", log, append=entry_of, by_key=None, balance=balance, for_user=[])
    return RecordingUow(log, users=users, credits=ledger).as_postgres()


# --- the community health report --------------------------------------------------------------


def report_row(day: date, category: str, **changes: Any) -> ReportRow:
    row = ReportRow(
        day=day,
        category=category,
        requests=4,
        answered=3,
        median_minutes_to_first_answer=12.5,
        mean_usefulness=7.25,
        credits_paid=30,
    )
    return replace(row, **changes)


def test_the_report_reads_the_window_with_the_load_cap_and_fills_experts_over_cap_per_day_and_category() -> (
    None
):
    log = UowLog()
    day1, day2 = date(2026, 12, 2), date(2026, 12, 1)
    rows = [
        report_row(day1, "fundraising"),
        report_row(
            day2, "hiring", requests=9, answered=0, median_minutes_to_first_answer=None, mean_usefulness=None
        ),
    ]
    repo = ScriptedRepo(
        "community_requests",
        log,
        experts_over_cap={(day1, "fundraising"): 2, (day2, "fundraising"): 5},
        daily_report=rows,
    )
    uow = RecordingUow(log, community_requests=repo).as_postgres()
    report = community_report(uow, now=NOW, days=7)
    since = NOW - timedelta(days=7)
    assert log.calls == [
        Call(
            "community_requests", "experts_over_cap", (), {"since": since, "cap": EXPERT_ASKS_PER_LOCAL_DAY}
        ),
        Call("community_requests", "daily_report", (), {"since": since}),
    ]
    assert since == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert report == [
        CommunityDay(
            day=day1,
            category="fundraising",
            requests=4,
            answered=3,
            median_minutes_to_first_answer=12.5,
            mean_usefulness=7.25,
            credits_paid=30,
            experts_over_cap=2,
        ),
        CommunityDay(
            day=day2,
            category="hiring",
            requests=9,
            answered=0,
            median_minutes_to_first_answer=None,
            mean_usefulness=None,
            credits_paid=30,
            experts_over_cap=0,
        ),
    ]


def test_the_report_of_an_empty_window_is_empty() -> None:
    log = UowLog()
    repo = ScriptedRepo("community_requests", log, experts_over_cap={}, daily_report=[])
    assert community_report(RecordingUow(log, community_requests=repo).as_postgres(), now=NOW, days=1) == []
    assert log.of("community_requests", "daily_report")[0].kwargs == {"since": NOW - timedelta(days=1)}


def community_day(requests: int, answered: int) -> CommunityDay:
    return CommunityDay(
        day=date(2026, 12, 2),
        category="fundraising",
        requests=requests,
        answered=answered,
        median_minutes_to_first_answer=None,
        mean_usefulness=None,
        credits_paid=0,
        experts_over_cap=0,
    )


@pytest.mark.parametrize(
    ("requests", "answered", "rate"), [(4, 1, 0.25), (4, 4, 1.0), (3, 0, 0.0), (0, 0, 0.0), (1, 1, 1.0)]
)
def test_the_answered_rate_is_answered_over_requests_and_zero_without_requests(
    requests: int, answered: int, rate: float
) -> None:
    assert community_day(requests, answered).answered_rate == rate


# --- a member's ledger ------------------------------------------------------------------------


def test_a_member_ledger_shows_the_ledger_sum_beside_the_cached_balance_and_the_entries() -> None:
    log = UowLog()
    entries = [entry_of(NewLedgerEntry(USER_ID, "operator_grant", 5, ADJUSTMENT_REFERENCE, uuid4(), "k"))]
    uow = uow_with(log, user=make_user(credit_balance=7), balance=5)
    uow.credits.answer("for_user", entries)
    assert member_ledger(uow, PHONE) == MemberLedger(
        user_id=USER_ID, name="Dana Kim", balance=5, cached_balance=7, entries=entries
    )
    assert log.calls == [
        Call("users", "id_by_phone", (PHONE,), {}),
        Call("users", "get", (USER_ID,), {}),
        Call("credits", "balance", (USER_ID,), {}),
        Call("credits", "for_user", (USER_ID,), {"limit": 100}),
    ]


def test_a_member_ledger_reads_the_limit_asked_for() -> None:
    log = UowLog()
    member_ledger(uow_with(log, user=make_user()), PHONE, limit=3)
    assert log.of("credits", "for_user") == [Call("credits", "for_user", (USER_ID,), {"limit": 3})]


@pytest.mark.parametrize(
    ("first", "last", "name"),
    [("Dana", None, "Dana"), (None, "Kim", "Kim"), ("", "Kim", "Kim"), (None, None, "-"), ("", "", "-")],
)
def test_the_name_shown_is_the_names_there_are_or_a_dash(
    first: str | None, last: str | None, name: str
) -> None:
    uow = uow_with(UowLog(), user=make_user(first_name=first, last_name=last))
    assert member_ledger(uow, PHONE).name == name


def test_an_unknown_phone_is_refused_without_reading_a_user() -> None:
    log = UowLog()
    with pytest.raises(UnknownPhone) as info:
        member_ledger(uow_with(log, user_id=None), PHONE)
    assert str(info.value) == f"no member with phone {PHONE}"
    assert log.methods() == ["users.id_by_phone"]


def test_a_phone_whose_user_is_gone_is_refused() -> None:
    log = UowLog()
    with pytest.raises(UnknownPhone, match=rf"^no member with phone \{PHONE}$"):
        member_ledger(uow_with(log, user=None), PHONE)
    assert log.methods() == ["users.id_by_phone", "users.get"]


# --- grants and revokes -----------------------------------------------------------------------


def the_one_append(log: UowLog) -> NewLedgerEntry:
    (call,) = log.of("credits", "append")
    entry = call.args[0]
    assert isinstance(entry, NewLedgerEntry)
    return entry


@pytest.mark.parametrize("amount", [1, 30])
def test_a_grant_pays_the_amount_as_an_operator_grant_with_the_reason_and_the_operator(amount: int) -> None:
    log = UowLog()
    written = adjust(
        uow_with(log, user=make_user()), PHONE, amount=amount, operator="  ana ", reason=" beta tester  "
    )
    new = the_one_append(log)
    assert new == NewLedgerEntry(
        user_id=USER_ID,
        event_type=credit_rules.OPERATOR_GRANT,
        amount=amount,
        reference_type=ADJUSTMENT_REFERENCE,
        reference_id=new.reference_id,
        idempotency_key=f"operator_adjustment_{new.reference_id}",
        description="beta tester",
        recorded_by="operator:ana",
    )
    assert ADJUSTMENT_REFERENCE == "operator_adjustment"
    assert isinstance(new.reference_id, UUID)
    assert written.amount == amount and written.event_type == "operator_grant"
    # a grant takes no lock and reads no balance: only a spend does
    assert log.methods() == ["users.id_by_phone", "users.get", "credits.append"]
    assert log.calls[:2] == [Call("users", "id_by_phone", (PHONE,), {}), Call("users", "get", (USER_ID,), {})]


@pytest.mark.parametrize("amount", [-1, -10])
def test_a_revoke_spends_the_amount_as_an_operator_revoke_under_the_credits_lock(amount: int) -> None:
    log = UowLog()
    adjust(uow_with(log, user=make_user(), balance=10), PHONE, amount=amount, operator="ana", reason="twice")
    new = the_one_append(log)
    assert new == NewLedgerEntry(
        user_id=USER_ID,
        event_type=credit_rules.OPERATOR_REVOKE,
        amount=amount,
        reference_type=ADJUSTMENT_REFERENCE,
        reference_id=new.reference_id,
        idempotency_key=f"operator_adjustment_{new.reference_id}",
        description="twice",
        recorded_by="operator:ana",
    )
    assert log.of("users", "lock") == [Call("users", "lock", (USER_ID, UserLock.CREDITS), {})]
    assert log.of("credits", "by_key") == [Call("credits", "by_key", (new.idempotency_key,), {})]


def test_each_adjustment_has_its_own_reference() -> None:
    log = UowLog()
    uow = uow_with(log, user=make_user())
    adjust(uow, PHONE, amount=2, operator="ana", reason="r")
    adjust(uow, PHONE, amount=2, operator="ana", reason="r")
    first, second = (c.args[0] for c in log.of("credits", "append"))
    assert first.reference_id != second.reference_id


def test_a_revoke_never_goes_below_zero() -> None:
    log = UowLog()
    with pytest.raises(InsufficientCredits, match="has 10 credits; cannot spend 11"):
        adjust(uow_with(log, user=make_user(), balance=10), PHONE, amount=-11, operator="ana", reason="r")
    assert log.of("credits", "append") == []


@pytest.mark.parametrize(
    ("operator", "reason"), [("", "r"), ("   ", "r"), ("ana", ""), ("ana", " \t "), ("", "")]
)
def test_an_adjustment_needs_the_operator_and_a_reason(operator: str, reason: str) -> None:
    log = UowLog()
    with pytest.raises(ValueError) as info:
        adjust(uow_with(log, user=make_user()), PHONE, amount=5, operator=operator, reason=reason)
    assert str(info.value) == "an adjustment needs the operator's name and a reason"
    assert log.calls == []


def test_an_adjustment_of_zero_is_refused_before_the_member_is_read() -> None:
    log = UowLog()
    with pytest.raises(ValueError) as info:
        adjust(uow_with(log, user=make_user()), PHONE, amount=0, operator="ana", reason="r")
    assert str(info.value) == "an adjustment of 0 credits changes nothing"
    assert log.calls == []


def test_an_adjustment_for_an_unknown_phone_writes_nothing() -> None:
    log = UowLog()
    with pytest.raises(UnknownPhone, match="no member with phone"):
        adjust(uow_with(log, user_id=None), PHONE, amount=5, operator="ana", reason="r")
    assert log.methods() == ["users.id_by_phone"]


def test_the_adjustment_key_is_the_ledgers_operator_key() -> None:
    log = UowLog()
    adjust(uow_with(log, user=make_user()), PHONE, amount=3, operator="ana", reason="r")
    new = the_one_append(log)
    assert new.idempotency_key == credit_rules.operator_adjustment_key(new.reference_id)
    assert new.reference_type == community_ops.ADJUSTMENT_REFERENCE
