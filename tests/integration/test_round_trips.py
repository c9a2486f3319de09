"""Statements a reply no longer repeats, and that what they wrote is unchanged.

- The Bouncer reads the user's row once a turn, and again only after the turn wrote it
  (``UserRepository.writes``): a turn whose tools save nothing read it three times before.
- A turn's and an LLM call's action row, whose ``agent_instances`` row the caller knows, is
  written without the instance lookup (``agent_actions_insert_for_instance``); the row is the one
  ``agent_actions_insert`` writes.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shared import config
from shared.adapters.repositories.actions import ActionRecord
from shared.adapters.repositories.users import ProfileFields, UserRepository
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.bouncer import run_bouncer_turn
from tests.bouncer_support import DOMAIN, new_user, replies, say
from tests.deps_support import composed_llm, make_deps

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _domain(monkeypatch: Any) -> Any:
    monkeypatch.setenv("VERIFY_EMAIL_DOMAIN", DOMAIN)
    config.reset_settings_cache()


@pytest.fixture
def user_reads(monkeypatch: Any) -> list[uuid.UUID]:
    """Every ``UserRepository.get`` of the test, in order."""
    reads: list[uuid.UUID] = []
    real = UserRepository.get

    def counted(self: UserRepository, user_id: uuid.UUID) -> Any:
        reads.append(user_id)
        return real(self, user_id)

    monkeypatch.setattr(UserRepository, "get", counted)
    return reads


def test_a_bouncer_turn_that_writes_nothing_reads_the_user_once(db, anthropic_fake, user_reads):
    user_id, conv = new_user(db, first_name="Sarah", last_name="Chen")
    anthropic_fake.tool_use("make_decision", {"next_scenario": "ask_for_company"})
    anthropic_fake.reply("Where do you work, Sarah?")
    say(db, user_id, conv, "hello again")
    result = run_bouncer_turn(user_id, make_deps(llm=composed_llm()))
    assert result.path == "llm"
    assert replies(db, user_id) == ["Where do you work, Sarah?"]
    assert user_reads == [user_id]  # three reads before: the context, the scenario, after the turn


def test_a_bouncer_turn_reads_the_user_again_after_a_tool_saved_a_field(db, anthropic_fake, user_reads):
    user_id, conv = new_user(db)
    anthropic_fake.tool_use(
        "make_decision",
        {"next_scenario": "ask_for_name", "user_info": {"first_name": "Sarah", "last_name": "Chen"}},
    )
    anthropic_fake.reply("Thanks Sarah. Where do you work?")
    say(db, user_id, conv, "I'm Sarah Chen")
    run_bouncer_turn(user_id, make_deps(llm=composed_llm()))
    assert len(user_reads) == 2  # the context, then once after collect_user_info wrote the name
    # The reply was composed from the row as saved: the name is known, and the rules ask for
    # the referrer next (from the context's copy they would have asked for the name again).
    guidance = str(anthropic_fake.requests[1].body["system"])
    assert '"user_first_name": "Sarah"' in guidance
    assert "SCENARIO: ask_for_referrer" in guidance


def test_the_repository_counts_its_writes_not_its_reads(database_url):
    with PostgresUnitOfWork() as uow:
        user = uow.users.upsert_by_phone("+14155550188", timezone=None)
        assert uow.users.writes == 1
        uow.users.get(user.id)
        uow.users.send_profile(user.id, uow_now(uow))
        assert uow.users.writes == 1
        uow.users.update_profile(user.id, ProfileFields(first_name="Ada"))
        assert uow.users.writes == 2


def uow_now(uow: PostgresUnitOfWork) -> Any:
    return uow.sql.conn.execute("SELECT now() AS now").fetchone()["now"]  # type: ignore[index]


def _writing_queries() -> set[str]:
    text = (ROOT / "shared/adapters/sql/users.sql").read_text()
    names: set[str] = set()
    for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
        name, _, body = block.partition("\n")
        sql = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("--"))
        if re.search(r"\b(INSERT|UPDATE|DELETE)\b", sql, flags=re.I):
            names.add(name.strip())
    return names


def test_every_query_that_writes_users_goes_through_the_counted_write():
    """A write that bypassed ``_write`` would leave a reader's copy looking current."""
    source = (ROOT / "shared/adapters/repositories/users.py").read_text()
    writing = _writing_queries()
    assert {"users_update_profile", "users_upsert_by_phone", "users_store_goal"} <= writing
    for name in writing:
        assert re.search(rf'self\._write\(\s*"{name}"', source), f"{name} is not written through _write"
        assert not re.search(rf'self\._sql\.\w+\(\s*"{name}"', source), f"{name} bypasses _write"


def _instance(db: Any, version: str) -> uuid.UUID:
    row = db.execute(
        "INSERT INTO agent_instances (agent_type, prompt_version) VALUES ('bouncer', %s) RETURNING id",
        [version],
    ).fetchone()
    return row["id"]  # type: ignore[no-any-return]


COLUMNS = (
    "agent_type, agent_instance_id, action_type, user_id, context_id, context_type, model, input_tokens,"
    " output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, latency_ms, input_data,"
    " output_data, error, prompt_version"
)


def test_an_action_row_with_its_instance_is_the_row_the_lookup_writes(db):
    user_id, conv = new_user(db)
    instance = _instance(db, "bouncer-v9")
    record = ActionRecord(
        agent_type="bouncer",
        action_type="llm_call",
        user_id=user_id,
        context_id=conv,
        context_type="conversation",
        input_data={"messages": [{"role": "user", "content": "hi"}]},
        output_data={"text": "hello"},
        latency_ms=12,
        prompt_version="bouncer-v9",
        model="claude-sonnet-4-6",
        input_tokens=10,
        output_tokens=3,
        cache_read_tokens=0,
        cache_write_tokens=5,
        cost_usd=Decimal("0.001234"),
    )
    with PostgresUnitOfWork() as uow:
        looked_up = uow.actions.record(record)
        known = uow.actions.record(ActionRecord(**{**record.__dict__, "agent_instance_id": instance}))
        uow.commit()
    rows = {
        r["id"]: {k: v for k, v in r.items() if k != "id"}
        for r in db.execute(
            f"SELECT id, {COLUMNS} FROM agent_actions_log WHERE id = ANY(%s)", [[looked_up, known]]
        ).fetchall()
    }
    assert rows[looked_up] == rows[known]
    assert rows[known]["agent_instance_id"] == instance and rows[known]["user_id"] == user_id


def test_an_action_row_with_its_instance_takes_its_version_and_drops_an_unknown_user(db):
    instance = _instance(db, "bouncer-v10")
    with PostgresUnitOfWork() as uow:
        row_id = uow.actions.record(
            ActionRecord(
                agent_type="bouncer", action_type="turn", user_id=uuid.uuid4(), agent_instance_id=instance
            )
        )
        uow.commit()
    row = db.execute("SELECT * FROM agent_actions_log WHERE id = %s", [row_id]).fetchone()
    assert row["prompt_version"] == "bouncer-v10"
    assert row["user_id"] is None and row["agent_instance_id"] == instance
