"""What the fuzz suites share: how many examples each test runs, and a tally of the answers.

In CI each fuzz test runs the small number of examples it names (``fuzz_settings(60)``).
``python -m bench.fuzz`` runs the same tests longer, outside CI time: ``FUZZ_EXAMPLES`` sets
every fuzz test's ``max_examples``, and ``FUZZ_TALLY`` names a file to which every answer is
appended as one JSON line (the function and the status), so the job can say how many requests
it sent to each entry point and how many were answered with a 5xx.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings


def fuzz_settings(ci_examples: int) -> settings:
    """Hypothesis settings for a fuzz test: ``ci_examples`` examples, or ``FUZZ_EXAMPLES``."""
    examples = int(os.environ.get("FUZZ_EXAMPLES") or ci_examples)
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def no_server_error(function: str, response: Any, what: Any) -> None:
    """Tally the answer (under ``bench.fuzz``) and fail on any 5xx, showing the input."""
    tally = os.environ.get("FUZZ_TALLY")
    if tally:
        with open(tally, "a", encoding="utf-8") as out:
            out.write(json.dumps({"function": function, "status": response.status_code}) + "\n")
    assert response.status_code < 500, (
        function,
        response.status_code,
        response.get_data(as_text=True)[:300],
        repr(what)[:500],
    )
