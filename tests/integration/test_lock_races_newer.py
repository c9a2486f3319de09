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

from shared.adapters.repositories.retention import RETENTION_QUERIES
from shared.adapters.unit_of_work import PostgresUnitOfWork
from tests.backbone_support import make_user
from tests.integration.test_concierge_intros import connection_request, member, offer, opportunity
from tests.integration.test_lock_races import _taken_elsewhere
from tests.integration.test_retention import (
    action,
    dead_letter,
    finished_task,
    mark,
    message,
    processed_event,
)
from tests.lock_support import row_held, uow_that_will_not_wait

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


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


# --- intro_offers.sql: the expiry and reminder batches, and the connector's sibling lock ---------

NOW = datetime(2026, 6, 3, 16, 0, tzinfo=UTC)
PAST = NOW - timedelta(hours=1)


def _two_members(db: Any) -> tuple[Any, Any]:
    return member(db, "+14155550102")[0], member(db, "+14155550103")[0]


def _opportunities(db: Any) -> tuple[str, list[uuid.UUID]]:
    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    connector, _ = _two_members(db)
    return "intro_opportunities", [opportunity(db, connector, innovator, expires_at=PAST) for _ in range(2)]


def _offers(db: Any) -> tuple[str, list[uuid.UUID]]:
    connector, introducee = _two_members(db)
    rows = [offer(db, connector, introducee) for _ in range(2)]
    db.execute("UPDATE intro_offers SET expires_at = %s", (PAST,))
    return "intro_offers", rows


def _requests(db: Any) -> tuple[str, list[uuid.UUID]]:
    introducee, requestor = _two_members(db)
    return "connection_requests", [
        connection_request(db, introducee, requestor, expires_at=PAST) for _ in range(2)
    ]


def _reminders_due(db: Any) -> tuple[str, list[uuid.UUID]]:
    connector, introducee = _two_members(db)
    rows = [offer(db, connector, introducee, status="pending_connector_confirmation") for _ in range(2)]
    db.execute(
        "UPDATE intro_offers SET introducee_accepted_at = %s, expires_at = %s",
        (NOW - 4 * DAY, NOW + 7 * DAY),
    )
    return "intro_offers", rows


def _reminded(db: Any, offer_id: uuid.UUID) -> bool:
    row = db.execute("SELECT reminded_at FROM intro_offers WHERE id = %s", (offer_id,)).fetchone()
    return row["reminded_at"] is not None


def _status(db: Any, table: str, row_id: uuid.UUID) -> str:
    return str(db.execute(f"SELECT status FROM {table} WHERE id = %s", (row_id,)).fetchone()["status"])


Arrange = Callable[[Any], tuple[str, list[uuid.UUID]]]  # two rows the batch may take, and their table
Batch = Callable[[PostgresUnitOfWork], list[Any]]  # the batch; what it took

INTRO_BATCHES: dict[str, tuple[Arrange, Batch]] = {
    "intro_opportunities_expire": (_opportunities, lambda u: u.intro_offers.expire_opportunities(NOW, 100)),
    "intro_offers_expire": (_offers, lambda u: u.intro_offers.expire_offers(NOW, 100)),
    "connection_requests_expire": (_requests, lambda u: u.intro_offers.expire_connection_requests(NOW, 100)),
    "intro_offers_claim_reminders": (
        _reminders_due,
        lambda u: u.intro_offers.claim_offer_reminders(NOW, NOW - 3 * DAY, 100),
    ),
}


@pytest.mark.parametrize("query", sorted(INTRO_BATCHES))
def test_an_intro_batch_skips_a_row_another_transaction_holds_and_takes_the_rest(
    db: Any, database_url: str, query: str
) -> None:
    arrange, batch = INTRO_BATCHES[query]
    table, (held, free) = arrange(db)

    def taken(row_id: uuid.UUID) -> bool:
        if query == "intro_offers_claim_reminders":
            return _reminded(db, row_id)
        return _status(db, table, row_id) == "expired"

    with (
        row_held(database_url, f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", held),
        uow_that_will_not_wait(database_url) as uow,
    ):
        assert len(batch(uow)) == 1
        uow.commit()
    assert not taken(held), f"{query}: the held row was changed under its holder"
    assert taken(free), f"{query}: the free row was left"
    with PostgresUnitOfWork() as later:  # the next run takes the row once it is free
        assert len(batch(later)) == 1
        later.commit()
    assert taken(held)


def test_a_connector_answering_locks_the_opportunity_and_its_siblings_until_the_answer_ends(
    db: Any, database_url: str
) -> None:
    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    a, b = _two_members(db)
    prospect = db.execute(
        "INSERT INTO prospects (email, first_name, last_name, innovator_id)"
        " VALUES ('tony@roku.com', 'Tony', 'Ruiz', %s) RETURNING id",
        (innovator,),
    ).fetchone()["id"]
    mine = opportunity(db, a, innovator, prospect_id=prospect)
    sibling = opportunity(db, b, innovator, prospect_id=prospect)
    unrelated = opportunity(db, b, innovator)
    with PostgresUnitOfWork() as uow:
        uow.intro_offers.lock_prospect(a, mine)
        assert _taken_elsewhere(database_url, "intro_opportunities", mine)
        assert _taken_elsewhere(database_url, "intro_opportunities", sibling)
        assert not _taken_elsewhere(database_url, "intro_opportunities", unrelated)
        uow.rollback()
    assert not _taken_elsewhere(database_url, "intro_opportunities", sibling)


# --- solution_workflows.sql, credit_purchases.sql, prospects.sql: reads that lock ------------------


def test_a_solution_workflow_read_for_a_step_is_locked_until_the_step_ends(
    db: Any, database_url: str
) -> None:
    user = make_user(db)
    with PostgresUnitOfWork() as uow:
        workflow = uow.solution_workflows.add(
            user_id=user,
            conversation_id=None,
            request_description="a CRM for a 20-person sales team",
            category="crm",
            urgency="medium",
            source_event_id=None,
            now=NOW,
        )
        uow.commit()
    assert workflow is not None
    with PostgresUnitOfWork() as uow:  # a timeout and a member's answer serialise on the row
        assert uow.solution_workflows.lock(workflow) is not None
        assert _taken_elsewhere(database_url, "solution_workflows", workflow)
        uow.rollback()
    with PostgresUnitOfWork() as uow:  # the member's open workflows, read to act on them
        assert [w.id for w in uow.solution_workflows.open_for_user(user)] == [workflow]
        assert _taken_elsewhere(database_url, "solution_workflows", workflow)
        uow.rollback()
    assert not _taken_elsewhere(database_url, "solution_workflows", workflow)


def test_a_credit_purchase_read_for_a_stripe_event_is_locked_until_the_event_is_handled(
    db: Any, database_url: str
) -> None:
    user = make_user(db)
    with PostgresUnitOfWork() as uow:
        purchase = uow.credit_purchases.add(
            user,
            session_id="cs_test_locks3",
            credits=100,
            amount_cents=1000,
            currency="usd",
            checkout_url="https://checkout.stripe.com/c/pay/cs_test_locks3",
        )
        uow.commit()
    with PostgresUnitOfWork() as uow:  # a redelivery of the same event waits for this one
        locked = uow.credit_purchases.lock_by_session("cs_test_locks3")
        assert locked is not None and locked.id == purchase.id
        assert _taken_elsewhere(database_url, "credit_purchases", purchase.id)
        uow.rollback()
    assert not _taken_elsewhere(database_url, "credit_purchases", purchase.id)


def test_an_upload_link_read_for_a_request_is_locked_until_the_request_ends(
    db: Any, database_url: str
) -> None:
    innovator = make_user(db)
    token_sha256 = "ab" * 32
    with PostgresUnitOfWork() as uow:
        link = uow.prospect_uploads.create(innovator, token_sha256, "csrf-secret", NOW + DAY)
        uow.commit()
    with PostgresUnitOfWork() as uow:  # a double-submitted confirmation waits for the first
        locked = uow.prospect_uploads.lock_by_hash(token_sha256)
        assert locked is not None and locked.id == link.id
        assert _taken_elsewhere(database_url, "prospect_upload_tokens", link.id)
        uow.rollback()
    assert not _taken_elsewhere(database_url, "prospect_upload_tokens", link.id)
