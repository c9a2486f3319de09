"""The Bouncer's fallback brain (decisions A10): onboarding keeps moving with no LLM.

Used when no ``ANTHROPIC_API_KEY`` is configured, or when the model is unavailable after the
SDK's retries. It reads the message deterministically (``shared.domain.onboarding.extract``),
produces the same ``BouncerDecision`` Call 1 would, and answers from templates in the same
gatekeeper voice (agents.md §2.9: short, dry, no exclamation points), asking for the next
missing field. Each use is logged by the caller (``bouncer_fallback`` in agent_actions_log).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.agents.bouncer.decision import BouncerDecision, Scenario, UserInfo
from shared.agents.bouncer.prompts import PRIVACY_LINE, WHAT_IS_THIS_BLURB
from shared.domain.onboarding import Extraction, OnboardingState, Step, apply, needs_follow_up, next_step

Trigger = str  # "user_message" | "email_verified" | "re_engagement"

STEP_SCENARIO: dict[Step, Scenario] = {
    Step.ASK_REFERRER: "ask_for_referrer",
    Step.ASK_NAME: "ask_for_name",
    Step.ASK_LAST_NAME: "ask_for_last_name",
    Step.ASK_COMPANY: "ask_for_company",
    Step.ASK_TITLE: "ask_for_title",
    Step.REQUEST_EMAIL_VERIFICATION: "request_email_verification",
    Step.AWAIT_EMAIL_VERIFICATION: "awaiting_email_verification",
    Step.COMPLETE_ONBOARDING: "email_verified_onboarding_complete",
    Step.AWAITING_APPROVAL: "awaiting_approval",
    Step.CLOSED: "closed",
}

_ASK: dict[Step, str] = {
    Step.ASK_REFERRER: "Who told you about this?",
    Step.ASK_NAME: "And you are? First and last name.",
    Step.ASK_LAST_NAME: "And your last name?",
    Step.ASK_COMPANY: "Where do you work?",
    Step.ASK_TITLE: "What do you do there?",
    Step.REQUEST_EMAIL_VERIFICATION: (
        "Last step. Send any email from your work address to {address}. " + PRIVACY_LINE
    ),
    Step.AWAIT_EMAIL_VERIFICATION: "Still waiting on that email from your work address to {address}.",
    Step.COMPLETE_ONBOARDING: "",
    Step.AWAITING_APPROVAL: "The team reviews every request and will get back to you.",
    Step.CLOSED: "",
}

RE_ENGAGEMENT = (
    "Should I close out this invite? I'm just the bouncer and need to keep the line moving.",
    "Still want to get verified? Just the bouncer, keeping the line moving.",
)


def decide(
    state: OnboardingState, extraction: Extraction | None, trigger: Trigger, *, attempt: int = 0
) -> BouncerDecision:
    """The decision Call 1 would make, from rules alone."""
    if trigger == "re_engagement":
        return BouncerDecision(should_message=needs_follow_up(state), next_scenario="re_engagement")
    if extraction is not None and extraction.not_interested:
        return BouncerDecision(user_not_interested=True, next_scenario="not_interested")

    info: UserInfo | None = None
    referrer_recorded = False
    if extraction is not None:
        missing = {name: value for name, value in extraction.captured().items() if not getattr(state, name)}
        referrer = extraction.referrer_name if not state.referrer_known else None
        referrer_recorded = referrer is not None
        if missing or referrer:
            info = UserInfo.model_validate({"referrer_name": referrer, **missing})
    after = apply(state, extraction or Extraction(), referrer_recorded)
    step = next_step(after)
    scenario: Scenario = STEP_SCENARIO[step]
    if trigger == "email_verified":
        scenario = (
            "email_verified_onboarding_complete" if after.info_complete() else "email_verified_missing_info"
        )
    elif extraction is not None and extraction.asks_what_this_is:
        scenario = "explain_yachtparty"
    elif extraction is not None and extraction.typed_emails:
        scenario = "typed_email"
    elif extraction is not None and extraction.asks_question and info is None:
        scenario = "general_response"  # "why do you need that?": why, then the same ask
    return BouncerDecision(
        user_info=info,
        send_verification_email=step is Step.REQUEST_EMAIL_VERIFICATION,
        complete_onboarding=step is Step.COMPLETE_ONBOARDING,
        typed_email_ignored=bool(extraction and extraction.typed_emails),
        next_scenario=scenario,
    )


@dataclass(frozen=True)
class ReplyFacts:
    """What a template may mention: only facts about this user."""

    step_after: Step
    verification_address: str | None = None
    first_reply: bool = False  # no Bouncer message in the conversation yet
    attempt: int = 0
    between_roles: bool = False  # the company they gave is BETWEEN_ROLES: the title asked is the last one
    asks_for_person: bool = False  # "are you a bot?", "can I talk to a human?"


WHY_LINE = "It's invite-only, and the team reviews every request before anyone gets in."
PERSON_LINE = (  # "are you a bot?", "can I talk to a human?"
    "I'm Yachtparty's automated assistant, and the team reviews every request before anyone gets in."
)
LAST_ROLE = "What was your last role?"


def _ask(step: Step, facts: ReplyFacts) -> str:
    text = LAST_ROLE if step is Step.ASK_TITLE and facts.between_roles else _ASK[step]
    if "{address}" in text:
        if not facts.verification_address:
            return "Last step is a quick email from your work address. I'll send the details."
        text = text.format(address=facts.verification_address)
    return text


def render(scenario: str, facts: ReplyFacts) -> list[str]:  # noqa: PLR0911, PLR0912 - a template per scenario
    """The SMS for a scenario: one or two short messages in the gatekeeper voice."""
    ask = _ask(facts.step_after, facts)
    if scenario == "no_message":
        return []
    if scenario == "re_engagement":
        return [RE_ENGAGEMENT[min(max(facts.attempt, 1), len(RE_ENGAGEMENT)) - 1]]
    if scenario == "ask_for_referrer":
        return ["Hey... who told you about this?" if facts.first_reply else "Who told you about this?"]
    if scenario == "not_interested":
        return ["Understood. I'll close out your invite."]
    if scenario == "closed":
        return ["This invite is closed."]
    if scenario == "explain_yachtparty":
        return [WHAT_IS_THIS_BLURB, ask] if ask else [WHAT_IS_THIS_BLURB]
    if scenario == "decline_request":
        return [" ".join(p for p in ("Not how the line works.", ask) if p)]
    if scenario == "typed_email":
        lead = "Typing an address doesn't verify anything; the email has to come from your work account."
        return [lead, ask] if ask else [lead]
    if scenario == "email_verified_onboarding_complete":
        return ["Got your email, thanks. The team reviews every request and will get back to you."]
    if scenario == "email_verified_missing_info":
        return [" ".join(p for p in ("Got your email, thanks.", ask) if p)]
    if scenario == "awaiting_approval":
        return ["You're in the review queue. The team will get back to you."]
    if scenario == "request_email_verification":
        # The first ask: the step after this turn is already "awaiting", whose template says "still".
        return [_ask(Step.REQUEST_EMAIL_VERIFICATION, facts)]
    if scenario in ("ask_for_name",):
        return ["Got it. " + ask if not facts.first_reply else ask]
    if scenario == "general_response":  # a question to the Bouncer: why it asks, then the same ask
        lead = PERSON_LINE if facts.asks_for_person else WHY_LINE  # "are you a bot?": the truth
        return [" ".join(p for p in (lead, ask) if p)]
    return [ask] if ask else ["Noted."]
