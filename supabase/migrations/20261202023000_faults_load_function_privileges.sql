-- Branch faults-load: functions created later are closed to clients by default, too.
--
-- The core migration's `ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM
-- ... PUBLIC` cannot take away PUBLIC's EXECUTE: a schema-scoped default can only add to the
-- global defaults, and PostgreSQL's global default grants EXECUTE on every new function to
-- PUBLIC (so to anon and authenticated) until yp_secure_public() runs again. A function created
-- by a migration that forgot that call, or between the CREATE and the call, was callable by
-- anon (tests/integration/test_lock_clauses.py found it). The global default closes it.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

SELECT public.yp_secure_public();
