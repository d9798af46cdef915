"""Distributed load, the pure parts: arrival thinning across workers, the master's merging of the workers'
interval records, and the CLI's checks of the distribution flags (before anything is contacted)."""

from __future__ import annotations

import pytest

from harness import exitcodes
from harness.cli import main
from harness.load.arrivals import ArrivalSchedule
from harness.load.stats import IntervalMerger, IntervalRecorder, hdr_summary, latency_summary
from harness.profile import Stage
from harness.record import Clock, LoadInterval
from tests.conftest import PROFILE

STAGES = [Stage.model_validate(s) for s in (
    {"name": "ramp", "kind": "ramp", "duration": "40s", "from_rps": 1, "to_rps": 9},
    {"name": "hold", "duration": "30s", "rate_rps": 5},
)]


def arrivals(schedule: ArrivalSchedule) -> list[float]:
    out = []
    while (t := schedule.next()) is not None:
        out.append(t)
    return out


@pytest.mark.parametrize("kind", ["uniform", "poisson"])
@pytest.mark.parametrize("parts", [2, 3])
def test_the_parts_of_a_schedule_partition_the_single_process_schedule(kind: str, parts: int) -> None:
    full = arrivals(ArrivalSchedule(STAGES, kind, seed=11))
    shares = [arrivals(ArrivalSchedule(STAGES, kind, seed=11, part=i, parts=parts)) for i in range(parts)]
    assert sorted(t for share in shares for t in share) == full  # union = the whole schedule, nothing twice
    assert [len(s) for s in shares] == [len(full[i::parts]) for i in range(parts)]  # round robin: even shares
    assert shares[0] == full[0::parts]


def test_a_part_outside_the_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="part"):
        ArrivalSchedule(STAGES, part=2, parts=2)


CLOCK = Clock(wall0_ts=0.0, endpoint0_ts=1000.0, speed=10.0)


def record(start_wall: float, end_wall: float, latencies: list[float], *, errors: int = 0, arrivals: int = 0,
           dropped: int = 0, users: int = 8, stage: str | None = "hold", offered: float | None = 5.0) -> LoadInterval:
    rec = IntervalRecorder(CLOCK, start_wall)
    for i, ms in enumerate(latencies):
        rec.record(ms, "ModelError" if i < errors else None)
    for i in range(arrivals):
        rec.arrival(dropped=i < dropped)
    out = rec.flush(end_wall, offered_rps=offered, users=users, stage=stage)
    assert out is not None
    return out


def test_the_master_merges_one_record_per_interval_once_every_worker_reported_it() -> None:
    merger = IntervalMerger(["a", "b"])
    a0, b0 = record(0.0, 1.0, [10, 20, 30], errors=1), record(0.0, 1.02, [40, 50])
    assert merger.add("a", 0, a0) is None
    assert merger.pop() == []  # b has not reported interval 0 yet
    merger.add("b", 0, b0)
    [merged] = merger.pop()
    assert merged.workers == 2 and merged.requests == 5 and merged.failures == 1
    assert merged.errors == {"ModelError": 1}
    assert merged.users == 8  # every worker records the total the master set
    assert merged.offered_rps == 5.0  # closed loop: the profile's rate, the same on every worker
    assert merged.ts == 1000.0 and merged.interval_s == pytest.approx(10.2)
    # the merged percentiles are those of one recorder that saw every sample
    assert merged.latency_ms.p50 == pytest.approx(latency_summary([10, 20, 30, 40, 50]).p50, rel=1e-3)
    single = record(0.0, 1.0, [10, 20, 30, 40, 50])
    assert merged.latency_ms == single.latency_ms
    assert merger.pop() == [] and merger.next_index == 1


def test_open_loop_offered_is_the_sum_of_the_workers_arrivals() -> None:
    merger = IntervalMerger(["a", "b"], open_loop=True)
    merger.add("a", 0, record(0.0, 1.0, [5] * 4, arrivals=5, dropped=1, offered=None))
    merger.add("b", 0, record(0.0, 1.0, [5] * 5, arrivals=5, offered=None))
    [merged] = merger.pop()
    assert merged.offered_rps * merged.interval_s == pytest.approx(10)
    assert merged.dropped == 1 and merged.requests == 9


def test_a_worker_done_early_does_not_hold_back_the_later_intervals_of_the_others() -> None:
    merger = IntervalMerger(["a", "b"])
    merger.add("a", 0, record(0.0, 1.0, [1]))
    merger.add("b", 0, record(0.0, 1.0, [1]))
    merger.add("a", 1, record(1.0, 1.5, [1, 1]), final=True)  # a's last, partial interval
    merger.add("b", 1, record(1.0, 2.0, [1]))
    merger.add("b", 2, record(2.0, 2.2, [1]), final=False)
    got = merger.pop()  # interval 2 is complete: a is done, b reported it
    assert [(r.requests, r.workers) for r in got] == [(2, 2), (3, 2), (1, 1)]
    assert not merger.finished
    merger.add("b", 3, None, final=True)  # a final marker with nothing more
    assert merger.pop() == [] and merger.finished
    assert sum(r.requests for r in got) == 6


def test_an_overdue_interval_is_written_without_the_silent_worker_and_its_late_record_kept() -> None:
    merger = IntervalMerger(["a", "b"])
    merger.add("a", 0, record(0.0, 1.0, [1, 2]))
    assert merger.pop(overdue=lambda k: False) == []
    [alone] = merger.pop(overdue=lambda k: k == 0)
    assert alone.workers == 1 and alone.requests == 2
    late = merger.add("b", 0, record(0.0, 1.0, [3]))
    assert late is not None and late.requests == 1 and late.workers == 1 and merger.late == 1
    # closed loop: the interval's offered load (the profile's rate) was written with it; the late record adds
    # its requests only, so the offered total of the run is not counted twice (it went over under load)
    assert (alone.offered_rps, late.offered_rps) == (5.0, 0.0)


def test_open_loop_a_late_record_keeps_its_own_share_of_the_offered_arrivals() -> None:
    merger = IntervalMerger(["a", "b"], open_loop=True)
    merger.add("a", 0, record(0.0, 1.0, [1], arrivals=2, offered=None))
    [alone] = merger.pop(overdue=lambda k: k == 0)
    late = merger.add("b", 0, record(0.0, 1.0, [1, 1, 1], arrivals=3, offered=None))
    assert late is not None
    assert (alone.offered_rps + late.offered_rps) * alone.interval_s == pytest.approx(5)


def test_everything_is_written_at_the_end_and_a_lost_worker_is_not_waited_for() -> None:
    merger = IntervalMerger(["a", "b", "c"])
    merger.add("a", 0, record(0.0, 1.0, [1]))
    merger.add("a", 1, record(1.0, 2.0, [1]))
    merger.leave("c")
    assert merger.pop() == []  # b still owes interval 0
    assert [r.requests for r in merger.pop(everything=True)] == [1, 1]
    assert not merger.finished  # a and b never said final
    merger.leave("a")
    merger.leave("b")
    assert merger.finished


def test_merged_latency_matches_the_histograms() -> None:
    a, b = record(0.0, 1.0, [1.5, 2.5, 900]), record(0.0, 1.0, [3.0])
    merger = IntervalMerger(["a", "b"])
    merger.add("a", 0, a)
    merger.add("b", 0, b)
    [merged] = merger.pop()
    assert merged.latency_ms.max == 900 and merged.latency_hdr is not None
    from harness.load.stats import decode_histogram

    assert merged.latency_ms == hdr_summary(decode_histogram(merged.latency_hdr), 1000, 900)


@pytest.mark.parametrize(("flags", "message"), [
    (["--processes", "0"], "--processes 0: must be at least 1"),
    (["--processes", "2", "--worker"], "--processes and --worker cannot be combined"),
    (["--master", "--worker"], "--master and --worker cannot be combined"),
    (["--worker", "--local"], "--worker with --local"),
    (["--worker", "--speed", "10"], "--worker with --speed"),
    (["--master-host", "10.0.0.1"], "--master-host only apply with --worker"),
    (["--processes", "2", "--expect-workers", "2"], "--expect-workers only apply with --master"),
    (["--master", "--expect-workers", "0"], "--expect-workers 0: must be at least 1"),
    (["--master", "--master-bind-port", "70000"], "not a TCP port"),
])
def test_bad_distribution_flags_exit_104_before_anything_runs(flags: list[str], message: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(PROFILE), "--reports", "/nonexistent/never-written", *flags])
    assert code == exitcodes.INVALID_CONFIG
    assert message in capsys.readouterr().err
