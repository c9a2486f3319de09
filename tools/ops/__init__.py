"""The operator CLI: ``python -m tools.ops <command>`` or ``make ops ARGS="<command>"``.

``cli.app`` is the typer application (status, dead letters, costs); ``approval`` registers the
approval commands on it.
"""
