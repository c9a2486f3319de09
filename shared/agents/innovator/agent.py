"""The Innovator (agents.md §5): everything the Concierge does, plus the innovator's own tools.

``InnovatorAgent`` is a ``ConciergeAgent`` with its own name (its messages' role), prompts, an
innovator-profile block in the stable context, and four more tools:

- ``update_innovator_profile``: the member's own ``innovators`` row;
- ``check_intro_progress``: counts and completion rate from the member's own intro rows;
- ``request_connection``: a connection request to a verified member they want to meet
  (``shared.agents.concierge.intro_tools``);
- ``upload_prospects`` and ``request_credit_funding``: a single-use upload link and a Stripe
  Checkout link (``shared.agents.innovator.commerce``, docs/commerce.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.adapters.llm import ToolSpec
from shared.adapters.repositories.offers import InnovatorProfileUpdate
from shared.agents.concierge import intro_tools
from shared.agents.concierge.agent import ConciergeAgent
from shared.agents.concierge.decision import (
    CreditFundingArgs,
    InnovatorProfileArgs,
    NoArguments,
    RequestConnectionArgs,
)
from shared.agents.concierge.prompts import QUOTABLE
from shared.agents.concierge.state import ConciergeTurn, ConciergeTurnState
from shared.agents.concierge.tools import concierge_tools
from shared.agents.conversation.protocol import AgentTool
from shared.agents.innovator import commerce
from shared.agents.innovator.prompts import DECISION_SYSTEM, PROMPT_VERSION, REPLY_SYSTEM, WELCOME


def update_innovator_profile(turn: ConciergeTurn, args: InnovatorProfileArgs) -> dict[str, Any]:
    fields = args.model_dump()
    if not any(fields.values()):
        raise ValueError("no profile field given")
    if not turn.uow.innovators.update_profile(turn.user_id, InnovatorProfileUpdate(**fields)):
        raise LookupError("this member has no innovator profile")
    return {"profile": "updated", "fields": sorted(k for k, v in fields.items() if v)}


def upload_prospects(turn: ConciergeTurn, _: NoArguments) -> dict[str, Any]:
    return commerce.upload_link(turn.uow, turn.user_id, turn.now)


def request_credit_funding(turn: ConciergeTurn, args: CreditFundingArgs) -> dict[str, Any]:
    return commerce.funding_link(turn.uow, turn.user_id, args.amount, turn.id)


def check_intro_progress(turn: ConciergeTurn, _: NoArguments) -> dict[str, Any]:
    """agents.md §5.3: counts and conversion from the member's own intro rows, nothing else."""
    out: dict[str, Any] = {}
    for intros in turn.uow.innovators.intro_progress(turn.user_id):
        out[intros.kind] = {
            "pending": intros.pending,
            "accepted": intros.accepted,
            "completed": intros.completed,
            "declined": intros.declined,
            "total": intros.total,
            "completion_rate_percent": round(100 * intros.completed / intros.total) if intros.total else None,
        }
    for kind in ("intro_opportunities", "connection_requests"):
        out.setdefault(kind, {"pending": 0, "accepted": 0, "completed": 0, "declined": 0, "total": 0})
    return out


def innovator_tools() -> dict[str, AgentTool[ConciergeTurnState]]:
    extra: list[AgentTool[ConciergeTurnState]] = [
        AgentTool(
            ToolSpec(
                "update_innovator_profile",
                "Update the member's own innovator profile: what they sell, to whom, pricing, edge.",
                InnovatorProfileArgs,
            ),
            update_innovator_profile,
        ),
        AgentTool(
            ToolSpec("check_intro_progress", "Count the member's intros by stage.", NoArguments),
            check_intro_progress,
        ),
        AgentTool(
            ToolSpec("upload_prospects", "Get the way to upload a prospect list.", NoArguments),
            upload_prospects,
        ),
        AgentTool(
            ToolSpec("request_credit_funding", "Get the way to buy credits.", CreditFundingArgs),
            request_credit_funding,
        ),
        AgentTool(
            ToolSpec(
                "request_connection",
                "Ask to meet an existing member (target_user_id from the facts, never guessed), with why.",
                RequestConnectionArgs,
            ),
            intro_tools.request_connection,
        ),
    ]
    return {**concierge_tools(), **{t.spec.name: t for t in extra}}


class InnovatorAgent(ConciergeAgent):
    name = "innovator"
    decision_prompt = DECISION_SYSTEM
    reply_prompt = REPLY_SYSTEM
    quotable = (*QUOTABLE, WELCOME)
    prompt_version = PROMPT_VERSION
    commerce_intents = True

    def tool_set(self) -> Mapping[str, AgentTool[ConciergeTurnState]]:
        return innovator_tools()

    def stable_context(self, turn: ConciergeTurn) -> str:
        profile = turn.uow.innovators.profile(turn.user_id)
        lines = [super().stable_context(turn), "", "INNOVATOR PROFILE"]
        if profile is None:
            lines.append("- (none)")
        else:
            for key in (
                "company_name",
                "solution_name",
                "solution_description",
                "target_customer_profile",
                "pricing_model",
                "differentiation",
            ):
                lines.append(f"- {key.replace('_', ' ')}: {getattr(profile, key) or '(unknown)'}")
        return "\n".join(lines)
