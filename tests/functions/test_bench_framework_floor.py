"""bench.framework_floor: its three real servers answer what it sends, and its report adds up."""

from __future__ import annotations

import pytest

from bench import framework_floor


def test_a_short_run_serves_every_request_and_prints_each_server_against_the_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Three real servers (gunicorn alone, functions-framework HTTP, functions-framework push):
    a server that answered anything but 200 to its POST, the push body included, stops the run."""
    assert framework_floor.main(["--requests", "20", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for server in framework_floor.SERVERS.values():
        assert server.label in out
    assert "http over the baseline" in out
    assert "push over the baseline" in out


def test_the_report_subtracts_the_baseline_per_connection_mode() -> None:
    lines = framework_floor.report(
        {
            "bare": {"keep_alive": 0.5, "per_call": 0.75},
            "push": {"keep_alive": 1.75, "per_call": 2.5},
        }
    )
    over = next(line for line in lines if "push over the baseline" in line)
    assert over.split()[-2:] == ["1.250", "1.750"]


def test_the_median_of_the_rounds_is_reported() -> None:
    rounds = [
        {"keep_alive": 3.0, "per_call": 1.0},
        {"keep_alive": 1.0, "per_call": 9.0},
        {"keep_alive": 2.0, "per_call": 2.0},
    ]
    assert framework_floor.median_rounds(rounds) == {"keep_alive": 2.0, "per_call": 2.0}


@pytest.mark.parametrize("option", [["--requests", "0"], ["--rounds", "0"]])
def test_a_run_of_nothing_is_refused(option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        framework_floor.main(option)
    assert refused.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_a_server_that_refuses_the_body_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The push server sent a body that is no Pub/Sub push: functions-framework refuses it, and the
    run stops instead of timing an error page."""
    push = framework_floor.SERVERS["push"]
    broken = framework_floor.Server(push.name, push.label, push.argv, push.env, b"[1]")
    monkeypatch.setattr(framework_floor, "SERVERS", {"push": broken})
    with pytest.raises(SystemExit, match="the server answered"):
        framework_floor.main(["--requests", "5", "--rounds", "1"])
