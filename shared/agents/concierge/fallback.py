"""The Concierge's offline brain (issue 16 §6, decisions A10): deterministic intents, honest replies.

Used with no ``ANTHROPIC_API_KEY`` or when the model is unavailable. ``plan`` maps the member's
texts (read by ``shared.domain.member_intents``) and the item presented to them last to tool
calls; the framework runs them; then ``render`` writes the reply from the tool results alone. The
reply says nothing the rules did not do: an acknowledgment appears only for a tool that
succeeded, and a failure is owned up to without detail.

The rules, first match wins for the item presented last (``Presented``):
1. "stop asking me about X" / "no longer need X" where X names that item → decline it (a
   community request asked of the member as an expert: "pass");
2. "I know someone at X" / "I can intro you to X" answering a community or connection request →
   ``offer_introduction`` for it;
3. a yes or a no → accept / decline (for an intro offer waiting on the member as its connector:
   confirm / decline; for a community request: "pass" on a no);
4. an answer to a presented community request ("pass", "ask <name>", or a text of a few words) →
   ``record_community_response``;
5. when the last thing asked of the member is a research follow-up question (the Solution Saga's,
   ``FOLLOW_UP_QUESTION``), any reply that is not a keyword, "pass", "ask <name>", a question back
   or a bare yes or no → ``record_follow_up_answer`` with their words; a bare yes or no counts
   when the question is one it answers ("Do you have a contact at Vanta?" → "yes").
Then, for what is left: a vendor question → research plus a community request; "do you know
anyone at X", "any VCs in the network?" → a community request for an introduction; "any advice on
X?" → a community request for quick thoughts; "stop asking me about X" → cancel the member's own request;
for an Innovator, "here's my list" → ``upload_prospects`` and "buy 500 credits" →
``request_credit_funding`` (the smallest pack when no number is given), whose returned link the
reply quotes exactly (no link is ever written that a tool did not return); anything else → an
honest acknowledgment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.agents.conversation.protocol import ToolResult
from shared.domain.community import Answer, expertise_terms, read_expert_reply
from shared.domain.constants import CONCIERGE_TEXT_MAX_CHARS, EXPERT_ANSWER_MIN_WORDS
from shared.domain.member_intents import (
    Intent,
    IntentKind,
    answer_after_yes_or_no,
    answers_closed_question,
    asks_about_their_data,
    asks_for_a_person,
    asks_for_contact,
    asks_what_we_do,
    asks_who_is_here,
    is_hello,
    is_how_are_you,
    is_thanks,
    looks_like_answer,
    read_yes_no,
    split_prospect,
)
from shared.domain.opt_out import SUPPORT_EMAIL, classify
from shared.domain.priorities import CONFIRM_OFFER, NEWS_ITEM_TYPES
from shared.domain.prospects import credit_packs
from shared.domain.reply_split import as_sentence

SUMMARY_MAX = 100
FOLLOW_UP_QUESTION = "solution_follow_up"  # Presented.item_type of a research follow-up question

HONEST_ACK = (
    "Got it. I can put a question to the network or look into vendors for you; tell me what you need."
)
ABOUT_US = (  # "what can you do?", "how does this work?"
    "I can put your question to members who know the area, look into vendors for you, and introduce you "
    "to people when both sides agree. Tell me what you need."
)
ABOUT_US_INNOVATOR = (  # the same, asked by an Innovator (agents.md §5: prospects, intros, credits)
    "I can put your question to members who know the area, look into vendors for you, take your prospect "
    "list and ask members who know those people for intros, and add credits when you need them. Tell me "
    "what you need."
)
MEMBERS_PRIVATE = (  # "who else is in the network?", "can I see the member list?"
    "I don't share who's in the network. I can put your question to members who know the area, and "
    "introduce you to someone when you both agree. Tell me what you need."
)
CONTACT_PRIVATE = (  # "what's Grace's email?" (decisions B17)
    "I don't share members' contact details. When you both agree to an introduction, I send each of you "
    "the other's name, company and email. Tell me who you'd like to meet."
)
ANSWER_PLEASE = (  # a bare "yes" to a question asked of them: no answer yet
    "Go ahead: text me your answer and I'll pass it on to the member who asked, or reply 'pass' if it "
    "isn't for you."
)
QUESTION_BACK = (  # a question back from an expert about the question asked of them
    'I only have the question as the member asked it: "{question}" If you know the area, text me your '
    "answer as it stands (what it depends on helps), or reply 'pass'."
)
THANKS_ACK = "Anytime."  # a bare thank-you, nothing asked
GREETING_ACK = "Hi. What can I help with? I can put a question to the network or look into vendors for you."
PERSON_ON_THE_TEAM = (  # "can I talk to a human?", "are you a bot?": the truth, and where a person is
    f"I'm Yachtparty's automated assistant. To reach a person on the team, email {SUPPORT_EMAIL}. "
    "I can also put a question to the network for you."
)
THEIR_DATA = (  # "delete my data", "what do you know about me?" (agents.md §2.3; docs/operating.md)
    f"To get a copy of what we hold about you, or to have it deleted, email {SUPPORT_EMAIL} and the team "
    "will take care of it. Reply STOP anytime to stop all texts."
)
HOW_ARE_YOU_ACK = (  # "how are you?": answered in kind, then the same offer
    "Doing well, thanks. What can I help with? I can put a question to the network or look into vendors "
    "for you."
)
GOAL_NEXT_STEP = (
    "When you want a vendor recommendation or someone to talk to, text me and I'll put the question to "
    "the network."
)
TOOL_TROUBLE = "I'm having trouble with part of that. I'll look into it."
# What the rules say after each intro or answer tool that succeeded (nothing more happened).
INTRO_ACKS: dict[str, str] = {
    "accept_intro_opportunity": "Thanks, noted that you're up for making that intro.",
    "decline_intro_opportunity": "No problem, I've taken that intro off your list.",
    "accept_connection_request": "Noted that you'd like to meet them.",
    "decline_connection_request": "Understood, I've declined that one for you.",
    "accept_intro_offer": (
        "Noted that you'd like that intro; it now waits on the member who offered it to confirm."
    ),
    "decline_intro_offer": "Understood, I've declined that intro.",
    "confirm_intro_offer": "Thanks for confirming that intro.",
    "record_intro_outcome": "Thanks for letting me know how that intro went.",
}
RESPONSE_ACKS: dict[str, str] = {
    "recorded": "Thanks, I've recorded your answer and will pass it on.",
    "already_recorded": "I already have your answer to that one.",
    "passed": "No problem, I've marked that one as a pass.",
    "referred": "Thanks, I've noted who to ask.",
    "referral_stored": "Thanks, I've noted who to ask.",
}
FOLLOW_UP_ACKS: dict[str, str] = {
    "recorded": "Thanks, I've passed your answer on to the member who asked.",
    "already_recorded": "I already have your answer to that one.",
}

# The answer tools of each presented item type: (yes, no).
ANSWERS: dict[str, tuple[str, str]] = {
    "intro_opportunity": ("accept_intro_opportunity", "decline_intro_opportunity"),
    "connection_request": ("accept_connection_request", "decline_connection_request"),
    "intro_offer": ("accept_intro_offer", "decline_intro_offer"),
}
ID_ARGUMENT = {
    "intro_opportunity": "intro_opportunity_id",
    "connection_request": "connection_request_id",
    "intro_offer": "intro_offer_id",
}


@dataclass(frozen=True)
class Presented:
    """The item presented to the member last: its type, id and summary; for an intro offer, whether
    it waits on them as introducee or as connector."""

    item_type: str
    item_id: str
    summary: str = ""
    offer_role: str | None = None  # introducee | connector (intro offers only)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plan(
    intents: Sequence[Intent],
    *,
    goal_text: str | None,
    texts: Sequence[str] = (),
    presented: Presented | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The tool calls the rules make. ``goal_text``: the member is answering the welcome question;
    ``texts``: their texts this turn; ``presented``: the item presented to them last."""
    calls: list[tuple[str, dict[str, Any]]] = []
    if goal_text:
        calls.append(("store_user_goal", {"goal_description": _cut(goal_text, CONCIERGE_TEXT_MAX_CHARS)}))
    answered = _answer_presented(intents, texts, presented) if presented is not None else None
    if answered is not None:
        calls.extend(answered)
        return calls
    for intent in intents:
        question = _cut(intent.text, CONCIERGE_TEXT_MAX_CHARS)
        topic = _cut(intent.topic or intent.text, SUMMARY_MAX)
        if intent.kind is IntentKind.SOLUTION_QUESTION:
            calls.append(
                (
                    "request_solution_research",
                    {"request_description": question, "category": intent.category},
                )
            )
            calls.append(
                (
                    "publish_community_request",
                    {
                        "question": question,
                        "expertise_needed": _expertise(topic),
                        "category": intent.category,
                        "desired_outcome": "quick_thoughts",
                        "request_summary": topic,
                    },
                )
            )
        elif intent.kind is IntentKind.FIND_PERSON:
            calls.append(
                (
                    "publish_community_request",
                    {
                        "question": question,
                        # the topic alone: word tags would join another member's open
                        # request that merely shares a word (community_find_duplicate)
                        "expertise_needed": [topic],
                        "category": intent.category,
                        "desired_outcome": "introduction",
                        "request_summary": _cut(intent.summary or f"someone at {topic}", SUMMARY_MAX),
                    },
                )
            )
        elif intent.kind is IntentKind.ADVICE:
            calls.append(
                (
                    "publish_community_request",
                    {
                        "question": question,
                        "expertise_needed": [topic],  # the topic alone, as for FIND_PERSON
                        "category": intent.category,
                        "desired_outcome": "quick_thoughts",
                        "request_summary": topic,
                    },
                )
            )
        elif intent.kind is IntentKind.CANCEL and intent.topic:
            calls.append(("cancel_community_request", {"about": _cut(intent.topic, 200)}))
        elif intent.kind is IntentKind.UPLOAD_PROSPECTS:
            calls.append(("upload_prospects", {}))
        elif intent.kind is IntentKind.INTRO_PROGRESS:
            calls.append(("check_intro_progress", {}))
        elif intent.kind is IntentKind.BUY_CREDITS:
            smallest = min(p.credits for p in credit_packs())
            calls.append(("request_credit_funding", {"amount": intent.credits or smallest}))
    return calls


def _expertise(topic: str) -> list[str]:
    """A vendor question's tags: the topic as the member put it, then its words as the Solution Saga
    tags the same question, so the Saga's community request for it joins this one, not a second
    ask. Only a vendor question: the Saga opens one for it anyway, tagged by its words."""
    return [topic, *(t for t in expertise_terms(topic) if t != topic.lower())]


def _answer_presented(
    intents: Sequence[Intent], texts: Sequence[str], presented: Presented
) -> list[tuple[str, dict[str, Any]]] | None:
    """Rules 1-4: the member's texts as an answer to the item presented last; None when they are not."""
    text = " ".join(" ".join(texts).split())
    kinds = {i.kind for i in intents}
    cancel = next((i for i in intents if i.kind is IntentKind.CANCEL), None)
    if cancel is not None:
        # naming the presented item declines it; anything else is the member's own request (cancel rule)
        return _decline(presented) if cancel.topic and _names(presented.summary, cancel.topic) else None
    if not text or kinds & {IntentKind.SOLUTION_QUESTION, IntentKind.FIND_PERSON, IntentKind.ADVICE}:
        return None  # nothing said, or a new ask of their own: not an answer
    offer = next((i for i in intents if i.kind is IntentKind.OFFER_INTRO), None)
    if offer is not None and presented.item_type in ("community_request", "connection_request"):
        name, company = split_prospect(offer.topic)
        args: dict[str, Any] = {
            "prospect_name": _cut(name, 255),
            "target_context": _cut(text, CONCIERGE_TEXT_MAX_CHARS),
            "context_type": presented.item_type,
            "context_id": presented.item_id,
        }
        if company:
            args["prospect_company"] = _cut(company, 255)
        return [("offer_introduction", args)]
    if presented.item_type == "community_request":
        return _answer_request(text, presented)
    if presented.item_type == FOLLOW_UP_QUESTION:
        return _answer_follow_up(text, presented)
    return _answer_item(read_yes_no(text), presented)


def _answer_follow_up(text: str, presented: Presented) -> list[tuple[str, dict[str, Any]]] | None:
    """Rule 5: the member's words as their answer to the research follow-up question; not a keyword,
    "pass" / "ask <name>", a question back, or a bare yes or no (fewer words than an answer) unless
    the question is one a yes or a no answers ("Do you have a contact at Vanta?")."""
    bare = read_yes_no(text) is not None and not looks_like_answer(text, min_words=EXPERT_ANSWER_MIN_WORDS)
    if (
        classify(text, opted_out=False) is not None
        or (bare and not answers_closed_question(presented.summary, text))
        or not isinstance(read_expert_reply(text), Answer)
        or text.endswith("?")
    ):
        return None
    args = {"workflow_id": presented.item_id, "answer_text": _cut(text, CONCIERGE_TEXT_MAX_CHARS)}
    return [("record_follow_up_answer", args)]


def _answer_request(text: str, presented: Presented) -> list[tuple[str, dict[str, Any]]] | None:
    """Rules 3-4 for a community request asked of the member: "pass", "ask <name>", a no, an answer."""
    if not isinstance(read_expert_reply(text), Answer):
        return [_respond(presented, text)]  # "pass", "ask Dana Kim": the Community service reads them
    yes_no = read_yes_no(text)
    if yes_no is not None and answer_after_yes_or_no(text, min_words=EXPERT_ANSWER_MIN_WORDS):
        # "Yes, I ran ops at a forwarder there for 6 years ...": an answer, not a bare yes (found
        # on the local stack, where it got "Go ahead: text me your answer ...")
        return [_respond(presented, text)]
    if yes_no is False:
        return [_respond(presented, "pass")]
    if yes_no is None and looks_like_answer(text, min_words=EXPERT_ANSWER_MIN_WORDS):
        return [_respond(presented, text)]
    return None  # a bare yes, or too short to be an answer


def _answer_item(yes_no: bool | None, presented: Presented) -> list[tuple[str, dict[str, Any]]] | None:
    """Rule 3 for an intro item: accept (confirm, for an offer waiting on the member as its connector)
    or decline."""
    if yes_no is None or presented.item_type not in ANSWERS:
        return None
    if yes_no is False:
        return _decline(presented)
    accept = ANSWERS[presented.item_type][0]
    if presented.item_type == "intro_offer" and presented.offer_role == "connector":
        accept = "confirm_intro_offer"
    return [(accept, {ID_ARGUMENT[presented.item_type]: presented.item_id})]


def _respond(presented: Presented, text: str) -> tuple[str, dict[str, Any]]:
    return (
        "record_community_response",
        {"request_id": presented.item_id, "response_text": _cut(text, CONCIERGE_TEXT_MAX_CHARS)},
    )


def _decline(presented: Presented) -> list[tuple[str, dict[str, Any]]] | None:
    if presented.item_type == "community_request":
        return [_respond(presented, "pass")]
    if presented.item_type not in ANSWERS:
        return None
    return [(ANSWERS[presented.item_type][1], {ID_ARGUMENT[presented.item_type]: presented.item_id})]


def _names(summary: str, topic: str) -> bool:
    """Whether the member's words ("the Stripe intro") name the presented item (its summary)."""
    if topic.lower().strip() in ("this", "that", "it", "this one", "that one", "them"):
        return True
    words = [w for w in topic.lower().split() if len(w) > 2 and w not in ("the", "that", "this", "intro")]
    lowered = summary.lower()
    return bool(words) and all(w in lowered for w in words)


# "recommend a good freight forwarder": the adjectives a member puts between the article and the thing
_ADJECTIVES = r"(?:good|great|reliable|solid|decent|trusted|recommended|cheap|affordable|local)"
_ASKED_FOR_ONE = rf"(?P<lead>\ban?\s+(?:{_ADJECTIVES}\s+){{0,2}})"


def _research_line(topic: str, text: str) -> str:
    """ "I'll look into SOC 2 automation ..."; a thing asked for with "a" or "an" is looked for:
    "recommend a good freight forwarder for Rotterdam?" -> "I'll look for a freight forwarder for
    Rotterdam ..." (it read "I'll look into freight forwarder for Rotterdam")."""
    about = _cut(topic, SUMMARY_MAX) if topic and len(topic) <= SUMMARY_MAX else ""
    if not about:
        return "I'll look into it and come back to you when I have something concrete."
    # the whole topic, as the member wrote it after the article ("a good HR platform" is no "an HR")
    found = re.search(_ASKED_FOR_ONE + re.escape(about) + r"(?=\s*(?:[?.!,;]|$))", text, re.IGNORECASE)
    done = "and come back to you when I have something concrete."
    if found:
        return f"I'll look for {_article(about.split()[0], found.group('lead'))} {about} {done}"
    return f"I'll look into {about} {done}"


def _article(head: str, lead: str) -> str:
    """The member's own "a"/"an" when it stood right before ``head`` (``lead`` is the article and
    any adjectives before the topic); else by the first letter of ``head``."""
    said = lead.split()
    if len(said) == 1:  # the article alone: it was written for the topic's first word
        return said[0].lower()
    return "an" if head[0].lower() in "aeiou" else "a"


def render(
    results: Sequence[ToolResult],
    intents: Sequence[Intent],
    *,
    texts: Sequence[str] = (),
    balance: int | None = None,
    open_requests: Sequence[OpenRequest] = (),
    innovator: bool = False,
    presented: Presented | None = None,
) -> list[str]:
    """The reply, from what the tools actually did; ``texts``, the member's, for when nothing was;
    ``balance`` and ``open_requests`` (newest first), the member's, for when they asked."""
    done = {r.name: r.output for r in results if r.ok}
    failed = any(not r.ok for r in results)
    lines: list[str] = []
    goal = done.get("store_user_goal")
    if goal is not None:
        lines.append("Noted, that's what you're working on.")
    research = done.get("request_solution_research")
    community = done.get("publish_community_request")
    asked = next((i for i in intents if i.kind is IntentKind.SOLUTION_QUESTION and i.topic), None)
    if research is not None:
        lines.append(_research_line(asked.topic if asked else "", asked.text if asked else ""))
    if community is not None:
        lines.append(
            "I'll also get the question out to the network."
            if research is not None
            else "I'll get that question out to the network."
        )
    offer = done.get("offer_introduction")
    if offer is not None:
        lines.append(
            f"Thanks, I've noted your offer to introduce {_cut(str(offer['prospect_name']), SUMMARY_MAX)}. "
            "Nobody's details are shared until both sides agree."
        )
    lines.extend(ack for name, ack in INTRO_ACKS.items() if name in done)
    response = done.get("record_community_response")
    if response is not None:
        said = response.get("say") or RESPONSE_ACKS.get(str(response.get("community_response")))
        if said:
            lines.append(str(said))
    follow_up = done.get("record_follow_up_answer") or {}
    lines.extend(FOLLOW_UP_ACKS[k] for k in [str(follow_up.get("follow_up_answer"))] if k in FOLLOW_UP_ACKS)
    cancel = done.get("cancel_community_request")
    if cancel is not None:
        about = _cut(str(cancel.get("about") or "that"), SUMMARY_MAX)
        if cancel["cancelled"]:
            lines.append(f"Done. I've cancelled your request about {about}.")
        else:
            lines.append(f"I don't see an open request of yours about {about}, so nothing was cancelled.")
    lines.extend(_commerce_lines(done))
    lines.extend(_balance_line(intents, balance))
    lines.extend(_status_lines(intents, open_requests))
    if failed:
        lines.append(TOOL_TROUBLE)
    if not lines:
        return [_nothing_done(texts, innovator=innovator, presented=presented)]
    body = " ".join(lines)
    if goal is not None and len(done) == 1 and not failed:
        return [body, GOAL_NEXT_STEP]
    return [body]


# Items the offline reply mentions when the member's texts asked for nothing (agents.md §4.3's
# proactive priority, which the model's path picks itself): an intro item, which a bare yes or no
# then answers (it is the item presented last, rule 3), or news for them (NEWS_ITEM_TYPES), which
# is mentioned after anything the rules did too.
# A community request asked of the member as an expert is mentioned too (agents.md §8 step 5: "on
# the expert's next conversation ... or a proactive mention"): found on the local stack, an ask
# ranked 85 waited for a re-engagement that the 7-day throttle put a week out (decisions B5), and
# that is skipped once the member texts ("user has responded"), so with no model it never came.
# So is an intro offer, to either side (found on the local stack: Priya's offer to Maya ranked 75,
# which starts no re-engagement, and with no model Maya never heard of it).
MENTIONED_ITEM_TYPES = (
    frozenset({"connection_request", "intro_opportunity", "community_request", "intro_offer"})
    | NEWS_ITEM_TYPES
)


def mention(
    item_type: str, summary: str | None, primary: str | None, secondary: str | None, context: Any
) -> str | None:
    """One open item in a sentence or two, ending with the answer it waits for; None for an item the
    rules do not mention or one with nothing to say."""
    said = context.strip() if isinstance(context, str) else ""
    if item_type in NEWS_ITEM_TYPES and summary:
        return as_sentence(summary.strip())
    if item_type == "connection_request" and summary:
        extra = f" {as_sentence(said)}" if said else ""
        return f"Separately: {as_sentence(summary)}{extra} Would you like the intro? Reply yes or no."
    if item_type == "intro_offer" and summary and secondary:
        return _offer_mention(summary, primary, secondary)
    if item_type == "community_request" and summary:
        return (
            f"Separately: a member asked something you may know about: {as_sentence(summary.strip())} "
            "Reply with your answer, or 'pass'."
        )
    if item_type == "intro_opportunity" and primary:
        who = summary.removeprefix("Intro ") if summary and summary.startswith("Intro ") else primary
        earn = f" You'd {said}." if said.startswith("earn ") else ""
        return (
            f"Separately: {secondary or 'a member company'} would like to meet {who}. "
            f"Could you introduce them?{earn} Reply yes or no."
        )
    return None


def _offer_mention(summary: str, primary: str | None, prospect: str) -> str:
    """An intro offer to its introducee (accept?), or to its connector once accepted (confirm?)."""
    if summary.startswith(CONFIRM_OFFER):
        return (
            f"Separately: {primary or 'the member'} would like your intro to {prospect}. "
            "Can you still make it? Reply yes or no."
        )
    return f"Separately: {as_sentence(summary)} Would you like the intro? Reply yes or no."


def intro_progress_line(progress: dict[str, Any]) -> str:
    """check_intro_progress's counts in a sentence: both kinds of intro added up."""
    stages = ("pending", "accepted", "completed", "declined")
    kinds = [v for v in progress.values() if isinstance(v, dict)]
    counts = {stage: sum(int(k.get(stage) or 0) for k in kinds) for stage in stages}
    total = sum(int(k.get("total") or 0) for k in kinds)
    if total == 0:
        return "No intros in progress yet."
    said = ", ".join(
        f"{counts[stage]} {'waiting on an answer' if stage == 'pending' else stage}" for stage in stages
    )
    return f"Your intros so far: {total} in all; {said}."


def _balance_line(intents: Sequence[Intent], balance: int | None) -> list[str]:
    """The member's credit balance, from their row, when they asked for it."""
    if balance is None or not any(i.kind is IntentKind.BALANCE for i in intents):
        return []
    return [f"You have {balance} credit{'' if balance == 1 else 's'}."]


@dataclass(frozen=True)
class OpenRequest:
    """One of the member's own open community requests: what it asks, and whether answers came."""

    described: str
    answered: bool
    experts_asked: int = 1  # none: nobody matched, or every match was in quiet hours or asked that day


STATUS_SHOWN = 2  # at most this many of the member's open requests in a status answer
NO_OPEN_REQUESTS = (
    "Nothing new from the network: you have no open question with it right now. Tell me what you need "
    "and I'll put it out."
)


def _status_lines(intents: Sequence[Intent], requests: Sequence[OpenRequest]) -> list[str]:
    """How the member's own questions stand, when they asked ("any news?"): each open one, whether
    answers came (one not yet given to them is mentioned after these lines), newest first."""
    if not any(i.kind is IntentKind.STATUS for i in intents):
        return []
    if not requests:
        return [NO_OPEN_REQUESTS]
    lines = [
        f'Your question "{_cut(r.described, SUMMARY_MAX)}" {_standing(r)}' for r in requests[:STATUS_SHOWN]
    ]
    more = len(requests) - STATUS_SHOWN
    if more > 0:
        lines.append(f"And {more} more still open.")
    # Not "as soon as there's news": an answer is texted unasked at most once in 7 days (decisions
    # B5; an answer's priority, 90, does not lift it), so a second one waits for the member's next
    # text, where it is mentioned (found on the local stack: Leo's answer, 11 minutes after Priya's).
    lines.append(KEEP_POSTED)
    return lines


KEEP_POSTED = "I'll keep you posted; text me anytime for the latest."


def _standing(request: OpenRequest) -> str:
    if request.answered:
        return "has answers."
    if request.experts_asked == 0:
        # matched by nobody yet, or by members in their quiet hours or asked already that day: the
        # hourly job asks them as soon as it may (community.route_waiting_requests)
        return "is open; nobody has been asked yet, and I'll ask members who know the area as soon as I can."
    return "is out with the network; no answers yet."


def _nothing_done(  # noqa: PLR0911 - one reply per kind of text, the first that holds
    said: Sequence[str], *, innovator: bool = False, presented: Presented | None = None
) -> str:
    """No tool acted: a thank-you or a greeting gets a short answer in kind, a bare yes to a question
    asked of them a request for the answer, a question back about it the question as asked, a
    question about the service what it does, the rest the honest ack."""
    texts = [t for t in said if t.strip()]
    if texts and all(is_thanks(t) for t in texts):
        return THANKS_ACK
    if texts and all(is_hello(t) for t in texts):
        return GREETING_ACK
    if texts and all(is_hello(t) or is_how_are_you(t) for t in texts):
        return HOW_ARE_YOU_ACK
    asked = presented is not None and presented.item_type in ("community_request", FOLLOW_UP_QUESTION)
    if asked and texts and all(read_yes_no(t) is True for t in texts):
        return ANSWER_PLEASE
    for asks, reply in (
        (asks_who_is_here, MEMBERS_PRIVATE),
        (asks_for_contact, CONTACT_PRIVATE),
        (asks_about_their_data, THEIR_DATA),
        (asks_for_a_person, PERSON_ON_THE_TEAM),
    ):
        if any(asks(t) for t in texts):
            return reply
    if (
        presented is not None
        and presented.item_type == "community_request"
        and texts
        and all(t.rstrip().endswith("?") for t in texts)
    ):
        # A question back about the question asked of them ("what kind of goods? truck or rail?"):
        # there is nobody to put it to (found on the local stack, where it got the honest ack).
        return QUESTION_BACK.format(question=as_sentence(_cut(presented.summary, SUMMARY_MAX)))
    if any(asks_what_we_do(t) for t in texts):
        return ABOUT_US_INNOVATOR if innovator else ABOUT_US
    return HONEST_ACK


NO_UPLOAD_LINK = "I can't make an upload link right now, so I have no link to send you yet."
NO_FUNDING_LINK = "I can't make a payment link right now, so I have no link to send you yet."


def _commerce_lines(done: dict[str, Any]) -> list[str]:
    """What the Innovator's own tools did: the upload link, the Checkout link, the intro counts."""
    upload, funding = done.get("upload_prospects"), done.get("request_credit_funding")
    progress = done.get("check_intro_progress")
    return [
        *([_upload_line(upload)] if upload is not None else []),
        *([_funding_line(funding)] if funding is not None else []),
        *([intro_progress_line(progress)] if progress is not None else []),
    ]


def _upload_line(result: dict[str, Any]) -> str:
    """The upload link exactly as ``upload_prospects`` returned it, or that there is none."""
    url = result.get("url")
    if not result.get("available") or not isinstance(url, str) or not url:
        return NO_UPLOAD_LINK
    hours = result.get("expires_in_hours")
    valid = f" It works once and expires in {hours} hours." if isinstance(hours, int) else ""
    return (
        "Here's your link to upload your prospect list (a CSV with an email, phone or LinkedIn per row; "
        f"you'll see a preview before anything is saved): {url}{valid}"
    )


def _funding_line(result: dict[str, Any]) -> str:
    """The Checkout link exactly as ``request_credit_funding`` returned it, or why there is none."""
    url = result.get("url")
    if result.get("available") and isinstance(url, str) and url:
        credits, requested, price = (
            result.get("credits"),
            result.get("requested_credits"),
            result.get("price_usd"),
        )
        pack = f"{credits} credits" + (f" (${price:,.2f})" if isinstance(price, int | float) else "")
        why = f", the smallest pack that covers {requested}" if requested and requested != credits else ""
        return f"Here's the checkout link for {pack}{why}: {url}"
    if result.get("status") == "too_many_credits":
        return f"{result.get('note') or 'That is more than the largest pack.'} Tell me a smaller amount."
    return NO_FUNDING_LINK
