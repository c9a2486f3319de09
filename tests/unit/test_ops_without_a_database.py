"""The operator CLI with no database to reach: one clear line and exit status 2, not a traceback.

Found running ``make ops ARGS=pending`` with no local stack up and no ``DATABASE_URL``: typer printed
a screen of traceback ending in "missing configuration: set the DATABASE_URL environment variable".
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from shared import config
from tools.ops import cli


@pytest.mark.parametrize("command", ["status", "pending"])
def test_no_database_url_and_no_local_stack_is_one_line_and_status_2(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(cli, "LOCAL_STACK_FILE", tmp_path / "stack.json")
    monkeypatch.setattr(sys, "argv", ["ops", command])
    config.reset_settings_cache()
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        config.reset_settings_cache()
    assert exited.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "DATABASE_URL is not set and no local stack is running" in err
    assert "Traceback" not in err
