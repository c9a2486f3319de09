import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.constants import DEFAULT_TIMEZONE
from shared.domain.opt_out import Keyword, classify
from shared.domain.phone import InvalidPhoneNumber, guess_timezone, normalize_e164
from shared.domain.sms import (
    GSM7,
    UCS2,
    UnknownTwilioStatus,
    body_length,
    count_segments,
    encoding,
    next_status,
    split_long_body,
    status_from_twilio,
)

# --- segments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "enc", "segments"),
    [
        ("", GSM7, 1),
        ("a" * 160, GSM7, 1),
        ("a" * 161, GSM7, 2),
        ("a" * 306, GSM7, 2),
        ("a" * 307, GSM7, 3),
        ("€" * 80, GSM7, 1),  # extension characters take two septets
        ("€" * 81, GSM7, 2),
        ("é" * 160, GSM7, 1),  # é is in the GSM-7 basic set
        ("ê" * 70, UCS2, 1),  # ê is not
        ("ê" * 71, UCS2, 2),
        ("ê" * 134, UCS2, 2),
        ("ê" * 135, UCS2, 3),
        ("😀" * 35, UCS2, 1),  # an emoji is two UTF-16 code units
        ("😀" * 36, UCS2, 2),
        ("שלום עולם", UCS2, 1),
    ],
)
def test_encoding_and_segment_count(text, enc, segments):
    assert encoding(text) == enc
    assert count_segments(text) == segments


def test_escape_pair_is_never_split_across_segments():
    # 152 septets then a 2-septet character: it moves whole to the second segment.
    assert count_segments("a" * 152 + "€" + "a" * 10) == 2
    assert count_segments("a" * 152 + "€" + "a" * 152) == 3


def test_body_length_counts_utf16_units():
    assert body_length("abc") == 3
    assert body_length("😀") == 2


# --- the 1,600-character rule -------------------------------------------------------------------


def test_short_body_is_not_split():
    assert split_long_body("hello there") == ["hello there"]


def test_long_body_splits_on_word_boundaries_within_the_limit():
    words = " ".join(f"word{i}" for i in range(600))  # ~5,000 characters
    parts = split_long_body(words)
    assert len(parts) > 1
    assert all(body_length(p) <= 1600 for p in parts)
    assert " ".join(parts) == words  # nothing lost, no word cut
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in parts)


def test_paragraph_break_is_preferred():
    first = "a " * 500  # 1,000 characters
    text = first.strip() + "\n\n" + "b " * 400 + "c " * 200
    parts = split_long_body(text.strip())
    assert parts[0] == first.strip()


def test_a_single_huge_word_is_cut_hard_and_kept_whole():
    text = "x" * 4000
    parts = split_long_body(text)
    assert [len(p) for p in parts] == [1600, 1600, 800]
    assert "".join(parts) == text


def test_emoji_never_push_a_part_over_the_limit():
    text = "😀" * 1000  # 2,000 UTF-16 units
    parts = split_long_body(text)
    assert all(body_length(p) <= 1600 for p in parts)
    assert "".join(parts) == text


@given(st.text(min_size=0, max_size=5000))
def test_split_keeps_every_non_space_character_in_order(text: str) -> None:
    parts = split_long_body(text)
    assert all(body_length(p) <= 1600 for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


# --- delivery states -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        ("queued", "sent", "sent"),
        ("sent", "delivered", "delivered"),
        ("queued", "delivered", "delivered"),
        ("sent", "undelivered", "undelivered"),
        ("queued", "failed", "failed"),
        ("sent", "queued", None),  # backwards
        ("delivered", "sent", None),
        ("delivered", "failed", None),  # terminal
        ("failed", "delivered", None),
        ("blocked", "sent", None),
        ("sent", "sent", None),  # replay
    ],
)
def test_status_moves_forward_only(current, reported, expected):
    assert next_status(current, reported) == expected


def test_twilio_status_vocabulary():
    assert status_from_twilio("accepted") == "queued"
    assert status_from_twilio("Delivered") == "delivered"
    assert status_from_twilio("read") == "delivered"
    with pytest.raises(UnknownTwilioStatus):
        status_from_twilio("exploded")


# --- keywords (decisions B15) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop. ", "STOPALL", "Unsubscribe", "CANCEL", "end", "QUIT!"]
)
def test_opt_out_keywords(body):
    assert classify(body, opted_out=False) is Keyword.OPT_OUT


@pytest.mark.parametrize(
    "body",
    [
        "stop texting me",
        "Please stop messaging me!",
        "don't text me again",
        "Do not contact me",
        "unsubscribe me please",
        "remove me from your list",
        "take me off this list",
        "opt me out",
        "leave me alone",
        "no more texts",
        "Stop sending me these",
        "quit texting me",
    ],
)
def test_plain_language_revocations(body):
    assert classify(body, opted_out=False) is Keyword.OPT_OUT


@pytest.mark.parametrize(
    "body",
    [
        "I can't stop thinking about AI",
        "we should end the meeting early",
        "Can you help me find a CFO?",
        "yes",
        "Yes, I'm in",
        "How do I opt out of the weekly summaries?",
        "I started a company that helps people stop sending spam, we'd love an intro " * 3,  # long message
    ],
)
def test_ordinary_messages_are_not_keywords(body):
    assert classify(body, opted_out=False) is None


@pytest.mark.parametrize(
    "body",
    [
        "stop please",
        "Please stop",
        "STOP STOP",
        "stop now",
        "Please unsubscribe",
        "unsubscribe please",
        "Stop, thank you!",
        "Stop 🙏",
        "🛑 STOP 🛑",
        "revoke",
    ],
)
def test_an_opt_out_word_among_courtesy_words_or_emoji_is_still_an_opt_out(body):
    assert classify(body, opted_out=False) is Keyword.OPT_OUT


@pytest.mark.parametrize(
    "body",
    [
        "cancel the intro please",
        "please stop by tomorrow",
        "end of quarter",
        "Stop it",
        "thank you",
        "please",
    ],
)
def test_courtesy_words_do_not_make_other_messages_opt_outs(body):
    assert classify(body, opted_out=False) is None


def test_yes_opts_back_in_only_when_opted_out():
    assert classify("YES", opted_out=True) is Keyword.OPT_IN
    assert classify("yes", opted_out=False) is None
    assert classify("START", opted_out=False) is Keyword.OPT_IN
    assert classify("unstop", opted_out=True) is Keyword.OPT_IN


@pytest.mark.parametrize("body", ["HELP", "help?", "Info"])
def test_help_keywords(body):
    assert classify(body, opted_out=False) is Keyword.HELP


# --- phone numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+14155550123", "+14155550123"),
        ("(415) 555-0123", "+14155550123"),
        ("415.555.0123", "+14155550123"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+447700900123", "+447700900123"),  # a possible UK mobile, even in a reserved range
    ],
)
def test_normalise_e164(raw, e164):
    assert normalize_e164(raw) == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("hello", "not"),
        ("+1415", "too short"),
        ("+999123456789", "plus-sign"),
        ("whatsapp:+14155550123", "unsupported channel"),
        ("+1" + "2" * 60, "too long"),
    ],
)
def test_unusable_numbers_say_why(raw, reason):
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize_e164(raw)
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("e164", "zone"),
    [
        ("+14155550123", "America/Los_Angeles"),
        ("+12125550199", "America/New_York"),
        ("+13125550123", "America/Chicago"),
        ("+33612345678", "Europe/Paris"),
        ("+61412345678", "Australia/Sydney"),  # several zones: the country's main one
        ("+18005550100", DEFAULT_TIMEZONE),  # toll-free: no region
        ("+447911123456", "Europe/London"),
    ],
)
def test_timezone_guess(e164, zone):
    assert guess_timezone(e164) == zone


def test_timezone_guess_falls_back_for_garbage():
    assert guess_timezone("nonsense") == DEFAULT_TIMEZONE
