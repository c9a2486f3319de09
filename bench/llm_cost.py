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
    python -m bench.llm_cost --agent concierge --conversations 20 --turns 6
    python -m bench.llm_cost --saga 20      # USD per completed Solution Saga workflow

``--agent concierge`` replays verified members' conversations through the Concierge's real
requests (issue 16, "Benchmarks"): its prompts, its forced ``make_decision`` tool, the context of
§4.2 built by the agent's own hooks (profile, goal, ten open priorities and three open community
requests of the member in the cached member block; the unanswered texts in the per-turn block
after the history), the stepped history window, and a reply call whose guidance carries the tool
results (research and a community request each turn). It runs twice on the same members and
texts: "before", the layout main used until the concierge-cost branch (per-turn block closing the
system prompt, history uncached, items per turn, short reply prompt with the guidance per turn,
5-minute TTL), and "after", the agent's layout (``cache_history`` and the 1-hour TTL of its
registry entry). Target: at most $0.006 per inbound member message at list prices, and at least
80% of input tokens read from cache after turn 1.

The saga run (``run_saga``, its own section below) drives the saga's real model calls (web
research with the web search server tool, evaluate_initial, two process_expert_response, the
final evaluation) per workflow, and prices each completed workflow at list prices, searches
included.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pydantic

from shared.adapters.llm import (
    AnthropicLlm,
    LlmRequest,
    LlmResponse,
    ToolSpec,
    Usage,
    build_client,
)
from shared.adapters.llm_prices import price_for
from shared.adapters.repositories import CommunityRequest, InboundMessage, Priority, User
from shared.agents.concierge.agent import HISTORY_STEP, ConciergeAgent, window
from shared.agents.concierge.decision import ConciergeDecision
from shared.agents.concierge.prompts import PROMPT_VERSION, SCENARIO_GUIDANCE, TOOL_ACKNOWLEDGMENTS
from shared.agents.concierge.state import ConciergeTurnState, MemberContext
from shared.agents.context import AgentContext, HistoryMessage, to_api_messages
from shared.agents.conversation.protocol import ToolResult, Turn
from shared.agents.llm_config import call_settings
from shared.domain.constants import CONCIERGE_HISTORY_USER_MESSAGE
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
CONCIERGE_TARGET_USD = Decimal("0.006")  # issue 16: per inbound member message, list prices


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


# --- Concierge turns (issue 16) -------------------------------------------------------------------------

MEMBER_LINES = [
    "I'm looking for a good vendor for SOC 2 automation, any recommendations?",
    "also need someone who has scaled a sales team in EMEA",
    "do you know anyone at Stripe? we're evaluating their billing product",
    "thanks. what about payroll software for a 40 person team",
    "any update on the SOC 2 question?",
    "we picked Vanta, you can drop that one",
    "who could help us price an enterprise tier?",
    "ok, talk soon",
]
ITEM_SUMMARIES = [
    "Intro to the head of RevOps at Initech (asked for by an innovator)",
    "Community question: best data warehouse for a 50-person startup?",
    "Research update: three SOC 2 automation vendors shortlisted",
    "Intro offer: Ben can introduce you to the CFO of Globex",
    "Community question: how did you structure your first sales comp plan?",
    "Connection request from Dana at Lumen Labs about supply chain analytics",
    "Community question: which observability stack scaled best for you?",
    "Research update: payroll providers for US and UK staff",
    "Intro to the VP Engineering at Acme Robotics",
    "Community question: outsourced vs in-house security team at 100 people?",
]


def _member_user(c: Conversation, now: datetime) -> User:
    return User(
        id=uuid.uuid4(),
        phone_number="+14155550100",
        first_name=c.first,
        last_name=c.last,
        company=c.company,
        title=f"VP {c.title}",
        email=f"{c.first.lower()}@example.com",
        email_verified=True,
        verified=True,
        innovator=False,
        expertise=("go-to-market", "security"),
        poc_agent_type="concierge",
        referred_by=None,
        name_dropped=None,
        verification_token="bench",
        opted_out=False,
        timezone="America/Los_Angeles",
        onboarding_completed_at=now,
        approval_status="approved",
        verification_requested_at=now,
        credit_balance=50,
        created_at=now - timedelta(days=40),
        last_active_at=now,
        referrer_name=c.referrer,
    )


def _member_context(rng: random.Random, now: datetime) -> MemberContext:
    priorities = [
        Priority(
            id=uuid.uuid4(),
            priority_rank=i + 1,
            item_type=rng.choice(
                ["intro_opportunity", "community_request", "solution_update", "intro_offer"]
            ),
            item_id=uuid.uuid4(),
            value_score=float(95 - 6 * i),
            status="active",
            presentation_count=i % 2,
            last_presented_at=now - timedelta(days=4 + i) if i % 2 else None,
            item_summary=summary,
            item_primary_name=None,
            item_secondary_name=None,
            item_context=None,
        )
        for i, summary in enumerate(ITEM_SUMMARIES)
    ]
    requests = [
        CommunityRequest(
            id=uuid.uuid4(),
            question=q,
            request_summary=q[:60],
            category=None,
            status="open",
            created_at=now - timedelta(days=d),
        )
        for q, d in (
            ("Which SOC 2 automation vendor worked for you?", 2),
            ("Who has scaled a sales team in EMEA?", 5),
            ("Best payroll software for 40 people across two countries?", 9),
        )
    ]
    return MemberContext(
        goal="Getting SOC 2 done and opening an EMEA sales office this year",
        goal_type="business_growth",
        priorities=priorities,
        requests=requests,
    )


def _concierge_decision() -> dict[str, Any]:
    return {
        "next_scenario": "single_topic_response",
        "tools_to_execute": [
            {"tool_name": "request_solution_research", "params": {"request_description": "SOC 2 automation"}},
            {
                "tool_name": "publish_community_request",
                "params": {
                    "question": "Which SOC 2 automation vendors worked well?",
                    "expertise_needed": ["SOC 2", "security compliance"],
                    "request_summary": "SOC 2 automation vendors",
                },
            },
        ],
        "context_for_call_2": {"primary_topic": "SOC 2 automation", "tone": "helpful"},
    }


CONCIERGE_REPLY = "I'll look into SOC 2 automation options and come back to you. I'll also ask the network."


def _legacy(agent: ConciergeAgent, turn: Turn[ConciergeTurnState], call: str) -> tuple[str, str, str]:
    """(system, stable, per-turn) as main sent them before the caching redesign: the per-turn block
    closed the system prompt (so the history after it was never cached), the open items and
    requests were per turn, and the reply prompt was short (under the 1,024-token minimum) with the
    scenario's guidance and the tools' acknowledgments sent per turn."""
    decision = turn.decision
    turn.decision = decision or ConciergeDecision(next_scenario="no_message")
    profile = agent.stable_context(turn)  # profile and goal only, once a decision exists
    turn.decision = decision
    if call == "decision":
        return agent.decision_prompt, profile, agent.open_items(turn) + "\n" + agent.decision_guidance(turn)
    reply_prompt = agent.reply_prompt.split("\n\nSCENARIO GUIDANCE")[0]
    assert isinstance(decision, ConciergeDecision)
    acks = {r.name: TOOL_ACKNOWLEDGMENTS.get(r.name, "") for r in turn.tool_results if r.ok}
    guidance = (
        agent.reply_guidance(turn)
        + f"\nGUIDANCE: {SCENARIO_GUIDANCE[decision.next_scenario]}"
        + "\nACKNOWLEDGE: "
        + json.dumps(acks)
    )
    return reply_prompt, profile, guidance


@dataclass
class Variant:
    label: str
    legacy: bool
    by_turn: dict[int, Totals] = field(default_factory=dict)
    first: Totals = field(default_factory=Totals)
    after_first: Totals = field(default_factory=Totals)
    overall: Totals = field(default_factory=Totals)
    inbound: int = 0


def _concierge_call(
    llm: AnthropicLlm,
    *,
    agent: ConciergeAgent,
    turn: Turn[ConciergeTurnState],
    variant: Variant,
    kind: str,
    messages: list[dict[str, Any]],
) -> LlmResponse:
    """One of the turn's two calls, as the agent builds it (or as main built it, ``legacy``)."""
    settings = call_settings("concierge", kind)
    if variant.legacy:
        system, stable, dynamic = _legacy(agent, turn, kind)
        settings = replace(settings, cache_history=False, cache_ttl="5m")
    elif kind == "decision":
        system, stable, dynamic = (
            agent.decision_prompt,
            agent.stable_context(turn),
            agent.decision_guidance(turn),
        )
    else:
        system, stable, dynamic = agent.reply_prompt, agent.stable_context(turn), agent.reply_guidance(turn)
    decision = kind == "decision"
    return llm.complete(
        LlmRequest(
            agent="concierge",
            call_kind=kind,
            settings=settings,
            system=system,
            stable_context=stable,
            dynamic_context=dynamic,
            messages=messages,
            tools=[agent.decision_tool] if decision else [],
            force_tool=agent.decision_tool.name if decision else None,
        )
    )


def _concierge_variant(
    variant: Variant, conversations: int, turns: int, gap_seconds: float, seed: int
) -> None:
    """One replay of the same members and texts (same seed) with one request layout."""
    rng = random.Random(seed)
    agent = ConciergeAgent()
    clock = Clock()
    fake = AnthropicFake(clock=clock)
    fake.responder = lambda body: (
        FakeReply(tool_uses=[("make_decision", _concierge_decision())])
        if body.get("tool_choice")
        else FakeReply(text=CONCIERGE_REPLY)
    )
    start = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    with fake:
        client = build_client("bench-key", fake.base_url, timeout=10, max_retries=0)
        llm = AnthropicLlm(client)
        people = [
            Conversation(
                rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANY), rng.choice(TITLE), "Ben Trenda"
            )
            for _ in range(conversations)
        ]
        members = [(_member_user(c, start), _member_context(rng, start)) for c in people]
        history: list[list[HistoryMessage]] = [[] for _ in people]
        for i, c in enumerate(people):
            c.next_at = i * gap_seconds
        while any(c.turn < turns for c in people):
            index, c = min(
                ((i, p) for i, p in enumerate(people) if p.turn < turns), key=lambda ip: ip[1].next_at
            )
            clock.now = max(clock.now, c.next_at)
            now = start + timedelta(seconds=clock.now)
            user, member = members[index]
            text = MEMBER_LINES[c.turn % len(MEMBER_LINES)]
            variant.inbound += 1
            message = InboundMessage(uuid.uuid4(), uuid.uuid4(), "user", "inbound", text, now)
            history[index].append(HistoryMessage("user", "inbound", text, now))
            ctx = AgentContext(user=user, conversation=None, history=history[index])
            turn: Turn[ConciergeTurnState] = Turn(
                ctx=ctx,
                uow=cast(Any, None),  # the member's context is preloaded: no database in this benchmark
                inbound=[message],
                state=ConciergeTurnState(member=member),
                now=now,
            )
            ctx.history = window(history[index], CONCIERGE_HISTORY_USER_MESSAGE, HISTORY_STEP)
            messages = to_api_messages(ctx.history)
            decision_response = _concierge_call(
                llm, agent=agent, turn=turn, variant=variant, kind="decision", messages=messages
            )
            call = decision_response.tool_call(agent.decision_tool.name)
            assert call is not None, decision_response.invalid_tool_calls
            turn.decision = call.arguments
            agent.actions(turn, call.arguments)
            turn.tool_results = [
                ToolResult("request_solution_research", True, {"research": "requested", "about": "SOC 2"}),
                ToolResult(
                    "publish_community_request",
                    True,
                    {"community_request": "submitted", "request_summary": "SOC 2 automation vendors"},
                ),
            ]
            reply_response = _concierge_call(
                llm, agent=agent, turn=turn, variant=variant, kind="reply", messages=messages
            )
            for response in (decision_response, reply_response):
                for bucket in (
                    variant.overall,
                    variant.by_turn.setdefault(c.turn, Totals()),
                    variant.after_first if c.turn else variant.first,
                ):
                    bucket.add(response.usage, response.cost_usd, response.model)
            history[index].append(HistoryMessage("concierge", "outbound", CONCIERGE_REPLY, now))
            c.turn += 1
            c.next_at = clock.now + rng.uniform(60, 480)
            clock.now += gap_seconds


def run_concierge(conversations: int, turns: int, gap_seconds: float, seed: int) -> None:
    """The Concierge's two calls per inbound message, built by the agent's own hooks, before and
    after the caching redesign, on the same members and texts in the same run."""
    variants = [
        Variant("before: main's layout until concierge-cost (history uncached, short reply prompt)", True),
        Variant("after: history cached, items in the member block, reply prompt with all guidance", False),
    ]
    for variant in variants:
        _concierge_variant(variant, conversations, turns, gap_seconds, seed)
        _report(
            conversations,
            turns,
            gap_seconds,
            not variant.legacy,
            f"concierge prompts ({PROMPT_VERSION}); {variant.label}",
            variant.by_turn,
            variant.first,
            variant.after_first,
            variant.overall,
            variant.inbound,
            agent="concierge",
            target_usd=CONCIERGE_TARGET_USD,
        )
        print()


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
    *,
    agent: str = "bouncer",
    target_usd: Decimal | None = None,
) -> None:
    model = call_settings(agent, "decision").model
    print(f"LLM cost benchmark ({agent}): {conversations} conversations x {turns} turns, 2 calls a turn")
    print(source)
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
    target = f"  (target <= ${target_usd})" if target_usd is not None else ""
    print(f"USD per inbound message (list prices):           ${per_msg:.5f}{target}")
    print(f"USD per inbound message without caching:         ${base_msg:.5f}  (baseline, same calls)")
    print(f"saving from caching:                             {1 - per_msg / base_msg:.1%}")


# --- Solution Saga: USD per completed workflow (issue 11) --------------------------------------

SAGA_NEEDS = [
    ("SOC 2 compliance automation for a 40-person startup", "compliance"),
    ("a payroll provider for a team in three US states", "hr"),
    ("an expense management tool that syncs with NetSuite", "finance"),
    ("a customer data platform for a B2B SaaS", "marketing"),
]


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
    total = sum(costs.by_kind.values(), Decimal(0))
    per = Decimal(workflows)
    print(f"Solution Saga: {workflows} completed workflows on {model} at list prices")
    for kind, cost in sorted(costs.by_kind.items()):
        print(f"  {kind:<26} {cost / per:.4f} USD per workflow")
    print(
        f"  searches                   {costs.searches / workflows:.2f} per workflow"
        f" at {WEB_SEARCH_USD_PER_SEARCH} USD each (in web_research, with the results read as input)"
    )
    print(f"  total                      {total / per:.4f} USD per completed workflow")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agent", choices=("bouncer", "concierge"), default="bouncer")
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
    if args.agent == "concierge":
        run_concierge(args.conversations, args.turns, args.gap_seconds, args.seed)
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
