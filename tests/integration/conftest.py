"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner


@pytest.fixture
def ops_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run the operator CLI (tools/ops/cli.py) in-process; returns the typer result."""
    from rich.console import Console

    from tools.ops import cli as ops

    # Rich sizes tables to the terminal; under xdist there is none. Ids must print whole.
    monkeypatch.setattr(ops, "console", Console(width=250))

    def run(*args: str) -> Any:
        return CliRunner().invoke(ops.app, list(args))

    return run
