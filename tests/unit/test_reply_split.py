"""The tolerant reply splitter (agents.md §0.5)."""

from __future__ import annotations

import pytest

from shared.domain.constants import REPLY_MAX_PARTS, SMS_MAX_BODY_CHARS
from shared.domain.reply_split import split_reply


@pytest.mark.parametrize(
    "separator",
    [
        "\n---\n",
        "\n--- \n",
        " ---\n",
        "\n — — — \n",
        "\n___\n",
        "\n===\n",
        "\n\n---\n\n",
        "\n-----\n",
        "\n———\n",
    ],
)
def test_every_separator_form_splits(separator):
    assert split_reply(f"Got it, thanks.{separator}What company are you with?") == [
        "Got it, thanks.",
        "What company are you with?",
    ]


def test_pieces_are_trimmed_empty_ones_dropped_and_crlf_handled():
    assert split_reply("  one  \r\n---\r\n\r\n---\r\n two ") == ["one", "two"]
    assert split_reply("") == [] and split_reply(" \n---\n ") == []


def test_dashes_inside_a_line_do_not_split():
    text = "Senior VP -- sales --- mostly enterprise"
    assert split_reply(text) == [text]


def test_more_than_ten_pieces_fall_back_to_the_unsplit_text_without_separators():
    text = "\n---\n".join(f"part {i}." for i in range(11))
    parts = split_reply(text)
    assert len(parts) == 1
    assert "---" not in parts[0] and "part 0." in parts[0] and "part 10." in parts[0]


def test_six_to_ten_pieces_are_capped_at_five_parts_keeping_the_content():
    text = "\n---\n".join(f"part {i}." for i in range(8))
    parts = split_reply(text)
    assert len(parts) == REPLY_MAX_PARTS
    assert parts[:4] == ["part 0.", "part 1.", "part 2.", "part 3."]
    assert all(f"part {i}." in parts[4] for i in range(4, 8))


def test_each_part_fits_one_sms_body_cut_at_sentences():
    long = " ".join(f"Sentence number {i} is here." for i in range(150))
    parts = split_reply(long)
    assert all(len(p) <= SMS_MAX_BODY_CHARS for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts) == long


def test_a_single_enormous_word_run_is_cut_at_the_limit():
    parts = split_reply("x" * 4000)
    assert [len(p) for p in parts] == [1600, 1600, 800]
