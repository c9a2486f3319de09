"""Adapters: Postgres, Pub/Sub, Twilio, Anthropic, email parsing. Each behind a small interface."""
