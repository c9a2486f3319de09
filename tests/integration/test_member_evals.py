"""The Concierge and Innovator evals in scripted mode (CI): every scenario, graded on the final
database state, through the real SDK and the loopback Messages API. A scenario whose tools or task
another branch is building is skipped with that reason (``Scenario.skip_reason``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evals.member_runner import pass_hat_k, run_all, run_scenario, summarize
from evals.member_scenarios import CONCIERGE, INNOVATOR, SCENARIOS, Scenario, by_key

pytestmark = pytest.mark.integration


def test_there_are_enough_scenarios_covering_the_issue():
    assert len(CONCIERGE) >= 12 and len(INNOVATOR) >= 6
    assert len({s.key for s in SCENARIOS}) == len(SCENARIOS)
    covered = " ".join(s.covers for s in SCENARIOS)
    for behaviour in (
        "ambiguous",
        "typo",
        "'I want to meet X'",
        "'I can intro you to X'",
        "something else",
        "an accept",
        "a decline",
        "re-engagement throttled",
        "frustration",
        "cancel",
    ):
        assert behaviour in covered, behaviour
    for scenario in SCENARIOS:
        reason = scenario.skip_reason()
        assert reason is None or reason.startswith(("needs concierge-tools", "needs reengage-render")), reason


def _param(scenario: Scenario) -> Any:
    reason = scenario.skip_reason()
    return pytest.param(
        scenario.key, id=scenario.key, marks=[pytest.mark.skip(reason=reason)] if reason else []
    )


@pytest.mark.parametrize("key", [_param(s) for s in SCENARIOS])
def test_scenario_passes_in_scripted_mode(database_url, key):
    trial = run_scenario(by_key(key))
    assert trial.skipped is None
    assert trial.passed, (trial.failures, trial.replies)


def test_a_wrong_turn_fails_its_checks(database_url):
    """The grading is not vacuous: a vendor question answered with a clarification and no tools fails."""
    from dataclasses import replace

    from evals.member_world import decision

    wrong = replace(by_key("vendor_question"), decide=lambda w: decision("request_clarification"))
    trial = run_scenario(wrong)
    assert not trial.passed
    assert "expected a user.inquiry.solution_needed" in trial.failures, trial.failures


def test_pass_hat_k_and_the_run_summary(database_url, tmp_path):
    assert pass_hat_k(4, 4, 4) == 1.0
    assert pass_hat_k(3, 4, 4) == 0.0
    assert pass_hat_k(3, 4, 1) == 0.75
    assert pass_hat_k(3, 4, 2) == 0.5
    with pytest.raises(ValueError):
        pass_hat_k(1, 1, 4)
    chosen = [by_key("find_person"), by_key("innovator_upload_not_available"), by_key("accept_intro_offer")]
    trials, summary = run_all(chosen, mode="scripted", k=2, out_dir=tmp_path)
    assert len(trials) == 6
    assert summary["concierge"]["pass^1"] == 1.0 and summary["concierge"]["pass^2"] == 1.0
    assert summary["innovator"]["pass^2"] == 1.0
    if by_key("accept_intro_offer").skip_reason():
        assert "accept_intro_offer" in summary["concierge"]["skipped"]
    [run_dir] = list(tmp_path.iterdir())
    body = json.loads((run_dir / "members.json").read_text())
    assert body["k"] == 2 and len(body["trials"]) == 6
    assert summarize([], 4) == {}


def test_live_mode_runs_each_scenario_k_times_and_reports_pass_hat_k(database_url, anthropic_fake, tmp_path):
    """The with-key path, pointed at the loopback API answering every call with the smallest valid
    answer (a decision with no tools): k=4 trials per scenario, pass^1 and pass^4 per agent."""
    from tools.fakes.anthropic_api import instant_responder

    anthropic_fake.responder = instant_responder
    chosen = [by_key("ambiguity"), by_key("innovator_upload_not_available")]
    trials, summary = run_all(chosen, mode="live", k=4, out_dir=tmp_path)
    assert [t.trial for t in trials] == [0, 1, 2, 3, 0, 1, 2, 3]
    for agent in ("concierge", "innovator"):
        assert set(summary[agent]) >= {"pass^1", "pass^4"}
        assert 0.0 <= summary[agent]["pass^4"] <= summary[agent]["pass^1"] <= 1.0
    # the instant model runs no tools: the upload scenario's "upload_prospects ran" check fails every time
    assert summary["innovator"]["pass^1"] == 0.0
    assert all("upload_prospects did not run" in " ".join(t.failures) for t in trials[4:])
