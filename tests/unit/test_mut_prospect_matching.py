"""Prospect matching (agents.md §14): each normalisation rule, each scoring rule on both sides, and
the thresholds (70 upgrades, 40-69 goes to review) at their exact edges."""

from __future__ import annotations

import pytest

from shared.domain.prospect_matching import (
    MatchScore,
    Person,
    email_domain,
    normalise_company,
    normalise_email,
    normalise_name,
    score,
)


@pytest.mark.parametrize(
    ("points", "upgrade", "review"),
    [
        (100, True, False),
        (70, True, False),
        (69, False, True),
        (40, False, True),
        (39, False, False),
        (0, False, False),
    ],
)
def test_seventy_upgrades_forty_to_sixty_nine_goes_to_review(points, upgrade, review):
    match = MatchScore(points, ())
    assert (match.upgrade, match.review) == (upgrade, review)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  John.Smith@ACME.com ", "johnsmith@acme.com"),
        ("a.b-c@x-y.com", "abc@xy.com"),
        ("a+b+c@x.com", "a@x.com"),
        ("a@b@c.com", ""),
        ("+tag@acme.com", ""),
        ("john@", ""),
        ("@acme.com", ""),
        ("", ""),
    ],
)
def test_email_normalisation_edges(raw, normalised):
    assert normalise_email(raw) == normalised


def test_the_email_domain_is_the_normalised_one():
    assert email_domain("J.S@Acme-Corp.com") == "acmecorp.com"
    assert email_domain("not an address") == ""
    assert email_domain(None) == ""


@pytest.mark.parametrize(
    ("first", "last", "normalised"),
    [
        ("Mary Jane", "Watson", "maryjanewatson"),  # a middle name is kept, only initials go
        ("J. R. R.", "Tolkien", "jtolkien"),
        ("A", "B", "ab"),  # two single letters are a first and a last name
        ("  Mary  ", "  Ann ", "maryann"),
        ("Mary", None, "mary"),
        (None, None, ""),
        ("Anne-Marie", "St. John", "annemariestjohn"),
    ],
)
def test_name_normalisation_edges(first, last, normalised):
    assert normalise_name(first, last) == normalised


@pytest.mark.parametrize(
    ("company", "normalised"),
    [
        ("Acme Corp.", "acme"),
        ("Acme Co", "acme"),
        ("Acme & Sons, Ltd", "acmesons"),
        ("Big-Data/AI (Holdings) Incorporated", "bigdataaiholdings"),
        ("The", ""),
        (None, ""),
    ],
)
def test_company_normalisation_edges(company, normalised):
    assert normalise_company(company) == normalised


def test_empty_fields_never_match_each_other():
    assert score(Person(), Person()) == MatchScore(0, ())
    assert score(Person(email=" ", phone="()", linkedin_url="https://"), Person(email=" ")) == MatchScore(
        0, ()
    )


def test_a_name_match_alone_scores_nothing_even_with_no_email_or_company_on_either_side():
    member = Person(first_name="Dana", last_name="Kim")
    assert score(member, Person(first_name="DANA", last_name="kim")) == MatchScore(0, ("name",))


def test_every_exact_field_that_matches_is_named():
    member = Person(
        email="dana@acme.com", phone="+1 (415) 555-0100", linkedin_url="https://www.linkedin.com/in/dana/"
    )
    prospect = Person(email="DANA@acme.com", phone="+14155550100", linkedin_url="linkedin.com/in/dana")
    assert score(member, prospect) == MatchScore(100, ("email", "phone", "linkedin_url"))
    assert score(Person(linkedin_url="http://linkedin.com/in/dana"), prospect) == MatchScore(
        100, ("linkedin_url",)
    )
    assert score(Person(linkedin_url="http://linkedin.com/in/dan"), prospect) == MatchScore(0, ())
    assert score(Person(phone="+14155550101"), prospect) == MatchScore(0, ())


def test_name_and_domain_needs_both_and_name_and_company_needs_both():
    member = Person(email="dana@acme.com", first_name="Dana", last_name="Kim", company="Acme Inc")
    assert score(member, Person(email="d.kim@acme.com", first_name="Dana", last_name="Kim")) == MatchScore(
        70, ("name", "email_domain")
    )
    assert score(member, Person(email="d.kim@acme.com", first_name="Dan", last_name="Kim")) == MatchScore(
        0, ()
    )
    assert score(member, Person(first_name="Dana", last_name="Kim", company="The Acme")) == MatchScore(
        60, ("name", "company")
    )
    assert score(member, Person(first_name="Dana", last_name="Kim", company="Acme Labs")) == MatchScore(
        0, ("name",)
    )
    no_company = Person(first_name="Dana", last_name="Kim")
    assert score(no_company, Person(first_name="Dana", last_name="Kim", company="")) == MatchScore(
        0, ("name",)
    )
