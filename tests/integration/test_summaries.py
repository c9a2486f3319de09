"""create_conversation_summary: stored, at most 200 words, rolled forward, and fed to the agents."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.llm import Llm, LlmUnavailable
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.context import load_context, profile_block
from shared.agents.summarizer.summary import clamp_words
from shared.domain.constants import SUMMARY_MAX_WORDS
from shared.service_layer.summaries import SummaryResult, summarize_conversation
from tests.deps_support import composed_llm
from tests.fakes.llm import ScriptedLlm

pytestmark = pytest.mark.integration


def create_conversation_summary(conversation_id: Any, *, llm: Llm | None, **_: Any) -> SummaryResult:
    with PostgresUnitOfWork() as uow:
        result = summarize_conversation(uow, conversation_id, llm=llm, uow_factory=PostgresUnitOfWork)
        uow.commit()
    return result


CHAT = [
    ("user", "inbound", "hey"),
    ("bouncer", "outbound", "Hey... who told you about this?"),
    ("user", "inbound", "Ben Trenda sent me. I'm looking for a CFO intro for our Series B."),
    ("system", "inbound", '{"type": "re_engagement_check"}'),
    ("bouncer", "outbound", "Noted. What's your name?"),
    ("user", "inbound", "Ana Ruiz, CEO at Lumen Labs. Thanks"),
    ("bouncer", "outbound", "What's your title?"),
]


def arrange(db: Any, chat: list[tuple[str, str, str]] = CHAT) -> tuple[Any, Any]:
    user_id = db.execute(
        "INSERT INTO users (phone_number, first_name, last_name, company, title)"
        " VALUES ('+14155550177', 'Ana', 'Ruiz', 'Lumen Labs', 'CEO') RETURNING id"
    ).fetchone()["id"]
    conv = db.execute(
        "INSERT INTO conversations (user_id, phone_number) VALUES (%s, '+14155550177') RETURNING id",
        (user_id,),
    ).fetchone()["id"]
    for role, direction, content in chat:
        add(db, user_id, conv, role, direction, content)
    return user_id, conv


def add(db: Any, user_id: Any, conv: Any, role: str, direction: str, content: str) -> Any:  # noqa: PLR0917
    status = "received" if direction == "inbound" else "delivered"
    return db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (conv, user_id, role, content, direction, status),
    ).fetchone()["id"]


def stored(db: Any, conv: Any) -> Any:
    return db.execute("SELECT * FROM conversations WHERE id = %s", (conv,)).fetchone()


def test_llm_summary_is_stored_clamped_and_marks_where_it_stops(db):
    user_id, conv = arrange(db)
    llm = ScriptedLlm()
    llm.reply("Needs and goals: a CFO intro for the Series B. " + "word " * 300)
    result = create_conversation_summary(conv, llm=llm)
    row = stored(db, conv)
    last = db.execute(
        "SELECT id FROM messages WHERE conversation_id = %s ORDER BY created_at DESC, id DESC LIMIT 1",
        (conv,),
    ).fetchone()
    assert result.status == "stored" and result.path == "llm"
    assert len(row["conversation_summary"].split()) <= SUMMARY_MAX_WORDS
    assert row["conversation_summary"].startswith("Needs and goals: a CFO intro")
    assert row["last_summary_message_id"] == last["id"] and row["messages_since_summary"] == 0
    request = llm.requests[0]
    assert request.call_kind == "summary" and request.user_id == user_id
    transcript = request.messages[-1]["content"]
    assert "re_engagement_check" not in transcript  # inbound system triggers are not history
    assert "User: Ben Trenda sent me." in transcript and "Yachtparty: What's your title?" in transcript


def test_next_run_summarises_only_new_messages_and_rolls_the_old_summary_forward(db):
    user_id, conv = arrange(db)
    llm = ScriptedLlm()
    llm.reply("Needs and goals: CFO intro.")
    create_conversation_summary(conv, llm=llm)
    assert create_conversation_summary(conv, llm=llm).status == "nothing_new"
    add(db, user_id, conv, "user", "inbound", "Also hiring a VP Sales")
    llm.reply("Needs and goals: CFO intro; hiring a VP Sales.")
    create_conversation_summary(conv, llm=llm)
    content = llm.requests[-1].messages[-1]["content"]
    assert "PREVIOUS SUMMARY:\nNeeds and goals: CFO intro." in content
    assert "Also hiring a VP Sales" in content and "Ben Trenda" not in content
    assert stored(db, conv)["conversation_summary"] == "Needs and goals: CFO intro; hiring a VP Sales."


def test_without_an_llm_the_extractive_summary_is_stored(db):
    _, conv = arrange(db)
    assert composed_llm() is None
    result = create_conversation_summary(conv, llm=composed_llm())
    summary = stored(db, conv)["conversation_summary"]
    assert result.path == "extractive" and summary == result.summary
    assert "looking for a CFO intro" in summary
    assert "Ana Ruiz, CEO, Lumen Labs" in summary
    assert "What's your title?" in summary  # pending: our open question
    assert "Sentiment: positive" in summary
    assert len(summary.split()) <= SUMMARY_MAX_WORDS


def test_an_unavailable_llm_falls_back_to_the_extractive_summary(db):
    _, conv = arrange(db)
    result = create_conversation_summary(conv, llm=ScriptedLlm(LlmUnavailable("down", reason="timeout")))
    assert result.status == "stored" and result.path == "extractive"


def test_summary_reaches_the_agents_context(db):
    user_id, conv = arrange(db)
    llm = ScriptedLlm()
    llm.reply("Needs and goals: CFO intro for the Series B.")
    create_conversation_summary(conv, llm=llm)
    with PostgresUnitOfWork() as uow:
        ctx = load_context(uow, user_id, history_limit=10)
    assert ctx is not None and ctx.summary == "Needs and goals: CFO intro for the Series B."
    assert "CONVERSATION SUMMARY" in profile_block(ctx) and "CFO intro for the Series B." in profile_block(
        ctx
    )
    assert all(m.role != "system" for m in ctx.history)


def test_the_real_adapter_writes_the_summary_through_the_fake(anthropic_fake, db):
    _, conv = arrange(db)
    anthropic_fake.reply("Needs and goals: CFO intro.\nKey facts: Ana Ruiz, CEO, Lumen Labs.")
    result = create_conversation_summary(conv, llm=composed_llm())
    assert result.path == "llm" and stored(db, conv)["conversation_summary"].startswith("Needs and goals")
    assert anthropic_fake.requests[0].body["max_tokens"] == 500
    cost = db.execute("SELECT count(*) AS n FROM agent_actions_log WHERE action_type = 'llm_call'").fetchone()
    assert cost["n"] == 1


def test_unknown_conversation_is_reported_not_raised(db):
    import uuid

    assert create_conversation_summary(uuid.uuid4(), llm=None).status == "no_conversation"


def test_clamp_words_cuts_at_a_sentence_end():
    text = "One two three. " * 100
    clipped = clamp_words(text, 20)
    assert len(clipped.split()) <= 20 and clipped.endswith(".")


def test_messages_sharing_a_timestamp_are_never_skipped(db):
    """Parts of one reply share created_at: the summary resumes after (created_at, id), not created_at."""
    user_id, conv = arrange(db, [])
    ids = sorted(
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, created_at)"
            " SELECT %s, %s, 'bouncer', 'part ' || n, 'outbound', 'delivered', '2026-01-01T00:00:00Z'"
            " FROM generate_series(1, 3) AS n RETURNING id",
            (conv, user_id),
        ).fetchall(),
        key=lambda r: str(r["id"]),
    )
    with PostgresUnitOfWork() as uow:
        first = uow.messages.since_summary(conv, None, limit=1)
        rest = uow.messages.since_summary(conv, ids[0]["id"], limit=10)
    assert [m.id for m in first] == [ids[0]["id"]]
    assert [m.id for m in rest] == [ids[1]["id"], ids[2]["id"]]
