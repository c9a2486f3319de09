"""The conversational template: how a point-of-contact agent answers its member (issue 8 §2).

- ``protocol``: what an agent supplies (``Agent``), what one turn knows (``Turn``), tools;
- ``tools``: the ``ToolRunner`` (validation, savepoints, timeouts);
- ``turn``: ``run_turn``, the LLM path and the fallback path;
- ``records``: the ``agent_turns`` row, the answered-by marker and the audit row;
- ``instances``: the ``agent_instances`` row of each agent's prompt version.
"""
