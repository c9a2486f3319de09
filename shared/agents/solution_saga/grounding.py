"""Grounded findings (issue 11 §2): every vendor name and URL that reaches the member comes from a
stored web search result, an ``innovators`` row or an expert's answer.

``Sources`` is built from what a workflow stored; ``ground`` keeps the options whose name and
URL it backs and drops the rest (they are logged in the workflow's ``conversation_log``); the
messages are composed from grounded options only, then checked once more with the reply guards
(``shared.domain.reply_guards``) against the sources' text: a name the model made up is
unsendable. ``Sources.context_text`` is what a point of contact's guard context adds so that
its own replies about research are held to the same sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.repositories.solution_workflows import SolutionWorkflowRepository
from shared.domain.constants import SAGA_FINDINGS_MAX_VENDORS, SAGA_SOURCES_LOOKBACK, SAGA_SOURCES_WORKFLOWS
from shared.domain.reply_guards import GuardContext, check_reply

_URL = re.compile(r"https?://[^\s<>\"')]+", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _clean_url(url: str) -> str:
    return url.strip().rstrip(".,;:)").lower()


@dataclass(frozen=True)
class Sources:
    """The vendor names and URLs a workflow may name: from web results (title, cited text, URL),
    innovators rows (company and solution names) and experts' answers (their words)."""

    names: frozenset[str] = frozenset()  # exact names: innovators' company / solution names
    texts: tuple[str, ...] = ()  # passages a name may be quoted from (titles, cited text, answers)
    urls: frozenset[str] = frozenset()
    innovator_names: frozenset[str] = frozenset()
    web: bool = False  # any web result stored (only then may a message say we searched)
    experts: int = 0

    def backs_name(self, name: str) -> bool:
        wanted = _norm(name)
        if not wanted:
            return False
        if wanted in {_norm(n) for n in self.names}:
            return True
        return any(re.search(rf"(?<![a-z0-9]){re.escape(wanted)}(?![a-z0-9])", _norm(t)) for t in self.texts)

    def backs_url(self, url: str) -> bool:
        return _clean_url(url) in self.urls

    def context_text(self) -> str:
        """Everything the sources say, for a reply guard's ``context_text``."""
        return "\n".join([*sorted(self.names), *self.texts, *sorted(self.urls)])

    def merge(self, other: Sources) -> Sources:
        return Sources(
            names=self.names | other.names,
            texts=self.texts + other.texts,
            urls=self.urls | other.urls,
            innovator_names=self.innovator_names | other.innovator_names,
            web=self.web or other.web,
            experts=self.experts + other.experts,
        )


def sources_of(
    web_results: Iterable[Mapping[str, Any]],
    innovators: Iterable[Mapping[str, Any]],
    insights: Iterable[Mapping[str, Any]],
) -> Sources:
    names: set[str] = set()
    innovator_names: set[str] = set()
    texts: list[str] = []
    urls: set[str] = set()
    web = False
    for r in web_results:
        if r.get("url"):
            web = True
            urls.add(_clean_url(str(r["url"])))
        texts.extend(str(t) for t in (r.get("title"), *(r.get("cited") or ())) if t)
    for i in innovators:
        for key in ("company_name", "solution_name"):
            if i.get(key):
                names.add(str(i[key]))
                innovator_names.add(str(i[key]))
    experts = 0
    for e in insights:
        experts += 1
        follow_up = e.get("follow_up")
        said = [e.get("summary"), e.get("verbatim")]
        if isinstance(follow_up, Mapping):
            said.append(follow_up.get("answer"))  # the expert's answer to a follow-up question
        for text in said:
            if text:
                texts.append(str(text))
                urls.update(_clean_url(u) for u in _URL.findall(str(text)))
    return Sources(
        names=frozenset(names),
        texts=tuple(texts),
        urls=frozenset(urls),
        innovator_names=frozenset(innovator_names),
        web=web,
        experts=experts,
    )


@dataclass
class Grounded:
    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)  # each with a "why"


def ground(options: Sequence[Mapping[str, Any]], sources: Sources) -> Grounded:
    """Keep options whose name the sources back; a URL they do not back is removed (the option
    stays if its name is backed). Duplicates by name are dropped."""
    out = Grounded()
    seen: set[str] = set()
    for option in options:
        name = str(option.get("name") or "").strip()
        if not sources.backs_name(name):
            out.dropped.append({**option, "why": "name not in any stored source"})
            continue
        if _norm(name) in seen:
            continue
        seen.add(_norm(name))
        kept = dict(option)
        url = kept.get("url")
        if url and not sources.backs_url(str(url)):
            out.dropped.append({"name": name, "url": url, "why": "url not in any stored source"})
            kept["url"] = None
        out.kept.append(kept)
    return out


def _option_line(option: Mapping[str, Any]) -> str:
    reason = str(option.get("reason") or "").strip().rstrip(".")
    if len(reason) > 1 and reason[0].isupper() and reason[1].islower():
        reason = reason[0].lower() + reason[1:]
    line = str(option["name"]).strip()
    if reason:
        line += f": {reason}"
    if option.get("url"):
        line += f" ({option['url']})"
    return line + "."


def _where(sources: Sources, option_sources: set[str]) -> str:
    kinds = []
    if "web" in option_sources and sources.web:
        kinds.append("a web search")
    if "innovator" in option_sources:
        kinds.append("companies in our network")
    if "expert" in option_sources:
        kinds.append("members who answered")
    return " and ".join(kinds) or "what we have so far"


_QUESTION_OPENER = re.compile(
    r"^(?:any(?:one|body)?|can|could|would|do|does|what|which|who|where|how|is|are|i|i'?m|we|we'?re|"
    r"our|my|needs?|looking|hi|hey|hello|please|recommend(?:ations?)?)\b",
    re.IGNORECASE,
)


def need_phrase(need: str) -> str:
    """The request as the member's messages name it. A description ("SOC 2 automation for a
    40-person startup") is said as it stands; the member's own question, as the offline Concierge
    passes it ("Any good payroll software?"), is quoted, so the sentence around it still reads."""
    text = " ".join(need.split()).rstrip(".?! ")
    if need.strip().endswith("?") or _QUESTION_OPENER.match(text):
        return f'your question "{text}"'
    return text


def initial_message(
    need: str, options: Sequence[Mapping[str, Any]], sources: Sources, question: str | None
) -> str:
    """The first findings (``solution.initial_findings``): honest about where they come from."""
    shown = list(options)[:SAGA_FINDINGS_MAX_VENDORS]
    where = _where(sources, {str(o.get("source")) for o in shown})
    lines = [f"Early findings on {need_phrase(need)}, from {where}:"]
    lines += [_option_line(o) for o in shown]
    lines.append("I've also asked members with experience here and will come back with what they say.")
    if question:
        lines.append(question.strip())
    return " ".join(lines)


def peers_only_message(need: str) -> str:
    """Nothing concrete yet: say so, and that peers are being asked. Never claims a search."""
    return (
        f"I don't have named options for {need_phrase(need)} yet. I've asked members who have "
        "dealt with this and will come back within a day with what they say."
    )


def final_message(
    need: str,
    options: Sequence[Mapping[str, Any]],
    frequently_mentioned: Sequence[str],
    sources: Sources,
    question: str | None,
    *,
    timed_out: bool,
    peers: Sequence[tuple[str | None, str]] = (),
) -> str:
    """The final recommendations (``solution.research_complete``): grounded options, what peers
    said in their own words, one narrowing question."""
    shown = list(options)[:SAGA_FINDINGS_MAX_VENDORS]
    topic = need_phrase(need)
    said = [f'{name or "One member"} said: "{_clip(text)}"' for name, text in peers[:2] if text.strip()]
    if not shown and said:
        lines = [f"What members said about {topic}:", *said]
        if question:
            lines.append(question.strip())
        return " ".join(lines)
    if not shown:
        heard = "No member answered in time, and" if sources.experts == 0 else "Members answered, but"
        return (
            f"{heard} I don't have options I can stand behind for {topic}. "
            "If you tell me more (budget, team size), I'll ask again."
        )
    where = _where(sources, {str(o.get("source")) for o in shown})
    lines = [f"What I found on {topic}, from {where}:"]
    lines += [_option_line(o) for o in shown]
    names = {_norm(str(o["name"])) for o in shown}
    extra = [m for m in frequently_mentioned if _norm(m) not in names and sources.backs_name(m)]
    if extra:
        lines.append("Also mentioned: " + ", ".join(extra[:3]) + ".")
    lines += said
    if timed_out and sources.experts < 2:
        lines.append("Fewer members answered than I hoped; this is what I have after a day.")
    if question:
        lines.append(question.strip())
    return " ".join(lines)


def _clip(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split()).replace('"', "'")
    return flat if len(flat) <= limit else flat[: limit - 3].rsplit(" ", 1)[0] + "..."


def unsendable(text: str, sources: Sources, need: str) -> list[str]:
    """The reply guards' verdict on a composed message against the sources (names, URLs)."""
    ctx = GuardContext(context_text=sources.context_text() + "\n" + need, member_checks=True)
    violations = check_reply([text], ctx)
    return [f"{v.kind}: {v.detail}" for v in violations if v.kind in ("invented_name", "unknown_url")]


def stored_sources(workflows: SolutionWorkflowRepository, user_id: UUID, *, now: datetime) -> Sources:
    """The vendor names and URLs a message to this member about research may carry: what their
    recent workflows stored. A point of contact's guard adds ``.context_text()`` to its
    ``GuardContext.context_text`` (``uow.solution_workflows`` is the repository)."""
    merged = Sources()
    for s in workflows.sources_for_user(
        user_id, since=now - SAGA_SOURCES_LOOKBACK, limit=SAGA_SOURCES_WORKFLOWS
    ):
        merged = merged.merge(sources_of(s.web_results, s.matched_innovators, s.community_insights))
    return merged
