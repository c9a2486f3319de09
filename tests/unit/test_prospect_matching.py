"""Prospect normalisation and scoring (issue 12 §3, agents.md §14)."""

from __future__ import annotations

import pytest

from shared.domain.prospect_matching import (
    Person,
    normalise_company,
    normalise_email,
    normalise_name,
    score,
)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("John.Smith@Acme.com", "johnsmith@acme.com"),
        ("john-smith+crm@acme-corp.com", "johnsmith@acmecorp.com"),
        ("not an email", ""),
        (None, ""),
    ],
)
def test_email_normalisation(raw, normalised):
    assert normalise_email(raw) == normalised


def test_name_drops_middle_initials_case_and_separators():
    assert normalise_name("Mary J.", "O'Neil") == normalise_name("mary", "oneil") == "maryoneil"
    assert normalise_name("Jean-Luc", "Picard") == "jeanlucpicard"


def test_company_drops_the_inc_llc_and_separators():
    assert normalise_company("The Acme, Inc.") == normalise_company("ACME LLC") == "acme"


MEMBER = Person(
    email="john.smith@acme.com", phone="+14155550100", first_name="John", last_name="Smith", company="Acme"
)


@pytest.mark.parametrize(
    ("prospect", "points", "fields"),
    [
        (Person(email="John.Smith@acme.com"), 100, ("email",)),
        (Person(phone="+14155550100"), 100, ("phone",)),
        (Person(email="johnsmith@acme.com"), 80, ("normalised_email",)),
        (Person(email="jsmith@acme.com", first_name="john", last_name="SMITH"), 70, ("name", "email_domain")),
        (
            Person(email="js@gmail.com", first_name="John", last_name="Smith", company="The Acme Inc"),
            60,
            ("name", "company"),
        ),
        (Person(email="js@gmail.com", first_name="John", last_name="Smith"), 0, ("name",)),
        (Person(email="other@acme.com", first_name="Jane", last_name="Smith"), 0, ()),
    ],
)
def test_scores(prospect, points, fields):
    match = score(MEMBER, prospect)
    assert (match.score, match.fields) == (points, fields)


def test_thresholds():
    assert score(MEMBER, Person(email="jsmith@acme.com", first_name="John", last_name="Smith")).upgrade
    review = score(MEMBER, Person(first_name="John", last_name="Smith", company="Acme"))
    assert review.review and not review.upgrade
