"""Credit purchases for the ops CLI (issue 13; decisions A11, B19).

    python -m tools.ops purchases                 # the newest purchases and their ledger rows
    python -m tools.ops purchases --status open   # open | paid | refused
    python -m tools.ops upload-link +14155550101  # a new single-use prospect upload link
    python -m tools.ops funding-link +14155550101 250   # a Stripe Checkout link for a credit pack

A paid purchase names the ``credit_events`` row that credited it (key
``credit_purchase_<Checkout Session id>``); a refused one says why nothing was credited.
The two link commands make exactly what the Innovator's tools make (``upload_prospects``,
``request_credit_funding``), for an operator helping an innovator (or trying the page locally
without a model key). Against the local stack they take PROSPECT_UPLOAD_URL and the Stripe
stand-in from ``.local/stack.json`` when those are not set. Registered on ``tools.ops.cli.app``
by ``register_purchase_commands``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated
from uuid import uuid4

import typer
from rich.table import Table

from shared import config
from shared.adapters.postgres import connect
from shared.adapters.stripe_checkout import checkout_gateway
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.innovator import commerce
from tools.localstack.stack_info import StackInfo, stack_file
from tools.ops.console import ops_console

console = ops_console()
STATUSES = ("open", "paid", "refused")


def register_purchase_commands(app: typer.Typer) -> None:
    app.command("purchases")(purchases_command)
    app.command("upload-link")(upload_link_command)
    app.command("funding-link")(funding_link_command)


def _local_stack_commerce_settings() -> None:
    """Unset PROSPECT_UPLOAD_URL / STRIPE_*: take them from the local stack, if one is running."""
    path = stack_file()
    if (os.environ.get("PROSPECT_UPLOAD_URL") and os.environ.get("STRIPE_SECRET_KEY")) or not path.exists():
        return
    try:
        info = StackInfo.load(path)
    except (ValueError, TypeError):
        return
    if "prospect_upload" in info.function_urls:
        os.environ.setdefault("PROSPECT_UPLOAD_URL", info.function_urls["prospect_upload"] + "/")
    if info.stripe_standin_url and not os.environ.get("STRIPE_SECRET_KEY"):
        os.environ["STRIPE_SECRET_KEY"] = info.stripe_secret_key
        os.environ["STRIPE_API_BASE"] = info.stripe_standin_url
    config.reset_settings_cache()
    checkout_gateway.cache_clear()


def _link(phone: str, make: str, credits: int = 0) -> None:
    _local_stack_commerce_settings()
    with connect() as conn, PostgresUnitOfWork(conn) as uow:
        user_id = uow.users.id_by_phone(phone)
        if user_id is None:
            console.print(f"[red]no member with phone {phone}[/]")
            raise typer.Exit(1)
        if make == "upload":
            result = commerce.upload_link(uow, user_id, datetime.now(UTC))
        else:
            result = commerce.funding_link(uow, user_id, credits, uuid4())
        if result.get("status") != "link_created":
            console.print(f"[red]{result.get('note') or result.get('status')}[/]")
            raise typer.Exit(1)
        uow.commit()
    console.print(result["url"], soft_wrap=True)


def upload_link_command(phone: Annotated[str, typer.Argument(help="The innovator's phone.")]) -> None:
    """A new single-use prospect upload link for a member (24 hours), as upload_prospects makes it."""
    _link(phone, "upload")


def funding_link_command(
    phone: Annotated[str, typer.Argument(help="The innovator's phone.")],
    credits: Annotated[int, typer.Argument(min=1, help="How many credits (the pack that covers them).")],
) -> None:
    """A Stripe Checkout link for the credit pack covering CREDITS, as request_credit_funding makes it."""
    _link(phone, "funding", credits)


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
