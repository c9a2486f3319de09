"""The reply guards pinned violation by violation (agents.md §0.7, §0.8, §18; issue 16 §5): each check's
exact findings (kind and the detail the regeneration is told), both sides of each rule, and a name or
number reported once. Written against the mutation run (docs/testing.md, "Mutation testing":
onboarding, reply guards, tone)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain.reply_guards import GuardContext, calm_punctuation, check_reply

# The Bouncer: its tools, its prompt (eight words of it is a leak), a quotable passage, its own address.
BOUNCER = GuardContext(
    tool_names=frozenset({"collect_user_info", "lookup", "send_email"}),
    system_prompt="one two three four five six seven eight nine ten eleven",
    quotable=("three four five six seven eight nine ten",),
    context_text="user: Sarah Chen at Globex",
    verification_address="verify-abc@v.yp.xyz",
    verify_domain="v.yp.xyz",
)
# A member's agent: the member's facts, a tool that succeeded, the member's own contact details.
MEMBER = GuardContext(
    member_checks=True,
    context_text="Sarah Chen Globex SOC 2 budget $20k team of 12 https://globex.example/upload",
    acted=frozenset({"request_solution_research"}),
    own_contacts=frozenset({"+14155550100", "Sarah@Globex.com"}),
)


def found(text: str | list[str], ctx: GuardContext) -> list[tuple[str, str]]:
    return [(v.kind, v.detail) for v in check_reply([text] if isinstance(text, str) else text, ctx)]


# --- leaks: JSON, tool syntax, tool names, the prompt --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", []),
        ('{"name": "x"} and ```code```', [("leaked_json", "```")]),  # one finding, the first pattern's
        ('[ { "a": 1}]', [("leaked_json", '{ "a":')]),
        (
            '<invoke name="a_very_long_tool_name_that_goes_on_and_on">',
            [("leaked_json", '<invoke name="a_very_long_tool_name_that')],
        ),
        ("use TOOL_RESULT here", [("leaked_json", "TOOL_RESULT")]),
        ('{"next_scenario": "x"} then ```', [("leaked_json", "```"), ("tool_name", "next_scenario")]),
        ("Let me run LOOKUP now", [("tool_name", "lookup")]),
        ("lookup_x and xlookup", []),  # a tool name inside another word is not the tool
        ("collect user info", [("tool_name", "collect_user_info")]),  # two underscores: spaced counts
        ("Collect_User_Info", [("tool_name", "collect_user_info")]),
        ("I will send email", []),  # one underscore: the spaced form is ordinary English
        ("I will send_email", [("tool_name", "send_email")]),
        ("send_email, then lookup", [("tool_name", "lookup"), ("tool_name", "send_email")]),  # sorted
        ("system prompt says", [("tool_name", "system prompt")]),
    ],
)
def test_leaks(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, BOUNCER) == expected


def test_extra_internal_words_are_internal_too():
    ctx = replace(BOUNCER, extra_internal_words=frozenset({"Ops_Queue_Name"}))
    assert found("see ops queue name", ctx) == [("tool_name", "Ops_Queue_Name")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "one two three four five six seven eight",
            [("prompt_text", "one two three four five six seven eight")],
        ),
        (
            "two three four five six seven eight nine",
            [("prompt_text", "two three four five six seven eight nine")],
        ),
        (
            "ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE",
            [("prompt_text", "one two three four five six seven eight")],
        ),
        ("one two three four five six seven", []),  # seven words: not a leak
        ("five six seven eight nine ten eleven", []),  # the prompt's last seven words: not a leak
        ("three four five six seven eight nine ten", []),  # the quotable passage
        ("x three four five six seven eight nine ten y", []),
    ],
)
def test_prompt_text(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, BOUNCER) == expected


def test_no_prompt_no_prompt_leak():
    assert found("one two three four five six seven eight", replace(BOUNCER, system_prompt="")) == []
    assert found("one two three four five six seven eight", replace(BOUNCER, quotable=())) == [
        ("prompt_text", "one two three four five six seven eight")
    ]


# --- invented people -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi Sarah Chen, from Globex.", []),
        ("Chens Globex", []),  # plural and possessive forms of known words
        ("Sarah's Globex", []),
        ("Sarah’s Globex", []),
        ("the Chens' Globex team", []),
        ("Hi Sarah Chen and Dave Miller", [("invented_name", "Dave Miller")]),
        ("Dave Miller, and Dave Miller again", [("invented_name", "Dave Miller")]),  # reported once
        ("meet Dave and meet Dave", [("invented_name", "Dave")]),
        ("meet Sarah", []),
        ("Dave Miller, meet Dave", [("invented_name", "Dave Miller")]),
        ("talk to Dave, chat with Dave, ping Eve", [("invented_name", "Dave"), ("invented_name", "Eve")]),
        ("introduce you to Ana", [("invented_name", "Ana")]),
        ("speaking with Ana", [("invented_name", "Ana")]),
        ("Hi Sarah. Meet Ben Trenda, then Ben.", [("invented_name", "Meet Ben Trenda")]),
    ],
)
def test_invented_names(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, BOUNCER) == expected


def test_a_quotable_passage_names_no_one_new():
    ctx = replace(BOUNCER, quotable=("Ask Dana Scully",))
    assert found("Dana Scully, meet Dana.", ctx) == []


# --- the verification address ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail verify-abc@v.yp.xyz.", []),
        ("mail Verify-ABC@V.YP.XYZ", []),
        ("mail verifyx@other.com", [("verification_address", "verifyx@other.com")]),
        ("mail bob@v.yp.xyz", [("verification_address", "bob@v.yp.xyz")]),
        ("mail BOB@V.YP.XYZ", [("verification_address", "BOB@V.YP.XYZ")]),
        ("mail bob@other.com", []),  # the Bouncer's business is the verify address only
        ("mail ..verify-abc@v.yp.xyz", [("verification_address", "..verify-abc@v.yp.xyz")]),  # not exactly it
    ],
)
def test_verification_address(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, BOUNCER) == expected


def test_without_a_verify_domain_only_verify_addresses_are_checked():
    ctx = replace(BOUNCER, verify_domain=None, verification_address=None)
    assert found("mail bob@v.yp.xyz or verify-abc@v.yp.xyz", ctx) == [
        ("verification_address", "verify-abc@v.yp.xyz")
    ]


# --- the member checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # contact details: the member's own pass, anyone else's do not
        ("I have you as +1 (415) 555-0100 and SARAH@globex.com.", []),
        ("Call +1 415 555 0177", [("contact_detail", "+1 415 555 0177")]),
        ("Call 12345678901", [("contact_detail", "12345678901")]),
        ("Call 415 555 0177", [("contact_detail", "415 555 0177")]),  # ten digits: a phone number
        ("Ref 123456789", [("invented_number", "123456789")]),  # nine digits: not a phone number
        ("mail bob@x.com", [("contact_detail", "bob@x.com")]),
        (
            "mail ..sarah@globex.com",
            [("contact_detail", "..sarah@globex.com")],
        ),  # not exactly the member's own
        # URLs
        ("see https://globex.example/upload.", []),
        ("HTTPS://GLOBEX.EXAMPLE/UPLOAD", []),
        ("see www.x.com/a, and foo.io/bar", [("unknown_url", "www.x.com/a,"), ("unknown_url", "foo.io/bar")]),
        (f"see https://x.example/{'a' * 100}", [("unknown_url", f"https://x.example/{'a' * 62}")]),
        # claims
        ("here are some tools", []),
        ("I contacted them", [("unbacked_claim", "I contacted")]),
        ("we have reached out to them", [("unbacked_claim", "we have reached out to")]),
        ("I found 12 tools", []),  # a tool ran and 12 is in the context
        ("I found 7 tools", [("invented_number", "7"), ("unbacked_claim", "I found 7")]),
        ("We have identified several", []),
        # hype (agents.md §0.7)
        ("Amazing and best-in-class", [("hype", "amazing"), ("hype", "best-in-class")]),
        ("non-amazing, amazingly", []),
        ("excited!", [("hype", "excited")]),
    ],
)
def test_member_checks(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, MEMBER) == expected


def test_a_claim_with_no_tool_result_fails_and_a_contact_claim_needs_a_contact_tool():
    idle = replace(MEMBER, acted=frozenset())
    assert found("We have identified several", idle) == [("unbacked_claim", "We have identified several")]
    assert found("here are some tools", idle) == [("unbacked_claim", "here are some tools")]
    long_claim = "I have already set up a call " + "x" * 80
    assert found("I have already set up a call", idle) == [("unbacked_claim", "I have already set up a call")]
    assert len(found(long_claim, idle)[0][1]) <= 60
    contacted = replace(MEMBER, acted=frozenset({"offer_introduction"}))
    assert found("I contacted them", contacted) == []
    assert found("I contacted them", MEMBER) == [("unbacked_claim", "I contacted")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Brian Martinez and Brian at Roku and Roku",
            [("invented_name", "Brian Martinez"), ("invented_company", "Roku")],
        ),
        ("Roku. Roku is good", []),  # capitalised because it opens a sentence
        ("We use Roku-Labs", [("invented_company", "Roku-Labs")]),
        ("We use Sarah-Chen", []),
        ("Try roku.com", []),
        ("you could try Roku.com", [("invented_company", "Roku.com")]),
        ("you could try Globex.example today", []),
        ("He went to NYC", [("invented_company", "NYC")]),
        ("ask JP about it", [("invented_company", "JP")]),  # two letters are enough for a name
        ("JP can help", [("invented_company", "JP")]),
        ("DHgate ships it", [("invented_company", "DHgate")]),
        ("ship it with FedEx", [("invented_company", "FedEx")]),
        ("ask someone at SpaceX", [("invented_company", "SpaceX")]),
        ("Rock'N'Roll is back", []),  # only the part before the apostrophe is the word
        ("NYC is big", [("invented_company", "NYC")]),  # all caps: a name even opening a sentence
        ("HubSpot it is", [("invented_company", "HubSpot")]),
        ("A or B?", []),
        ("X2 works", []),
        ("Ok. Acme is done", []),
        ("Ok: Acme is done", []),
        ("Ok - Acme is done", []),
        ("Ok — Acme is done", []),
        ('"Acme is done"', []),
        ("(Acme is done)", []),
        ("• Acme is done", []),
        ("Ok --- Acme is done", []),
        ("ok\nAcme is done", []),
        ("ok Acme is done", [("invented_company", "Acme")]),
        ("tools like Acme", [("invented_company", "Acme")]),
        ("vendors Acme", [("invented_company", "Acme")]),
        ("Acme, Inc.", [("invented_company", "Inc")]),
        ("Acme inc. is done", [("invented_company", "Acme")]),
        ("Acme, inc", []),
        ("Done.Acme", []),
        ("@Acme", []),
        ("/Acme", []),
        ("Sarah's team", []),
        ("ask the Acme- team", [("invented_company", "Acme")]),
        ("3M is a company", [("invented_number", "3M")]),
    ],
)
def test_invented_companies(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, MEMBER) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Budget $20k, team of 12", []),
        ("Budget $20,000 or 20000", []),
        ("Budget 20.0k", []),
        ("Budget $21k", [("invented_number", "$21k")]),
        ("About 2.50 each", [("invented_number", "2.50")]),
        ("About 2.0 each", []),  # 2.0 is the context's 2
        ("Up 1.5m", [("invented_number", "1.5m")]),
        ("Up 7 and 7 again", [("invented_number", "7")]),  # reported once
        ("Budget $21k or $21k", [("invented_number", "$21k")]),
        ("Three ways: three vendors", [("invented_number", "three vendors")]),
        ("I have three vendors today", [("invented_number", "three vendors")]),
        ("Two vendors", []),  # two is in the context (SOC 2)
        ("three vendors", [("invented_number", "three vendors")]),
        ("three good vendors", [("invented_number", "three good vendors")]),
        ("three good ideas", []),
        ("Three ways to go", []),
    ],
)
def test_invented_numbers(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, MEMBER) == expected


def test_numbers_the_context_spells_or_scales_count_as_known():
    ctx = replace(MEMBER, context_text="three vendors, 1.5m users, 2.5 stars, 3bn raised, 4 mm")
    assert found("Three vendors, 1,500,000 users, 2.50 stars, 3,000,000,000 raised, 4000000", ctx) == []
    assert found("3 vendors", ctx) == []


def test_numbers_in_the_contexts_urls_and_emails_do_not_count():
    ctx = replace(MEMBER, context_text="https://x.example/77 and bob88@x.example")
    assert found("77 or 88", ctx) == [("invented_number", "77"), ("invented_number", "88")]


def test_a_reply_in_several_parts_is_read_as_lines():
    assert found(["Noted.", "Sarah, one more question."], MEMBER) == []
    assert found(["Noted", "1) the budget"], MEMBER) == []  # a list marker at the start of a part


def test_the_bouncer_skips_the_member_checks_but_not_the_common_ones():
    bouncer = GuardContext(context_text="user: hi")
    assert found("I found 3 platforms at https://x.com/y, call 4155550177", bouncer) == []
    assert found("meet Dave", bouncer) == [("invented_name", "Dave")]


@pytest.mark.parametrize(
    ("text", "calm"),
    [
        ("Hi!", "Hi."),
        ("Hi!!!", "Hi."),
        ("Hi!..", "Hi.."),
        ("Really?!?", "Really?"),
        ("Why??", "Why?"),
        ("No exclamation here.", "No exclamation here."),
    ],
)
def test_calm_punctuation(text: str, calm: str) -> None:
    assert calm_punctuation(text) == calm


def test_a_url_is_unknown_unless_the_context_holds_it_whole():
    ctx = replace(MEMBER, context_text="https://x.example/ab")
    assert found("see https://x.example/ab.", ctx) == []
    assert found("see https://x.example/abX", ctx) == [("unknown_url", "https://x.example/abX")]


def test_a_long_claim_is_cut_to_60_characters():
    idle = replace(MEMBER, acted=frozenset())
    text = "I found" + " " * 70 + "3 vendors"
    assert found(text, idle) == [
        ("invented_number", "3"),
        ("unbacked_claim", "I found" + " " * 53),
    ]


def test_an_email_address_with_digits_is_not_the_members_phone_number():
    ctx = replace(MEMBER, own_contacts=frozenset({"4155550177@vtext.example"}))
    assert found("call 415 555 0177", ctx) == [("contact_detail", "415 555 0177")]


def test_a_domain_name_passes_when_the_context_names_that_domain():
    ctx = replace(MEMBER, context_text="we looked at roku.com last year")
    assert found("you could try Roku.com again", ctx) == []
    assert found("you could try Roku.io again", ctx) == [("invented_company", "Roku.io")]


def test_every_quotable_passage_may_be_quoted():
    ctx = replace(BOUNCER, quotable=(*BOUNCER.quotable, "something else entirely"))
    assert found("three four five six seven eight nine ten", ctx) == []
