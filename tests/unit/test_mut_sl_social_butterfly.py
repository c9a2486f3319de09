"""The Social Butterfly (``shared/service_layer/social_butterfly.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "mutmut: social_butterfly.py"):
the event's parsing (both spellings of each field, the refusal texts), the research disabled
without ``APIFY_TOKEN`` (logged, nothing read or written), a prospect without a LinkedIn URL, an
Apify failure retried, and a research: the stored connections, the LinkedIn URLs normalised for
the member look-up, the innovator never their own connector, each opportunity's row (context,
bounty, expiry) and ``intro.opportunity_created`` once per new row, and
``prospect.research_complete`` with its counts, kept only on commit. The repository is a
``ScriptedRepo`` on the shared ``RecordingUow`` (tests/fakes/uow.py); the Apify port is a
recording stand-in handed in through ``Deps.research_factory``. The SQL and the real client are
tested in tests/integration/test_social_butterfly.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from shared.adapters.apify import MutualConnection, ResearchUnavailable
from shared.adapters.repositories.offers import NewOpportunity, ResearchTarget
from shared.domain.constants import INTRO_OPPORTUNITY_DEFAULT_BOUNTY, INTRO_OPPORTUNITY_EXPIRY
from shared.domain.events import Event
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps
from shared.service_layer.social_butterfly import handle_research_needed, normalise_linkedin
from tests.deps_support import make_deps
from tests.fakes.uow import Call, RecordingUow, ScriptedRepo, UowLog

LOGGER = "shared.service_layer.social_butterfly"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
PROSPECT = UUID("11111111-1111-4111-8111-111111111111")
INNOVATOR = UUID("22222222-2222-4222-8222-222222222222")
ANA = UUID("33333333-3333-4333-8333-333333333333")
BEN = UUID("44444444-4444-4444-8444-444444444444")
OPP_ANA = UUID("55555555-5555-4555-8555-555555555555")
OPP_BEN = UUID("66666666-6666-4666-8666-666666666666")

TARGET = ResearchTarget(
    id=PROSPECT,
    innovator_id=INNOVATOR,
    first_name="Tony",
    last_name="Ruiz",
    company="Roku",
    title="CFO",
    email=None,
    linkedin_url="https://linkedin.com/in/tony-ruiz",
    innovator_linkedin_url="https://linkedin.com/in/the-innovator",
    innovator_name="Lumen Labs",
)
FOUND = [
    MutualConnection(name="Ana K", linkedin_url="https://www.LinkedIn.com/in/ana-k/", headline="CFO at Acme"),
    MutualConnection(name="Ben L", linkedin_url="http://linkedin.com/in/ben-l"),
    MutualConnection(name="Cy M", linkedin_url="linkedin.com/in/cy-m"),
]


@dataclass
class Research:
    """The Apify port: answers ``found`` (or raises ``error``) and records each call."""

    found: list[MutualConnection] = field(default_factory=lambda: list(FOUND))
    error: Exception | None = None
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def find(self, prospect_linkedin_url: str, innovator_linkedin_url: str | None) -> list[MutualConnection]:
        self.calls.append((prospect_linkedin_url, innovator_linkedin_url))
        if self.error is not None:
            raise self.error
        return self.found


def deps(research: Research | None) -> Deps:
    return replace(make_deps(clock=lambda: NOW), research_factory=lambda: research)


def delivery(payload: Any, *, with_payload: bool = True) -> Delivery:
    return Delivery(
        kind="event",
        id=UUID(int=3),
        type="prospect.research_needed",
        attempt=1,
        published_at=NOW,
        data={"payload": payload} if with_payload else {},
        attributes={},
        user_id=None,
    )


def payload(**fields: Any) -> dict[str, Any]:
    return {"prospect_id": str(PROSPECT), "innovator_id": str(INNOVATOR), **fields}


class World:
    def __init__(
        self,
        *,
        target: ResearchTarget | None = TARGET,
        members: list[UUID] | None = None,
        opportunities: dict[UUID, UUID | None] | None = None,
    ) -> None:
        self.log = UowLog()
        made = {ANA: OPP_ANA, BEN: OPP_BEN} if opportunities is None else opportunities
        self.offers = ScriptedRepo(
            "intro_offers",
            self.log,
            research_target=target,
            record_research=None,
            members_by_linkedin=[ANA, BEN] if members is None else members,
            add_opportunity=lambda new: made[new.connector_user_id],
        )
        self.uow = RecordingUow(self.log, intro_offers=self.offers)

    def handle(self, event: Delivery, research: Research | None) -> dict[str, Any] | None:
        with self.uow:
            result = handle_research_needed(event, self.uow.as_postgres(), deps(research))
            self.uow.commit()
        return result

    def events(self) -> list[Event]:
        return self.log.committed_events


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def refusal(event: Delivery, research: Research | None = None) -> str:
    world = World()
    with pytest.raises(PermanentError) as info:
        world.handle(event, research or Research())
    return str(info.value)


# --- the LinkedIn URL as the member look-up reads it ------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("  HTTPS://WWW.LinkedIn.com/in/Ana-K/ ", "linkedin.com/in/ana-k"),
        ("http://linkedin.com/in/ben-l", "linkedin.com/in/ben-l"),
        ("https://linkedin.com/in/cy//", "linkedin.com/in/cy"),
        ("linkedin.com/in/dee", "linkedin.com/in/dee"),
        ("www.linkedin.com/in/eve", "www.linkedin.com/in/eve"),
        ("https://www2.linkedin.com/in/fay", "www2.linkedin.com/in/fay"),
        ("ftp://linkedin.com/in/gus", "ftp://linkedin.com/in/gus"),
        ("see https://linkedin.com/in/hal", "see https://linkedin.com/in/hal"),
        ("https://www.www.linkedin.com/in/ida", "www.linkedin.com/in/ida"),
    ],
)
def test_a_linkedin_url_loses_its_scheme_www_case_and_trailing_slashes(url: str, normalised: str) -> None:
    assert normalise_linkedin(url) == normalised


# --- the event ------------------------------------------------------------------------------------


def test_the_camel_case_names_are_read_too() -> None:
    world = World()
    research = Research()
    event = delivery(
        {"prospectId": str(PROSPECT), "innovatorId": str(INNOVATOR), "researchType": "mutual_connections"}
    )
    assert world.handle(event, research) == {"status": "researched", "found": 3, "matched": 2, "created": 2}
    assert world.log.calls[0] == Call("intro_offers", "research_target", (PROSPECT, INNOVATOR), {})


def test_an_empty_snake_case_id_falls_back_to_the_camel_case_one() -> None:
    world = World()
    event = delivery(
        payload(prospect_id="", prospectId=str(PROSPECT), innovator_id=None, innovatorId=str(INNOVATOR))
    )
    world.handle(event, Research())
    assert world.log.calls[0] == Call("intro_offers", "research_target", (PROSPECT, INNOVATOR), {})


def test_the_snake_case_id_wins_over_the_camel_case_one() -> None:
    world = World()
    other = UUID(int=9)
    world.handle(delivery(payload(prospectId=str(other), innovatorId=str(other))), Research())
    assert world.log.calls[0] == Call("intro_offers", "research_target", (PROSPECT, INNOVATOR), {})


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (delivery({}), "prospect_id is missing or not a uuid"),
        (delivery(None), "prospect_id is missing or not a uuid"),
        (delivery(None, with_payload=False), "prospect_id is missing or not a uuid"),
        (delivery(payload(prospect_id="nope")), "prospect_id is missing or not a uuid"),
        # A malformed first spelling is refused, not skipped for the second.
        (
            delivery(payload(prospect_id="nope", prospectId=str(PROSPECT))),
            "prospect_id is missing or not a uuid",
        ),
        (delivery({"prospect_id": str(PROSPECT)}), "innovator_id is missing or not a uuid"),
        (
            delivery(payload(innovator_id="x", innovatorId=str(INNOVATOR))),
            "innovator_id is missing or not a uuid",
        ),
        (delivery(["not", "an", "object"]), "prospect.research_needed payload is not an object"),
        (
            delivery(payload(research_type="company_news")),
            "research_type 'company_news' is not supported"
            " (only linkedin_mutual_connections, mutual_connections)",
        ),
        (
            delivery(payload(researchType="x")),
            "research_type 'x' is not supported (only linkedin_mutual_connections, mutual_connections)",
        ),
    ],
    ids=[
        "empty",
        "null-payload",
        "no-payload",
        "bad-prospect",
        "bad-snake-good-camel",
        "no-innovator",
        "bad-innovator",
        "not-an-object",
        "unsupported-type",
        "unsupported-camel-type",
    ],
)
def test_a_malformed_event_is_a_permanent_error_before_anything_is_read(
    event: Delivery, message: str
) -> None:
    world = World()
    with pytest.raises(PermanentError) as info:
        world.handle(event, Research())
    assert str(info.value) == message
    assert world.log.calls == []


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"research_type": "linkedin_mutual_connections"},
        {"research_type": "", "researchType": "mutual_connections"},
    ],
    ids=["default", "long-name", "camel-short-name"],
)
def test_both_names_of_the_mutual_connections_research_are_accepted(fields: dict[str, Any]) -> None:
    assert World().handle(delivery(payload(**fields)), Research()) is not None


# --- disabled, skipped, retried ----------------------------------------------------------------------


def test_without_apify_the_research_is_disabled_with_a_warning_and_nothing_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World()
    assert world.handle(delivery(payload()), None) == {"status": "disabled", "reason": "no APIFY_TOKEN"}
    assert world.log.calls == [] and world.events() == []
    [line] = records(caplog, "social butterfly disabled: no APIFY_TOKEN configured; prospect not researched")
    assert line.levelno == logging.WARNING
    assert (line.prospect_id, line.innovator_id) == (str(PROSPECT), str(INNOVATOR))  # type: ignore[attr-defined]


def test_a_prospect_of_another_innovator_or_none_is_a_permanent_error() -> None:
    world = World(target=None)
    with pytest.raises(PermanentError) as info:
        world.handle(delivery(payload()), Research())
    assert str(info.value) == f"no prospect {PROSPECT} of innovator {INNOVATOR}"


@pytest.mark.parametrize("url", [None, ""])
def test_a_prospect_without_a_linkedin_url_is_skipped_and_logged(
    url: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(target=replace(TARGET, linkedin_url=url))
    research = Research()
    assert world.handle(delivery(payload()), research) == {"status": "skipped", "reason": "no linkedin_url"}
    assert research.calls == [] and world.log.methods() == ["intro_offers.research_target"]
    [line] = records(caplog, "prospect has no LinkedIn URL; nothing to research")
    assert line.levelno == logging.INFO
    assert line.prospect_id == str(PROSPECT)  # type: ignore[attr-defined]


def test_an_apify_failure_is_retried_with_its_reason_and_nothing_written() -> None:
    world = World()
    failure = ResearchUnavailable("Apify run did not succeed: TIMED-OUT")
    with pytest.raises(RuntimeError) as info:
        world.handle(delivery(payload()), Research(error=failure))
    assert type(info.value) is RuntimeError and not isinstance(info.value, PermanentError)
    assert str(info.value) == "Apify run did not succeed: TIMED-OUT"
    assert info.value.__cause__ is failure
    assert world.log.methods() == ["intro_offers.research_target"]
    assert world.events() == []


# --- a research ------------------------------------------------------------------------------------


def test_the_connections_are_stored_and_each_member_among_them_gets_an_opportunity() -> None:
    world = World()
    research = Research()
    result = world.handle(delivery(payload()), research)
    assert result == {"status": "researched", "found": 3, "matched": 2, "created": 2}
    assert research.calls == [("https://linkedin.com/in/tony-ruiz", "https://linkedin.com/in/the-innovator")]
    context = "Lumen Labs would like to meet Tony Ruiz."
    expires = NOW + INTRO_OPPORTUNITY_EXPIRY
    assert world.log.calls == [
        Call("intro_offers", "research_target", (PROSPECT, INNOVATOR), {}),
        Call(
            "intro_offers",
            "record_research",
            (
                TARGET,
                [
                    {
                        "name": "Ana K",
                        "linkedin_url": "https://www.LinkedIn.com/in/ana-k/",
                        "headline": "CFO at Acme",
                    },
                    {"name": "Ben L", "linkedin_url": "http://linkedin.com/in/ben-l", "headline": None},
                    {"name": "Cy M", "linkedin_url": "linkedin.com/in/cy-m", "headline": None},
                ],
                NOW,
            ),
            {},
        ),
        Call(
            "intro_offers",
            "members_by_linkedin",
            (["linkedin.com/in/ana-k", "linkedin.com/in/ben-l", "linkedin.com/in/cy-m"],),
            {},
        ),
        Call("intro_offers", "add_opportunity", (NewOpportunity(ANA, TARGET, context, 50, expires),), {}),
        Call("intro_offers", "add_opportunity", (NewOpportunity(BEN, TARGET, context, 50, expires),), {}),
    ]
    assert INTRO_OPPORTUNITY_DEFAULT_BOUNTY == 50
    assert world.events() == [
        created_event(OPP_ANA, ANA),
        created_event(OPP_BEN, BEN),
        complete_event(found=3, matched=2, created=2),
    ]


def created_event(opportunity: UUID, connector: UUID) -> Event:
    return Event(
        event_type="intro.opportunity_created",
        aggregate_type="intro_opportunity",
        aggregate_id=opportunity,
        payload={
            "intro_opportunity_id": str(opportunity),
            "user_id": str(INNOVATOR),
            "acting_agent_type": "social_butterfly",
            "status": "open",
            "connector_user_id": str(connector),
            "innovator_id": str(INNOVATOR),
            "prospect_id": str(PROSPECT),
            "bounty_credits": INTRO_OPPORTUNITY_DEFAULT_BOUNTY,
        },
        created_by="social_butterfly",
    )


def complete_event(*, found: int, matched: int, created: int) -> Event:
    return Event(
        event_type="prospect.research_complete",
        aggregate_type="prospect",
        aggregate_id=PROSPECT,
        payload={
            "prospect_id": str(PROSPECT),
            "user_id": str(INNOVATOR),
            "mutual_connections_found": found,
            "members_matched": matched,
            "intro_opportunities_created": created,
        },
        created_by="social_butterfly",
    )


def test_the_events_are_kept_only_on_commit() -> None:
    world = World()
    with world.uow:
        handle_research_needed(delivery(payload()), world.uow.as_postgres(), deps(Research()))
    assert world.events() == [] and world.log.commits == 0


def test_the_innovator_is_never_their_own_connector() -> None:
    world = World(members=[INNOVATOR, ANA], opportunities={ANA: OPP_ANA})
    result = world.handle(delivery(payload()), Research())
    assert result == {"status": "researched", "found": 3, "matched": 1, "created": 1}
    assert [c.args[0].connector_user_id for c in world.log.of("intro_offers", "add_opportunity")] == [ANA]


def test_a_connector_who_already_has_the_opportunity_gets_no_second_one_nor_an_event() -> None:
    world = World(opportunities={ANA: None, BEN: OPP_BEN})
    result = world.handle(delivery(payload()), Research())
    assert result == {"status": "researched", "found": 3, "matched": 2, "created": 1}
    assert world.events() == [created_event(OPP_BEN, BEN), complete_event(found=3, matched=2, created=1)]


def test_no_connection_among_the_members_completes_with_zero_counts() -> None:
    world = World(members=[])
    result = world.handle(delivery(payload()), Research(found=[]))
    assert result == {"status": "researched", "found": 0, "matched": 0, "created": 0}
    assert world.log.of("intro_offers", "members_by_linkedin") == [
        Call("intro_offers", "members_by_linkedin", ([],), {})
    ]
    assert world.events() == [complete_event(found=0, matched=0, created=0)]


@pytest.mark.parametrize(
    ("first", "last", "innovator", "context"),
    [
        ("Tony", None, "Lumen Labs", "Lumen Labs would like to meet Tony."),
        (None, "Ruiz", None, "A member company would like to meet Ruiz."),
        ("", "Ruiz", "", "A member company would like to meet Ruiz."),
    ],
)
def test_the_opportunitys_context_names_the_innovator_and_the_prospect(
    first: str | None, last: str | None, innovator: str | None, context: str
) -> None:
    target = replace(TARGET, first_name=first, last_name=last, innovator_name=innovator)
    world = World(target=target, members=[ANA], opportunities={ANA: OPP_ANA})
    world.handle(delivery(payload()), Research())
    [call] = world.log.of("intro_offers", "add_opportunity")
    assert call.args[0].intro_context == context


def test_the_innovators_own_linkedin_url_may_be_unknown() -> None:
    research = Research()
    World(target=replace(TARGET, innovator_linkedin_url=None)).handle(delivery(payload()), research)
    assert research.calls == [("https://linkedin.com/in/tony-ruiz", None)]
