"""The world a member eval runs in: real members, real rows, built through the product's own paths.

A ``World`` is one scenario run on a migrated database (``DATABASE_URL``). Members are created as
the SMS webhook, onboarding and an operator's approval create them; community requests are routed
by the Agent of Humans' use case; priorities come from an Account Manager run; earlier turns of
the conversation are real turns (``prelude``), answered by the scripted model. Nothing is inserted
behind the product's back, so the final state an eval grades is the state production would hold.

The scripted model is the real ``anthropic`` SDK pointed at ``tools/fakes/anthropic_api.py``,
answering from a queue of wire-format replies (``World.script``): a decision (the forced
``make_decision`` tool call) and one or two reply drafts per turn.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from shared import bootstrap, config
from shared.adapters.llm import AnthropicLlm, Llm, PostgresCallLog, build_client
from shared.adapters.repositories.ops import MemberSnapshot
from shared.adapters.repositories.users import ProfileFields
from shared.agents.conversation.protocol import TurnResult
from shared.agents.conversation.turn import NO_BURST_WAIT
from shared.domain.phone import guess_timezone
from shared.domain.sms import count_segments
from shared.service_layer import approval
from shared.service_layer.account_manager import RunInputs, run_for_member
from shared.service_layer.community import RequestNeeded, route_request
from shared.service_layer.concierge import run_member_turn
from shared.service_layer.deps import Deps
from shared.service_layer.freshness import AssumeRelevantClassifier
from shared.service_layer.orchestrate import run_tick
from tools.fakes.anthropic_api import AnthropicFake, FakeReply

QUEUE_DRAIN_TICKS = 3

Params = dict[str, Any]


def decision(scenario: str, *tools: tuple[str, Params], **extra: Any) -> Params:
    """A ``make_decision`` input: the scenario key, the tools by name with their params, and any
    other field of the decision (``user_responding_to``, ``post_clarification_context``, ...)."""
    return {
        "next_scenario": scenario,
        "tools_to_execute": [{"tool_name": name, "params": params} for name, params in tools],
        **extra,
    }


class ScriptedModel:
    """Anthropic's side of a scripted turn: the queued replies, in order."""

    def __init__(self) -> None:
        self.queue: deque[FakeReply] = deque()
        self.underruns = 0

    def push_turn(self, made_decision: Params, *drafts: str) -> None:
        self.queue.clear()  # a turn that used fewer drafts than scripted leaves none behind
        self.queue.append(FakeReply(tool_uses=[("make_decision", made_decision)]))
        self.queue.extend(FakeReply(text=d) for d in drafts)

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        if self.queue:
            return self.queue.popleft()
        self.underruns += 1
        return FakeReply(text="")  # an empty reply: the turn falls back to its safe template


@contextmanager
def scripted_llm(script: ScriptedModel) -> Iterator[Llm]:
    settings = config.get_settings()
    with AnthropicFake(responder=script) as fake:
        client = build_client(
            "eval-scripted-key",
            fake.base_url,
            settings.anthropic_timeout_seconds,
            settings.anthropic_max_retries,
        )
        yield AnthropicLlm(client, PostgresCallLog())


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Member:
    alias: str
    user_id: uuid.UUID
    conversation_id: uuid.UUID
    phone: str
    poc: str


@dataclass
class World:
    """One scenario run (``tag``: which trial, for the transcripts)."""

    scripted: Llm
    script: ScriptedModel
    tag: int
    members: dict[str, Member] = field(default_factory=dict)
    ids: dict[str, uuid.UUID] = field(default_factory=dict)  # named rows the scenario refers to
    clock: _Clock = field(default_factory=_Clock)
    # Expertise is tagged per world, so a trial's community requests are routed to its own experts
    # and never absorbed as duplicates of an earlier trial's open request (pass^k runs k worlds).
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])

    def skill(self, expertise: str) -> str:
        return f"{expertise} {self.run}"

    def deps(self, llm: Llm | None) -> Deps:
        return replace(bootstrap.deps(), llm_factory=lambda: llm, clock=self.clock, burst=NO_BURST_WAIT)

    # --- members -----------------------------------------------------------------------------------

    def member(
        self,
        alias: str,
        *,
        first: str,
        last: str,
        company: str,
        title: str,
        poc: str = "concierge",
        expertise: Sequence[str] = (),
    ) -> Member:
        """A member who texted in, onboarded, verified their email and was approved by an operator;
        the welcome their new agent queued is delivered."""
        draw = uuid.uuid4().int
        phone = (
            f"+1415{200 + draw % 800:03d}{(draw >> 16) % 10_000:04d}"  # a valid US number, distinct per run
        )
        uow_factory = bootstrap.deps().uow_factory
        with uow_factory() as uow:
            texting = uow.users.upsert_by_phone(phone, timezone=guess_timezone(phone))
            uow.users.update_profile(
                texting.id,
                ProfileFields(
                    first_name=first,
                    last_name=last,
                    company=company,
                    title=title,
                    expertise=tuple(self.skill(e) for e in expertise),
                ),
            )
            uow.users.mark_email_verified(texting.id, f"{first.lower()}@{company.lower()}.example")
            uow.users.complete_onboarding(texting.id)
            uow.commit()
        approval.approve(phone, poc, operator="eval", now=self.clock.now)
        made = Member(alias, texting.id, texting.conversation_id, phone, poc)
        self.members[alias] = made
        self.deliver(alias)
        return made

    def __getitem__(self, alias: str) -> Member:
        return self.members[alias]

    # --- what other agents do ------------------------------------------------------------------------

    def community_request(
        self, alias: str, question: str, expertise: Sequence[str], *, summary: str, name: str
    ) -> uuid.UUID:
        """The member's question routed to experts, as the Agent of Humans routes it."""
        with bootstrap.deps().uow_factory() as uow:
            routed = route_request(
                uow,
                RequestNeeded(
                    requesting_agent_type=self[alias].poc,
                    requesting_user_id=self[alias].user_id,
                    question=question,
                    category=None,
                    expertise_needed=tuple(self.skill(e).lower() for e in expertise),
                    request_summary=summary,
                ),
                now=self.clock.now,
            )
            uow.commit()
        self.ids[name] = routed.request_id
        return routed.request_id

    def rank(self, alias: str, *, requests: Sequence[uuid.UUID] = ()) -> None:
        """One Account Manager run for the member (no LLM: the deterministic scoring)."""
        with bootstrap.deps().uow_factory() as uow:
            run_for_member(
                uow,
                self[alias].user_id,
                RunInputs(trigger="eval", community_request_ids=tuple(requests)),
                llm=None,
                now=self.clock.now,
            )
            uow.commit()

    def deliver(self, alias: str) -> None:
        """The orchestrator sends what is queued for the member (moving the clock past quiet hours)."""
        uow_factory = bootstrap.deps().uow_factory
        for _ in range(QUEUE_DRAIN_TICKS):
            run_tick(uow_factory, now=self.clock.now, classifier=AssumeRelevantClassifier())
            with uow_factory() as uow:
                due = uow.queue.next_due_for_user(self[alias].user_id)
            if due is None:
                return
            self.clock.now = max(self.clock.now, due)

    # --- conversation --------------------------------------------------------------------------------

    def text(self, alias: str, *texts: str) -> None:
        """Inbound SMS, stored as ``twilio_inbound`` stores them (a burst: all before the turn)."""
        member = self[alias]
        with bootstrap.deps().uow_factory() as uow:
            for text in texts:
                uow.messages.add_inbound(
                    conversation_id=member.conversation_id,
                    user_id=member.user_id,
                    content=text,
                    message_sid="SM" + uuid.uuid4().hex,
                    media_urls=[],
                    num_segments=count_segments(text),
                    routed=True,
                )
            uow.commit()

    def turn(self, alias: str, llm: Llm | None) -> TurnResult:
        return run_member_turn(self[alias].user_id, self.deps(llm), innovator=self[alias].poc == "innovator")

    def prelude(self, alias: str, texts: Sequence[str], made_decision: Params, *drafts: str) -> TurnResult:
        """An earlier turn of the conversation, answered by the scripted model whatever the mode."""
        self.text(alias, *texts)
        self.script.push_turn(made_decision, *drafts)
        return self.turn(alias, self.scripted)

    def snapshot(self, alias: str) -> MemberSnapshot:
        with bootstrap.deps().uow_factory() as uow:
            snap = uow.ops.member_snapshot(self[alias].user_id)
        assert snap is not None
        return snap

    def find(self, alias: str, kind: str, *, status: str | None = None) -> uuid.UUID | None:
        """The id of the member's newest intro row of ``kind`` (intro_offer, connection_request, ...)."""
        rows = [
            r
            for r in self.snapshot(alias).intros
            if r["kind"] == kind and (status is None or r["status"] == status)
        ]
        return uuid.UUID(str(rows[-1]["id"])) if rows else None


Setup = Callable[[World], None]
DecisionFor = Callable[[World], Params]
