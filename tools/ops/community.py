"""Community and credit commands for the ops CLI (issue 9; agents.md §8.15, decisions B8).

    python -m tools.ops credits +14155550101             # ledger and balance
    python -m tools.ops credits grant +14155550101 20 --reason "beta tester" [--operator ana]
    python -m tools.ops credits revoke +14155550101 20 --reason "granted twice"
    python -m tools.ops community [--days 14]            # health per day and category
    python -m tools.ops community score <response_id> 8   # operator scoring (no model score)
    python -m tools.ops community review                 # late answers, unresolved referrals

Registered on ``tools.ops.cli.app`` by ``register_community_commands``; the logic is in
``shared.service_layer.community_ops`` and ``shared.service_layer.community``.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import typer
from rich.table import Table

from shared.adapters.postgres import connect
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer import community, community_ops, credits
from tools.ops.console import ops_console

console = ops_console()
OperatorOption = Annotated[str | None, typer.Option("--operator", help="Who decides (default: $USER).")]
AARDVARK_ANSWERED = 0.877  # the answered rate to beat (issue 9)


def _operator(given: str | None) -> str:
    if given:
        return given
    try:
        return getpass.getuser()
    except OSError:
        return "unknown-operator"


def ledger_status_row() -> tuple[str, str, str]:
    """The ``ops status`` line: does the ledger sum to every cached balance?"""
    with connect() as conn, PostgresUnitOfWork(conn) as uow:
        report = credits.ledger_consistency(uow)
    verdict = "consistent" if report.consistent else f"[bold red]{report.mismatched} member(s) differ[/]"
    return (
        "credit ledger vs cache",
        str(report.ledger_rows),
        f"{verdict}; ledger {report.ledger_total}, cached {report.cached_total}, "
        f"unprocessed rows {report.unprocessed_rows}",
    )


def _adjust(phone: str, amount: int, operator: str | None, reason: str) -> None:
    try:
        with connect() as conn, PostgresUnitOfWork(conn) as uow:
            entry = community_ops.adjust(
                uow, phone, amount=amount, operator=_operator(operator), reason=reason
            )
            uow.commit()
    except (community_ops.UnknownPhone, credits.CreditError, ValueError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"{phone}: {entry.amount:+d} credits ({entry.event_type}) by {entry.recorded_by}: {reason}")


community_app = typer.Typer(
    help="Community health, operator scoring and review.", invoke_without_command=True
)


def register_community_commands(app: typer.Typer) -> None:
    app.command("credits")(credits_command)
    app.add_typer(community_app, name="community")


def credits_command(  # noqa: PLR0917 - typer reads the positional arguments
    first: Annotated[str, typer.Argument(help="A phone (show its ledger), or 'grant' / 'revoke'.")],
    phone: Annotated[str | None, typer.Argument(help="grant/revoke: the member's phone.")] = None,
    amount: Annotated[int | None, typer.Argument(min=1, help="grant/revoke: how many credits.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (recorded in the ledger).")] = None,
    operator: OperatorOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """``credits <phone>``: ledger and balance. ``credits grant|revoke <phone> <amount> --reason ...``:
    an operator adjustment, recorded with the operator and the reason (revoke never below zero)."""
    if first in ("grant", "revoke"):
        if phone is None or amount is None or not reason:
            console.print(f"usage: credits {first} <phone> <amount> --reason ... [--operator ...]")
            raise typer.Exit(2)
        _adjust(phone, amount if first == "grant" else -amount, operator, reason)
        return
    _show(first, limit)


def _show(phone: str, limit: int) -> None:
    with connect() as conn, PostgresUnitOfWork(conn) as uow:
        try:
            found = community_ops.member_ledger(uow, phone, limit=limit)
        except community_ops.UnknownPhone as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None
    table = Table(title=f"{found.name} ({phone}): balance {found.balance}, cached {found.cached_balance}")
    for column in ("when", "type", "amount", "reference", "key", "by", "description"):
        table.add_column(column, justify="right" if column == "amount" else "left")
    for e in found.entries:
        table.add_row(
            e.created_at.strftime("%Y-%m-%d %H:%M"),
            e.event_type,
            f"{e.amount:+d}",
            e.reference_type,
            e.idempotency_key,
            e.recorded_by or "-",
            e.description or "",
        )
    console.print(table)
    if found.balance != found.cached_balance:
        console.print("[bold red]cached balance differs from the ledger[/]")


@community_app.callback()
def report(ctx: typer.Context, days: Annotated[int, typer.Option(min=1, max=366)] = 14) -> None:
    """Per day and category: requests, answered rate, median time to first answer, mean
    usefulness, credits paid, experts over the load cap."""
    if ctx.invoked_subcommand is not None:
        return
    with connect() as conn, PostgresUnitOfWork(conn) as uow:
        rows = community_ops.community_report(uow, now=datetime.now(UTC), days=days)
    table = Table(title=f"Community, last {days} day(s)")
    for column in (
        "day",
        "category",
        "requests",
        "answered",
        "median min to 1st",
        "usefulness",
        "credits",
        "over cap",
    ):
        table.add_column(column, justify="left" if column in ("day", "category") else "right")
    asked = answered = 0
    for r in rows:
        asked, answered = asked + r.requests, answered + r.answered
        table.add_row(
            str(r.day),
            r.category,
            str(r.requests),
            f"{r.answered_rate:.0%}",
            "-" if r.median_minutes_to_first_answer is None else f"{r.median_minutes_to_first_answer:.0f}",
            "-" if r.mean_usefulness is None else f"{r.mean_usefulness:.1f}",
            str(r.credits_paid),
            str(r.experts_over_cap),
        )
    console.print(table)
    rate = answered / asked if asked else 0.0
    console.print(f"answered {answered}/{asked} ({rate:.1%}); Aardvark answered {AARDVARK_ANSWERED:.1%}")


@community_app.command("score")
def score(
    response_id: UUID,
    usefulness: Annotated[int, typer.Argument(min=1, max=10)],
    impact: Annotated[str | None, typer.Option("--impact", help="How the answer helped.")] = None,
    operator: OperatorOption = None,
) -> None:
    """Score an answer the model did not; 7 or more pays 15 + 10 x (score - 7) credits."""
    try:
        with connect() as conn, PostgresUnitOfWork(conn) as uow:
            outcome = community.score_response(
                uow,
                response_id,
                score=usefulness,
                operator=_operator(operator),
                impact=impact,
                now=datetime.now(UTC),
            )
            uow.commit()
    except (community.UnknownRequest, community.AlreadyScored) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(
        f"response {response_id}: scored {outcome.score}, {outcome.credits} credits ({outcome.status})"
    )


@community_app.command("review")
def review(limit: Annotated[int, typer.Option(min=1, max=1000)] = 100) -> None:
    """Late answers to finished requests and referrals to nobody we know, oldest first."""
    with connect() as conn, PostgresUnitOfWork(conn) as uow:
        items = uow.community_requests.open_review(limit=limit)
    table = Table(title="Community items for an operator")
    for column in ("when", "kind", "request", "member", "detail"):
        table.add_column(column)
    for item in items:
        table.add_row(
            item.created_at.strftime("%Y-%m-%d %H:%M"),
            item.kind,
            str(item.request_id),
            str(item.user_id),
            item.detail,
        )
    console.print(table)
