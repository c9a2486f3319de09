"""Prospect matching (agents.md §14, §2.8): normalisation and scoring of a new member against the
prospects innovators uploaded. Pure; the thresholds and points are the spec's.

Normalisation (§14):
- email: lower-case; dots and hyphens dropped from the local part (and anything after a ``+``),
  hyphens from the domain;
- name: lower-case, middle initials and separators dropped;
- company: lower-case, "the", "inc", "llc" (and their punctuation) and separators dropped.

Scoring: exact email, phone or LinkedIn 100; normalised email 80; name + email domain 70; name +
company 60. At or above 70 the prospect is upgraded automatically; 40-69 goes to an operator's review
list (``ops prospects review``); below 40 is no match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXACT_POINTS = 100
NORMALISED_EMAIL_POINTS = 80
NAME_AND_DOMAIN_POINTS = 70
NAME_AND_COMPANY_POINTS = 60
UPGRADE_THRESHOLD = 70
REVIEW_THRESHOLD = 40

_SEPARATORS = re.compile(r"[\s.,\-_'’&/()]+")
_ALNUM = re.compile(r"[^a-z0-9]+")
_COMPANY_WORDS = frozenset({"the", "inc", "llc", "incorporated", "ltd", "co", "corp", "corporation"})


@dataclass(frozen=True)
class Person:
    """The contact fields compared: a member's or a prospect's."""

    email: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None


@dataclass(frozen=True)
class MatchScore:
    score: int
    fields: tuple[str, ...]  # which fields matched, for the log (so the thresholds can be tuned)

    @property
    def upgrade(self) -> bool:
        return self.score >= UPGRADE_THRESHOLD

    @property
    def review(self) -> bool:
        return REVIEW_THRESHOLD <= self.score < UPGRADE_THRESHOLD


def _clean(value: str | None) -> str:
    return (value or "").strip().lower()


def normalise_email(email: str | None) -> str:
    """``John.Smith+x@Acme-Corp.com`` -> ``johnsmith@acmecorp.com``; empty when not an address."""
    value = _clean(email)
    if value.count("@") != 1:
        return ""
    local, domain = value.split("@")
    local = local.split("+", 1)[0].replace(".", "").replace("-", "")
    domain = domain.replace("-", "")
    return f"{local}@{domain}" if local and domain else ""


def email_domain(email: str | None) -> str:
    normalised = normalise_email(email)
    return normalised.split("@", 1)[1] if normalised else ""


def normalise_name(first: str | None, last: str | None) -> str:
    """``Mary J. O'Neil`` -> ``maryoneil``: lower-case, middle initials and separators dropped."""
    words = [w for w in re.split(r"[\s.]+", f"{_clean(first)} {_clean(last)}") if w]
    if len(words) > 2:
        words = [words[0], *(w for w in words[1:-1] if len(w) > 1), words[-1]]
    return "".join(_ALNUM.sub("", w) for w in words)


def normalise_company(company: str | None) -> str:
    """``The Acme, Inc.`` -> ``acme``."""
    return "".join(w for w in _SEPARATORS.split(_clean(company)) if w and w not in _COMPANY_WORDS)


def _linkedin(url: str | None) -> str:
    value = _clean(url).rstrip("/")
    return re.sub(r"^https?://(www\.)?", "", value)


def _phone(phone: str | None) -> str:
    return re.sub(r"[^\d+]", "", phone or "")


def score(member: Person, prospect: Person) -> MatchScore:
    """The best rule that holds, and every field that matched."""
    fields: list[str] = []
    if _clean(member.email) and _clean(member.email) == _clean(prospect.email):
        fields.append("email")
    if _phone(member.phone) and _phone(member.phone) == _phone(prospect.phone):
        fields.append("phone")
    if _linkedin(member.linkedin_url) and _linkedin(member.linkedin_url) == _linkedin(prospect.linkedin_url):
        fields.append("linkedin_url")
    if fields:
        return MatchScore(EXACT_POINTS, tuple(fields))
    if normalise_email(member.email) and normalise_email(member.email) == normalise_email(prospect.email):
        return MatchScore(NORMALISED_EMAIL_POINTS, ("normalised_email",))
    name = normalise_name(member.first_name, member.last_name)
    if not name or name != normalise_name(prospect.first_name, prospect.last_name):
        return MatchScore(0, ())
    if email_domain(member.email) and email_domain(member.email) == email_domain(prospect.email):
        return MatchScore(NAME_AND_DOMAIN_POINTS, ("name", "email_domain"))
    if normalise_company(member.company) and normalise_company(member.company) == normalise_company(
        prospect.company
    ):
        return MatchScore(NAME_AND_COMPANY_POINTS, ("name", "company"))
    return MatchScore(0, ("name",))
