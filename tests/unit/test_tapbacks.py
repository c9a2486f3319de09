"""``shared.domain.tapbacks``: the reaction texts phones send for a tapback, and texts that are not."""

from __future__ import annotations

import pytest

from shared.domain.tapbacks import MAX_TAPBACK_CHARS, Tapback, quotes, read_tapback

Q = "Want me to introduce you to Dana?"


@pytest.mark.parametrize(
    ("text", "reaction", "yes_no"),
    [
        (f"Liked \u201c{Q}\u201d", "liked", True),
        (f"Loved \u201c{Q}\u201d", "loved", True),
        (f'liked "{Q}"', "liked", True),  # straight quotes, any case
        (f"Disliked \u201c{Q}\u201d", "disliked", False),
        (f"Laughed at \u201c{Q}\u201d", "laughed at", None),
        (f"Emphasized \u201c{Q}\u201d", "emphasized", None),
        (f"Questioned \u201c{Q}\u201d", "questioned", None),
        (f"Reacted \U0001f44d to \u201c{Q}\u201d", "\U0001f44d", True),
        (f"Reacted \U0001f44d\U0001f3fe to \u201c{Q}\u201d", "\U0001f44d\U0001f3fe", True),  # skin tone
        (f"Reacted \U0001f44e to \u201c{Q}\u201d", "\U0001f44e", False),
        (f"Reacted \U0001f602 to \u201c{Q}\u201d", "\U0001f602", None),
        (f"Removed a like from \u201c{Q}\u201d", "removed", None),
        (f"Removed an exclamation from \u201c{Q}\u201d", "removed", None),
        (f"  Liked \u201c{Q}\u201d\n", "liked", True),
    ],
)
def test_the_reaction_forms(text, reaction, yes_no):
    assert read_tapback(text) == Tapback(reaction, Q, yes_no)


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "Liked it, thanks",  # no quote
        "I liked \u201cDune\u201d",  # the verb is not first
        "Liked \u201cDune\u201d a lot",  # more after the quote
        "Reacted to \u201cDune\u201d",  # no reaction
        "",
        "Liked \u201c" + "x" * MAX_TAPBACK_CHARS + "\u201d",  # too long to be a reaction
    ],
)
def test_texts_that_are_not_reactions(text):
    assert read_tapback(text) is None


def test_a_quote_matches_the_message_whole_or_shortened():
    tapback = read_tapback(f"Liked \u201c{Q}\u201d")
    assert tapback is not None
    assert quotes(tapback, Q) and quotes(tapback, f"  {Q.upper()} ")
    assert not quotes(tapback, "Want me to introduce you to Sam?")
    shortened = read_tapback("Liked \u201cWant me to introduce\u2026\u201d")
    assert shortened is not None and quotes(shortened, Q)
    assert not quotes(shortened, "Want me to find someone?")
    too_short = read_tapback("Liked \u201cWant\u2026\u201d")  # too little left to tell which message
    assert too_short is not None and not quotes(too_short, Q)


def test_a_quote_with_curly_apostrophes_matches_the_message():
    tapback = read_tapback("Liked \u201cI\u2019ll get that out to the network.\u201d")
    assert tapback is not None and quotes(tapback, "I'll get that out to the network.")
