"""Agent of Humans: routes community questions to human experts (agents.md §7, §8).

Matching is deterministic (``shared.domain.community``); the one LLM call scores an answer's
usefulness (``scoring``). The use cases live in ``shared.service_layer.community``.
"""
