"""Call 1's output: the ``make_decision`` tool (agents.md §0.4, §2.2) and ``match_referrer`` (§2.4).

The schema is the whole attack surface of the decision step: it can write the current user's
onboarding fields, a referral text, a nomination, ask for the verification email, complete
onboarding when the preconditions hold, or close the flow. There is no field for a user id,
for ``verified``, ``poc_agent_type`` or any other user: a prompt injection has nothing to call.
Unknown keys are rejected (``extra='forbid'``), so a decision smuggling one is invalid as a
whole and never executed.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.adapters.llm import ToolSpec
from shared.domain.constants import ONBOARDING_FIELD_MAX_CHARS

Scenario = Literal[
    "ask_for_referrer",
    "ask_for_name",
    "ask_for_last_name",
    "ask_for_company",
    "ask_for_title",
    "request_email_verification",
    "awaiting_email_verification",
    "email_verified_onboarding_complete",
    "email_verified_missing_info",
    "awaiting_approval",
    "explain_yachtparty",
    "decline_request",
    "typed_email",
    "not_interested",
    "closed",
    "re_engagement",
    "general_response",
    "no_message",
]

Short = Field(default=None, min_length=1, max_length=ONBOARDING_FIELD_MAX_CHARS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Nomination(_Strict):
    prospect_name: str = Field(min_length=1, max_length=ONBOARDING_FIELD_MAX_CHARS)
    prospect_company: str | None = Short
    prospect_title: str | None = Short
    context: str | None = Field(default=None, max_length=500)


class UserInfo(_Strict):
    """collect_user_info (agents.md §2.2) without ``email``: a typed address is never stored (B10)."""

    first_name: str | None = Short
    last_name: str | None = Short
    company: str | None = Short
    title: str | None = Short
    linkedin_url: str | None = Field(
        default=None, max_length=500, pattern=r"^https?://([a-z]+\.)?linkedin\.com/"
    )
    expertise: list[str] | None = Field(default=None, max_length=10)
    referrer_name: str | None = Short
    referrer_candidate_id: UUID | None = Field(
        default=None, description="the id of the listed referral candidate the referrer is, if any"
    )


class BouncerDecision(_Strict):
    """The Bouncer's decision for this turn. An email address typed in the chat is never stored: an
    ``email`` key in user_info is dropped and sets typed_email_ignored; the rest stays valid."""

    user_info: UserInfo | None = None
    nomination: Nomination | None = None
    send_verification_email: bool = False
    complete_onboarding: bool = False
    user_not_interested: bool = False
    typed_email_ignored: bool = False
    should_message: bool = True
    next_scenario: Scenario
    reply_guidance: str = Field(default="", max_length=600)

    @model_validator(mode="before")
    @classmethod
    def _drop_typed_email(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and isinstance(data.get("user_info"), dict)
            and "email" in data["user_info"]
        ):
            info = {k: v for k, v in data["user_info"].items() if k != "email"}
            return {**data, "user_info": info, "typed_email_ignored": True}
        return data


MAKE_DECISION = ToolSpec(
    name="make_decision",
    description=(
        "Record what the user's messages said and what the Bouncer does next. Called exactly once per "
        "turn. Fields left null are not changed."
    ),
    input_model=BouncerDecision,
)


class NoArguments(_Strict):
    """A tool without parameters."""


class CloseInvite(_Strict):
    reason: Literal["not_interested"] = "not_interested"
