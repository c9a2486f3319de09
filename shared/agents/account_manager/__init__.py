"""The Account Manager's decision code: the LLM scoring prompt, its tool and the batch call."""
