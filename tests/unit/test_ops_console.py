"""The operator CLI's console keeps every cell whole when no terminal is attached."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table

from tools.ops import console as ops


def _community_like_table() -> Table:
    table = Table()
    for name in ("day", "category", "requests", "answered", "median min", "usefulness", "credits", "over"):
        table.add_column(name)
    table.add_row("2026-12-05", "security_compliance", "4", "25%", "9", "-", "0", "0")
    return table


def _printed(width: int | None) -> str:
    out = io.StringIO()
    Console(file=out, width=width).print(_community_like_table())
    return out.getvalue()


def test_with_no_terminal_the_console_is_wide_enough_for_whole_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found running `ops community` with no terminal: rich's 80 columns printed "2026-1…"."""
    monkeypatch.setattr(ops, "_has_terminal", lambda: False)
    monkeypatch.delenv("COLUMNS", raising=False)
    assert ops._width() == ops.NO_TERMINAL_WIDTH
    assert "2026-1…" in _printed(80)  # what rich does at 80 columns
    wide = _printed(ops._width())
    assert "2026-12-05" in wide and "security_compliance" in wide


def test_columns_or_a_terminal_leave_the_width_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ops, "_has_terminal", lambda: False)
    monkeypatch.setenv("COLUMNS", "100")
    assert ops._width() is None
    monkeypatch.delenv("COLUMNS")
    monkeypatch.setattr(ops, "_has_terminal", lambda: True)
    assert ops._width() is None


def test_the_console_prints_what_it_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    ops.ops_console().print("[bold]ok[/] 1")
    ops.ops_console(stderr=True).print("to stderr")
    out, err = capsys.readouterr()
    assert out.strip() == "ok 1" and err.strip() == "to stderr"
