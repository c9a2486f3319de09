"""The reply splitter at its exact edges (agents.md §0.5, decisions B1): line endings, the fallback
at more than ten pieces, folding into at most five parts, and cutting an overlong piece at sentence,
then word, then hard boundaries. Small limits make each boundary visible."""

from __future__ import annotations

from shared.domain.reply_split import split_reply


def test_line_endings_become_one_newline_each():
    assert split_reply("one\r\ntwo") == ["one\ntwo"]
    assert split_reply("one\rtwo") == ["one\ntwo"]
    assert split_reply("one\r\n\r\ntwo") == ["one\n\ntwo"]


def test_ten_pieces_still_split_eleven_fall_back():
    ten = "\n---\n".join(f"p{i}." for i in range(10))
    assert split_reply(ten) == ["p0.", "p1.", "p2.", "p3.", "p4.\n\np5.\n\np6.\n\np7.\n\np8.\n\np9."]
    eleven = "\n\n---\n\n".join(f"p{i}." for i in range(11))
    assert split_reply(eleven) == ["\n\n".join(f"p{i}." for i in range(11))]


def test_the_fallback_drops_closing_separators_too():
    eleven = " ---\n".join(f"p{i}." for i in range(11))
    assert split_reply(eleven) == ["\n".join(f"p{i}." for i in range(11))]


def test_the_tail_is_folded_into_the_last_part_while_it_fits_and_the_rest_dropped():
    text = "a\n---\nb\n---\nc"
    assert split_reply(text, max_parts=2, limit=4) == ["a", "b\n\nc"]  # "b\n\nc" is exactly 4
    assert split_reply(text, max_parts=2, limit=3) == ["a", "b"]
    # the first extra that does not fit ends the folding: later ones are not tried
    assert split_reply("a\n---\nb\n---\ncccc\n---\nd", max_parts=2, limit=4) == ["a", "b"]
    assert split_reply(text, max_parts=3, limit=4) == ["a", "b", "c"]


def test_a_piece_of_exactly_the_limit_is_sent_as_written():
    assert split_reply("Aa.\n\nBb.", limit=8) == ["Aa.\n\nBb."]


def test_sentences_are_packed_up_to_exactly_the_limit():
    assert split_reply("Aa. Bb. Cc.", limit=7) == ["Aa. Bb.", "Cc."]
    assert split_reply("aaa bbb. cc.", limit=8) == ["aaa bbb.", "cc."]


def test_an_overlong_sentence_is_cut_at_the_last_space_within_the_limit():
    assert split_reply("aaaa bbbb cccc", limit=6) == ["aaaa", "bbbb", "cccc"]
    assert split_reply("aa bb cccc dd", limit=6) == ["aa bb", "cccc", "dd"]
    assert split_reply("a bbbbbbb", limit=6) == ["a", "bbbbbb", "b"]  # a space one character in
    assert split_reply("aa  bbbbbb", limit=6) == ["aa", "bbbbbb"]


def test_what_was_gathered_goes_out_before_an_overlong_sentence():
    assert split_reply("Hi. aaaa bbbb cccc", limit=6) == ["Hi.", "aaaa", "bbbb", "cccc"]
