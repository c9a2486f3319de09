"""LLM cost per inbound message, with prompt caching, through the real adapter and SDK.

Replays N scripted onboarding conversations (several turns each, two calls per turn: the
decision with its forced tool, then the reply) through ``AnthropicLlm`` on the real
``anthropic`` client against the loopback Messages API of ``tools/fakes/anthropic_api.py``, which
bills cache reads and writes from the cached prefix (first request writes it, later requests
with the same prefix within the 5-minute TTL read it). Uses the Bouncer's real prompts and
decision tool when ``shared/agents/bouncer`` has them.

Time is simulated: conversations are interleaved, one inbound message every
``--gap-seconds`` across the system, each user answering 1-8 minutes after our reply, so the
TTL matters the way it does in production. The baseline, measured in the same run, prices
every input token of the same calls at the plain input rate (no caching).

    python -m bench.llm_cost --conversations 20 --turns 6
    python -m bench.llm_cost --saga 20      # USD per completed Solution Saga workflow

The saga run (``run_saga``, its own section below) drives the saga's real model calls (web
research with the web search server tool, evaluate_initial, two process_expert_response, the
final evaluation) per workflow, and prices each completed workflow at list prices, searches
included.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pydantic

from shared.adapters.llm import (
    AnthropicLlm,
    LlmRequest,
    ToolSpec,
    Usage,
    build_client,
)
from shared.adapters.llm_prices import price_for
from shared.agents.llm_config import call_settings
from tools.fakes.anthropic_api import AnthropicFake, FakeReply

USER_LINES = [
    "hey",
    "{referrer} told me about this",
    "I'm {first} {last}",
    "{company}",
    "I run {title} there",
    "ok sending the email now",
    "what is this thing exactly?",
    "done, sent it",
]
FIRST = ["Ana", "Ben", "Chris", "Dana", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jo"]
LAST = ["Ruiz", "Trenda", "Okafor", "Lee", "Novak", "Sato", "Berg", "Costa"]
COMPANY = ["Lumen Labs", "Globex", "Initech", "Acme Robotics", "Stark Logistics", "Wayne Capital"]
TITLE = ["product", "sales", "engineering", "finance", "operations"]


def _prompts() -> tuple[str, str, ToolSpec, dict[str, str], str]:
    """The Bouncer's real prompts when present, else stand-ins of the spec's sizes (platform §7.2)."""
    try:
        from shared.agents.bouncer import prompts
        from shared.agents.bouncer.decision import MAKE_DECISION

        return (
            prompts.DECISION_SYSTEM,
            prompts.REPLY_SYSTEM,
            MAKE_DECISION,
            dict(prompts.SCENARIO_GUIDANCE),
            "bouncer prompts (" + prompts.PROMPT_VERSION + ")",
        )
    except ImportError:

        class Decision(pydantic.BaseModel):
            next_scenario: str
            first_name: str | None = None

        filler = "Rule: keep it short, no hype, never invent names. " * 100
        return filler, filler, ToolSpec("make_decision", "Decide.", Decision), {}, "stand-in prompts"


@dataclass
class Totals:
    calls: int = 0
    input: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0
    cost: Decimal = Decimal(0)
    baseline: Decimal = Decimal(0)

    def add(self, usage: Usage, cost: Decimal, model: str) -> None:
        price = price_for(model)
        self.calls += 1
        self.input += usage.input_tokens
        self.cache_read += usage.cache_read_tokens
        self.cache_write += usage.cache_write_tokens
        self.output += usage.output_tokens
        self.cost += cost
        all_input = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        self.baseline += (
            Decimal(all_input) * price.input + Decimal(usage.output_tokens) * price.output
        ) / 10**6

    @property
    def total_input(self) -> int:
        return self.input + self.cache_read + self.cache_write

    @property
    def cached_share(self) -> float:
        return self.cache_read / self.total_input if self.total_input else 0.0


@dataclass
class Conversation:
    first: str
    last: str
    company: str
    title: str
    referrer: str
    history: list[dict[str, Any]] = field(default_factory=list)
    profile: dict[str, str] = field(default_factory=dict)
    next_at: float = 0.0
    turn: int = 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _profile(c: Conversation) -> str:
    lines = ["USER PROFILE"]
    for key in ("first_name", "last_name", "company", "title", "referrer_name"):
        lines.append(f"- {key.replace('_', ' ').capitalize()}: {c.profile.get(key, '(unknown)')}")
    lines.append("- Work email verified: no")
    return "\n".join(lines)


def _learn(c: Conversation, turn: int) -> None:
    """What the decision step would have captured after this turn's message."""
    captured = {
        1: {"referrer_name": c.referrer},
        2: {"first_name": c.first, "last_name": c.last},
        3: {"company": c.company},
        4: {"title": c.title},
    }
    c.profile.update(captured.get(turn, {}))


def run(conversations: int, turns: int, gap_seconds: float, seed: int, stable_guidance: bool) -> None:
    rng = random.Random(seed)
    decision_system, reply_system, decide, guidance, source = _prompts()
    if stable_guidance and guidance:
        # all scenario guidance is static: carry it in the cached reply prompt, not per turn
        reply_system += "\n\nSCENARIO GUIDANCE\n" + "\n".join(f"- {k}: {v}" for k, v in guidance.items())
    clock = Clock()
    fake = AnthropicFake(clock=clock)
    decision_input = {
        "next_scenario": "ask_for_name",
        "reply_guidance": "Acknowledge, then ask for the next item.",
    }
    fake.responder = lambda body: (
        FakeReply(tool_uses=[("make_decision", decision_input)])
        if body.get("tool_choice")
        else FakeReply(text="Got it.\n---\nWhat's your name?")
    )
    with fake:
        client = build_client("bench-key", fake.base_url, timeout=10, max_retries=0)
        llm = AnthropicLlm(client)  # figures come from the responses; no ledger
        people = [
            Conversation(
                rng.choice(FIRST),
                rng.choice(LAST),
                rng.choice(COMPANY),
                rng.choice(TITLE),
                rng.choice(FIRST) + " Trenda",
            )
            for _ in range(conversations)
        ]
        for i, c in enumerate(people):
            c.next_at = i * gap_seconds
        by_turn: dict[int, Totals] = {}
        overall, after_first, first = Totals(), Totals(), Totals()
        inbound = 0
        while any(c.turn < turns for c in people):
            c = min((p for p in people if p.turn < turns), key=lambda p: p.next_at)
            clock.now = max(clock.now, c.next_at)
            text = USER_LINES[c.turn % len(USER_LINES)].format(
                referrer=c.referrer, first=c.first, last=c.last, company=c.company, title=c.title
            )
            c.history.append({"role": "user", "content": text})
            inbound += 1
            window = c.history[-5:]  # Call 1 history for a user message (agents.md §0.4)
            while window[0]["role"] != "user":
                window = window[1:]
            for kind, system, tools, dynamic in (
                ("decision", decision_system, [decide], "Unanswered: " + text),
                ("reply", reply_system, [], guidance.get("ask_for_name", "Ask for the next missing item.")),
            ):
                response = llm.complete(
                    LlmRequest(
                        agent="bouncer",
                        call_kind=kind,
                        settings=call_settings("bouncer", kind),
                        system=system,
                        stable_context=_profile(c),
                        dynamic_context=dynamic,
                        messages=window,
                        tools=tools,
                        force_tool=decide.name if tools else None,
                    )
                )
                model = response.model
                for bucket in (
                    overall,
                    by_turn.setdefault(c.turn, Totals()),
                    after_first if c.turn else first,
                ):
                    bucket.add(response.usage, response.cost_usd, model)
            c.history.append({"role": "assistant", "content": "Got it. What's your name?"})
            _learn(c, c.turn)
            c.turn += 1
            c.next_at = clock.now + rng.uniform(60, 480)  # the user answers 1-8 minutes later
            clock.now += gap_seconds

    _report(
        conversations,
        turns,
        gap_seconds,
        stable_guidance,
        source,
        by_turn,
        first,
        after_first,
        overall,
        inbound,
    )


def _report(  # noqa: PLR0917
    conversations: int,
    turns: int,
    gap_seconds: float,
    stable_guidance: bool,
    source: str,
    by_turn: dict[int, Totals],
    first: Totals,
    after_first: Totals,
    overall: Totals,
    inbound: int,
) -> None:
    model = call_settings("bouncer", "decision").model
    print(f"LLM cost benchmark: {conversations} conversations x {turns} turns, 2 calls a turn, {source}")
    print(
        f"model {model}; one inbound message every {gap_seconds:.0f} s system-wide; users answer in 1-8 min"
    )
    print(f"scenario guidance in the cached reply prompt: {'yes' if stable_guidance else 'no'}")
    print()
    header = ("turn", "calls", "input/turn", "cache read", "cache write", "uncached", "output", "cached %")
    print("{:>4} {:>5} {:>10} {:>10} {:>11} {:>9} {:>7} {:>8}".format(*header))
    for turn, t in sorted(by_turn.items()):
        n = t.calls / 2
        print(
            f"{turn + 1:>4} {t.calls:>5} {t.total_input / n:>10.0f} {t.cache_read / n:>10.0f} "
            f"{t.cache_write / n:>11.0f} {t.input / n:>9.0f} {t.output / n:>7.0f} {t.cached_share:>7.1%}"
        )
    print()
    print(f"cached share of input tokens, first turns:       {first.cached_share:.1%}")
    print(f"cached share of input tokens, after first turn:  {after_first.cached_share:.1%}  (target >= 80%)")
    print(f"cached share of input tokens, all turns:         {overall.cached_share:.1%}")
    per_msg = overall.cost / inbound
    base_msg = overall.baseline / inbound
    print(f"USD per inbound message (list prices):           ${per_msg:.5f}")
    print(f"USD per inbound message without caching:         ${base_msg:.5f}  (baseline, same calls)")
    print(f"saving from caching:                             {1 - per_msg / base_msg:.1%}")


# --- Solution Saga: USD per completed workflow (issue 11) --------------------------------------

SAGA_NEEDS = [
    ("SOC 2 compliance automation for a 40-person startup", "compliance"),
    ("a payroll provider for a team in three US states", "hr"),
    ("an expense management tool that syncs with NetSuite", "finance"),
    ("a customer data platform for a B2B SaaS", "marketing"),
]
SEARCH_RESULT_INPUT_TOKENS = 2500  # what one search's results add to the prompt (not billed by the fake)


class _Costs:
    def __init__(self) -> None:
        self.by_kind: dict[str, Decimal] = {}
        self.searches = 0

    def record(self, record: Any) -> None:
        kind = record.call_kind
        self.by_kind[kind] = self.by_kind.get(kind, Decimal(0)) + record.cost_usd
        self.searches += record.usage.web_search_requests


def _saga_responder(rng: random.Random) -> Any:
    """Realistic-sized answers for each saga call (the instant responder's are minimal)."""
    from tools.fakes.anthropic_api import FakeSearchResult, FakeWebSearch

    def respond(body: dict[str, Any]) -> FakeReply:
        choice = body.get("tool_choice") or {}
        option = {
            "name": "Vendor One",
            "url": "https://vendor-one.example/",
            "reason": "fits",
            "source": "web",
        }
        if choice.get("name") == "record_initial_evaluation":
            findings = {
                "summary": "Two vendors fit.",
                "options": [option] * 2,
                "narrowingQuestion": "Budget?",
            }
            args: dict[str, Any] = {"hasValueToShare": True, "findings": findings, "reasoning": "concrete"}
            return FakeReply(tool_uses=[(choice["name"], args)], output_tokens=rng.randint(250, 400))
        if choice.get("name") == "record_expert_assessment":
            args = {
                "addedValue": True,
                "needsFollowUp": False,
                "hasContactIntro": False,
                "shouldUpdateUser": False,
                "reasoning": "first-hand",
            }
            return FakeReply(tool_uses=[(choice["name"], args)], output_tokens=rng.randint(120, 220))
        if choice.get("name") == "record_final_recommendations":
            args = {"summary": "Vendor One.", "options": [option] * 3, "reasoning": "experts agree"}
            return FakeReply(tool_uses=[(choice["name"], args)], output_tokens=rng.randint(300, 500))
        results = [FakeSearchResult(f"https://v{n}.example/", f"Vendor {n}") for n in range(5)]
        searches = [FakeWebSearch(f"query {n}", results) for n in range(rng.randint(1, 3))]
        cited = [(f"Vendor {n} does this.", f"https://v{n}.example/") for n in range(3)]
        return FakeReply(web_searches=searches, cited=cited, output_tokens=rng.randint(500, 900))

    return respond


def run_saga(workflows: int, seed: int) -> None:
    """USD per completed workflow: one web research call, decision point 1, two expert answers
    (decision point 2 each) and the final evaluation, through the saga's own call functions."""
    import uuid

    from shared.adapters.llm_prices import WEB_SEARCH_USD_PER_SEARCH
    from shared.agents.solution_saga import decisions
    from shared.domain.constants import SAGA_WEB_SEARCH_MAX_USES

    rng = random.Random(seed)
    costs = _Costs()
    with AnthropicFake(responder=_saga_responder(rng)) as fake:
        llm = AnthropicLlm(build_client("bench-key", fake.base_url, 30.0, 0), costs)
        for n in range(workflows):
            need, category = SAGA_NEEDS[n % len(SAGA_NEEDS)]
            user, workflow = uuid.uuid4(), uuid.uuid4()
            research = decisions.web_research(
                llm,
                need=need,
                category=category,
                user_id=user,
                workflow_id=workflow,
                max_uses=SAGA_WEB_SEARCH_MAX_USES,
            )
            assert research is not None
            sources: dict[str, Any] = {
                "web_results": [{"url": r.url, "title": r.title} for r in research.results],
                "innovators_in_our_network": [{"company_name": "Vendor One", "categories": [category]}],
                "expert_answers": [],
            }
            decisions.evaluate_initial(llm, need=need, sources=sources, user_id=user, workflow_id=workflow)
            for expert in ("Ana", "Ben"):
                answer = f"We used Vendor One for {need}; setup took two weeks and support was good."
                decisions.process_expert_response(
                    llm,
                    need=need,
                    answer=answer,
                    expert_first_name=expert,
                    sources=sources,
                    user_id=user,
                    workflow_id=workflow,
                )
                sources["expert_answers"].append({"expert": expert, "answer": answer})
            decisions.final_evaluation(
                llm,
                need=need,
                sources=sources,
                reason="2 experts answered",
                user_id=user,
                workflow_id=workflow,
            )
    model = call_settings("solution_saga", "evaluate_initial").model
    result_input = (
        Decimal(costs.searches * SEARCH_RESULT_INPUT_TOKENS) * price_for(model).input / Decimal(1_000_000)
    )
    tokens = sum(costs.by_kind.values(), Decimal(0)) - costs.searches * WEB_SEARCH_USD_PER_SEARCH
    per = Decimal(workflows)
    print(f"Solution Saga: {workflows} completed workflows on {model} at list prices")
    for kind, cost in sorted(costs.by_kind.items()):
        print(f"  {kind:<26} {cost / per:.4f} USD per workflow")
    print(
        f"  searches                   {costs.searches / workflows:.2f} per workflow"
        f" at {WEB_SEARCH_USD_PER_SEARCH} USD each"
    )
    print(
        f"  search results as input    {result_input / per:.4f} USD per workflow (estimate: "
        f"{SEARCH_RESULT_INPUT_TOKENS} tokens a search; the fake does not bill them)"
    )
    total = (tokens + costs.searches * WEB_SEARCH_USD_PER_SEARCH + result_input) / per
    print(f"  total                      {total:.4f} USD per completed workflow")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--gap-seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--per-turn-guidance", action="store_true", help="keep scenario guidance out of the cache"
    )
    parser.add_argument("--saga", type=int, default=0, metavar="N", help="price N Solution Saga workflows")
    args = parser.parse_args()
    if args.saga:
        run_saga(args.saga, args.seed)
        return
    run(
        args.conversations,
        args.turns,
        args.gap_seconds,
        args.seed,
        stable_guidance=not args.per_turn_guidance,
    )


if __name__ == "__main__":
    main()
