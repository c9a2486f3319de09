"""The SMS channel's pure rules at their exact boundaries (agents.md §1; decisions B1, B2, B15, B16):
segment counting, the 1,600-character split, forward-only delivery states, the keywords a member
texts, and phone numbers with the reason a member or operator is shown when one is refused."""

from __future__ import annotations

import pytest

from shared.domain.constants import DEFAULT_TIMEZONE, SMS_MAX_BODY_CHARS
from shared.domain.opt_out import HELP_TEXT, Keyword, classify
from shared.domain.phone import InvalidPhoneNumber, guess_timezone, normalize_e164
from shared.domain.sms import (
    TWILIO_TO_STATUS,
    UnknownTwilioStatus,
    body_length,
    count_segments,
    fits_one_message,
    next_status,
    split_long_body,
    status_from_twilio,
)

# --- segments and lengths ----------------------------------------------------------------------


def test_the_last_two_byte_utf16_character_is_one_unit_and_the_first_astral_one_two():
    assert body_length("\uffff") == 1
    assert body_length("\U00010000") == 2
    assert count_segments("\uffff" * 70) == 1  # UCS-2, 70 units: one segment
    assert count_segments("\U00010000" * 35) == 1
    assert count_segments("\U00010000" * 35 + "\uffff") == 2


def test_concatenated_segments_carry_153_septets_or_67_units():
    assert count_segments("a" * 459) == 3  # 3 x 153
    assert count_segments("a" * 460) == 4
    assert count_segments("ê" * 201) == 3  # 3 x 67
    assert count_segments("ê" * 202) == 4


def test_an_astral_pair_is_never_split_across_ucs2_segments():
    # 66 units then a 2-unit emoji: the emoji moves whole to the second segment (67 per segment).
    assert count_segments("ê" * 66 + "😀" + "ê" * 65) == 2  # 66 | 2 + 65
    assert count_segments("ê" * 66 + "😀" + "ê" * 66) == 3
    assert count_segments("ê" * 67 + "😀" + "ê" * 65) == 2  # 67 | 2 + 65


def test_one_message_holds_exactly_1600_characters():
    assert SMS_MAX_BODY_CHARS == 1600
    assert fits_one_message("a" * 1600)
    assert not fits_one_message("a" * 1601)
    assert not fits_one_message("😀" * 801)
    assert fits_one_message("😀" * 800)


# --- the 1,600-character split ------------------------------------------------------------------


def test_a_limit_below_two_is_refused_and_two_is_allowed():
    with pytest.raises(ValueError, match=r"^limit must be at least 2$"):
        split_long_body("abc", limit=1)
    assert split_long_body("abc", limit=2) == ["ab", "c"]


def test_a_hard_cut_takes_exactly_the_limit():
    assert split_long_body("abcdef", limit=3) == ["abc", "def"]
    assert split_long_body("abcdefg", limit=3) == ["abc", "def", "g"]
    assert split_long_body("😀😀😀", limit=4) == ["😀😀", "😀"]  # counted in UTF-16 units
    assert split_long_body("😀😀😀", limit=5) == ["😀😀", "😀"]  # never half an emoji


def test_a_word_boundary_counts_from_half_the_limit():
    # The space at index 5 of a 10-character window is at half: the cut goes there.
    assert split_long_body("aaaaa bbbbbbbbbb", limit=10) == ["aaaaa", "bbbbbbbbbb"]
    # At index 4, before half: the word is cut hard rather than sending a short part.
    assert split_long_body("aaaa bbbbbbbbbbb", limit=10) == ["aaaa bbbbb", "bbbbbb"]
    # An odd window: half of 11 is 5 (rounded down), so a space at 5 still counts.
    assert split_long_body("aaaaa bbbbbbbbbbbb", limit=11) == ["aaaaa", "bbbbbbbbbbb", "b"]
    # A boundary one character in is still a boundary.
    assert split_long_body("a bcd", limit=3) == ["a", "bcd"]


def test_a_paragraph_break_beats_a_line_break_which_beats_a_space():
    # window (20): "aaaaaaaaaa\n\nbb\ncc dd" -> paragraph break at 10, line break at 14, space at 17
    assert split_long_body("aaaaaaaaaa\n\nbb\ncc dd eeee", limit=20) == ["aaaaaaaaaa", "bb\ncc dd eeee"]
    # no paragraph break from half on: the line break
    assert split_long_body("aaaa\n\nbb cc\ndd eeeeeeeeee", limit=16) == ["aaaa\n\nbb cc", "dd eeeeeeeeee"]
    # neither: the last space
    assert split_long_body("aa bb\ncc dd eeeeeeeee", limit=14) == ["aa bb\ncc dd", "eeeeeeeee"]


def test_a_body_of_only_spaces_sends_nothing_and_a_short_one_is_sent_as_is():
    assert split_long_body("   \n ") == []
    assert split_long_body("") == []
    assert split_long_body(" hi ") == [" hi "]  # within the limit: untouched


def test_the_cut_counts_utf16_units_on_each_side_of_the_astral_boundary():
    assert split_long_body("\uffff" * 3, limit=2) == ["\uffff\uffff", "\uffff"]  # one unit each
    assert split_long_body("\U00010000" * 3, limit=4) == ["\U00010000\U00010000", "\U00010000"]  # two each


def test_a_part_never_starts_or_ends_with_the_whitespace_it_was_cut_at():
    assert split_long_body("aaaaa     bbbbbbbbbb", limit=12) == ["aaaaa", "bbbbbbbbbb"]
    assert split_long_body("\n😀😀", limit=2) == ["😀", "😀"]


# --- delivery states (decisions B16) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        ("pending", "sending", "sending"),
        ("sending", "queued", "queued"),
        ("pending", "queued", "queued"),
        ("queued", "sent", "sent"),
        ("sending", "pending", None),
        ("queued", "sending", None),
        ("pending", "pending", None),
        ("sending", "sending", None),
        ("queued", "queued", None),
        ("sent", "failed", "failed"),
        ("sent", "blocked", "blocked"),
        ("sent", "undelivered", "undelivered"),
        ("undelivered", "delivered", None),
        ("weird", "sent", None),
        ("sent", "weird", None),
    ],
)
def test_each_rank_moves_forward_only(current, reported, expected):
    assert next_status(current, reported) == expected


def test_every_twilio_status_maps_and_case_and_spaces_do_not_matter():
    for twilio, ours in TWILIO_TO_STATUS.items():
        assert status_from_twilio(twilio) == ours
        assert status_from_twilio(f"  {twilio.upper()} ") == ours
    with pytest.raises(UnknownTwilioStatus) as info:
        status_from_twilio("exploded")
    assert str(info.value) == "unknown Twilio message status 'exploded'"
    assert info.value.__cause__ is None and info.value.__suppress_context__


# --- keywords (decisions B15) ---------------------------------------------------------------------


def test_a_keyword_among_noise_only_at_its_edges():
    assert classify("!!!", opted_out=False) is None
    assert classify("", opted_out=False) is None
    assert classify("🛑", opted_out=True) is None
    assert classify("...stop...", opted_out=False) is Keyword.OPT_OUT
    assert classify("“HELP”", opted_out=False) is Keyword.HELP


def test_emoji_and_symbols_around_any_keyword_are_noise():
    assert classify("🙏 help 🙏", opted_out=False) is Keyword.HELP
    assert classify("start 🙂", opted_out=True) is Keyword.OPT_IN
    assert classify("$help$", opted_out=False) is Keyword.HELP


def test_a_curly_apostrophe_reads_as_a_straight_one():
    assert classify("don’t text me", opted_out=False) is Keyword.OPT_OUT
    assert classify("Don’t message us again", opted_out=False) is Keyword.OPT_OUT


def test_up_to_six_courtesy_and_opt_out_words_are_an_opt_out_seven_are_not():
    assert classify("stop stop please please thanks now", opted_out=False) is Keyword.OPT_OUT
    assert classify("stop stop please please thank you now", opted_out=False) is None


def test_plain_language_revocations_are_read_in_messages_up_to_120_characters():
    revocation = "stop texting me"
    at_limit = "x" * (120 - len(revocation) - 1) + " " + revocation
    assert len(at_limit) == 120
    assert classify(at_limit, opted_out=False) is Keyword.OPT_OUT
    assert classify("x" + at_limit, opted_out=False) is None


def test_help_is_help_whether_or_not_the_member_opted_out_and_start_always_opts_in():
    assert classify("help", opted_out=True) is Keyword.HELP
    assert classify("info", opted_out=False) is Keyword.HELP
    assert classify("start", opted_out=True) is Keyword.OPT_IN
    assert classify("stop", opted_out=True) is Keyword.OPT_OUT


def test_the_help_text_names_the_service_support_and_how_to_stop():
    assert HELP_TEXT == (
        "Yachtparty: an invite-only network for senior professionals, by text. "
        "Questions: reply here or email support@yachtparty.xyz. "
        "Msg frequency varies. Msg & data rates may apply. Reply STOP to opt out."
    )


# --- phone numbers (decisions B2) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("hello", "the string supplied did not seem to be a phone number"),
        ("12", "too short for its country"),
        ("555-0123", "local number without an area code"),
        ("+431234", "not an E.164 number of 7 to 15 digits"),
        ("whatsapp:+14155550123", "unsupported channel 'whatsapp'"),
        ("sip:a:b", "unsupported channel 'sip'"),
        ("+1 415 555 0123" + " " * 25 + "4", "too long to be a phone number"),
    ],
)
def test_a_refused_number_says_exactly_why(raw, reason):
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize_e164(raw)
    assert info.value.reason == reason
    assert str(info.value) == f"invalid phone number: {reason}"


def test_forty_characters_are_still_read_as_a_number():
    raw = "+1 415" + " " * 26 + "555 0123"
    assert len(raw) == 40
    assert normalize_e164(raw) == "+14155550123"
    assert normalize_e164("  +14155550123  ") == "+14155550123"


@pytest.mark.parametrize(
    ("e164", "zone"),
    [
        ("+12085550123", "America/Boise"),  # two zones, neither the country's main one: the first by name
        ("+15555550123", DEFAULT_TIMEZONE),  # a zone the metadata does not know
        ("+61212345678", "Australia/Sydney"),  # one zone
        ("+79123456789", "Europe/Moscow"),  # many zones: the country's main one
        ("+14155550123", "America/Los_Angeles"),
    ],
)
def test_timezone_guess_more_cases(e164, zone):
    assert guess_timezone(e164) == zone
