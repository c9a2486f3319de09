"""Credit purchases for the ops CLI (issue 13; decisions A11, B19).

    python -m tools.ops purchases                 # the newest purchases and their ledger rows
    python -m tools.ops purchases --status open   # open | paid | refused

A paid purchase names the ``credit_events`` row that credited it (key
``credit_purchase_<Checkout Session id>``); a refused one says why nothing was credited.
Registered on ``tools.ops.cli.app`` by ``register_purchase_commands``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.adapters.postgres import connect
from shared.adapters.unit_of_work import PostgresUnitOfWork

console = Console()
STATUSES = ("open", "paid", "refused")


def register_purchase_commands(app: typer.Typer) -> None:
    app.command("purchases")(purchases_command)


def purchases_command(
    status: Annotated[str | None, typer.Option("--status", help="open | paid | refused")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Credit purchases (Stripe Checkout), newest first, with the ledger row each one paid."""
    if status is not None and status not in STATUSES:
        console.print(f"[red]--status must be one of {', '.join(STATUSES)}[/]")
        raise typer.Exit(2)
    with connect() as conn, PostgresUnitOfWork(conn) as uow:
        rows = uow.credit_purchases.listing(status=status, limit=limit)
    table = Table(title=f"Credit purchases ({len(rows)})")
    for column in (
        "created",
        "member",
        "session",
        "credits",
        "price",
        "status",
        "ledger",
        "ledger key / reason",
    ):
        table.add_column(column, justify="right" if column in ("credits", "price", "ledger") else "left")
    for p in rows:
        table.add_row(
            p.created_at.strftime("%Y-%m-%d %H:%M"),
            p.phone_number,
            p.stripe_session_id,
            str(p.credits),
            f"{p.amount_cents / 100:.2f} {p.currency.upper()}",
            p.status,
            "-" if p.ledger_amount is None else f"{p.ledger_amount:+d}",
            p.ledger_key or p.refused_reason or "",
        )
    console.print(table)
    unpaid_ledger = [p for p in rows if p.status == "paid" and p.ledger_amount != p.credits]
    if unpaid_ledger:
        console.print(f"[bold red]{len(unpaid_ledger)} paid purchase(s) whose ledger row differs[/]")
