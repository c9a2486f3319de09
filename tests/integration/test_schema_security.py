"""Row-level security and privileges: anon and authenticated reach nothing, service_role all."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors

pytestmark = pytest.mark.integration

CONTRACT_TABLES = {
    "users", "conversations", "messages", "events", "event_dead_letters", "agent_tasks",
    "message_queue", "user_message_budget", "agent_instances", "agent_actions_log", "app_settings",
    "user_priorities", "solution_workflows", "community_requests", "community_responses",
    "credit_events", "innovators", "prospects", "linkedin_research_prospects", "intro_opportunities",
    "connection_requests", "intro_offers", "agent_turns",
}  # fmt: skip


def _public_tables(db) -> set[str]:
    rows = db.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
    ).fetchall()
    return {r["relname"] for r in rows}


def _populate_every_table(db) -> None:
    """At least one row in every contract table, so "zero rows" means RLS hid them."""
    ids = {name: uuid.uuid4() for name in ("u1", "u2", "conv", "msg", "mq", "inst", "req", "prospect")}
    db.execute(
        "INSERT INTO users (id, phone_number, verified) VALUES (%s, '+14155550180', true), "
        "(%s, '+14155550181', true)",
        (ids["u1"], ids["u2"]),
    )
    db.execute(
        "INSERT INTO conversations (id, user_id, phone_number) VALUES (%s, %s, '+14155550180')",
        (ids["conv"], ids["u1"]),
    )
    db.execute(
        "INSERT INTO messages (id, conversation_id, user_id, role, content, direction, status) "
        "VALUES (%s, %s, %s, 'user', 'hello', 'inbound', 'received')",
        (ids["msg"], ids["conv"], ids["u1"]),
    )
    db.execute("INSERT INTO events (event_type, payload) VALUES ('user.message.received', '{}')")
    db.execute(
        "INSERT INTO event_dead_letters (event_id, event_type, payload, error_message) "
        "VALUES (%s, 'x.y', '{}', 'boom')",
        (uuid.uuid4(),),
    )
    db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, user_id) VALUES ('re_engagement_check', "
        "'bouncer', %s)",
        (ids["u1"],),
    )
    db.execute(
        "INSERT INTO message_queue (id, user_id, agent_id, message_data) VALUES (%s, %s, 'concierge', '{}')",
        (ids["mq"], ids["u1"]),
    )
    db.execute("INSERT INTO user_message_budget (user_id, date) VALUES (%s, current_date)", (ids["u1"],))
    db.execute(
        "INSERT INTO agent_instances (id, agent_type, prompt_version) VALUES (%s, 'bouncer', 'bouncer_v1')",
        (ids["inst"],),
    )
    db.execute(
        "INSERT INTO agent_actions_log (agent_type, agent_instance_id, action_type, user_id) "
        "VALUES ('bouncer', %s, 'llm_call', %s)",
        (ids["inst"], ids["u1"]),
    )
    db.execute(
        "INSERT INTO agent_turns (agent_type, agent_instance_id, user_id, call_kind, status) "
        "VALUES ('bouncer', %s, %s, 'decision', 'answered')",
        (ids["inst"], ids["u1"]),
    )
    db.execute("INSERT INTO app_settings (key, value) VALUES ('webhook.sms_sender_url', 'http://x.invalid')")
    db.execute(
        "INSERT INTO user_priorities (user_id, priority_rank, item_type, item_id) "
        "VALUES (%s, 1, 'community_request', %s)",
        (ids["u1"], ids["req"]),
    )
    db.execute(
        "INSERT INTO solution_workflows (user_id, request_description) VALUES (%s, 'find a CRM')",
        (ids["u1"],),
    )
    db.execute(
        "INSERT INTO community_requests (id, requesting_agent_type, requesting_user_id, question) "
        "VALUES (%s, 'concierge', %s, 'Who knows CRMs?')",
        (ids["req"], ids["u1"]),
    )
    db.execute(
        "INSERT INTO community_responses (request_id, user_id, response_text) VALUES (%s, %s, 'Try X')",
        (ids["req"], ids["u2"]),
    )
    db.execute(
        "INSERT INTO credit_events (user_id, event_type, amount, reference_type, reference_id, "
        "idempotency_key, processed) VALUES (%s, 'community_response', 15, 'community_response', "
        "%s, 'k1', true)",
        (ids["u2"], uuid.uuid4()),
    )
    db.execute("INSERT INTO innovators (user_id, company_name) VALUES (%s, 'Acme')", (ids["u2"],))
    db.execute(
        "INSERT INTO prospects (id, innovator_id, email) VALUES (%s, %s, 'p@example.com')",
        (ids["prospect"], ids["u2"]),
    )
    db.execute("INSERT INTO linkedin_research_prospects (name) VALUES ('Pat Doe')")
    db.execute(
        "INSERT INTO intro_opportunities (connector_user_id, innovator_id, prospect_id, first_name, "
        "last_name) "
        "VALUES (%s, %s, %s, 'Pat', 'Doe')",
        (ids["u1"], ids["u2"], ids["prospect"]),
    )
    db.execute(
        "INSERT INTO connection_requests (introducee_user_id, requestor_user_id, requestor_name, "
        "intro_context) "
        "VALUES (%s, %s, 'Acme CEO', 'wants to meet')",
        (ids["u1"], ids["u2"]),
    )
    db.execute(
        "INSERT INTO intro_offers (offering_user_id, introducee_user_id, prospect_name, context_type) "
        "VALUES (%s, %s, 'Jim Roe', 'spontaneous')",
        (ids["u1"], ids["u2"]),
    )


def test_every_contract_table_exists_with_rls_enabled(db):
    tables = _public_tables(db)
    assert tables >= CONTRACT_TABLES, f"missing: {sorted(CONTRACT_TABLES - tables)}"
    rows = db.execute(
        "SELECT c.relname, c.relrowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
    ).fetchall()
    without = [r["relname"] for r in rows if not r["relrowsecurity"]]
    assert without == [], f"RLS disabled on {without}"


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_client_roles_see_nothing_in_any_table(db, role):
    _populate_every_table(db)
    tables = _public_tables(db)
    for table in sorted(CONTRACT_TABLES):
        count = db.execute(f'SELECT count(*) AS n FROM public."{table}"').fetchone()
        assert count is not None and count["n"] > 0, f"fixture left {table} empty"

    relations = sorted(tables | {"user_credit_balances"})
    for relation in relations:
        db.execute(f"SET ROLE {role}")
        try:
            rows = db.execute(f'SELECT * FROM public."{relation}"').fetchall()
        except errors.InsufficientPrivilege:
            rows = []
        finally:
            db.execute("RESET ROLE")
        assert rows == [], f"{role} can read {relation}"


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_client_roles_cannot_write_or_call_functions(db, role):
    db.execute(f"SET ROLE {role}")
    try:
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("INSERT INTO users (phone_number) VALUES ('+14155550190')")
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("SELECT public.yp_webhook('sms_sender', '{}'::jsonb)")
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("UPDATE app_settings SET value = 'x'")
    finally:
        db.execute("RESET ROLE")


def test_service_role_bypasses_rls(db):
    _populate_every_table(db)
    db.execute("SET ROLE service_role")
    try:
        for table in sorted(CONTRACT_TABLES):
            row = db.execute(f'SELECT count(*) AS n FROM public."{table}"').fetchone()
            assert row is not None and row["n"] > 0, table
        db.execute("INSERT INTO users (phone_number) VALUES ('+14155550191')")
    finally:
        db.execute("RESET ROLE")


def test_new_tables_are_locked_down_by_default_privileges(db):
    db.execute("CREATE TABLE public.yp_probe (id int)")
    db.execute("INSERT INTO public.yp_probe VALUES (1)")
    db.execute("SET ROLE anon")
    try:
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("SELECT * FROM public.yp_probe")
    finally:
        db.execute("RESET ROLE")


def test_security_definer_functions_pin_search_path(db):
    rows = db.execute(
        "SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.prosecdef"
    ).fetchall()
    assert rows, "expected SECURITY DEFINER trigger functions"
    for row in rows:
        config = row["proconfig"] or []
        assert any(c.startswith("search_path=") for c in config), row["proname"]


def test_credit_view_runs_with_the_callers_rights(database_url):
    with psycopg.connect(database_url) as conn:
        options = conn.execute(
            "SELECT reloptions FROM pg_class WHERE relname = 'user_credit_balances'"
        ).fetchone()
    assert options is not None and "security_invoker=true" in (options[0] or [])
