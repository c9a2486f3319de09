"""The named queries' locking clauses and the migrations' privileges, pinned by behaviour.

These tests kill the mutants ``python -m bench.mutation`` makes (docs/testing.md): a claim that
lost ``SKIP LOCKED`` blocks behind a row another worker holds; one that lost ``FOR UPDATE``
claims that row a second time; a user lock made ``_shared`` no longer excludes; a privilege
statement left out of the migrations lets ``anon`` run the ops functions or locks
``service_role`` out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from psycopg import errors

from shared.adapters.repositories.users import UserLock
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.dispatch_events import dispatch_events
from shared.service_layer.sweep_tasks import sweep_tasks
from tests import sms_support
from tests.backbone_support import add_event, add_task, make_user
from tests.fakes.pubsub import FakePublisher
from tests.lock_support import row_held, uow_that_will_not_wait, without_blocking

pytestmark = pytest.mark.integration

CLAIM_WAIT = 10.0  # seconds a claim may take before it counts as blocked behind the held row


def _claim_without_blocking(call: Callable[[], Any]) -> Any:
    return without_blocking(call, CLAIM_WAIT)


def test_the_dispatcher_skips_an_event_another_dispatcher_holds_and_claims_the_rest(db, database_url):
    user = make_user(db)
    held = add_event(db, "message.received", user, {"n": 1})
    free = add_event(db, "message.received", user, {"n": 2})
    publisher = FakePublisher()
    with row_held(database_url, "SELECT id FROM events WHERE id = %s FOR UPDATE", held):
        _claim_without_blocking(lambda: dispatch_events(publisher))
        published = {m.attributes["event_id"] for _, m in publisher.published}
        assert published == {str(free)}
    row = db.execute("SELECT processed FROM events WHERE id = %s", (held,)).fetchone()
    assert row["processed"] is False


def test_the_sweeper_skips_a_task_another_sweeper_holds_and_claims_the_rest(db, database_url):
    user = make_user(db)
    held = add_task(db, user_id=user)
    free = add_task(db, user_id=user, task_type="re_engagement_check", due_offset="-2 seconds")
    db.execute("UPDATE agent_tasks SET created_by = 'other' WHERE id = %s", (free,))
    publisher = FakePublisher()
    with row_held(database_url, "SELECT id FROM agent_tasks WHERE id = %s FOR UPDATE", held):
        _claim_without_blocking(lambda: sweep_tasks(publisher))
        claimed = {m.attributes.get("task_id") for _, m in publisher.published}
        assert claimed == {str(free)}
    row = db.execute("SELECT status FROM agent_tasks WHERE id = %s", (held,)).fetchone()
    assert row["status"] == "pending"


def test_the_sweeper_leaves_an_expired_lease_another_sweeper_holds(db, database_url):
    user = make_user(db)
    held = add_task(db, user_id=user)
    other = add_task(db, user_id=user, due_offset="-2 seconds")
    db.execute(
        "UPDATE agent_tasks SET status = 'processing', claim_token = gen_random_uuid(), "
        "lease_expires_at = now() - interval '1 minute', scheduled_for = now() + interval '1 hour' "
        "WHERE id = ANY(%s)",
        ([held, other],),
    )
    with row_held(database_url, "SELECT id FROM agent_tasks WHERE id = %s FOR UPDATE", held):
        _claim_without_blocking(lambda: sweep_tasks(FakePublisher()))
        rows = db.execute(
            "SELECT id, status FROM agent_tasks WHERE id = ANY(%s)", ([held, other],)
        ).fetchall()
    statuses = {r["id"]: r["status"] for r in rows}
    assert statuses[held] == "processing", "a lease another sweeper holds was requeued under it"
    assert statuses[other] != "processing", "the free expired lease was not requeued"


def test_a_user_lock_excludes_a_second_holder_until_the_first_commits(db):
    user = make_user(db)
    with PostgresUnitOfWork() as first:
        first.users.lock(user, UserLock.TURN)
        with PostgresUnitOfWork() as second:
            assert second.users.try_lock(user, UserLock.TURN) is False
            assert second.users.try_lock(user, UserLock.ACCOUNT) is True  # another scope is free
            second.rollback()
        first.rollback()
    with PostgresUnitOfWork() as third:
        assert third.users.try_lock(user, UserLock.TURN) is True
        third.rollback()


def _public_functions(db: Any) -> list[str]:
    rows = db.execute(
        "SELECT p.oid::regprocedure::text AS signature FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' "
        "WHERE n.nspname = 'public' AND d.objid IS NULL AND p.prokind IN ('f', 'p')"
    ).fetchall()
    return sorted(r["signature"] for r in rows)


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_client_roles_cannot_execute_any_function_and_service_role_can(db, role):
    """The ops functions (``get_pending_tasks_count`` ...) and every other one of ours."""
    functions = _public_functions(db)
    assert "get_pending_tasks_count()" in functions
    refused = {
        f: db.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE') AS ok", (role, f)).fetchone()["ok"]
        for f in functions
    }
    assert [f for f, ok in refused.items() if ok] == [], f"{role} may execute these"
    allowed = {
        f: db.execute("SELECT has_function_privilege('service_role', %s, 'EXECUTE') AS ok", (f,)).fetchone()[
            "ok"
        ]
        for f in functions
    }
    assert [f for f, ok in allowed.items() if not ok] == []
    db.execute(f"SET ROLE {role}")
    try:
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("SELECT public.get_pending_tasks_count()")
    finally:
        db.execute("RESET ROLE")


def test_client_roles_have_no_sequence_and_service_role_every_table_and_sequence(db):
    sequences = [
        r["name"]
        for r in db.execute(
            "SELECT c.oid::regclass::text AS name FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'S'"
        ).fetchall()
    ]
    tables = [
        r["name"]
        for r in db.execute(
            "SELECT c.oid::regclass::text AS name FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v')"
        ).fetchall()
    ]
    for seq in sequences:
        for role in ("anon", "authenticated"):
            ok = db.execute("SELECT has_sequence_privilege(%s, %s, 'USAGE') AS ok", (role, seq)).fetchone()[
                "ok"
            ]
            assert not ok, f"{role} may use {seq}"
        assert db.execute(
            "SELECT has_sequence_privilege('service_role', %s, 'USAGE') AS ok", (seq,)
        ).fetchone()["ok"]
    for table in tables:
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            ok = db.execute(
                "SELECT has_table_privilege('service_role', %s, %s) AS ok", (table, privilege)
            ).fetchone()["ok"]
            assert ok, f"service_role lacks {privilege} on {table}"
            for role in ("anon", "authenticated"):  # the test cluster grants them what Supabase does
                held = db.execute(
                    "SELECT has_table_privilege(%s, %s, %s) AS ok", (role, table, privilege)
                ).fetchone()["ok"]
                assert not held, f"{role} holds {privilege} on {table}"


def test_objects_created_later_follow_the_default_privileges(db):
    """New sequences and functions, like new tables, are closed to clients and open to service_role."""
    db.execute("CREATE SEQUENCE public.yp_probe_seq")
    db.execute("CREATE FUNCTION public.yp_probe_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    db.execute("CREATE TABLE public.yp_probe_table (id int)")
    for role in ("anon", "authenticated"):
        row = db.execute(
            "SELECT has_sequence_privilege(%(r)s, 'public.yp_probe_seq', 'USAGE') AS seq, "
            "has_function_privilege(%(r)s, 'public.yp_probe_fn()', 'EXECUTE') AS fn, "
            "has_table_privilege(%(r)s, 'public.yp_probe_table', 'SELECT') AS tbl",
            {"r": role},
        ).fetchone()
        assert (row["seq"], row["fn"], row["tbl"]) == (False, False, False), role
    row = db.execute(
        "SELECT has_sequence_privilege('service_role', 'public.yp_probe_seq', 'USAGE') AS seq, "
        "has_function_privilege('service_role', 'public.yp_probe_fn()', 'EXECUTE') AS fn, "
        "has_table_privilege('service_role', 'public.yp_probe_table', 'SELECT') AS tbl"
    ).fetchone()
    assert (row["seq"], row["fn"], row["tbl"]) == (True, True, True)


# The trigger functions that must run with their owner's rights (they write tables or call
# pg_net/NOTIFY that the writing role cannot): pinned, so "SECURITY DEFINER" cannot be lost.
SECURITY_DEFINER = {
    "yp_webhook",
    "yp_webhook_sms_sender",
    "yp_webhook_event_dispatcher",
    "yp_webhook_task_sweeper",
    "yp_webhook_message_orchestrator",
    "check_conversation_summary",
    "handle_phone_number_change",
    "update_user_credit_cache",
}


def test_the_trigger_functions_run_with_their_owners_rights(db):
    rows = db.execute(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.prosecdef"
    ).fetchall()
    definers = {r["proname"] for r in rows}
    assert definers == SECURITY_DEFINER


def test_the_closure_job_skips_a_request_another_worker_holds_and_closes_the_rest(db, database_url):
    from datetime import UTC, datetime

    from shared.service_layer.community import run_closure

    ids = [
        db.execute(
            "INSERT INTO community_requests (requesting_agent_type, question, category, created_at,"
            " expires_at) VALUES ('concierge', %s, 'hr', now() - interval '3 days',"
            " now() - interval '1 hour') RETURNING id",
            (f"question {i}",),
        ).fetchone()["id"]
        for i in range(2)
    ]
    held, free = ids
    with row_held(database_url, "SELECT id FROM community_requests WHERE id = %s FOR UPDATE", held):
        report = _claim_without_blocking(lambda: run_closure(PostgresUnitOfWork, now=datetime.now(UTC)))
        assert report.examined == 1
    statuses = {
        r["id"]: r["status"]
        for r in db.execute("SELECT id, status FROM community_requests WHERE id = ANY(%s)", (ids,)).fetchall()
    }
    assert statuses[free] == "closed"
    assert statuses[held] != "closed", "a request another worker held was closed under it"


def test_a_user_lock_taken_without_waiting_also_excludes_a_second_taker(db):
    user = make_user(db)
    with PostgresUnitOfWork() as first:
        assert first.users.try_lock(user, UserLock.TURN) is True
        with PostgresUnitOfWork() as second:
            assert second.users.try_lock(user, UserLock.TURN) is False
            second.rollback()
        first.rollback()


def test_a_recipient_lock_is_the_users_own_lock_and_excludes_a_second_taker(db, database_url):
    user, conversation = sms_support.make_user(db)
    (message,) = sms_support.add_outbound(user, conversation, ["hello"])
    with PostgresUnitOfWork() as first:
        assert first.users.lock_recipient(message, UserLock.ACCOUNT) == user
        with PostgresUnitOfWork() as second:
            # The same key as users.lock: the sender's lock and a 21610 callback's exclude each other.
            assert second.users.try_lock(user, UserLock.ACCOUNT) is False
            assert second.users.try_lock(user, UserLock.TURN) is True  # another scope is free
            second.rollback()
        with uow_that_will_not_wait(database_url) as third, pytest.raises(errors.LockNotAvailable):
            third.users.lock_recipient(message, UserLock.ACCOUNT)  # a shared lock would let it in
        first.rollback()
    with PostgresUnitOfWork() as fourth:
        assert fourth.users.try_lock(user, UserLock.ACCOUNT) is True
        fourth.rollback()


def test_a_recipient_lock_on_no_message_locks_nothing(db):
    with PostgresUnitOfWork() as uow:
        assert uow.users.lock_recipient(uuid.uuid4(), UserLock.ACCOUNT) is None
        advisory = db.execute(  # this test's own database: parallel workers have their own
            "SELECT count(*) AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
        ).fetchone()
        assert advisory["n"] == 0
        uow.rollback()
