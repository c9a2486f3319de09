"""bench.pipeline reports how busy the machine's cores were during a level and how much the
host stole: with every core busy the figures are CPU-bound; steal means a slower machine."""

from bench.pipeline import machine_share, parallel_speed_probe, speed_probe


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
