-- bench.pipeline (bench/pipeline.py): its per-component CPU breakdown.

-- name: bench_backend_client_ports
-- Each client backend's pid and the client's TCP port (the breakdown finds which process holds that port).
SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL;

-- name: bench_turn_paths
-- How the agents' turns since a moment were answered (path 'graceful': the turn failed and the member got the apology).
SELECT path, count(*) AS n FROM agent_turns WHERE created_at >= %(since)s GROUP BY path ORDER BY path;
