"""Developer and operator tools, never deployed. One package per purpose:

- ``tools.localstack``: the whole system on one machine (``make run``): the stack runner, the
  Postgres cluster tool, the migration runner, the Pub/Sub emulator tool, the NOTIFY relay,
  ``stack_info`` (``.local/stack.json``) and the phone simulator (``make chat``);
- ``tools.fakes``: providers' HTTP APIs on loopback (Twilio, Anthropic), for the local stack,
  the tests, the evals and the benchmarks;
- ``tools.ops``: the operator CLI (``python -m tools.ops``, ``make ops``);
- ``tools.bundles``: the deploy bundle builder (``python -m tools.bundles``, ``make bundles``).
"""
