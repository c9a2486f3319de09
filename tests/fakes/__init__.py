"""Test doubles: in-memory stand-ins for the project's ports."""
