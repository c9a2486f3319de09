"""The evaluation harness in its deterministic mode: every persona, the real SDK, scripted answers."""

from __future__ import annotations

import json

import pytest

from evals.personas import PERSONAS
from evals.runner import run_all

pytestmark = pytest.mark.integration


def test_every_persona_passes_in_scripted_mode(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("VERIFY_EMAIL_DOMAIN", "verify.eval.test")
    runs = run_all(mode="scripted", personas=list(PERSONAS), out_dir=tmp_path)
    assert len(PERSONAS) >= 6
    by_name = {run.persona: run for run in runs}
    for run in runs:
        assert run.verdict is not None
        assert run.verdict.passed, (
            run.persona,
            run.verdict.checks,
            run.verdict.critical_errors,
            run.transcript,
        )
    eager = by_name["eager"].outcome
    assert (eager["first_name"], eager["last_name"], eager["company"]) == ("Priya", "Raman", "Northwind")
    assert by_name["hesitant"].outcome["email"] == "luis@hooli.example"  # never the typed gmail address
    assert by_name["hesitant"].outcome["last_name"] == "Ortega"  # middle name handled
    assert by_name["curious"].transcript[1]["text"].startswith("I'm just the bouncer.")
    assert any("close out this invite" in t["text"] for t in by_name["returning"].transcript)
    assert by_name["declining"].outcome["onboarding_completed"] is False
    [run_dir] = list(tmp_path.iterdir())
    files = sorted(p.name for p in run_dir.iterdir())
    assert files == sorted(f"{p.key}.json" for p in PERSONAS)
    assert json.loads((run_dir / "eager.json").read_text())["verdict"]["passed"] is True
