"""The ``create_conversation_summary`` task (``shared/service_layer/summaries.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "Mutation testing"): the task's
conversation id (``context_id``, else ``context_json.conversation_id``) and its two refusals;
each outcome (no conversation, nothing new, stored by the LLM, stored by the extractive fallback
with or without an LLM configured); what is read (the lock, the messages since the last summary
up to ``SUMMARY_SOURCE_MAX_MESSAGES``) and written (the summary and the last message's id); the
summariser's agent instance on the LLM request; and the two log lines with their fields. The
repositories are ``ScriptedRepo`` s (tests/fakes/uow.py), the LLM is ``ScriptedLlm``
(tests/fakes/llm.py); the summariser's own rules run as they are. The SQL is tested on Postgres
(tests/integration/test_summaries.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.llm import LlmUnavailable
from shared.adapters.repositories.conversations import SummaryTarget
from shared.adapters.repositories.messages import HistoryItem
from shared.agents.summarizer.summary import AGENT, PROMPT_VERSION, extractive_summary
from shared.domain.constants import SUMMARY_SOURCE_MAX_MESSAGES
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.summaries import SummaryResult, handle_summary_task, summarize_conversation
from tests.deps_support import make_deps
from tests.fakes.llm import ScriptedLlm
from tests.fakes.uow import Call, RecordingUow, ScriptedRepo, UowLog, uow_factory

LOGGER = "shared.service_layer.summaries"
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
CONVERSATION_ID = UUID("00000000-0000-0000-0000-0000000000c1")
USER_ID = UUID("00000000-0000-0000-0000-0000000000a1")
LAST_SUMMARISED = UUID("00000000-0000-0000-0000-0000000000f0")
INSTANCE = UUID("00000000-0000-0000-0000-00000000001e")
M1, M2, M3 = (UUID(f"00000000-0000-0000-0000-00000000000{i}") for i in (1, 2, 3))


def conversation(previous: str | None = "Earlier they wanted a CFO.") -> SummaryTarget:
    return SummaryTarget(
        id=CONVERSATION_ID,
        user_id=USER_ID,
        conversation_summary=previous,
        last_summary_message_id=LAST_SUMMARISED,
        messages_since_summary=3,
        first_name="Dana",
        last_name="Kim",
        company="Acme",
        title="CEO",
        email_verified=True,
        verified=True,
        poc_agent_type="concierge",
    )


def messages() -> list[HistoryItem]:
    return [
        HistoryItem(M1, "user", "inbound", "I am looking for a fractional CFO.", "received", NOW),
        HistoryItem(M2, "concierge", "outbound", "Which stage is the company at?", "sent", NOW),
        HistoryItem(M3, "user", "inbound", "Series A, thanks, sounds good", "received", NOW),
    ]


def make_uow(log: UowLog, *, target: SummaryTarget | None, found: list[HistoryItem]) -> Any:
    """A unit of work whose database is new to the process, so the agent-instance cache misses."""
    instances = ScriptedRepo("instances", log, find=INSTANCE, register=None)
    uow = RecordingUow(
        log,
        conversations=ScriptedRepo("conversations", log, lock_for_summary=target, store_summary=None),
        messages=ScriptedRepo("messages", log, since_summary=found),
        instances=instances,
        sql=SimpleNamespace(
            conn=SimpleNamespace(info=SimpleNamespace(host="h", port=1, dbname=str(uuid4())))
        ),
    )
    return uow.as_postgres()


def no_factory() -> Any:
    raise AssertionError("the instance exists: no side transaction is opened")


# --- summarize_conversation -------------------------------------------------------------------


def test_no_conversation_reads_nothing_more() -> None:
    log = UowLog()
    result = summarize_conversation(
        make_uow(log, target=None, found=[]), CONVERSATION_ID, llm=None, uow_factory=no_factory
    )
    assert result == SummaryResult(status="no_conversation", path="", summary="", last_message_id=None)
    assert log.calls == [Call("conversations", "lock_for_summary", (CONVERSATION_ID,), {})]


def test_nothing_new_writes_nothing() -> None:
    log = UowLog()
    llm = ScriptedLlm()
    result = summarize_conversation(
        make_uow(log, target=conversation(), found=[]), CONVERSATION_ID, llm=llm, uow_factory=no_factory
    )
    assert result == SummaryResult(status="nothing_new", path="", summary="", last_message_id=None)
    assert log.calls == [
        Call("conversations", "lock_for_summary", (CONVERSATION_ID,), {}),
        Call(
            "messages",
            "since_summary",
            (CONVERSATION_ID, LAST_SUMMARISED),
            {"limit": SUMMARY_SOURCE_MAX_MESSAGES},
        ),
    ]
    assert llm.requests == []


def test_the_llm_writes_the_summary_up_to_the_last_message_read(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    log = UowLog()
    llm = ScriptedLlm()
    llm.reply("  Needs and goals: a fractional CFO for a Series A company.  ")
    result = summarize_conversation(
        make_uow(log, target=conversation(), found=messages()),
        CONVERSATION_ID,
        llm=llm,
        uow_factory=no_factory,
    )
    summary = "Needs and goals: a fractional CFO for a Series A company."
    assert result == SummaryResult(status="stored", path="llm", summary=summary, last_message_id=M3)
    assert log.of("conversations", "store_summary") == [
        Call("conversations", "store_summary", (CONVERSATION_ID, summary, M3), {})
    ]
    assert log.of("instances", "find") == [Call("instances", "find", (AGENT, PROMPT_VERSION), {})]
    (request,) = llm.requests
    assert request.agent_instance_id == INSTANCE
    assert request.context_id == CONVERSATION_ID
    assert request.messages[0]["content"].startswith("PREVIOUS SUMMARY:\nEarlier they wanted a CFO.\n\n")
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER] == [
        (logging.INFO, "conversation summary stored")
    ]
    (line,) = [r for r in caplog.records if r.name == LOGGER]
    assert (line.conversation_id, line.path, line.words) == (str(CONVERSATION_ID), "llm", 11)  # type: ignore[attr-defined]


def test_a_missing_instance_is_registered_through_the_factory() -> None:
    log = UowLog()
    found: list[UUID | None] = [None, INSTANCE]
    uow = make_uow(log, target=conversation(), found=messages())
    uow.instances.answer("find", lambda *args: found.pop(0))
    llm = ScriptedLlm()
    llm.reply("A summary.")
    result = summarize_conversation(
        uow, CONVERSATION_ID, llm=llm, uow_factory=uow_factory(log, instances=uow.instances)
    )
    assert result.status == "stored" and result.path == "llm"
    assert log.of("instances", "register") == [Call("instances", "register", (AGENT, PROMPT_VERSION), {})]
    assert llm.requests[0].agent_instance_id == INSTANCE


def test_without_an_llm_the_extractive_fallback_writes_it_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    log = UowLog()
    result = summarize_conversation(
        make_uow(log, target=conversation(), found=messages()),
        CONVERSATION_ID,
        llm=None,
        uow_factory=no_factory,
    )
    summary = extractive_summary(conversation(), messages(), "Earlier they wanted a CFO.")
    assert summary.startswith("Earlier: Earlier they wanted a CFO.")
    assert result == SummaryResult(status="stored", path="extractive", summary=summary, last_message_id=M3)
    assert log.of("conversations", "store_summary") == [
        Call("conversations", "store_summary", (CONVERSATION_ID, summary, M3), {})
    ]
    assert log.of("instances") == []
    lines = [r for r in caplog.records if r.name == LOGGER]
    assert [(r.levelno, r.getMessage()) for r in lines] == [
        (logging.WARNING, "summary written by the extractive fallback (no LLM answer)"),
        (logging.INFO, "conversation summary stored"),
    ]
    warning, stored = lines
    assert (warning.conversation_id, warning.llm_configured) == (str(CONVERSATION_ID), False)  # type: ignore[attr-defined]
    assert (stored.conversation_id, stored.path, stored.words) == (  # type: ignore[attr-defined]
        str(CONVERSATION_ID),
        "extractive",
        len(summary.split()),
    )


def test_an_llm_that_does_not_answer_falls_back_to_the_extractive_summary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    log = UowLog()
    llm = ScriptedLlm(LlmUnavailable("timeout", reason="timeout"))
    result = summarize_conversation(
        make_uow(log, target=conversation(previous=None), found=messages()),
        CONVERSATION_ID,
        llm=llm,
        uow_factory=no_factory,
    )
    assert result.path == "extractive"
    assert result.summary == extractive_summary(conversation(previous=None), messages(), None)
    (warning,) = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert warning.llm_configured is True  # type: ignore[attr-defined]


# --- the task handler -------------------------------------------------------------------------


def delivery(data: dict[str, Any]) -> Delivery:
    return Delivery(
        kind="task",
        id=uuid4(),
        type="create_conversation_summary",
        attempt=1,
        published_at=NOW,
        data=data,
        attributes={},
        user_id=None,
    )


def run_task(
    data: dict[str, Any], *, llm: ScriptedLlm | None = None, target: SummaryTarget | None = None
) -> Any:
    log = UowLog()
    uow = make_uow(log, target=target, found=messages())
    deps = make_deps(llm=llm, uow_factory=no_factory)
    return handle_summary_task(delivery(data), uow, deps), log


def test_the_task_summarises_the_context_id_conversation() -> None:
    llm = ScriptedLlm()
    llm.reply("A summary.")
    answer, log = run_task(
        {"context_id": str(CONVERSATION_ID), "context_json": {"conversation_id": str(uuid4())}},
        llm=llm,
        target=conversation(),
    )
    assert answer == {"status": "stored", "path": "llm"}
    assert log.of("conversations", "lock_for_summary")[0].args == (CONVERSATION_ID,)


def test_the_task_falls_back_to_the_context_json_conversation() -> None:
    answer, log = run_task({"context_json": {"conversation_id": str(CONVERSATION_ID)}}, target=conversation())
    assert answer == {"status": "stored", "path": "extractive"}
    assert log.of("conversations", "lock_for_summary")[0].args == (CONVERSATION_ID,)


def test_the_task_answers_the_outcome_without_a_path() -> None:
    answer, _ = run_task({"context_id": str(CONVERSATION_ID), "context_json": None})
    assert answer == {"status": "no_conversation", "path": ""}


@pytest.mark.parametrize("data", [{}, {"context_json": None}, {"context_json": {}}, {"context_id": None}])
def test_a_task_without_a_conversation_id_is_a_permanent_error(data: dict[str, Any]) -> None:
    with pytest.raises(PermanentError) as info:
        run_task(data)
    assert str(info.value) == "create_conversation_summary without a conversation id"


def test_a_conversation_id_that_is_not_a_uuid_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError) as info:
        run_task({"context_json": {"conversation_id": "conv-1"}})
    assert str(info.value) == "conversation id is not a UUID: 'conv-1'"
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_the_task_registers_a_missing_instance_through_the_deps_factory() -> None:
    log = UowLog()
    uow = make_uow(log, target=conversation(), found=messages())
    found: list[UUID | None] = [None, INSTANCE]
    uow.instances.answer("find", lambda *args: found.pop(0))
    llm = ScriptedLlm()
    llm.reply("A summary.")
    deps = make_deps(llm=llm, uow_factory=uow_factory(log, instances=uow.instances))
    assert handle_summary_task(delivery({"context_id": str(CONVERSATION_ID)}), uow, deps) == {
        "status": "stored",
        "path": "llm",
    }
    assert log.of("instances", "register") == [Call("instances", "register", (AGENT, PROMPT_VERSION), {})]
    assert log.commits == 1
