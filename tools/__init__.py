"""Developer and operator tools: local Postgres cluster, migrations, local stack, simulators, ops CLI."""
