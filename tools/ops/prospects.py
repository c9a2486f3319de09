"""Prospect commands for the ops CLI (issue 12; agents.md §14):

    python -m tools.ops prospects review [--limit 100]   # 40-69 matches waiting for an operator

Registered on ``tools.ops.cli.app`` by ``register_prospect_commands``; matching and upgrade are
``shared.service_layer.prospects``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from shared.adapters.postgres import connect
from shared.adapters.unit_of_work import PostgresUnitOfWork
from tools.ops.console import ops_console

console = ops_console()
prospects_app = typer.Typer(
    help="Innovators' prospects: matches for an operator to review.", no_args_is_help=True
)


def register_prospect_commands(app: typer.Typer) -> None:
    app.add_typer(prospects_app, name="prospects")


@prospects_app.command("review")
def review(limit: Annotated[int, typer.Option(min=1, max=1000)] = 100) -> None:
    """Pending prospects a new member matched with a score of 40-69: the member, score and fields matched."""
    with connect() as conn, PostgresUnitOfWork(conn) as uow:
        items = uow.intro_offers.prospects_to_review(limit)
    table = Table(title="Prospect matches for an operator")
    for column in ("prospect", "name", "company", "innovator", "match"):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item.id), item.name, item.company or "", str(item.innovator_id), json.dumps(item.review)
        )
    console.print(table)
