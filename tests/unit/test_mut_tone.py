"""The tone check's word list (issue 12 §5): which words of a member-describing text it refuses,
exactly as the talking points and intro offers report them (sorted, each once, any case)."""

from __future__ import annotations

from shared.domain.tone import personal_remarks


def test_trait_words_are_found_in_any_case_sorted_and_reported_once():
    text = "Meet Dana: a YOUNG founder, Attractive and young, whose Mother-in-law runs Acme."
    assert personal_remarks(text) == ["attractive", "young"]


def test_hyphenated_and_apostrophe_words_are_read_whole():
    assert personal_remarks("A good-looking pitch deck.") == ["good-looking"]
    assert personal_remarks("She's a woman's advocate at Acme.") == []  # "woman's" is not "woman"


def test_a_professional_text_passes():
    assert personal_remarks("Ana Chen runs platform at Acme and is rolling out SOC 2 tooling.") == []
    assert personal_remarks("") == []
