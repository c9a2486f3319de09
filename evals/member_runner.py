"""Run the Concierge and Innovator scenarios and grade the final database state; pass^k per agent.

    python -m evals.member_runner                        # scripted: no key, no network (CI runs this)
    python -m evals.member_runner --mode live --k 4      # ANTHROPIC_API_KEY: the real model decides
    python -m evals.member_runner --scenario typo_fix --agent innovator

Needs ``DATABASE_URL`` (a migrated database; ``make run`` starts one locally). Scripted mode serves
each turn's decision and reply drafts from the scenario, through the real SDK and the loopback
Messages API, so the whole turn (validation, the code checks on the decision, tools, guards,
rows) runs as in production. Live mode lets the model decide and write the turn under test (the
setup's earlier turns stay scripted) and runs each scenario ``k`` times.

pass^k (τ²-bench): the chance that all of k trials of a scenario pass, estimated from n ≥ k trials
with c passes as C(c, k) / C(n, k), averaged over an agent's scenarios. pass^1 is the plain pass
rate; pass^4 falls when an agent passes only sometimes. Writes ``evals/transcripts/<run>/members.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from math import comb
from pathlib import Path
from typing import Any

from evals.member_scenarios import SCENARIOS, Outcome, Scenario, by_key
from evals.member_world import ScriptedModel, World, scripted_llm
from shared import bootstrap, registry
from shared.adapters.llm import Llm
from shared.service_layer.consumer import Delivery
from shared.service_layer.delivery import resolve_handler

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"
TASK_RERUN_AFTER = timedelta(days=2)  # reengagement_throttled: the second check, inside the 7-day throttle


@dataclass
class Trial:
    scenario: str
    agent: str
    trial: int
    passed: bool
    failures: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    skipped: str | None = None


def _run_task(world: World, scenario: Scenario) -> None:
    """The agent's task (``needs_task``) for the member, as the sweeper delivers it."""
    assert scenario.needs_task is not None
    member = world[scenario.alias]
    handler = resolve_handler(registry.agent(scenario.agent).tasks[scenario.needs_task])
    delivery = Delivery(
        kind="task",
        id=uuid.uuid4(),
        type=scenario.needs_task,
        attempt=1,
        published_at=world.clock.now,
        data={"user_id": str(member.user_id), "context_json": {}},
        attributes={},
        user_id=member.user_id,
    )
    deps = world.deps(world.scripted)
    world.script.push_turn(scenario.decide(world), *scenario.drafts)
    with deps.uow_factory() as uow:
        handler(delivery, uow, deps)
        uow.commit()


def run_scenario(scenario: Scenario, *, live: Llm | None = None, trial: int = 0) -> Trial:
    """One trial: build the world, play the member's texts (or the task), grade the final state."""
    out = Trial(scenario.key, scenario.agent, trial, passed=False)
    skip = scenario.skip_reason()
    if skip:
        out.skipped = skip
        return out
    script = ScriptedModel()
    with scripted_llm(script) as scripted:
        world = World(scripted, script, tag=trial)
        try:
            if scenario.setup is not None:
                scenario.setup(world)
            if scenario.task:
                _run_task(world, scenario)
                world.clock.now += TASK_RERUN_AFTER
            before = world.snapshot(scenario.alias)
            result = None
            if scenario.task:
                _run_task(world, scenario)
            else:
                names = {k: str(v) for k, v in world.ids.items()}
                world.text(scenario.alias, *(t.format(**names) for t in scenario.texts))
                if live is None:
                    script.push_turn(scenario.decide(world), *scenario.drafts)
                result = world.turn(scenario.alias, live or scripted)
            after = world.snapshot(scenario.alias)
        except Exception as exc:  # a broken setup or turn fails the trial, it does not stop the run
            out.failures.append(f"error: {exc!r}")
            return out
    outcome = Outcome(world, scenario.alias, before, after, result)
    out.replies = outcome.replies
    out.failures = [failure for check in scenario.checks if (failure := check(outcome))]
    if live is None and script.underruns:
        out.failures.append(f"the scripted model ran out of answers {script.underruns} time(s)")
    out.passed = not out.failures
    return out


def pass_hat_k(successes: int, trials: int, k: int) -> float:
    """τ²-bench's pass^k for one task: C(c, k) / C(n, k)."""
    if trials < k:
        raise ValueError(f"pass^{k} needs at least {k} trials, got {trials}")
    return comb(successes, k) / comb(trials, k)


def summarize(trials: list[Trial], k: int) -> dict[str, dict[str, Any]]:
    """pass^1 and pass^k per agent, over the scenarios that ran (skipped ones are listed)."""
    by_agent: dict[str, dict[str, list[Trial]]] = {}
    for t in trials:
        by_agent.setdefault(t.agent, {}).setdefault(t.scenario, []).append(t)
    summary: dict[str, dict[str, Any]] = {}
    for agent, scenarios in sorted(by_agent.items()):
        ran = {s: ts for s, ts in scenarios.items() if not ts[0].skipped}
        skipped = {s: ts[0].skipped for s, ts in scenarios.items() if ts[0].skipped}
        p1 = [pass_hat_k(sum(t.passed for t in ts), len(ts), 1) for ts in ran.values()]
        pk = [pass_hat_k(sum(t.passed for t in ts), len(ts), k) for ts in ran.values() if len(ts) >= k]
        summary[agent] = {
            "scenarios": len(scenarios),
            "ran": len(ran),
            "skipped": skipped,
            "pass^1": sum(p1) / len(p1) if p1 else None,
            f"pass^{k}": sum(pk) / len(pk) if pk else None,
        }
    return summary


def run_all(
    scenarios: list[Scenario], *, mode: str, k: int, out_dir: Path | None = TRANSCRIPTS
) -> tuple[list[Trial], dict[str, dict[str, Any]]]:
    live: Llm | None = None
    if mode == "live":
        live = bootstrap.deps().llm  # the composition root's model (tests hand it the loopback API)
        if live is None:
            raise SystemExit("live mode needs ANTHROPIC_API_KEY")
    trials = [run_scenario(s, live=live, trial=i) for s in scenarios for i in range(k)]
    summary = summarize(trials, k)
    if out_dir is not None:
        target = out_dir / (datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-members-{mode}")
        target.mkdir(parents=True, exist_ok=True)
        body = {"mode": mode, "k": k, "summary": summary, "trials": [asdict(t) for t in trials]}
        (target / "members.json").write_text(json.dumps(body, indent=2, default=str))
    return trials, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("scripted", "live"), default="scripted")
    parser.add_argument(
        "--k", type=int, default=None, help="trials per scenario (default: 1 scripted, 4 live)"
    )
    parser.add_argument("--scenario", action="append", help="run only these scenarios (repeatable)")
    parser.add_argument("--agent", choices=("concierge", "innovator"), help="run only this agent's scenarios")
    args = parser.parse_args(argv)
    k = args.k or (4 if args.mode == "live" else 1)
    chosen = [by_key(key) for key in args.scenario] if args.scenario else list(SCENARIOS)
    if args.agent:
        chosen = [s for s in chosen if s.agent == args.agent]
    trials, summary = run_all(chosen, mode=args.mode, k=k)
    for t in trials:
        status = "SKIP" if t.skipped else "PASS" if t.passed else "FAIL"
        print(f"{status} {t.scenario}#{t.trial}: {t.skipped or '; '.join(t.failures)}")
    for agent, figures in summary.items():
        print(
            f"{agent}: {figures['ran']}/{figures['scenarios']} scenarios ran, pass^1={figures['pass^1']}, "
            f"pass^{k}={figures[f'pass^{k}']}"
        )
    return 1 if any(not t.passed and not t.skipped for t in trials) else 0


if __name__ == "__main__":
    sys.exit(main())
