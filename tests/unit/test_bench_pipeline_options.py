"""bench.pipeline's options, checked before any stack starts."""

from __future__ import annotations

import pytest

from bench import pipeline
from shared.domain.constants import RUNAWAY_GUARD_MAX_SMS


def test_more_texts_per_member_than_the_runaway_guard_allows_is_refused_before_any_stack_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An 11th reply within 10 minutes is held by the runaway guard: the run would report it as a
    reply that never came ("no reply within 60 s"), so the option is refused up front."""
    for messages in (str(RUNAWAY_GUARD_MAX_SMS + 1), "0"):
        with pytest.raises(SystemExit) as refused:
            pipeline.main(["--messages", messages])
        assert refused.value.code == 2
        assert f"--messages must be 1 to {RUNAWAY_GUARD_MAX_SMS}" in capsys.readouterr().err
