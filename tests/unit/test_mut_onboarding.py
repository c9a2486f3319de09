"""The Bouncer's onboarding rules, pinned example by example (agents.md §2.3, §2.10; decisions B4,
B10, A10): the state and its next step, the follow-up schedule, and what the fallback brain reads
out of one message, both sides of each rule. Written against the mutation run (docs/testing.md,
"Mutation testing": onboarding, reply guards, tone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.onboarding import (
    FOLLOW_UP_GAP,
    Extraction,
    FollowUpPlan,
    OnboardingState,
    Step,
    apply,
    asks_what_this_is,
    extract,
    follow_up_after,
    follow_up_sends_message,
    is_greeting,
    is_not_interested,
    needs_follow_up,
    next_step,
    normalize_text,
    split_name,
    typed_emails,
)

FULL = OnboardingState(referrer_known=True, first_name="Ana", last_name="Ruiz", company="Acme", title="CTO")


# --- state ---------------------------------------------------------------------------------------


def test_missing_fields_in_the_order_they_are_asked_and_empty_counts_as_missing():
    assert OnboardingState().missing_fields() == ["first_name", "last_name", "company", "title"]
    assert OnboardingState(first_name="Ana", last_name="", title="CTO").missing_fields() == [
        "last_name",
        "company",
    ]
    assert FULL.missing_fields() == []
    assert FULL.info_complete() and not OnboardingState(first_name="Ana").info_complete()


def test_ready_to_complete_needs_every_field_a_verified_email_and_not_done_already():
    assert replace_state(FULL, email_verified=True).ready_to_complete()
    assert not FULL.ready_to_complete()  # not verified
    assert not replace_state(FULL, title=None, email_verified=True).ready_to_complete()
    assert not replace_state(FULL, email_verified=True, onboarding_completed=True).ready_to_complete()


def replace_state(state: OnboardingState, **changes: object) -> OnboardingState:
    return OnboardingState(**{**state.__dict__, **changes})


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (OnboardingState(referrer_known=True, first_name="Ana", last_name="Ruiz"), Step.ASK_COMPANY),
        (replace_state(FULL, title=""), Step.ASK_TITLE),
        (replace_state(FULL, company=None, title=None), Step.ASK_COMPANY),
        (replace_state(FULL, referrer_known=False), Step.ASK_REFERRER),
        (replace_state(FULL, verification_requested=True, email_verified=True), Step.COMPLETE_ONBOARDING),
        (replace_state(FULL, approval_status="rejected"), Step.CLOSED),
        (replace_state(FULL, onboarding_completed=True, approval_status="pending"), Step.AWAITING_APPROVAL),
        (replace_state(FULL, onboarding_completed=True, approval_status="rejected"), Step.CLOSED),
        (replace_state(FULL, onboarding_completed=True, declined=True), Step.CLOSED),
        (OnboardingState(approval_status="approved"), Step.ASK_REFERRER),
    ],
)
def test_next_step(state: OnboardingState, step: Step) -> None:
    assert next_step(state) is step


# --- follow-ups (decisions B4) ---------------------------------------------------------------------

T0 = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


def test_follow_up_plans_carry_their_attempt_and_fall_24_hours_after_the_previous_step():
    assert follow_up_after(T0, 1) == FollowUpPlan(1, T0 + timedelta(hours=24))
    assert follow_up_after(T0, 2) == FollowUpPlan(2, T0 + timedelta(hours=24))
    assert follow_up_after(T0, 3) == FollowUpPlan(3, T0 + timedelta(hours=24))  # the pause check
    assert [follow_up_after(T0, n) for n in (-1, 0, 4, 5)] == [None] * 4
    assert timedelta(hours=24) == FOLLOW_UP_GAP


def test_only_the_two_follow_ups_send_a_message():
    assert [follow_up_sends_message(n) for n in (0, 1, 2, 3)] == [False, True, True, False]


@pytest.mark.parametrize(
    ("state", "follow_up"),
    [
        (OnboardingState(), True),
        (FULL, True),  # the verify address still has to be asked for
        (replace_state(FULL, verification_requested=True), True),
        (replace_state(FULL, email_verified=True), False),
        (replace_state(FULL, onboarding_completed=True), False),
        (OnboardingState(declined=True), False),
    ],
)
def test_needs_follow_up(state: OnboardingState, follow_up: bool) -> None:
    assert needs_follow_up(state) is follow_up


# --- apply ---------------------------------------------------------------------------------------


def test_apply_keeps_fields_already_set_and_fills_the_rest():
    state = OnboardingState(first_name="Ana")
    got = apply(
        state,
        Extraction(first_name="Bob", last_name="Ruiz", company="Acme", title="CTO", not_interested=False),
        referrer_recorded=True,
    )
    assert got == OnboardingState(
        first_name="Ana", last_name="Ruiz", company="Acme", title="CTO", referrer_known=True
    )
    assert apply(got, Extraction(not_interested=True), referrer_recorded=False) == replace_state(
        got, declined=True
    )
    assert apply(replace_state(got, declined=True), Extraction(), referrer_recorded=False).declined
    assert apply(OnboardingState(), Extraction(first_name="Bob"), referrer_recorded=False) == OnboardingState(
        first_name="Bob"
    )


def test_captured_holds_only_the_users_own_fields_that_were_said():
    e = Extraction(first_name="Ana", company="Acme", referrer_name="Ben", typed_emails=("a@b.co",))
    assert e.captured() == {"first_name": "Ana", "company": "Acme"}
    assert Extraction(title="").captured() == {}


# --- text helpers ------------------------------------------------------------------------------------


def test_normalize_text_curly_apostrophes_and_whitespace():
    assert normalize_text("  I\u2019m \n\t Ana  ") == "I'm Ana"


def test_typed_emails_in_order():
    assert typed_emails("me: ana@acme.com or Ana.Ruiz+yp@mail.acme.co.uk.") == (
        "ana@acme.com",
        "Ana.Ruiz+yp@mail.acme.co.uk",
    )
    assert typed_emails("ana at acme dot com") == ()


@pytest.mark.parametrize("text", ["I\u2019ll pass", "NOT   INTERESTED", "no longer interested", "remove me"])
def test_not_interested_any_case_and_apostrophe(text: str) -> None:
    assert is_not_interested(text)


@pytest.mark.parametrize("text", ["interested", "I'm not sure yet", "pass me the details"])
def test_interested_or_unsure_is_not_a_no(text: str) -> None:
    assert not is_not_interested(text)


@pytest.mark.parametrize("text", ["What\u2019s this?", "WHO ARE YOU", "tell me more"])
def test_what_is_this_any_case_and_apostrophe(text: str) -> None:
    assert asks_what_this_is(text)


def test_a_plain_answer_is_not_a_question_about_us():
    assert not asks_what_this_is("Acme")


@pytest.mark.parametrize("text", ["Hey!!", "Good morning.", "ok?", "Hey ?", "", "...", "Thank you"])
def test_greetings(text: str) -> None:
    assert is_greeting(text)


@pytest.mark.parametrize("text", ["hey Bob", "Ana", "HEY THERE ANA"])
def test_not_only_a_greeting(text: str) -> None:
    assert not is_greeting(text)


# --- names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("juan carlos de la cruz", "Juan", "de la Cruz"),  # five words: still a name
        ("Maria De La Cruz", "Maria", "de la Cruz"),
        ("juan carlos maria de la cruz", None, None),  # six words: not a name
        ("mary-jane o'neil", "Mary-Jane", "O'neil"),
        ("MARY-JANE SMITH", "Mary-Jane", "Smith"),
        ("McDonald", "McDonald", None),
        ("John Smith, Jr.", "John", "Smith"),
        ("John Smith PhD. MBA", "John", "Smith"),
        ("John Smith Ph.D. III", "John", "Smith"),
        ("Ben Trenda LOL", "Ben", "Trenda"),
        ("Ben Trenda here", "Ben", "Trenda"),
        ("Jane Director", None, None),  # a title word
        ("Hello Jane", None, None),  # a word that is never a name
        ("J4ne", None, None),
        ("", None, None),
    ],
)
def test_split_name(text: str, first: str | None, last: str | None) -> None:
    assert split_name(text) == (first, last)


# --- extraction -----------------------------------------------------------------------------------------

LONG = "a" * 119


@pytest.mark.parametrize(
    ("text", "expecting", "expected"),
    [
        # the referrer, cued or as the answer to "who told you about this?"
        ("a friend told me about it", None, {"referrer_name": "a friend"}),
        ("somebody told me", None, {"referrer_name": "somebody"}),
        ("he told me", None, {"referrer_name": "he"}),
        ("Sarah told me about this", None, {"referrer_name": "Sarah"}),
        ("referred by Jake Paul", None, {"referrer_name": "Jake Paul"}),
        ("I was invited by jane doe.", None, {"referrer_name": "Jane Doe"}),
        ("Ben TRENDA referred me", None, {"referrer_name": "Ben Trenda"}),
        ("learned about it via Ben", None, {"referrer_name": "Ben"}),
        ("I heard about this from a friend", None, {"referrer_name": "a friend"}),
        ("my colleague Ana Ruiz", None, {"referrer_name": "Ana Ruiz"}),
        ("my buddy joe introduced me", None, {"referrer_name": "Joe"}),
        ("my boss sent me here", None, {}),
        # a vague or pronoun referrer is kept as said (name_dropped), not dropped
        ("friend told me", None, {"referrer_name": "friend"}),
        ("someone told me", None, {"referrer_name": "someone"}),
        ("a colleague told me", None, {"referrer_name": "a colleague"}),
        ("she referred me", None, {"referrer_name": "she"}),
        ("they sent me", None, {"referrer_name": "they"}),
        ("learned through it", None, {"referrer_name": "it"}),
        ("heard via this", None, {"referrer_name": "this"}),
        ("referred by my friend Ana", None, {"referrer_name": "Ana"}),
        ("referred by My Friend ana maria de la cruz", None, {"referrer_name": "Ana Maria De La Cruz"}),
        ("referred by friend ana maria de la cruz", None, {"referrer_name": "Ana Maria De La Cruz"}),
        ("Referred by My Colleague ana", None, {"referrer_name": "Ana"}),
        (
            "Ben Trenda sent me, I'm Jane Doe",
            None,
            {"referrer_name": "Ben Trenda", "first_name": "Jane", "last_name": "Doe"},
        ),
        ("Ben Trenda sent me. Acme", Step.ASK_COMPANY, {"referrer_name": "Ben Trenda", "company": "Acme"}),
        ("X", Step.ASK_REFERRER, {"referrer_name": "X"}),
        ("a friend from my old job", Step.ASK_REFERRER, {"referrer_name": "a friend from my old job"}),
        ("a friend from my old job there", Step.ASK_REFERRER, {}),  # seven words: not kept
        ("a friend from work", Step.ASK_REFERRER, {"referrer_name": "a friend from work"}),
        ("ana maria", Step.ASK_REFERRER, {"referrer_name": "Ana Maria"}),
        ("the ceo", Step.ASK_REFERRER, {"referrer_name": "the ceo"}),
        ("one of the partners at my old firm said so", Step.ASK_REFERRER, {}),  # too long to keep
        ("what is this?", Step.ASK_REFERRER, {"asks_what_this_is": True}),
        # the member's own name
        ("My name is Jane Doe", None, {"first_name": "Jane", "last_name": "Doe"}),
        ("name's Jane", None, {"first_name": "Jane"}),
        ("Call me Ishmael", None, {"first_name": "Ishmael"}),
        ("i am jane", None, {"first_name": "Jane"}),
        ("I'm Jane Doe. Acme", None, {"first_name": "Jane", "last_name": "Doe"}),
        ("Jane Doe", None, {}),  # no cue and nothing asked: not read as anyone
        (
            "I'm Jane Doe jane@acme.com",
            None,
            {"first_name": "Jane", "last_name": "Doe", "typed_emails": ("jane@acme.com",)},
        ),
        ("This is Jane From Acme", None, {"first_name": "Jane", "company": "Acme"}),
        ("Jane Doe jane@acme.com", Step.ASK_NAME, {"typed_emails": ("jane@acme.com",)}),
        ("Sure", Step.ASK_NAME, {"greeting_only": True}),
        ("Ana Ruiz", Step.ASK_LAST_NAME, {"last_name": "Ruiz"}),
        ("ana", Step.ASK_LAST_NAME, {"last_name": "Ana"}),
        ("the best", Step.ASK_LAST_NAME, {}),
        # name, title and company together
        (
            "I'm Jane Doe, CFO at Globex",
            None,
            {"first_name": "Jane", "last_name": "Doe", "title": "CFO", "company": "Globex"},
        ),
        (
            "This is jane doe from globex",
            None,
            {"first_name": "Jane", "last_name": "Doe", "company": "globex"},
        ),
        ("this is Jane from Acme, CTO", None, {"first_name": "Jane", "company": "Acme", "title": "CTO"}),
        (
            "I'm Jane at Head of Sales at Acme",
            None,
            {"first_name": "Jane", "title": "Head of Sales", "company": "Acme"},
        ),
        (
            "Jane Doe, founder of Initech",
            None,
            {"first_name": "Jane", "last_name": "Doe", "title": "founder", "company": "Initech"},
        ),
        (
            "Jane Doe, the CEO at Initech",
            None,
            {"first_name": "Jane", "last_name": "Doe", "title": "CEO", "company": "Initech"},
        ),
        (
            "Jane Doe, product manager",
            None,
            {"first_name": "Jane", "last_name": "Doe", "title": "product manager"},
        ),
        (
            "Jane Doe, the product manager",
            None,
            {"first_name": "Jane", "last_name": "Doe", "title": "product manager"},
        ),
        (
            "Jane Doe, CFO, Globex",
            None,
            {"first_name": "Jane", "last_name": "Doe", "title": "CFO", "company": "Globex"},
        ),
        (
            "CTO at Initech, the sales platform",
            None,
            {"title": "CTO", "company": "Initech, the sales platform"},
        ),
        ("Jane Doe, Acme", None, {}),
        # title and company
        ("I'm the founder", None, {"title": "founder"}),
        ("I'm a product manager", None, {"title": "product manager"}),
        ("CTO of Initech", None, {"title": "CTO", "company": "Initech"}),
        ("cto @ initech", None, {"title": "cto", "company": "initech"}),
        ("Sales director, Acme", None, {"title": "Sales director", "company": "Acme"}),
        ("I work for Acme", None, {"company": "Acme"}),
        ("I work at Acme.", None, {"company": "Acme"}),
        ("title: CTO at Acme", None, {"title": "CTO", "company": "Acme"}),
        ("We need a CTO for Acme", None, {}),  # a sentence about someone else's title
        ("I need a CTO for Acme", None, {}),
        ("My boss is the CEO of Acme", None, {}),
        ("CTO, Head of Product", Step.ASK_TITLE, {"title": "CTO, Head of Product"}),  # two titles, no company
        ("I work at Acme as the CTO", None, {"company": "Acme", "title": "CTO"}),
        ("working as an engineer at Acme", None, {"company": "Acme", "title": "engineer"}),
        # bare answers to "which company?" and "what's your title?"
        ("I work at Acme", Step.ASK_COMPANY, {"company": "Acme"}),
        ("at Acme", Step.ASK_COMPANY, {"company": "Acme"}),
        ("company: Acme Inc", Step.ASK_COMPANY, {"company": "Acme Inc"}),
        ("Is Acme", Step.ASK_COMPANY, {"company": "Acme"}),
        ("It's Acme", Step.ASK_COMPANY, {"company": "Acme"}),
        (f"{LONG} bcd", Step.ASK_COMPANY, {"company": LONG}),  # cut at 120 characters, then trimmed
        (
            "one two three four five six seven eight",
            Step.ASK_COMPANY,
            {"company": "one two three four five six seven eight"},
        ),
        ("one two three four five six seven eight nine", Step.ASK_COMPANY, {}),
        ("Hello?", Step.ASK_COMPANY, {"greeting_only": True}),
        # found texting the local stack: a question was stored as the answer, "between jobs" ignored
        ("why do you need that?", Step.ASK_REFERRER, {"asks_question": True}),
        ("why do you need that?", Step.ASK_NAME, {"asks_question": True}),
        ("how did you get my number", Step.ASK_NAME, {"asks_question": True}),
        (
            "who's asking? Jane Doe",
            Step.ASK_NAME,
            {"first_name": "Jane", "last_name": "Doe", "asks_question": True},
        ),
        # found texting the local stack (5 December, later): asked without a "?", these were stored
        # as the referrer; a name that starts like a question is still a name
        ("are you a bot", Step.ASK_REFERRER, {"asks_question": True}),
        ("can I talk to a human", Step.ASK_REFERRER, {"asks_question": True}),
        ("is this legit", Step.ASK_NAME, {"asks_question": True}),
        ("do you sell my data", Step.ASK_COMPANY, {"asks_question": True}),
        ("Will Smith", Step.ASK_NAME, {"first_name": "Will", "last_name": "Smith"}),
        ("Can Yilmaz", Step.ASK_REFERRER, {"referrer_name": "Can Yilmaz"}),
        ("I'm between jobs right now", Step.ASK_COMPANY, {"company": "Between roles"}),
        ("on sabbatical", Step.ASK_COMPANY, {"company": "Between roles"}),
        ("I was COO at Globex", Step.ASK_COMPANY, {"company": "Globex", "title": "COO"}),
        ("formerly VP Sales at Acme", Step.ASK_TITLE, {"company": "Acme", "title": "VP Sales"}),
        ("Hey. Acme", Step.ASK_COMPANY, {"company": "Acme"}),
        ("Xerox", Step.ASK_COMPANY, {"company": "Xerox"}),
        ('"Acme Corp"', Step.ASK_COMPANY, {"company": "Acme Corp"}),
        (f"{LONG}?x", Step.ASK_COMPANY, {}),  # a question is not an answer, even cut at 120 characters
        ("Director of Product", Step.ASK_TITLE, {"title": "Director of Product"}),
        ("I'm the Director", Step.ASK_TITLE, {"title": "Director"}),
        ("title: CEO", Step.ASK_TITLE, {"title": "CEO"}),
        ("the founder", Step.ASK_TITLE, {"title": "founder"}),
        ("u v w x y z q r s t", Step.ASK_TITLE, {"title": "u v w x y z q r s t"}),  # ten words
        ("u v w x y z q r s t o", Step.ASK_TITLE, {}),  # eleven: not a title
        ("ok", Step.ASK_TITLE, {"greeting_only": True}),
        # a no, a question, a greeting
        ("no thanks", None, {"not_interested": True}),
        ("Not interested, thanks", Step.ASK_COMPANY, {"not_interested": True}),
        ("what do you guys do", None, {"asks_what_this_is": True}),
        ("hey", None, {"greeting_only": True}),
    ],
)
def test_extract(text: str, expecting: Step | None, expected: dict[str, object]) -> None:
    e = extract(text, expecting)
    got = {k: v for k, v in e.__dict__.items() if v not in (None, (), False)}
    fields = got.pop("fields", ())
    assert got == expected
    assert fields == tuple(
        sorted(k for k in expected if k in ("first_name", "last_name", "company", "title"))
    )
