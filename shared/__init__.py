"""Yachtparty's shared package: domain rules, use cases, adapters and agents.

Copied into every function's deploy bundle (see tools/bundles/build.py).
"""
