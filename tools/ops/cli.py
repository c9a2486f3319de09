"""Operator CLI: ``python -m tools.ops <command>`` (or ``make ops ARGS="<command>"``).

- ``status``: event backlog (and the age of the oldest unprocessed event), due and leased
  tasks, message-queue depths, dead letters; then every platform 7.6 alert signal the
  database shows against its threshold, red where breached (exit code 0 either way).
- ``dead-letters list [--all] [--limit N]``: newest first; replayed ones only with ``--all``.
- ``dead-letters replay <id> [--force]`` or ``dead-letters replay --all``: an event dead letter
  is re-inserted as a new event, a task dead letter requeues its task.

- ``costs [--days N]``: LLM spend per day and agent, cached share, USD per inbound message.
- ``member-export <phone>``: what we hold about one member, as JSON (their data request).

Reads ``DATABASE_URL``. Other commands (``approve`` ...) register on ``app`` below.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.table import Table

from shared.adapters.postgres import Sql, connect
from shared.adapters.repositories.ops import OpsRepository
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.config import MissingSetting
from shared.domain.alerts import ELSEWHERE, SignalReading, judge
from shared.domain.constants import (
    DAILY_LLM_COST_ALERT_USD,
    DEAD_LETTER_ALERT_DEPTH,
    DEAD_LETTER_REPLAY_ALL_LIMIT,
    SMS_PENDING_SWEEP_AFTER,
)
from shared.service_layer.dead_letters import ReplayError, replay_all, replay_dead_letter
from tools.localstack.stack_info import StackInfo, stack_file
from tools.ops.approval import register_approval_commands
from tools.ops.community import ledger_status_row, register_community_commands
from tools.ops.console import ops_console
from tools.ops.prospects import register_prospect_commands
from tools.ops.purchases import register_purchase_commands
from tools.ops.reengagement import register_reengagement_commands

app = typer.Typer(help="Operate Yachtparty: backlog status, dead letters.", no_args_is_help=True)
dead_letters_app = typer.Typer(help="List and replay dead letters.", no_args_is_help=True)
app.add_typer(dead_letters_app, name="dead-letters")
register_approval_commands(app)  # approve / reject / hold / pending (tools/ops/approval.py)
register_community_commands(app)  # credits, community (tools/ops/community.py)
register_reengagement_commands(app)  # reengagement paused / resume (tools/ops/reengagement.py)
register_prospect_commands(app)  # prospects review (tools/ops/prospects.py)
register_purchase_commands(app)  # purchases (tools/ops/purchases.py)
console = ops_console()


def _age(seconds: Any) -> str:
    if seconds is None:
        return "-"
    return str(timedelta(seconds=int(float(seconds))))


@app.command()
def status() -> None:
    """Backlogs at a glance: events, tasks, message queue, dead letters."""
    with connect() as conn:
        sql = Sql(conn)
        events = sql.one("events_backlog") or {}
        tasks = sql.one("tasks_status_counts") or {}
        queue = sql.all("queue_depths")
        dead = sql.one("dead_letters_counts") or {}
        sms = sql.one("ops_outbound_sms_health", stuck_after=SMS_PENDING_SWEEP_AFTER) or {}
        readings = judge(OpsRepository(sql).signal_figures())

    table = Table(title="Yachtparty backlog", show_lines=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("detail")
    table.add_row(
        "events unprocessed",
        str(events.get("unprocessed", 0)),
        f"due {events.get('due', 0)}, retrying {events.get('retrying', 0)}, "
        f"oldest {_age(events.get('oldest_age_seconds'))} old",
    )
    table.add_row("tasks due", str(tasks.get("due", 0)), f"pending {tasks.get('pending', 0)}")
    table.add_row(
        "tasks leased",
        str(tasks.get("processing", 0)),
        f"lease expired {tasks.get('lease_expired', 0)}, failed {tasks.get('failed', 0)}",
    )
    for row in queue:  # due is NULL for rows done with (queue_depths)
        due = "" if row["due"] is None else f"due {row['due']}"
        table.add_row(f"message_queue {row['status']}", str(row["n"]), due)
    table.add_row(
        "outbound SMS unsent",
        str(sms.get("unsent", 0)),
        f"stuck > {_age(SMS_PENDING_SWEEP_AFTER.total_seconds())}: {sms.get('stuck', 0)}; "
        f"last 24 h blocked {sms.get('blocked_1d', 0)}, failed {sms.get('failed_1d', 0)}",
    )
    unreplayed = int(dead.get("unreplayed") or 0)
    style = "bold red" if unreplayed > DEAD_LETTER_ALERT_DEPTH else ""
    table.add_row(
        "dead letters (not replayed)",
        f"[{style}]{unreplayed}[/]" if style else str(unreplayed),
        f"dispatcher {dead.get('dispatcher', 0)}, pubsub {dead.get('pubsub', 0)}, "
        f"consumer {dead.get('consumer', 0)}; total {dead.get('total', 0)}",
    )
    table.add_row(*ledger_status_row())
    console.print(table)
    if unreplayed > DEAD_LETTER_ALERT_DEPTH:
        console.print(f"[bold red]dead-letter depth above {DEAD_LETTER_ALERT_DEPTH}: investigate[/]")
    _print_signals(readings)


def _print_signals(readings: list[SignalReading]) -> None:
    """Each platform 7.6 signal against its threshold; a breached one in red (docs/operating.md)."""
    table = Table(title="Alert signals (platform 7.6)", show_lines=False)
    table.add_column("signal")
    table.add_column("now", justify="right")
    table.add_column("alerts at")
    table.add_column("state")
    for r in readings:
        style = "bold red" if r.breached else "green"
        table.add_row(
            f"[{style}]{r.signal}[/]" if r.breached else r.signal,
            f"[{style}]{r.value}[/]" if r.breached else r.value,
            r.threshold,
            f"[{style}]{'BREACHED' if r.breached else 'ok'}[/]",
        )
    for signal, threshold, where in ELSEWHERE:
        table.add_row(f"[dim]{signal}[/]", "[dim]-[/]", f"[dim]{threshold}[/]", f"[dim]{where}[/]")
    console.print(table)
    breached = [r.signal for r in readings if r.breached]
    if breached:
        console.print(f"[bold red]over threshold: {', '.join(breached)} (docs/operating.md, Alerts)[/]")


@dead_letters_app.command("list")
def list_dead_letters(
    include_replayed: Annotated[bool, typer.Option("--all", help="Include replayed ones.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Dead letters, newest first."""
    with connect() as conn:
        rows = Sql(conn).all("dead_letters_list", include_replayed=include_replayed, limit=limit)
    table = Table(title=f"dead letters ({len(rows)})")
    table.add_column("id", no_wrap=True)
    for column in ("created", "source", "type", "consumer", "tries", "replayed", "error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["created_at"].strftime("%Y-%m-%d %H:%M:%S"),
            row["source"],
            row["event_type"],
            row["consumer"] or "-",
            str(row["retry_count"]),
            f"{row['replay_count']}x" if row["replayed_at"] else "-",
            (row["error_message"] or "")[:160],
        )
    console.print(table)


@dead_letters_app.command("replay")
def replay(
    dead_letter_id: Annotated[str | None, typer.Argument(help="The dead letter's id.")] = None,
    replay_everything: Annotated[
        bool, typer.Option("--all", help="Replay every one not replayed yet.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Replay even if it was replayed before.")] = False,
) -> None:
    """Replay one dead letter, or all that were never replayed."""
    if (dead_letter_id is None) == (not replay_everything):
        console.print("[red]give a dead-letter id or --all (not both)[/]")
        raise typer.Exit(2)
    with connect() as conn, PostgresUnitOfWork(conn) as uow:
        if replay_everything:
            done, refused = replay_all(uow, limit=DEAD_LETTER_REPLAY_ALL_LIMIT)
            uow.commit()
            for result in done:
                console.print(f"replayed {result.dead_letter_id}: {result.action} {result.target_id}")
            for refused_id, reason in refused:
                console.print(f"[yellow]skipped {refused_id}: {reason}[/]")
            console.print(f"{len(done)} replayed, {len(refused)} skipped")
            return
        assert dead_letter_id is not None
        try:
            result = replay_dead_letter(uow, UUID(dead_letter_id), force=force)
        except ValueError:
            console.print(f"[red]not a dead-letter id: {dead_letter_id}[/]")
            raise typer.Exit(2) from None
        except ReplayError as exc:
            uow.rollback()
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None
        uow.commit()
    console.print(f"replayed {result.dead_letter_id}: {result.action} {result.target_id}")


@app.command("member-export")
def member_export(
    phone: Annotated[str, typer.Argument(help="The member's phone, E.164 (+14155550100).")],
) -> None:
    """What we hold about one member, as JSON, for their request for a copy (agents.md §2.3): profile,
    messages both ways, questions asked, answers given, credit ledger, introductions (kind and
    status only). Read-only. Deletion has no command yet (docs/operating.md, "A member's data")."""
    with connect() as conn, PostgresUnitOfWork(conn) as uow:
        user_id = uow.users.id_by_phone(phone.strip())
        export = OpsRepository(Sql(conn)).member_export(user_id) if user_id is not None else None
    if export is None:
        ops_console(stderr=True).print(f"[red]no member with phone {phone}[/]")
        raise typer.Exit(1)
    typer.echo(json.dumps(export, indent=2, ensure_ascii=False, default=str))


@app.command()
def costs(days: Annotated[int, typer.Option(min=1, max=366, help="How many days back.")] = 7) -> None:
    """LLM spend per day and agent, the cached share of input, and USD per inbound message."""
    with connect() as conn:
        sql = Sql(conn)
        rows = sql.all("ops_llm_cost_by_day", days=days)
        per_message = sql.one("ops_llm_cost_per_inbound_message", days=days) or {}
    table = Table(title=f"LLM cost, last {days} day(s)")
    for column in ("day", "agent", "calls", "failed", "USD", "cached input"):
        table.add_column(column, justify="right" if column not in ("day", "agent") else "left")
    daily: dict[Any, float] = {}
    for row in rows:
        usd = float(row["usd"])
        daily[row["day"]] = daily.get(row["day"], 0.0) + usd
        share = row["cached_share"]
        table.add_row(
            str(row["day"]),
            row["agent_type"] or "-",
            str(row["calls"]),
            str(row["failed"]),
            f"{usd:.4f}",
            "-" if share is None else f"{share:.0%}",
        )
    console.print(table)
    inbound = int(per_message.get("inbound") or 0)
    total = float(per_message.get("usd") or 0)
    console.print(
        f"total ${total:.4f} over {inbound} inbound member message(s): "
        + (f"${total / inbound:.5f} per message" if inbound else "no inbound messages")
    )
    over = [str(day) for day, usd in daily.items() if usd > DAILY_LLM_COST_ALERT_USD]
    if over:
        console.print(f"[bold red]daily spend above ${DAILY_LLM_COST_ALERT_USD}: {', '.join(over)}[/]")


LOCAL_STACK_FILE = stack_file()


def _default_to_the_local_stack() -> None:
    """Without DATABASE_URL, operate the local stack started by `make run`, and say so."""
    if os.environ.get("DATABASE_URL") or not LOCAL_STACK_FILE.exists():
        return
    try:
        os.environ["DATABASE_URL"] = StackInfo.load(LOCAL_STACK_FILE).database_url
    except (ValueError, TypeError):
        return
    ops_console(stderr=True).print("[dim]DATABASE_URL is unset: using the local stack's database[/]")


NO_DATABASE = (
    "DATABASE_URL is not set and no local stack is running ({path} is missing): start one with "
    "`make run`, or set DATABASE_URL to the environment's database (docs/operating.md)."
)


def main() -> None:
    _default_to_the_local_stack()
    try:
        app()
    except MissingSetting as missing:
        # One line for the operator, not a traceback (found running `make ops ARGS=pending` with no
        # stack up: a screen of typer's traceback ending in the same words).
        said = NO_DATABASE.format(path=LOCAL_STACK_FILE) if missing.env_var == "DATABASE_URL" else missing
        ops_console(stderr=True).print(f"[bold red]{said}[/]")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
