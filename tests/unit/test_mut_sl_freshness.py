"""Is a queued message still worth sending? (``shared/service_layer/freshness.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "Mutation testing"): the check
before any classifier (nothing newer, ``superseded_by_reply``, a classifier that raises), the
deterministic withdrawal rules phrase by phrase, the LLM classifier's request (agent, settings,
prompt, the queued message and the newer texts as it sees them, the forced tool, the context),
its verdicts (reason text and bound, RELEVANT / CONTEXTUAL / STALE, the reformulation texts), its
fallback to the rules, and the log lines operators read. No database: the loader is a function
and the LLM is ``ScriptedLlm``.

Five mutants survive and are equivalent: in ``_agent_of``, the prefix of an empty ``agent_id``
computed anyway (``"".split(...)[0]`` is ``""``), ``split("_")`` and ``split("_", 2)`` (the first
piece is the same as with ``split("_", 1)``), and ``"XXXX"`` for the empty prefix (neither it nor
``""`` is a registry key); in ``classify``, ``rule_classify(None, newer)`` (the rules never read
the queued message).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from shared import config, registry
from shared.adapters.llm import LlmResponse, LlmUnavailable, ToolCall
from shared.agents.llm_config import call_settings
from shared.domain.constants import FRESHNESS_LOOKBACK_MESSAGES
from shared.service_layer.freshness import (
    FRESHNESS_PROMPT_VERSION,
    FRESHNESS_SYSTEM,
    FRESHNESS_TOOL,
    FRESHNESS_TOOL_SPEC,
    REASON_MAX_CHARS,
    SUPERSEDED_BY_REPLY,
    AssumeRelevantClassifier,
    Freshness,
    LlmFreshnessClassifier,
    NewerMessage,
    QueuedForCheck,
    check_freshness,
    rule_classify,
)
from tests.fakes.llm import ScriptedLlm, ScriptedReply

LOGGER = "shared.service_layer.freshness"
NOW = datetime(2026, 3, 4, 9, 7, tzinfo=UTC)
USER = UUID("00000000-0000-0000-0000-0000000000aa")
Q1 = UUID("00000000-0000-0000-0000-000000000001")
Q2 = UUID("00000000-0000-0000-0000-000000000002")


def queued(
    *,
    queue_ids: tuple[UUID, ...] = (Q1, Q2),
    message_data: dict[str, Any] | None = None,
    final_message: str | None = None,
    agent_id: str = "",
) -> QueuedForCheck:
    return QueuedForCheck(
        queue_ids=queue_ids,
        user_id=USER,
        created_at=NOW,
        message_data={"kind": "nudge"} if message_data is None else message_data,
        final_message=final_message,
        agent_id=agent_id,
    )


def newer(*texts: str) -> list[NewerMessage]:
    return [NewerMessage(content=t, created_at=NOW + timedelta(minutes=n)) for n, t in enumerate(texts, 1)]


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def answer(classification: str, **more: Any) -> ScriptedLlm:
    return ScriptedLlm(
        ScriptedReply(tool_uses=[(FRESHNESS_TOOL, {"classification": classification, **more})])
    )


# --- check_freshness --------------------------------------------------------------------------


class Loader:
    def __init__(self, messages: Sequence[NewerMessage]) -> None:
        self.messages = messages
        self.calls: list[tuple[UUID, datetime, int]] = []

    def __call__(self, user_id: UUID, since: datetime, limit: int) -> Sequence[NewerMessage]:
        self.calls.append((user_id, since, limit))
        return self.messages


class Recording:
    def __init__(self, verdict: Freshness | Exception) -> None:
        self.verdict = verdict
        self.calls: list[tuple[QueuedForCheck, list[NewerMessage]]] = []

    def classify(self, queued: QueuedForCheck, newer: Sequence[NewerMessage]) -> Freshness:
        self.calls.append((queued, list(newer)))
        if isinstance(self.verdict, Exception):
            raise self.verdict
        return self.verdict


def test_nothing_newer_is_relevant_without_asking_the_classifier() -> None:
    load = Loader([])
    classifier = Recording(Freshness(relevant=False, reason="never asked"))
    assert check_freshness(queued(), load, classifier) == Freshness(relevant=True, reason="no_new_context")
    assert load.calls == [(USER, NOW, FRESHNESS_LOOKBACK_MESSAGES)]
    assert classifier.calls == []


def test_the_loader_is_asked_for_the_lookback_number_of_messages() -> None:
    assert FRESHNESS_LOOKBACK_MESSAGES == 5
    load = Loader(newer("hi"))
    check_freshness(queued(), load, Recording(Freshness(relevant=True, reason="r")))
    assert load.calls == [(USER, NOW, 5)]


def test_the_classifier_decides_when_the_user_wrote_since() -> None:
    texts = newer("one", "two")
    verdict = Freshness(relevant=False, reason="stale: moved on")
    classifier = Recording(verdict)
    q = queued()
    assert check_freshness(q, Loader(texts), classifier) is verdict
    assert classifier.calls == [(q, texts)]


def test_superseded_by_reply_is_stale_once_the_user_wrote_whatever_they_said() -> None:
    classifier = Recording(Freshness(relevant=True, reason="never asked"))
    q = queued(message_data={SUPERSEDED_BY_REPLY: True})
    assert check_freshness(q, Loader(newer("sure")), classifier) == Freshness(
        relevant=False, reason="user_replied"
    )
    assert classifier.calls == []


def test_superseded_by_reply_with_nothing_newer_is_still_relevant() -> None:
    q = queued(message_data={SUPERSEDED_BY_REPLY: True})
    assert check_freshness(q, Loader([]), Recording(Freshness(relevant=False, reason="x"))) == Freshness(
        relevant=True, reason="no_new_context"
    )


@pytest.mark.parametrize("flag", [False, "true", 1, None])
def test_only_a_true_superseded_by_reply_flag_skips_the_classifier(flag: object) -> None:
    verdict = Freshness(relevant=True, reason="classified")
    q = queued(message_data={SUPERSEDED_BY_REPLY: flag})
    assert check_freshness(q, Loader(newer("hi")), Recording(verdict)) is verdict


def test_the_flag_is_named_superseded_by_reply() -> None:
    assert SUPERSEDED_BY_REPLY == "superseded_by_reply"
    q = queued(message_data={"superseded_by_reply": True})
    assert check_freshness(q, Loader(newer("hi")), Recording(Freshness(relevant=True, reason="r"))) == (
        Freshness(relevant=False, reason="user_replied")
    )


def test_a_failing_classifier_keeps_the_message_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    verdict = check_freshness(queued(), Loader(newer("hi")), Recording(RuntimeError("boom")))
    assert verdict == Freshness(relevant=True, reason="classifier_error")
    [record] = records(caplog, "freshness classifier failed; treating the message as relevant")
    assert record.levelno == logging.WARNING
    assert record.user_id == str(USER)  # type: ignore[attr-defined]
    assert record.error == "RuntimeError('boom')"  # type: ignore[attr-defined]


# --- AssumeRelevantClassifier -----------------------------------------------------------------


def test_assume_relevant_keeps_the_message_and_logs_why(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    verdict = AssumeRelevantClassifier().classify(queued(), newer("a", "b", "c"))
    assert verdict == Freshness(relevant=True, reason="assumed_relevant_no_classifier")
    [record] = records(
        caplog, "freshness: user wrote since this was queued; no classifier configured, assuming relevant"
    )
    assert record.levelno == logging.INFO
    assert record.user_id == str(USER)  # type: ignore[attr-defined]
    assert record.queue_ids == [str(Q1), str(Q2)]  # type: ignore[attr-defined]
    assert record.newer_messages == 3  # type: ignore[attr-defined]


# --- rule_classify ----------------------------------------------------------------------------

WITHDRAWALS = [
    "never mind",
    "nevermind",
    "nvm",
    "forget it",
    "forget about it",
    "no longer need",
    "no longer needed",
    "no longer interested",
    "no longer looking",
    "don't need it",
    "do not need this",
    "dont need that",
    "don't need anymore",
    "I don't need any more",
    "not interested anymore",
    "not needed anymore",
    "stop asking",
    "stop messaging",
    "stop texting",
    "stop reminding",
    "already found",
    "already hired",
    "already solved",
    "already sorted",
    "already handled",
    "already got",
    "all set",
    "figured it out",
    "cancel it",
    "cancel that",
    "drop this",
    "drop the request",
    "NEVER MIND, thanks",
    "ok. Never Mind.",
]


@pytest.mark.parametrize("text", WITHDRAWALS)
def test_each_withdrawal_phrase_is_stale(text: str) -> None:
    assert rule_classify(queued(), newer(text)) == Freshness(
        relevant=False, reason="rules: member withdrew after it was queued"
    )


@pytest.mark.parametrize(
    "text",
    ["Also, who do you know at Stripe?", "nvmx", "anvm", "all settled", "never minded", "stop", "already"],
)
def test_anything_else_is_contextual(text: str) -> None:
    assert rule_classify(queued(), newer(text)) == Freshness(relevant=True, reason="rules: contextual")


def test_a_withdrawal_in_any_newer_message_counts() -> None:
    assert not rule_classify(queued(), newer("hello", "how are you", "never mind")).relevant
    assert rule_classify(queued(), []) == Freshness(relevant=True, reason="rules: contextual")


# --- LlmFreshnessClassifier: the request ------------------------------------------------------


def test_the_request_carries_the_queued_facts_and_the_newer_texts() -> None:
    llm = answer("RELEVANT")
    data = {"kind": "nudge", "b": 2, "a": NOW}
    q = queued(message_data=data, agent_id="innovator_reengagement")
    texts = [
        NewerMessage(content="  first  ", created_at=datetime(2026, 3, 4, 10, 5, 59, tzinfo=UTC)),
        NewerMessage(content="second", created_at=datetime(2026, 12, 31, 23, 59, tzinfo=UTC)),
    ]
    LlmFreshnessClassifier(lambda: llm).classify(q, texts)
    [request] = llm.requests
    assert request.agent == "innovator"
    assert request.call_kind == "freshness"
    assert request.settings == call_settings("innovator", "freshness")
    assert request.prompt_version == FRESHNESS_PROMPT_VERSION == "freshness-v1"
    assert request.system == FRESHNESS_SYSTEM
    assert request.stable_context == ""
    assert request.dynamic_context == ""
    assert request.messages == [
        {
            "role": "user",
            "content": "QUEUED:\n"
            + '{"a": "2026-03-04 09:07:00+00:00", "b": 2, "kind": "nudge"}'
            + "\n\nNEWER MESSAGES:\n"
            + "[2026-03-04 10:05] first\n[2026-12-31 23:59] second",
        }
    ]
    assert list(request.tools) == [FRESHNESS_TOOL_SPEC]
    assert request.force_tool == FRESHNESS_TOOL == "classify_freshness"
    assert request.user_id == USER
    assert request.context_id == Q1
    assert request.context_type == "message_queue"


def test_the_settings_are_the_queuing_agents_freshness_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_OVERRIDES", '{"innovator.freshness": {"max_tokens": 77}}')
    config.reset_settings_cache()
    try:
        llm = ScriptedLlm(*[ScriptedReply(tool_uses=[(FRESHNESS_TOOL, {"classification": "RELEVANT"})])] * 2)
        classifier = LlmFreshnessClassifier(lambda: llm)
        classifier.classify(queued(agent_id="innovator_reengagement"), newer("ok"))
        classifier.classify(queued(agent_id="concierge_reengagement"), newer("ok"))
        assert [r.settings.max_tokens for r in llm.requests] == [77, 200]
    finally:
        monkeypatch.delenv("LLM_OVERRIDES")
        config.reset_settings_cache()


def test_the_queued_text_is_sent_instead_of_its_facts_when_it_has_one() -> None:
    llm = answer("RELEVANT")
    q = queued(final_message="See you at 5?", message_data={"kind": "nudge"})
    LlmFreshnessClassifier(lambda: llm).classify(q, newer("ok"))
    content = llm.requests[0].messages[0]["content"]
    assert content.startswith('QUEUED:\n{"text": "See you at 5?"}\n\nNEWER MESSAGES:\n')


def test_an_empty_queued_text_sends_the_facts() -> None:
    llm = answer("RELEVANT")
    q = queued(final_message="", message_data={"kind": "nudge"})
    LlmFreshnessClassifier(lambda: llm).classify(q, newer("ok"))
    assert llm.requests[0].messages[0]["content"].startswith('QUEUED:\n{"kind": "nudge"}\n\n')


def test_the_queued_json_is_cut_at_2000_characters_and_each_text_at_500() -> None:
    llm = answer("RELEVANT")
    q = queued(final_message="x" * 3000)
    LlmFreshnessClassifier(lambda: llm).classify(q, newer("y" * 600))
    content = llm.requests[0].messages[0]["content"]
    queued_part, newer_part = content.split("\n\nNEWER MESSAGES:\n")
    assert queued_part == "QUEUED:\n" + ('{"text": "' + "x" * 3000)[:2000]
    assert newer_part == "[2026-03-04 09:08] " + "y" * 500


def test_no_queue_id_means_no_context_id() -> None:
    llm = answer("RELEVANT")
    LlmFreshnessClassifier(lambda: llm).classify(queued(queue_ids=()), newer("ok"))
    assert llm.requests[0].context_id is None


@pytest.mark.parametrize(
    ("agent_id", "agent"),
    [
        ("", registry.DEFAULT_MEMBER_AGENT),
        ("concierge_reengagement", "concierge"),
        ("Innovator_Reengagement", "innovator"),
        ("innovator_x_y", "innovator"),
        ("account_manager", "account_manager"),
        ("bouncer", "bouncer"),
        ("somebody_else", registry.DEFAULT_MEMBER_AGENT),
    ],
)
def test_the_call_is_the_queuing_agents_else_the_default_member_agent(agent_id: str, agent: str) -> None:
    assert registry.DEFAULT_MEMBER_AGENT == "concierge"
    llm = answer("RELEVANT")
    LlmFreshnessClassifier(lambda: llm).classify(queued(agent_id=agent_id), newer("ok"))
    assert llm.requests[0].agent == agent


# --- LlmFreshnessClassifier: the verdicts -----------------------------------------------------


def test_stale_is_not_relevant_with_the_models_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    llm = answer("STALE", reason="topic changed")
    verdict = LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("Different topic"))
    assert verdict == Freshness(relevant=False, reason="stale: topic changed")
    [record] = records(caplog, "freshness: classified by the LLM")
    assert record.levelno == logging.INFO
    assert record.user_id == str(USER)  # type: ignore[attr-defined]
    assert record.queue_ids == [str(Q1), str(Q2)]  # type: ignore[attr-defined]
    assert record.relevant is False  # type: ignore[attr-defined]
    assert records(caplog, "freshness: classified by the rules") == []


def test_relevant_and_contextual_are_relevant(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    verdict = LlmFreshnessClassifier(lambda: answer("RELEVANT", reason="on topic")).classify(
        queued(), newer("never mind")
    )
    assert verdict == Freshness(relevant=True, reason="relevant: on topic")
    assert [r.relevant for r in records(caplog, "freshness: classified by the LLM")] == [True]  # type: ignore[attr-defined]
    verdict = LlmFreshnessClassifier(lambda: answer("CONTEXTUAL")).classify(queued(), newer("hm"))
    assert verdict == Freshness(relevant=True, reason="contextual")


def test_only_a_trailing_colon_is_taken_off_the_reason() -> None:
    llm = answer("STALE", reason="moved to topic XX")
    verdict = LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("x"))
    assert verdict.reason == "stale: moved to topic XX"


def test_the_reason_is_cut_to_the_column_width() -> None:
    assert REASON_MAX_CHARS == 100
    llm = answer("STALE", reason="w" * 400)
    verdict = LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("x"))
    assert verdict.reason == ("stale: " + "w" * 400)[:100]
    assert len(verdict.reason) == 100


def test_a_contextual_answer_to_reword_carries_the_newer_texts() -> None:
    llm = answer("CONTEXTUAL", should_reformulate=True, reason="moved on")
    verdict = LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("  first  ", "z" * 600))
    assert verdict == Freshness(
        relevant=True, reason="contextual: moved on", reformulate_with=("first", "z" * 500)
    )


@pytest.mark.parametrize("classification", ["RELEVANT", "STALE"])
def test_only_contextual_is_reworded(classification: str) -> None:
    llm = answer(classification, should_reformulate=True)
    verdict = LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("first"))
    assert verdict.reformulate_with == ()


def test_contextual_without_should_reformulate_is_sent_as_queued() -> None:
    verdict = LlmFreshnessClassifier(lambda: answer("CONTEXTUAL", should_reformulate=False)).classify(
        queued(), newer("first")
    )
    assert verdict.reformulate_with == ()


# --- LlmFreshnessClassifier: the fallback to the rules ----------------------------------------


def test_no_llm_means_the_rules_decide(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    verdict = LlmFreshnessClassifier(lambda: None).classify(queued(), newer("never mind"))
    assert verdict == Freshness(relevant=False, reason="rules: member withdrew after it was queued")
    [record] = records(caplog, "freshness: classified by the rules")
    assert record.levelno == logging.INFO
    assert record.user_id == str(USER)  # type: ignore[attr-defined]
    assert record.queue_ids == [str(Q1), str(Q2)]  # type: ignore[attr-defined]
    assert record.relevant is False  # type: ignore[attr-defined]
    assert record.llm_configured is False  # type: ignore[attr-defined]
    assert records(caplog, "freshness: classified by the LLM") == []


def test_an_unavailable_llm_falls_back_to_the_rules(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    llm = ScriptedLlm(LlmUnavailable("down", reason="overloaded"))
    verdict = LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("who do you know?"))
    assert verdict == Freshness(relevant=True, reason="rules: contextual")
    [warning] = records(caplog, "freshness LLM unavailable")
    assert warning.levelno == logging.WARNING
    assert warning.user_id == str(USER)  # type: ignore[attr-defined]
    assert warning.reason == "overloaded"  # type: ignore[attr-defined]
    [record] = records(caplog, "freshness: classified by the rules")
    assert record.relevant is True  # type: ignore[attr-defined]
    assert record.llm_configured is True  # type: ignore[attr-defined]


def test_no_tool_call_falls_back_to_the_rules(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    llm = ScriptedLlm(ScriptedReply(text="RELEVANT"))
    verdict = LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("never mind"))
    assert verdict == Freshness(relevant=False, reason="rules: member withdrew after it was queued")
    [warning] = records(caplog, "freshness LLM gave no usable answer")
    assert warning.levelno == logging.WARNING
    assert warning.user_id == str(USER)  # type: ignore[attr-defined]
    [record] = records(caplog, "freshness: classified by the rules")
    assert record.llm_configured is True  # type: ignore[attr-defined]


def test_invalid_arguments_fall_back_to_the_rules(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    llm = answer("MAYBE")
    verdict = LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("never mind"))
    assert not verdict.relevant
    assert len(records(caplog, "freshness LLM gave no usable answer")) == 1


def test_a_tool_call_of_another_shape_falls_back_to_the_rules(caplog: pytest.LogCaptureFixture) -> None:
    class Other(BaseModel):
        classification: str

    caplog.set_level(logging.INFO, logger=LOGGER)
    response = LlmResponse(
        text="", tool_calls=[ToolCall(name=FRESHNESS_TOOL, arguments=Other(classification="STALE"), id="t")]
    )
    llm = ScriptedLlm(response)
    verdict = LlmFreshnessClassifier(lambda: llm).classify(queued(), newer("hello"))
    assert verdict == Freshness(relevant=True, reason="rules: contextual")
    assert len(records(caplog, "freshness LLM gave no usable answer")) == 1


def test_the_llm_factory_is_read_on_each_classification() -> None:
    made: list[int] = []

    def factory() -> None:
        made.append(1)

    classifier = LlmFreshnessClassifier(factory)
    classifier.classify(queued(), newer("a"))
    classifier.classify(queued(), newer("b"))
    assert made == [1, 1]


def test_the_user_id_in_the_log_is_the_queued_users(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    other = uuid4()
    q = QueuedForCheck(queue_ids=(Q2,), user_id=other, created_at=NOW, message_data={}, final_message=None)
    LlmFreshnessClassifier(lambda: None).classify(q, newer("x"))
    [record] = records(caplog, "freshness: classified by the rules")
    assert (record.user_id, record.queue_ids) == (str(other), [str(Q2)])  # type: ignore[attr-defined]
    assert json.loads(json.dumps(record.queue_ids)) == [str(Q2)]  # type: ignore[attr-defined]
