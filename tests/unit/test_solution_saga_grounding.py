"""Grounding (issue 11 §2): only names and URLs a stored source backs reach the member."""

from __future__ import annotations

from typing import Any

from shared.agents.solution_saga import fallback
from shared.agents.solution_saga.grounding import (
    final_message,
    ground,
    initial_message,
    need_phrase,
    sources_of,
    unsendable,
)

WEB = [
    {
        "url": "https://vanta.example/soc2",
        "title": "Vanta: automated SOC 2",
        "cited": ["Drata and Vanta lead."],
    }
]
INNOVATORS = [
    {"company_name": "Trustwell", "solution_name": "Trustwell Audit", "solution_description": "SOC 2."}
]
EXPERTS = [
    {"summary": "We used Secureframe, see https://secureframe.example/pricing.", "expert_first_name": "Ana"}
]


def test_names_and_urls_are_backed_only_by_stored_sources() -> None:
    sources = sources_of(WEB, INNOVATORS, EXPERTS)
    assert sources.backs_name("Vanta") and sources.backs_name("drata")  # title, cited text
    assert sources.backs_name("Trustwell Audit") and sources.backs_name("Secureframe")  # innovator, expert
    assert (
        not sources.backs_name("Vant")
        and not sources.backs_name("Complyzilla")
        and not sources.backs_name("")
    )
    assert sources.backs_url("https://vanta.example/soc2") and sources.backs_url(
        "https://secureframe.example/pricing"
    )
    assert not sources.backs_url("https://vanta.example/") and sources.web and sources.experts == 1


def test_ground_drops_invented_vendors_and_strips_unbacked_urls() -> None:
    sources = sources_of(WEB, INNOVATORS, [])
    result = ground(
        [
            {"name": "Vanta", "url": "https://vanta.example/soc2", "reason": "r", "source": "web"},
            {"name": "vanta", "url": None, "reason": "dup", "source": "web"},
            {"name": "Trustwell", "url": "https://made-up.example/", "reason": "r", "source": "innovator"},
            {"name": "Complyzilla", "url": None, "reason": "r", "source": "web"},
        ],
        sources,
    )
    assert [(o["name"], o["url"]) for o in result.kept] == [
        ("Vanta", "https://vanta.example/soc2"),
        ("Trustwell", None),
    ]
    assert {d["name"]: d["why"] for d in result.dropped} == {
        "Trustwell": "url not in any stored source",
        "Complyzilla": "name not in any stored source",
    }


def test_the_reply_guards_refuse_a_made_up_vendor_in_composed_text() -> None:
    sources = sources_of([], INNOVATORS, [])
    ok = initial_message(
        "SOC 2 tooling",
        [{"name": "Trustwell", "reason": "in our network", "source": "innovator"}],
        sources,
        None,
    )
    assert unsendable(ok, sources, "SOC 2 tooling") == []
    assert "companies in our network" in ok and "search" not in ok.lower()
    bad = ok + " Acme Compliance Cloud is cheaper. See https://acme.example/."
    problems = unsendable(bad, sources, "SOC 2 tooling")
    assert any(p.startswith("invented_name") for p in problems)
    assert any(p.startswith("unknown_url") for p in problems)


def test_offline_final_quotes_peers_and_names_innovators_they_mentioned_first() -> None:
    innovators: list[dict[str, Any]] = [*INNOVATORS, {"company_name": "Certly", "solution_description": None}]
    insights = [{"summary": "Certly was great.", "expert_first_name": "Ben"}]
    raw = fallback.final_recommendations(innovators, insights)
    assert [o["name"] for o in raw["options"]] == ["Certly", "Trustwell"]
    sources = sources_of([], innovators, insights)
    text = final_message(
        "SOC 2", raw["options"], [], sources, None, timed_out=True, peers=[("Ben", "Certly was great.")]
    )
    assert 'Ben said: "Certly was great."' in text and "Fewer members answered" in text
    assert unsendable(text, sources, "SOC 2") == []


def test_offline_expert_assessment_spots_an_offered_intro() -> None:
    sources = sources_of([], INNOVATORS, [])
    raw = fallback.expert_assessment("Happy to introduce you to the Trustwell founder.", sources)
    assert raw["hasContactIntro"] is True and raw["mentionedVendors"] == ["Trustwell"] and raw["addedValue"]
    assert fallback.expert_assessment("no idea", sources)["addedValue"] is False


def test_a_members_own_question_is_quoted_and_a_description_said_as_it_stands() -> None:
    """Found on the local stack: offline, the need is the member's question, and the findings
    read "Early findings on Any good accounts payable automation software for a ... company,"."""
    sources = sources_of([], INNOVATORS, [])
    options = [{"name": "Trustwell", "reason": "in our network", "source": "innovator"}]
    asked = "Any good SOC 2 automation software for a 40-person startup?"
    assert initial_message(asked, options, sources, None).startswith(
        'Early findings on your question "Any good SOC 2 automation software for a 40-person startup", '
        "from companies in our network: Trustwell: in our network."
    )
    assert initial_message("SOC 2 tooling.", options, sources, None).startswith(
        "Early findings on SOC 2 tooling, from"
    )
    for opener in ("I need a SOC 2 tool", "Looking for SOC 2 help", "which SOC 2 vendor"):
        assert need_phrase(opener) == f'your question "{opener}"'
    assert need_phrase("Payroll for a 40-person startup") == "Payroll for a 40-person startup"
