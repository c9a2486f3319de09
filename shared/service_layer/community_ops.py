"""What operators do with community and credits (issue 9; agents.md §8.15): the health report,
a member's ledger, grants and revokes recorded with the operator's name and reason, and the
ledger-versus-cache check. The CLI (tools/ops) only prints what these return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from shared.adapters.postgres import Sql
from shared.domain import credits as credit_rules
from shared.domain.constants import EXPERT_ASKS_PER_LOCAL_DAY
from shared.service_layer import credits

ADJUSTMENT_REFERENCE = "operator_adjustment"


class UnknownPhone(LookupError):
    pass


@dataclass(frozen=True)
class CommunityDay:
    day: date
    category: str
    requests: int
    answered: int
    median_minutes_to_first_answer: float | None
    mean_usefulness: float | None
    credits_paid: int
    experts_over_cap: int

    @property
    def answered_rate(self) -> float:
        return self.answered / self.requests if self.requests else 0.0


def community_report(sql: Sql, *, now: datetime, days: int) -> list[CommunityDay]:
    """Per day (UTC) and category: requests, answered rate, median time to first answer, mean
    usefulness, credits paid and experts asked more often than the load cap allows."""
    since = now - timedelta(days=days)
    over = {
        (r["day"], r["category"]): int(r["experts_over_cap"])
        for r in sql.all("community_report_over_cap", since=since, cap=EXPERT_ASKS_PER_LOCAL_DAY)
    }
    return [
        CommunityDay(
            day=r["day"],
            category=r["category"],
            requests=int(r["requests"]),
            answered=int(r["answered"]),
            median_minutes_to_first_answer=_float(r["median_minutes_to_first_answer"]),
            mean_usefulness=_float(r["mean_usefulness"]),
            credits_paid=int(r["credits_paid"]),
            experts_over_cap=over.get((r["day"], r["category"]), 0),
        )
        for r in sql.all("community_report", since=since)
    ]


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


@dataclass(frozen=True)
class MemberLedger:
    user_id: UUID
    name: str
    balance: int  # the ledger sum
    cached_balance: int  # users.credit_balance
    entries: list[credits.LedgerEntry]


def member_ledger(sql: Sql, phone: str, *, limit: int = 100) -> MemberLedger:
    row = sql.one("credit_member_by_phone", phone=phone)
    if row is None:
        raise UnknownPhone(f"no member with phone {phone}")
    user_id = UUID(str(row["id"]))
    name = " ".join(str(row[k]) for k in ("first_name", "last_name") if row[k]) or "-"
    return MemberLedger(
        user_id=user_id,
        name=name,
        balance=credits.balance(sql, user_id),
        cached_balance=int(row["credit_balance"]),
        entries=credits.ledger(sql, user_id, limit=limit),
    )


def adjust(sql: Sql, phone: str, *, amount: int, operator: str, reason: str) -> credits.LedgerEntry:
    """An operator's grant (amount > 0) or revoke (amount < 0); a revoke never goes below zero."""
    if not operator.strip() or not reason.strip():
        raise ValueError("an adjustment needs the operator's name and a reason")
    if amount == 0:
        raise ValueError("an adjustment of 0 credits changes nothing")
    row = sql.one("credit_member_by_phone", phone=phone)
    if row is None:
        raise UnknownPhone(f"no member with phone {phone}")
    adjustment_id = uuid4()
    fields = {
        "user_id": UUID(str(row["id"])),
        "amount": abs(amount),
        "reference_type": ADJUSTMENT_REFERENCE,
        "reference_id": adjustment_id,
        "idempotency_key": credit_rules.operator_adjustment_key(adjustment_id),
        "description": reason.strip(),
        "recorded_by": f"operator:{operator.strip()}",
    }
    if amount > 0:
        return credits.award(sql, event_type=credit_rules.OPERATOR_GRANT, **fields)  # type: ignore[arg-type]
    return credits.spend(sql, event_type=credit_rules.OPERATOR_REVOKE, **fields)  # type: ignore[arg-type]
