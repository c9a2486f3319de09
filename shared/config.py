"""Settings, read lazily from the environment through pydantic-settings.

Nothing here connects to anything or reads the environment at import time: call
``get_settings()`` inside a request. Production secrets have no defaults; asking for a
missing one raises ``MissingSetting`` naming the environment variable.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class MissingSetting(RuntimeError):
    """A setting needed by this code path is not configured."""

    def __init__(self, env_var: str) -> None:
        super().__init__(f"missing configuration: set the {env_var} environment variable")
        self.env_var = env_var


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # Postgres (psycopg 3). In production: Supabase's transaction pooler, prepared statements off.
    database_url: str | None = None
    database_pool_max: int = 4
    database_side_pool_max: int = 2  # short independent writes (the LLM cost ledger)
    database_prepare_threshold: int | None = None  # None disables prepared statements (pooler-safe)

    # Google Cloud
    google_cloud_project: str | None = None
    pubsub_emulator_host: str | None = None
    pubsub_api_endpoint: str | None = None  # regional endpoint in prod (ordering keys need one)
    # Cloud Scheduler calls internal functions with a Google-signed OIDC ID token
    scheduler_oidc_audience: str | None = None  # the audience the scheduler jobs put in the token
    scheduler_service_account_email: str | None = None  # the only identity accepted
    google_oidc_certs_url: str | None = None  # None: Google's published certificates

    # Twilio
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str | None = None  # None: Twilio's own API
    public_base_url: str | None = None  # the URL Twilio signs against, e.g. https://sms.example.com
    twilio_status_callback_path: str = "/twilio_status"  # appended to public_base_url ...
    twilio_status_callback_url: str | None = None  # ... unless the full URL is given here

    # Anthropic
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    # Social Butterfly (agents.md §11): APIFY_TOKEN (below) unset -> disabled with a log line; the URL points
    # tests and the local stack at tools/fakes/apify_api.py; the Actor that lists mutual LinkedIn connections.
    apify_api_url: str | None = None
    apify_mutual_connections_actor: str = "yachtparty/linkedin-mutual-connections"
    # Sonnet 4.6: the newest Sonnet that still accepts temperature and a forced tool (Call 1).
    anthropic_model: str = "claude-sonnet-4-6"
    anthropic_timeout_seconds: float = 30.0  # per attempt; the SDK retries on top
    anthropic_max_retries: int = 2
    llm_overrides: str | None = None  # JSON, see shared/agents/llm_config.py
    # The Solution Saga's web research through Anthropic's web search tool (decisions A11). Turn it
    # off (SOLUTION_WEB_SEARCH=false) where the organisation has not enabled the tool; without an
    # ANTHROPIC_API_KEY it is off anyway.
    solution_web_search: bool = True
    # One reply to a burst: unset = BURST_QUIET_GAP / BURST_MAX_WAIT; 0 turns the wait off (benchmarks)
    burst_quiet_gap_seconds: float | None = None
    # Retention (platform §6.6): unset = ACTION_LOG_RETENTION / MESSAGE_RETENTION (1 year)
    retention_action_log_days: int | None = Field(default=None, ge=1)
    retention_message_days: int | None = Field(default=None, ge=1)

    # Database webhooks (pg_net / local relay) and other shared secrets
    webhook_signing_secret: SecretStr | None = None
    email_webhook_secret: SecretStr | None = None

    # Other providers
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None  # None: Stripe's own API; the local stack's stand-in otherwise
    stripe_success_url: str | None = None  # where Checkout returns after paying (None: a neutral page)
    stripe_cancel_url: str | None = None
    prospect_upload_url: str | None = None  # the public URL of the prospect_upload function
    apify_token: SecretStr | None = None
    verify_email_domain: str | None = None

    # LOG_LEVEL is read by shared/logs.py straight from the environment (loggers exist at import).

    def require(self, name: str) -> Any:
        """Return a configured value, unwrapping secrets; raise MissingSetting if unset."""
        value = getattr(self, name)
        if value is None or value == "":
            raise MissingSetting(name.upper())
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if not secret:
                raise MissingSetting(name.upper())
            return secret
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Forget cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
