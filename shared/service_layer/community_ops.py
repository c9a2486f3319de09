"""What operators do with community and credits (issue 9; agents.md §8.15): the health report,
a member's ledger, grants and revokes recorded with the operator's name and reason, and the
ledger-versus-cache check. The CLI (tools/ops) only prints what these return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from shared.adapters.repositories.users import User
from shared.adapters.unit_of_work import PostgresUnitOfWork
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


def community_report(uow: PostgresUnitOfWork, *, now: datetime, days: int) -> list[CommunityDay]:
    """Per day (UTC) and category: requests, answered rate, median time to first answer, mean
    usefulness, credits paid and experts asked more often than the load cap allows."""
    since = now - timedelta(days=days)
    over = uow.community_requests.experts_over_cap(since=since, cap=EXPERT_ASKS_PER_LOCAL_DAY)
    return [
        CommunityDay(
            day=r.day,
            category=r.category,
            requests=r.requests,
            answered=r.answered,
            median_minutes_to_first_answer=r.median_minutes_to_first_answer,
            mean_usefulness=r.mean_usefulness,
            credits_paid=r.credits_paid,
            experts_over_cap=over.get((r.day, r.category), 0),
        )
        for r in uow.community_requests.daily_report(since=since)
    ]


@dataclass(frozen=True)
class MemberLedger:
    user_id: UUID
    name: str
    balance: int  # the ledger sum
    cached_balance: int  # users.credit_balance
    entries: list[credits.LedgerEntry]


def _member(uow: PostgresUnitOfWork, phone: str) -> User:
    user_id = uow.users.id_by_phone(phone)
    user = None if user_id is None else uow.users.get(user_id)
    if user is None:
        raise UnknownPhone(f"no member with phone {phone}")
    return user


def member_ledger(uow: PostgresUnitOfWork, phone: str, *, limit: int = 100) -> MemberLedger:
    user = _member(uow, phone)
    return MemberLedger(
        user_id=user.id,
        name=" ".join(n for n in (user.first_name, user.last_name) if n) or "-",
        balance=credits.balance(uow, user.id),
        cached_balance=user.credit_balance,
        entries=credits.ledger(uow, user.id, limit=limit),
    )


def adjust(
    uow: PostgresUnitOfWork, phone: str, *, amount: int, operator: str, reason: str
) -> credits.LedgerEntry:
    """An operator's grant (amount > 0) or revoke (amount < 0); a revoke never goes below zero."""
    if not operator.strip() or not reason.strip():
        raise ValueError("an adjustment needs the operator's name and a reason")
    if amount == 0:
        raise ValueError("an adjustment of 0 credits changes nothing")
    user = _member(uow, phone)
    adjustment_id = uuid4()
    pay = credits.award if amount > 0 else credits.spend
    return pay(
        uow,
        user_id=user.id,
        amount=abs(amount),
        event_type=credit_rules.OPERATOR_GRANT if amount > 0 else credit_rules.OPERATOR_REVOKE,
        reference_type=ADJUSTMENT_REFERENCE,
        reference_id=adjustment_id,
        idempotency_key=credit_rules.operator_adjustment_key(adjustment_id),
        description=reason.strip(),
        recorded_by=f"operator:{operator.strip()}",
    )
