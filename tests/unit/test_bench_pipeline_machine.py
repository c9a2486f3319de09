"""bench.pipeline reports how busy the machine's cores were during a level and how much the
host stole: with every core busy the figures are CPU-bound; steal means a slower machine."""

import os

from bench.pipeline import (
    Level,
    machine_account,
    machine_share,
    own_cpu_seconds,
    parallel_speed_probe,
    speed_probe,
)


def test_busy_share_counts_everything_but_idle_and_iowait() -> None:
    # user nice system idle iowait irq softirq steal
    before = [100, 0, 50, 1000, 10, 0, 5, 0]
    after = [400, 0, 150, 1100, 20, 0, 25, 10]
    busy, steal = machine_share(before, after)
    # delta: 300 + 100 + 20 + 10 busy (430) of 540 ticks
    assert round(busy, 4) == round(430 / 540, 4)
    assert round(steal, 4) == round(10 / 540, 4)


def test_no_readings_or_no_time_gives_zero_not_an_error() -> None:
    assert machine_share([], [1] * 8) == (0.0, 0.0)
    assert machine_share([1] * 8, [1] * 8) == (0.0, 0.0)


def test_speed_probe_times_a_real_workload() -> None:
    assert 0.0 < speed_probe() < 5.0


def test_parallel_speed_probe_times_every_worker_at_once() -> None:
    assert 0.0 < parallel_speed_probe(2) < 5.0


def test_the_machine_account_splits_its_cpu_per_reply() -> None:
    cores = os.cpu_count() or 1
    level = Level(
        "direct",
        "bouncer",
        20,
        [0.5] * 160,
        [0.05] * 160,
        cpu=160 * 0.050,
        busy=0.9,
        steal=0.1,
        elapsed=10.0,
        client=160 * 0.005,
    )
    assert round(level.machine_per_reply, 6) == round(0.8 * cores * 10.0 / 160, 6)
    assert round(level.client_per_reply, 6) == 0.005
    text = machine_account(level)
    assert f"whole machine {0.8 * cores * 10.0 / 160 * 1000:.1f} ms" in text
    assert "the stack 50.0" in text
    assert "Anthropic stand-in 5.0" in text
    assert f"the rest {(0.8 * cores * 10.0 / 160 - 0.055) * 1000:.1f}" in text


def test_own_cpu_seconds_counts_this_process() -> None:
    before = own_cpu_seconds()
    sum(i * i for i in range(200_000))
    assert own_cpu_seconds() > before
