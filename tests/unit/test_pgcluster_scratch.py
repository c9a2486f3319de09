"""Where throwaway clusters keep their data (``pgcluster.scratch_dir``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.localstack import pgcluster


def test_the_override_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("YACHTPARTY_SCRATCH", str(tmp_path))
    assert pgcluster.scratch_dir() == str(tmp_path)


def test_memory_is_used_when_it_has_room(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("YACHTPARTY_SCRATCH", raising=False)
    monkeypatch.setattr(pgcluster, "MEMORY_SCRATCH", tmp_path)
    monkeypatch.setattr(pgcluster, "MEMORY_SCRATCH_MIN_FREE", 1)
    assert pgcluster.scratch_dir() == str(tmp_path)


def test_too_little_room_falls_back_to_the_temp_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("YACHTPARTY_SCRATCH", raising=False)
    monkeypatch.setattr(pgcluster, "MEMORY_SCRATCH", tmp_path)
    monkeypatch.setattr(pgcluster, "MEMORY_SCRATCH_MIN_FREE", 1 << 62)
    assert pgcluster.scratch_dir() is None


def test_no_such_directory_falls_back_to_the_temp_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("YACHTPARTY_SCRATCH", raising=False)
    monkeypatch.setattr(pgcluster, "MEMORY_SCRATCH", tmp_path / "absent")
    assert pgcluster.scratch_dir() is None
