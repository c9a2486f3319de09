"""Operator approval commands for the ops CLI (decisions B10, agents.md §2.7).

    python -m tools.ops pending
    python -m tools.ops approve +14155550123 --as concierge|innovator
    python -m tools.ops reject +14155550123
    python -m tools.ops hold +14155550123

Registered on ``tools.ops.cli.app`` by ``register_approval_commands``. The operator recorded in the
audit log is ``--operator`` or ``$USER``.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from shared.service_layer import approval
from tools.ops.console import ops_console

console = ops_console()
OperatorOption = Annotated[str | None, typer.Option("--operator", help="Who decides (default: $USER).")]


def _operator(given: str | None) -> str:
    if given:
        return given
    try:
        return getpass.getuser()
    except OSError:
        return "unknown-operator"


def _decided(decision: approval.Decision) -> None:
    verb = "recorded" if decision.changed else "unchanged (already so)"
    console.print(
        f"{decision.phone_number}: {decision.approval_status} as {decision.poc_agent_type} - {verb}"
    )


def register_approval_commands(app: typer.Typer) -> None:
    @app.command()
    def pending(
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
        plain: Annotated[bool, typer.Option("--plain", help="Tab-separated lines, for scripts.")] = False,
    ) -> None:
        """Users awaiting approval (pending first, then on hold)."""
        rows = approval.pending(limit=limit)
        if plain:
            for row in rows:
                fields = (
                    "phone_number",
                    "first_name",
                    "last_name",
                    "company",
                    "title",
                    "email",
                    "approval_status",
                )
                typer.echo("\t".join(str(row[f] or "") for f in fields))
            return
        table = Table("phone", "name", "company", "title", "email", "status", "completed")
        for row in rows:
            table.add_row(
                row["phone_number"],
                f"{row['first_name'] or ''} {row['last_name'] or ''}".strip(),
                row["company"] or "",
                row["title"] or "",
                row["email"] or "",
                row["approval_status"],
                str(row["onboarding_completed_at"] or ""),
            )
        console.print(table if rows else "nobody is waiting for approval")

    @app.command()
    def approve(
        phone: Annotated[str, typer.Argument(help="The user's phone number.")],
        as_: Annotated[str, typer.Option("--as", help="concierge or innovator")] = "concierge",
        operator: OperatorOption = None,
    ) -> None:
        """Approve a user: verified, point of contact switched, user.verified published."""
        try:
            _decided(approval.approve(phone, as_, operator=_operator(operator)))
        except approval.ApprovalError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2 if exc.status == 400 else 1) from None

    @app.command()
    def reject(phone: Annotated[str, typer.Argument()], operator: OperatorOption = None) -> None:
        """Reject a user: a polite close, no further follow-ups."""
        try:
            _decided(approval.reject(phone, operator=_operator(operator)))
        except approval.ApprovalError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2 if exc.status == 400 else 1) from None

    @app.command()
    def hold(phone: Annotated[str, typer.Argument()], operator: OperatorOption = None) -> None:
        """Put a user on hold (they stay with the Bouncer)."""
        try:
            _decided(approval.hold(phone, operator=_operator(operator)))
        except approval.ApprovalError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2 if exc.status == 400 else 1) from None
