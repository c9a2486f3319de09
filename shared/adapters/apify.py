"""Mutual LinkedIn connections through Apify (agents.md §11), behind a small port.

``ApifyMutualConnections`` runs a LinkedIn Actor with the real ``apify-client`` (``actor(...).call``
then the run's default dataset) and reads each item's profile URL and name. Tests and the local stack
point it at ``tools/fakes/apify_api.py`` (``APIFY_API_URL``). Without ``APIFY_TOKEN``,
``build_mutual_connections`` returns None and the Social Butterfly logs that it is disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from shared.config import Settings

if TYPE_CHECKING:  # imported lazily: only agent_social_butterfly's bundle carries apify-client
    from apify_client import ApifyClient

APIFY_WAIT = timedelta(seconds=120)  # how long one call waits for the Actor run to finish


class ResearchUnavailable(RuntimeError):
    """The Actor run failed, timed out or the API refused the call."""


@dataclass(frozen=True)
class MutualConnection:
    name: str
    linkedin_url: str
    headline: str | None = None


class MutualConnections(Protocol):
    def find(
        self, prospect_linkedin_url: str, innovator_linkedin_url: str | None
    ) -> list[MutualConnection]: ...


def _first(item: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


class ApifyMutualConnections:
    def __init__(self, client: ApifyClient, actor_id: str, wait: timedelta = APIFY_WAIT) -> None:
        self._client = client
        self._actor_id = actor_id
        self._wait = wait

    def find(self, prospect_linkedin_url: str, innovator_linkedin_url: str | None) -> list[MutualConnection]:
        run_input = {"profileUrl": prospect_linkedin_url, "viewerProfileUrl": innovator_linkedin_url}
        try:
            run = self._client.actor(self._actor_id).call(
                run_input=run_input, wait_duration=self._wait, logger=None
            )
        except Exception as exc:  # the client's ApifyApiError family and transport errors alike
            raise ResearchUnavailable(f"Apify call failed: {exc}") from exc
        if run is None or (
            str(run.status) != "SUCCEEDED" and getattr(run.status, "value", None) != "SUCCEEDED"
        ):
            raise ResearchUnavailable(f"Apify run did not succeed: {None if run is None else run.status}")
        items = self._client.dataset(run.default_dataset_id).list_items().items
        found: list[MutualConnection] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            url = _first(item, "profileUrl", "linkedinUrl", "url")
            if url is None:
                continue
            found.append(
                MutualConnection(
                    name=_first(item, "fullName", "name") or "",
                    linkedin_url=url,
                    headline=_first(item, "headline", "title"),
                )
            )
        return found


def build_mutual_connections(settings: Settings) -> MutualConnections | None:
    """The adapter from settings; None without ``APIFY_TOKEN`` (the Social Butterfly is then disabled)."""
    if settings.apify_token is None:
        return None
    from apify_client import ApifyClient  # lazy: see above

    kwargs: dict[str, Any] = {"max_retries": 1}
    if settings.apify_api_url:
        kwargs["api_url"] = settings.apify_api_url
    client = ApifyClient(settings.apify_token.get_secret_value(), **kwargs)
    return ApifyMutualConnections(client, settings.apify_mutual_connections_actor)
