"""Re-engagement commands for the ops CLI (decisions B5, agents.md §4.8).

    python -m tools.ops reengagement paused [--limit N]
    python -m tools.ops reengagement resume <phone or user id> [--operator NAME]

A member whose re-engagement went unanswered 3 times in 90 days is paused (``re_engagement_state``)
until a human resumes it here. Resuming clears the pause, forgets the earlier unanswered
re-engagements and schedules the member's next check now (the 7-day gap still applies).
Registered on ``tools.ops.cli.app`` by ``register_reengagement_commands``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.reengagement import UnknownMember, paused_members, resume_reengagement
from tools.ops.approval import OperatorOption, _operator
from tools.ops.console import ops_console

console = ops_console()
reengagement_app = typer.Typer(help="Paused re-engagement: list and resume.", no_args_is_help=True)


@reengagement_app.command("paused")
def list_paused(limit: Annotated[int, typer.Option(min=1, max=1000)] = 100) -> None:
    """Members whose re-engagement is paused, longest paused first."""
    rows = paused_members(PostgresUnitOfWork, limit=limit)
    table = Table("user id", "phone", "name", "paused at", "unanswered", "reason")
    for row in rows:
        table.add_row(
            str(row.user_id),
            row.phone_number,
            row.name,
            str(row.paused_at),
            str(row.unanswered),
            row.pause_reason or "",
        )
    console.print(table if rows else "no member's re-engagement is paused")


@reengagement_app.command("resume")
def resume(
    member: Annotated[str, typer.Argument(help="The member's phone number or user id.")],
    operator: OperatorOption = None,
) -> None:
    """Lift a member's re-engagement pause (a human decision, logged with the operator)."""
    try:
        user_id, resumed = resume_reengagement(
            PostgresUnitOfWork, member, operator=_operator(operator), now=datetime.now(UTC)
        )
    except UnknownMember as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=1) from None
    if resumed:
        console.print(f"{user_id}: re-engagement resumed; next check scheduled now")
    else:
        console.print(f"{user_id}: was not paused; nothing changed")


def register_reengagement_commands(app: typer.Typer) -> None:
    app.add_typer(reengagement_app, name="reengagement")
