"""Run the Bouncer against personas and judge the transcripts.

    python -m evals.runner --mode scripted            # deterministic, no network (CI runs this)
    python -m evals.runner --mode live [--persona X]  # ANTHROPIC_API_KEY: an LLM plays each persona,
                                                      # an LLM judge scores tone, flow, completeness

Needs ``DATABASE_URL`` (a migrated database; ``make run`` starts one locally). Each run writes one
JSON transcript per persona under ``evals/transcripts/<run id>/`` (git-ignored).

Scripted mode serves the Bouncer's two calls from ``tools/fakes/anthropic_api.py`` with a responder that
answers in Anthropic's real wire format: the decision from the deterministic extraction, the reply
from the gatekeeper templates. So the whole LLM path (real SDK, forced tool, validation, tools,
guards, outbound rows) runs exactly as in production, deterministically.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evals.judge import Verdict, deterministic_checks, llm_judge
from evals.personas import EMAIL, PERSONAS, SILENT, Persona, by_key
from shared import bootstrap, config
from shared.adapters.email_parsing import InboundEmail
from shared.adapters.llm import AnthropicLlm, Llm, LlmRequest, PostgresCallLog, build_client, build_llm
from shared.adapters.repositories import User
from shared.adapters.tasks import cancel_pending_tasks
from shared.agents.bouncer import fallback as brain
from shared.agents.conversation.turn import NO_BURST_WAIT
from shared.agents.llm_config import call_settings
from shared.domain.onboarding import OnboardingState, Step, extract
from shared.domain.phone import guess_timezone
from shared.domain.sms import count_segments
from shared.service_layer.bouncer import run_bouncer_turn, run_followup
from shared.service_layer.deps import Deps
from shared.service_layer.email_verification import record_verification_email
from shared.service_layer.freshness import AssumeRelevantClassifier
from shared.service_layer.orchestrate import run_tick
from tools.fakes.anthropic_api import AnthropicFake, FakeReply

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"
DEFAULT_DOMAIN = "verify.eval.test"
MAX_LIVE_TURNS = 14
FOLLOWUP_TASK = "re_engagement_check"  # the Bouncer's follow-up task type

# --- the deterministic "model" ------------------------------------------------------------------


def _system_text(body: dict[str, Any]) -> str:
    system = body.get("system") or []
    if isinstance(system, str):
        return system
    return "\n".join(str(block.get("text", "")) for block in system if isinstance(block, dict))


def _field(text: str, label: str) -> str | None:
    match = re.search(rf"^- {re.escape(label)}: (.+)$", text, re.M)
    value = match.group(1).strip() if match else None
    return None if value in (None, "(unknown)") else value


def _state(text: str) -> OnboardingState:
    return OnboardingState(
        first_name=_field(text, "First name"),
        last_name=_field(text, "Last name"),
        company=_field(text, "Company"),
        title=_field(text, "Title"),
        referrer_known=_field(text, "Referrer recorded") == "yes",
        verification_requested=_field(text, "Verification address already sent") == "yes",
        email_verified=_field(text, "Work email verified") == "yes",
        onboarding_completed=(_field(text, "Onboarding complete (awaiting the team's review)") == "yes"),
    )


def scripted_responder(body: dict[str, Any]) -> FakeReply:
    """Anthropic's answer to one Bouncer request, computed deterministically."""
    system = _system_text(body)
    if (body.get("tool_choice") or {}).get("name") == "make_decision":
        trigger = (re.search(r"TRIGGER: (\w+)", system) or [None, "user_message"])[1]
        asked = re.search(r"THE BOUNCER'S LAST QUESTION WAS ABOUT: (\w+)", system)
        expecting = Step(asked.group(1)) if asked else None
        last = body["messages"][-1]["content"]
        text = last if isinstance(last, str) else " ".join(b.get("text", "") for b in last)
        state = _state(system)
        extraction = None
        if trigger == "user_message":
            extraction = extract(text.split("\n\n")[-1] if expecting else text, expecting)
        decision = brain.decide(state, extraction, str(trigger))
        return FakeReply(tool_uses=[("make_decision", decision.model_dump(mode="json", exclude_none=True))])
    scenario = (re.search(r"SCENARIO: (\w+)", system) or [None, "general_response"])[1]
    facts_match = re.search(r"FACTS: (\{.*\})", system)
    facts = json.loads(facts_match.group(1)) if facts_match else {}
    parts = brain.render(
        str(scenario),
        brain.ReplyFacts(
            step_after=Step(facts.get("next_item_to_ask_for", Step.ASK_NAME.value)),
            verification_address=facts.get("verification_address"),
            first_reply=bool(facts.get("first_reply")),
            attempt=1,
        ),
    )
    return FakeReply(text="\n---\n".join(parts))


@contextmanager
def scripted_model() -> Iterator[Llm]:
    """The real SDK pointed at the loopback fake answering with ``scripted_responder``."""
    settings = config.get_settings()
    with AnthropicFake(responder=scripted_responder) as fake:
        client = build_client(
            "eval-scripted-key",
            fake.base_url,
            settings.anthropic_timeout_seconds,
            settings.anthropic_max_retries,
        )
        yield AnthropicLlm(client, PostgresCallLog())


# --- personas played by an LLM (live mode) ---------------------------------------------------------

PERSONA_SYSTEM = """You play a person texting an unknown number that a contact gave you. Stay in \
character; write only the next SMS, short, as a real person would. When the other side gives you a \
verification email address and you decide to send the email, reply exactly [EMAIL]. To go quiet for a \
day, reply exactly [SILENT]. When the conversation is over for you, reply exactly [DONE]."""


def live_persona(llm: Llm, persona: Persona) -> Callable[[list[dict[str, str]]], str]:
    def next_text(transcript: list[dict[str, str]]) -> str:
        messages: list[dict[str, Any]] = []
        for turn in transcript:
            role = "assistant" if turn["role"] == "user" else "user"
            if messages and messages[-1]["role"] == role:
                messages[-1]["content"] += "\n" + turn["text"]
            else:
                messages.append({"role": role, "content": turn["text"]})
        if not messages or messages[-1]["role"] != "user":
            messages.append({"role": "user", "content": "(You are about to send the first text.)"})
        response = llm.complete(
            LlmRequest(
                agent="eval_persona",
                call_kind="reply",
                settings=call_settings("eval_persona", "reply"),
                system=PERSONA_SYSTEM,
                stable_context=persona.description,
                dynamic_context="",
                messages=messages,
            )
        )
        text = response.text.strip()
        return {"[EMAIL]": EMAIL, "[SILENT]": SILENT}.get(text, text)

    return next_text


def scripted_persona(persona: Persona) -> Callable[[list[dict[str, str]]], str]:
    script = iter(persona.script)
    return lambda _transcript: next(script, "[DONE]")


# --- the run ------------------------------------------------------------------------------------------


@dataclass
class PersonaRun:
    persona: str
    transcript: list[dict[str, str]] = field(default_factory=list)
    outcome: dict[str, Any] = field(default_factory=dict)
    verdict: Verdict | None = None

    def as_dict(self) -> dict[str, Any]:
        verdict = self.verdict
        return {
            "persona": self.persona,
            "transcript": self.transcript,
            "outcome": self.outcome,
            "verdict": None
            if verdict is None
            else {
                "passed": verdict.passed,
                "checks": verdict.checks,
                "critical_errors": verdict.critical_errors,
                "llm": verdict.llm,
            },
        }


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


QUEUE_DRAIN_TICKS = 3  # a proactive message is sent now, or after quiet hours / the budget allow


def _drain_queue(deps: Deps, user_id: uuid.UUID, clock: _Clock) -> None:
    """Proactive messages (follow-ups, the email notice) go through the orchestrator: tick until the
    user's queue is empty, moving the clock to the time a deferred message becomes due."""
    for _ in range(QUEUE_DRAIN_TICKS):
        run_tick(deps.uow_factory, now=clock.now, classifier=AssumeRelevantClassifier())
        with deps.uow_factory() as uow:
            due = uow.queue.next_due_for_user(user_id)
        if due is None:
            return
        clock.now = max(clock.now, due)


def run_persona(
    persona: Persona,
    *,
    bouncer_llm: Llm | None,
    next_text: Callable[[list[dict[str, str]]], str],
    domain: str,
    phone: str,
) -> PersonaRun:
    run = PersonaRun(persona.key)
    clock = _Clock()
    # One text, then its answer: the runner never sends a burst, so the turn's wait for one to settle
    # (2 s a turn) would only idle; as in evals.member_world. The wait has its own tests (test_bursts).
    deps = replace(
        bootstrap.deps(),
        llm_factory=lambda: bouncer_llm,
        clock=clock,
        verify_email_domain=domain,
        burst=NO_BURST_WAIT,
    )
    with deps.uow_factory() as uow:  # the member's first text creates them, as the SMS webhook does
        member = uow.users.upsert_by_phone(phone, timezone=guess_timezone(phone))
        uow.commit()
    user_id = member.id
    seen = 0

    def collect() -> None:
        nonlocal seen
        with deps.uow_factory() as uow:
            sent = uow.messages.outbound_for_user(user_id)
        for message in sent[seen:]:
            run.transcript.append({"role": "bouncer", "text": message.content})
        seen = len(sent)

    def member_now() -> User:
        with deps.uow_factory() as uow:
            user = uow.users.get(user_id)
        assert user is not None
        return user

    for _ in range(MAX_LIVE_TURNS):
        text = next_text(run.transcript)
        if text == "[DONE]":
            break
        if text == EMAIL:
            record_verification_email(
                InboundEmail(
                    (f"verify-{member_now().verification_token}@{domain}",), persona.work_email, "eval"
                ),
                domain=domain,
                uow_factory=deps.uow_factory,
            )
            run.transcript.append({"role": "event", "text": f"(email sent from {persona.work_email})"})
            run_bouncer_turn(user_id, deps)
            _drain_queue(deps, user_id, clock)
        elif text == SILENT:
            run.transcript.append({"role": "event", "text": "(a day of silence)"})
            with deps.uow_factory() as uow:
                due = [t for t in uow.tasks.open_for_user(user_id, FOLLOWUP_TASK) if t.status == "pending"]
                if due:  # the runner plays the sweeper: the task is taken off the queue and handled now
                    cancel_pending_tasks(
                        uow,
                        task_type=FOLLOWUP_TASK,
                        user_id=user_id,
                        reason="eval: handled by the runner",
                    )
                    uow.commit()
            if due:
                clock.now += timedelta(hours=24)
                run_followup(user_id, due[0].id, {"context_json": due[0].context_json}, deps)
            _drain_queue(deps, user_id, clock)
        else:
            run.transcript.append({"role": "user", "text": text})
            with deps.uow_factory() as uow:  # stored as the SMS webhook stores it
                uow.messages.add_inbound(
                    conversation_id=member.conversation_id,
                    user_id=user_id,
                    content=text,
                    message_sid="SM" + uuid.uuid4().hex,
                    media_urls=[],
                    num_segments=count_segments(text),
                    routed=True,
                )
                uow.commit()
            run_bouncer_turn(user_id, deps)
        collect()
    user = member_now()
    run.outcome = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "company": user.company,
        "title": user.title,
        "email": user.email,
        "email_verified": user.email_verified,
        "verified": user.verified,
        "referred_by": str(user.referred_by) if user.referred_by else None,
        "name_dropped": user.name_dropped,
        "onboarding_completed": user.onboarding_completed_at is not None,
        "approval_status": user.approval_status,
    }
    return run


def run_all(
    *, mode: str, personas: list[Persona], out_dir: Path | None = TRANSCRIPTS, domain: str = DEFAULT_DOMAIN
) -> list[PersonaRun]:
    os.environ.setdefault("VERIFY_EMAIL_DOMAIN", domain)
    config.reset_settings_cache()
    domain = config.get_settings().verify_email_domain or domain
    runs: list[PersonaRun] = []
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + mode
    if mode == "scripted":
        with scripted_model() as model:
            for i, persona in enumerate(personas):
                runs.append(
                    run_persona(
                        persona,
                        bouncer_llm=model,
                        next_text=scripted_persona(persona),
                        domain=domain,
                        phone=f"+1415555{7000 + i:04d}",
                    )
                )
        for run in runs:
            run.verdict = deterministic_checks(run.transcript, run.outcome, by_key(run.persona))
    else:
        live = build_llm(config.get_settings(), PostgresCallLog())
        if live is None:
            raise SystemExit("live mode needs ANTHROPIC_API_KEY")
        model = live
        for i, persona in enumerate(personas):
            run = run_persona(
                persona,
                bouncer_llm=model,
                next_text=live_persona(model, persona),
                domain=domain,
                phone=f"+1415555{8000 + i:04d}",
            )
            run.verdict = deterministic_checks(run.transcript, run.outcome, persona)
            run.verdict.llm = llm_judge(model, run.transcript, persona.description)
            runs.append(run)
    if out_dir is not None:
        target = out_dir / run_id
        target.mkdir(parents=True, exist_ok=True)
        for run in runs:
            (target / f"{run.persona}.json").write_text(json.dumps(run.as_dict(), indent=2, default=str))
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("scripted", "live"), default="scripted")
    parser.add_argument("--persona", action="append", help="run only these personas (repeatable)")
    args = parser.parse_args(argv)
    personas = [by_key(k) for k in args.persona] if args.persona else list(PERSONAS)
    runs = run_all(mode=args.mode, personas=personas)
    failed = 0
    for run in runs:
        assert run.verdict is not None
        status = "PASS" if run.verdict.passed else "FAIL"
        failed += not run.verdict.passed
        print(
            f"{status} {run.persona}: {run.verdict.checks} {run.verdict.critical_errors} "
            f"{run.verdict.llm or ''}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
