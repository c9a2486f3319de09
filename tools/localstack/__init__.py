"""The local stack: the whole system on one machine (``make run``, ``python -m tools.localstack``).

- ``runner``: starts and stops everything, writes ``<state-dir>/stack.json``;
- ``stack_info``: ``StackInfo``, how clients attach to a running stack through ``stack.json``;
- ``phone``: the phone simulator (``make chat``, ``python -m tools.localstack.phone``);
- ``pgcluster``, ``migrate``, ``pubsub_emulator``, ``relay``: PostgreSQL, migrations, the
  Pub/Sub emulator and the NOTIFY relay that stands in for pg_net.
"""
