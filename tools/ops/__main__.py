"""``python -m tools.ops``: the operator CLI's entry point."""

from tools.ops.cli import main

main()
