"""Race tests for the locking clauses of the newer query files (issue #15 §7, docs/testing.md
"Third pass"): retention.sql, intro_offers.sql, solution_workflows.sql, credit_purchases.sql and
prospects.sql.

Two shapes, both without wall-clock asserts:

- a batch that claims with ``FOR UPDATE SKIP LOCKED`` runs in a session with a ``lock_timeout``
  (``tests/lock_support.uow_that_will_not_wait``) while another transaction holds one of its
  rows: it must return, take the free row and leave the held one. Without ``SKIP LOCKED`` its
  ``SELECT ... FOR UPDATE`` waits; without the whole clause its ``DELETE`` / ``UPDATE`` waits on
  the held row; either way the timeout turns the wait into ``LockNotAvailable``;
- a read that must lock (``SELECT ... FOR UPDATE``): while the caller's transaction is open,
  another session's ``FOR UPDATE NOWAIT`` on the row is refused; without the clause it is not.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg import errors

from shared.adapters.postgres import connect
from shared.adapters.repositories.retention import RETENTION_QUERIES
from shared.adapters.unit_of_work import PostgresUnitOfWork
from tests.backbone_support import make_user
from tests.integration.test_concierge_intros import connection_request, member, offer, opportunity
from tests.integration.test_retention import action, dead_letter, finished_task, mark, message, processed_event
from tests.lock_support import row_held, uow_that_will_not_wait

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


def _taken_elsewhere(database_url: str, table: str, row_id: uuid.UUID) -> bool:
    """Whether another transaction holds ``row_id`` (a ``FOR UPDATE NOWAIT`` from here is refused)."""
    with connect(database_url) as conn:
        try:
            conn.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE NOWAIT", (row_id,))
        except errors.LockNotAvailable:
            return True
        finally:
            conn.rollback()
        return False


def _present(db: Any, table: str, key: str, row_id: uuid.UUID) -> bool:
    row = db.execute(f"SELECT count(*) AS n FROM {table} WHERE {key} = %s::text::{_cast(key)}", (row_id,))
    return int(row.fetchone()["n"]) == 1


def _cast(key: str) -> str:
    return "text" if key == "delivery_key" else "uuid"


# --- retention.sql: the six archive-then-delete batches ------------------------------------------


def _delivery_mark(db: Any, _user: uuid.UUID) -> uuid.UUID:
    key = uuid.uuid4()
    mark(db, str(key))
    return key


def _replayed_letter(db: Any, user: uuid.UUID) -> uuid.UUID:
    return dead_letter(db, processed_event(db, user), replayed=True)


# rule -> (its table, the column a row is named by, how to write one row the rule may remove)
RETENTION_ROWS: dict[str, tuple[str, str, Callable[[Any, uuid.UUID], uuid.UUID]]] = {
    "events": ("events", "id", processed_event),
    "agent_tasks": ("agent_tasks", "id", lambda db, _user: finished_task(db, "completed")),
    "event_dead_letters": ("event_dead_letters", "id", _replayed_letter),
    "agent_actions_log": ("agent_actions_log", "id", action),
    "processed_deliveries": ("processed_deliveries", "delivery_key", _delivery_mark),
    "messages": ("messages", "id", message),
}


def test_every_retention_rule_has_a_race_case() -> None:
    assert sorted(RETENTION_ROWS) == sorted(RETENTION_QUERIES)


@pytest.mark.parametrize("rule", sorted(RETENTION_QUERIES))
def test_a_retention_batch_skips_a_row_another_transaction_holds_and_removes_the_rest(
    db: Any, database_url: str, rule: str
) -> None:
    table, key, write = RETENTION_ROWS[rule]
    user = make_user(db)
    held, free = write(db, user), write(db, user)
    cutoff = datetime.now(UTC) + DAY  # both rows are old enough
    hold = f"SELECT 1 FROM {table} WHERE {key} = %s::text::{_cast(key)} FOR UPDATE"
    with row_held(database_url, hold, held), uow_that_will_not_wait(database_url) as uow:
        removed = uow.retention.remove_batch(rule, cutoff=cutoff, batch=100)
        uow.commit()
    assert removed >= 1
    assert _present(db, table, key, held), f"{rule}: the held row was removed under its holder"
    assert not _present(db, table, key, free), f"{rule}: the free row stayed"
    with PostgresUnitOfWork() as later:  # the next run takes the row once it is free
        assert later.retention.remove_batch(rule, cutoff=cutoff, batch=100) >= 1
        later.commit()
    assert not _present(db, table, key, held)
