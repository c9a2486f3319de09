"""Prompts, tool schemas and turn logic per agent, built on the LLM adapter."""
