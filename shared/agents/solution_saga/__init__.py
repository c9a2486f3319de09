"""The Solution Saga (agents.md §9): vendor research as an event-driven state machine.

``decisions`` holds the model calls (web research with Anthropic's web search tool, and the
three decision points), ``fallback`` the offline brain, ``grounding`` the rule that every vendor
name and URL reaching a member comes from a stored source. The steps themselves, and all state,
are in ``shared.service_layer.solution_saga`` and the ``solution_workflows`` row.
"""
