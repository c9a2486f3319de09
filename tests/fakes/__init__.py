"""Test doubles for the ports in ``shared/adapters``: in-memory stand-ins used by the tests only.

Production code never imports this package (import-linter contract in ``pyproject.toml``).
Wire-level fakes that the local stack also runs (the Twilio stand-in, the loopback Anthropic
Messages API) live in ``tools/fakes``.
"""
