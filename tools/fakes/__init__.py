"""Providers' HTTP APIs on loopback, in their real wire formats, so the real clients run unchanged.

- ``twilio_api``: the Twilio stand-in (Messages API, status callbacks, ``/_sent`` for clients);
- ``anthropic_api``: a loopback Anthropic Messages API with prompt-cache accounting.

The local stack, the tests, the evals and the benchmarks use them. In-process test doubles of
the ports (``FakePublisher``, ``ScriptedLlm``, ...) are test code: they live in ``tests/fakes``.
"""
