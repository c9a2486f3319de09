"""cap_retry_after: the response hook that bounds the API's retry-after before the SDK waits it out."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shared.adapters.llm import cap_retry_after
from shared.domain.constants import LLM_RETRY_AFTER_MAX

CAP = LLM_RETRY_AFTER_MAX.total_seconds()


def _after(headers: dict[str, str]) -> dict[str, str]:
    after = dict(headers)
    cap_retry_after(SimpleNamespace(headers=after))
    return after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3600"}, {"retry-after": f"{CAP:g}"}),
        ({"retry-after": f"{CAP + 0.5}"}, {"retry-after": f"{CAP:g}"}),
        ({"retry-after-ms": "600000"}, {"retry-after-ms": f"{CAP * 1000:g}"}),
        ({"retry-after": "Fri, 31 Dec 2100 23:59:59 GMT"}, {"retry-after": f"{CAP:g}"}),
        (
            {"retry-after-ms": "90000", "retry-after": "90"},
            {"retry-after-ms": f"{CAP * 1000:g}", "retry-after": f"{CAP:g}"},
        ),
    ],
)
def test_a_wait_over_the_cap_is_cut_to_it(headers: dict[str, str], expected: dict[str, str]) -> None:
    assert _after(headers) == expected


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"retry-after": f"{CAP:g}"},  # at the cap: as asked
        {"retry-after": "2"},
        {"retry-after-ms": "5"},
        {"retry-after": "Mon, 01 Jan 2001 00:00:00 GMT"},  # in the past
        {"retry-after": "soon"},  # unreadable: the SDK falls back to its own backoff
        {"retry-after": "Fri, 31 Dec 2100 23:59:59"},  # a date without a zone: not read
        {"content-type": "application/json"},
    ],
)
def test_a_wait_within_the_cap_or_unreadable_is_left_as_it_is(headers: dict[str, str]) -> None:
    assert _after(headers) == headers
