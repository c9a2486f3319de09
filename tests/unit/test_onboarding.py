"""Pure onboarding rules: state, next step, follow-up schedule, deterministic extraction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.onboarding import (
    OnboardingState,
    Step,
    asks_what_this_is,
    extract,
    follow_up_after,
    is_not_interested,
    next_step,
    split_name,
)


def test_next_step_order():
    s = OnboardingState()
    assert next_step(s) is Step.ASK_REFERRER
    s = OnboardingState(referrer_known=True)
    assert next_step(s) is Step.ASK_NAME
    assert next_step(OnboardingState(referrer_known=True, first_name="J")) is Step.ASK_LAST_NAME
    full = OnboardingState(referrer_known=True, first_name="J", last_name="S", company="A", title="T")
    assert next_step(full) is Step.REQUEST_EMAIL_VERIFICATION
    assert next_step(OnboardingState(**{**full.__dict__, "verification_requested": True})) is (
        Step.AWAIT_EMAIL_VERIFICATION
    )
    assert next_step(OnboardingState(**{**full.__dict__, "email_verified": True})) is Step.COMPLETE_ONBOARDING
    assert (
        next_step(OnboardingState(**{**full.__dict__, "onboarding_completed": True}))
        is Step.AWAITING_APPROVAL
    )
    assert next_step(OnboardingState(declined=True)) is Step.CLOSED


def test_follow_up_schedule_b4():
    t = datetime(2026, 1, 1, tzinfo=UTC)
    plans = [follow_up_after(t, n) for n in (1, 2, 3)]
    # 24 h after the last interaction, 24 h after the first follow-up, then the pause check
    assert [p.due_at if p else None for p in plans] == [t + timedelta(hours=24)] * 3
    assert follow_up_after(t, 4) is None and follow_up_after(t, 0) is None


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("John Michael Smith", "John", "Smith"),
        ("maria de la cruz", "Maria", "de la Cruz"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Martin Luther King Jr.", "Martin", "King"),
        ("Cher", "Cher", None),
        ("the CTO", None, None),
        ("I'm good", None, None),
        ("Acme Corp", None, None),  # an organisation, not Mr Corp
        ("Initech LLC", None, None),
    ],
)
def test_split_name(text, first, last):
    assert split_name(text) == (first, last)


@pytest.mark.parametrize(
    ("text", "expecting", "expected"),
    [
        ("Ben Trenda", Step.ASK_REFERRER, {"referrer_name": "Ben Trenda"}),
        ("Ben Trenda", Step.ASK_NAME, {"first_name": "Ben", "last_name": "Trenda"}),
        ("my friend Sarah Lee referred me", None, {"referrer_name": "Sarah Lee"}),
        ("heard about it from Tom Jones", None, {"referrer_name": "Tom Jones"}),
        ("Smith", Step.ASK_LAST_NAME, {"last_name": "Smith"}),
        ("Acme", Step.ASK_COMPANY, {"company": "Acme"}),
        ("CTO", Step.ASK_TITLE, {"title": "CTO"}),
        ("I'm the CTO at Acme", Step.ASK_NAME, {"title": "CTO", "company": "Acme"}),
        ("I'm John at Acme", Step.ASK_NAME, {"first_name": "John", "company": "Acme"}),
        ("I work at Acme as a product manager", None, {"company": "Acme", "title": "product manager"}),
        ("Head of Growth, Stripe", Step.ASK_TITLE, {"title": "Head of Growth", "company": "Stripe"}),
        (
            "Jane Doe, CFO at Globex",
            Step.ASK_NAME,
            {"first_name": "Jane", "last_name": "Doe", "title": "CFO", "company": "Globex"},
        ),
        (
            "Hi, Ben Trenda sent me. I'm John Michael Smith, VP of Sales at Acme Corp.",
            None,
            {
                "referrer_name": "Ben Trenda",
                "first_name": "John",
                "last_name": "Smith",
                "title": "VP of Sales",
                "company": "Acme Corp",
            },
        ),
        # the referrer after the introduction, in a sentence of its own (found texting the local
        # stack: read as nothing, so the Bouncer asked "who told you about this?")
        (
            "Hi, I'm Marcus Lee, CFO at Northwind. Maya Patel told me to text you",
            None,
            {
                "referrer_name": "Maya Patel",
                "first_name": "Marcus",
                "last_name": "Lee",
                "title": "CFO",
                "company": "Northwind",
            },
        ),
        # "I'm at X as Y" (found texting the local stack: the whole clause was kept as a title and
        # the Bouncer asked "Where do you work?" again)
        (
            "I'm at Acme Health as VP Finance",
            Step.ASK_COMPANY,
            {"company": "Acme Health", "title": "VP Finance"},
        ),
        ("I'm with Acme Health", Step.ASK_COMPANY, {"company": "Acme Health"}),
        ("im at Globex", None, {"company": "Globex"}),
        ("hey", None, {}),
        ("my email is john@acme.com", Step.ASK_TITLE, {}),
        # asked for a name, answered with where and what: a company and a title, no name
        ("Acme Corp, VP Engineering", Step.ASK_NAME, {"company": "Acme Corp", "title": "VP Engineering"}),
        ("Globex Inc., CFO", None, {"company": "Globex Inc", "title": "CFO"}),
        ("VP Engineering, Acme Corp", Step.ASK_NAME, {"title": "VP Engineering", "company": "Acme Corp"}),
        ("Acme Corp", Step.ASK_NAME, {}),
        ("Acme Corp", Step.ASK_COMPANY, {"company": "Acme Corp"}),
        # asked where they work, "Company, Title" with no company word (found texting the local
        # stack: read as a name, so only the title was kept and the Bouncer asked again)
        ("Acme Health, VP Finance", Step.ASK_COMPANY, {"company": "Acme Health", "title": "VP Finance"}),
        (
            "Acme Health, VP of Finance",
            Step.ASK_COMPANY,
            {"company": "Acme Health", "title": "VP of Finance"},
        ),
        ("Bluefin, CMO", Step.ASK_TITLE, {"company": "Bluefin", "title": "CMO"}),
        # ... but a tail that names its own company keeps the head a name
        (
            "Jane Doe, CFO at Globex",
            Step.ASK_COMPANY,
            {"first_name": "Jane", "last_name": "Doe", "title": "CFO", "company": "Globex"},
        ),
        # "I run X at Y": the company, not a title (found on the local stack: it asked "Where do you work?")
        ("I run operations at Stripe", Step.ASK_REFERRER, {"company": "Stripe"}),
        ("I lead sales for Acme Corp", None, {"company": "Acme Corp"}),
        ("I head up growth at Bluefin Health", Step.ASK_COMPANY, {"company": "Bluefin Health"}),
        # ... and asked for a name it stays a name without a company word
        (
            "Acme Health, VP Finance",
            Step.ASK_NAME,
            {"first_name": "Acme", "last_name": "Health", "title": "VP Finance"},
        ),
    ],
)
def test_extract(text, expecting, expected):
    e = extract(text, expecting)
    got = {
        k: getattr(e, k)
        for k in ("first_name", "last_name", "company", "title", "referrer_name")
        if getattr(e, k)
    }
    assert got == expected


def test_typed_emails_are_reported_not_captured():
    e = extract("I'm Jane Doe, jane@globex.com", Step.ASK_NAME)
    assert e.typed_emails == ("jane@globex.com",)
    assert "jane@globex.com" not in e.captured().values()


@pytest.mark.parametrize(
    "text", ["not interested", "No thanks", "leave me alone", "I'll pass", "count me out"]
)
def test_not_interested(text):
    assert is_not_interested(text)


@pytest.mark.parametrize("text", ["what is this?", "Who is this", "what's yachtparty", "how does this work"])
def test_what_is_this(text):
    assert asks_what_this_is(text)
    assert not is_not_interested(text)
