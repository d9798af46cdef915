"""Calibration estimators on synthetic run folders whose true parameters are known."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.autoscaling.params import ModelParams
from harness.cli import main
from harness.predict.calibrate import (
    calibrate,
    load_params_file,
    merge_params,
    poll_spacing_s,
    render,
    write_params_file,
)
from harness.record import Activity, EndpointSample, LatencyMs, LoadInterval, MetricPoint, RunFolder
from tests.fixtures_runs import ENDPOINT, PROFILE, VARIANT, run_info

T0 = 1_795_290_000.0  # minute-aligned
DIMS = {"EndpointName": ENDPOINT, "VariantName": VARIANT}


def folder_with(tmp_path: Path, profile: dict | None = None, **streams: list) -> Path:
    run = run_info().model_copy(update={"profile": profile or PROFILE, "status": "complete"})
    folder = RunFolder.create(tmp_path, run)
    for stream, records in streams.items():
        for record in records:
            folder.append(stream, record)
    folder.close()
    return folder.path


def sample(ts: float, current: int, desired: int, status: str | None = None) -> EndpointSample:
    return EndpointSample(ts=ts, endpoint_name=ENDPOINT, variant_name=VARIANT,
                          status=status or ("InService" if current == desired else "Updating"),
                          current_instances=current, desired_instances=desired)


def scale_timeline(change_ts: float, delay: float, *, frm: int, to: int, every: float = 10.0,
                   start: float = T0, stop: float = T0 + 900) -> list[EndpointSample]:
    """DescribeEndpoint every ``every`` s (phase-shifted off the change) of one change ``frm`` → ``to``."""
    out, t = [], start + 3.7
    while t < stop:
        if t < change_ts:
            out.append(sample(t, frm, frm))
        elif t < change_ts + delay:
            out.append(sample(t, frm, to))
        else:
            out.append(sample(t, to, to))
        t += every
    return out


def act(start: float, end: float | None, to: int, status: str = "Successful") -> Activity:
    return Activity(activity_id=f"a-{start}", resource_id=f"endpoint/{ENDPOINT}/variant/{VARIANT}",
                    start_ts=start, end_ts=end, status_code=status,
                    description=f"Setting desired instance count to {to}.", cause="alarm AlarmHigh")


def estimates(path: Path) -> dict[str, float]:
    return calibrate(path).params()


# ------------------------------------------------------------------------ provisioning
def test_provisioning_delay_from_samples_alone_is_the_midpoint_estimate(tmp_path: Path) -> None:
    path = folder_with(tmp_path, endpoint=scale_timeline(T0 + 300, 150, frm=1, to=4, every=10))
    cal = calibrate(path)
    est = next(e for e in cal.estimates if e.field == "provisioning_delay_s")
    assert est.value == pytest.approx(150, abs=10) and est.observations == 1
    assert est.uncertainty == pytest.approx(10)  # two half-brackets of 10 s samples
    assert "deprovision_delay_s" in cal.skipped


def test_provisioning_delay_is_exact_when_the_activity_brackets_it(tmp_path: Path) -> None:
    path = folder_with(tmp_path, endpoint=scale_timeline(T0 + 300, 150, frm=1, to=4, every=30),
                       activities=[act(T0 + 300, T0 + 450, 4)])
    assert estimates(path)["provisioning_delay_s"] == 150


def test_an_activity_started_before_the_update_is_not_trusted_as_its_start(tmp_path: Path) -> None:
    # the activity waited 100 s for a previous update: the update itself began at T0+300
    path = folder_with(tmp_path, endpoint=scale_timeline(T0 + 300, 150, frm=1, to=4, every=10),
                       activities=[act(T0 + 200, T0 + 450, 4)])
    assert estimates(path)["provisioning_delay_s"] == pytest.approx(150, abs=5)


def test_deprovision_delay_and_several_changes_take_the_median(tmp_path: Path) -> None:
    samples = (scale_timeline(T0 + 100, 150, frm=1, to=2, stop=T0 + 400)
               + scale_timeline(T0 + 500, 160, frm=2, to=3, start=T0 + 400, stop=T0 + 800)
               + scale_timeline(T0 + 900, 140, frm=3, to=4, start=T0 + 800, stop=T0 + 1200)
               + scale_timeline(T0 + 1300, 40, frm=4, to=1, start=T0 + 1200, stop=T0 + 1500))
    cal = calibrate(folder_with(tmp_path, endpoint=samples))
    by = {e.field: e for e in cal.estimates}
    assert by["provisioning_delay_s"].observations == 3
    assert by["provisioning_delay_s"].value == pytest.approx(150, abs=10)
    assert by["deprovision_delay_s"].value == pytest.approx(40, abs=10)


def test_a_change_superseded_or_never_completed_is_not_counted(tmp_path: Path) -> None:
    samples = [sample(T0, 1, 1), sample(T0 + 10, 1, 3), sample(T0 + 20, 1, 3), sample(T0 + 30, 1, 3)]
    cal = calibrate(folder_with(tmp_path, endpoint=samples))
    assert "provisioning_delay_s" in cal.skipped and "no complete scale-out" in cal.skipped["provisioning_delay_s"]


# --------------------------------------------------------------------------- metric lag
def polled_metrics(lag: float, *, interval: float, phase: float, minutes: int = 15,
                   drift: float = 0.0) -> list[MetricPoint]:
    """What a collector polling every ``interval`` s sees of 1-minute datapoints published ``lag`` s late:
    each datapoint once, at the first poll at or after ``ts + 60 + lag`` (no line for polls seeing nothing)."""
    polls, t = [], T0 + phase
    while t < T0 + minutes * 60 + lag + 2 * interval:
        polls.append(t)
        t += interval + drift
    out = []
    for m in range(minutes):
        ts = T0 + 60 * m
        seen = next(p for p in polls if p >= ts + 60 + lag)
        for metric in ("Invocations", "InvocationsPerInstance"):
            out.append(MetricPoint(ts=ts, namespace="AWS/SageMaker", metric=metric, dims=DIMS, stat="Sum",
                                   period_s=60, value=float(m), observed_ts=seen))
    return out


@pytest.mark.parametrize(("lag", "interval", "phase"), [(90, 10, 3.3), (60, 10, 9.9), (150, 10, 0.4), (45, 5, 2.0)])
def test_metric_lag_within_half_a_poll_interval(tmp_path: Path, lag: float, interval: float, phase: float) -> None:
    profile = {**PROFILE, "collector": {"metrics_interval": interval, "describe_interval": interval}}
    path = folder_with(tmp_path, profile, metrics=polled_metrics(lag, interval=interval, phase=phase))
    cal = calibrate(path)
    est = next(e for e in cal.estimates if e.field == "metric_publish_lag_s")
    assert abs(est.value - lag) <= interval / 2 + 1e-6
    assert est.observations == 30


def test_metric_lag_uses_the_first_observation_not_a_later_revision(tmp_path: Path) -> None:
    points = polled_metrics(90, interval=10, phase=3.3)
    revised = [p.model_copy(update={"value": p.value + 1, "observed_ts": p.observed_ts + 300}) for p in points[:6]]
    profile = {**PROFILE, "collector": {"metrics_interval": 10, "describe_interval": 10}}
    assert estimates(folder_with(tmp_path, profile, metrics=points + revised))["metric_publish_lag_s"] == \
        pytest.approx(90, abs=5)


@pytest.mark.parametrize("phase", [0.5, 20.0, 45.0, 59.5])
def test_coarse_metrics_interval_is_still_within_half_an_interval(tmp_path: Path, phase: float) -> None:
    # the default collector (60 s metrics polls) drifting a little against the minute, as its overhead makes it
    path = folder_with(tmp_path, metrics=polled_metrics(90, interval=60, phase=phase, drift=0.3))
    est = next(e for e in calibrate(path).estimates if e.field == "metric_publish_lag_s")
    assert abs(est.value - 90) <= 30 and est.uncertainty <= 30


def test_poll_spacing_follows_the_describe_beat() -> None:
    assert poll_spacing_s(60, 10) == 60 and poll_spacing_s(10, 10) == 10
    assert poll_spacing_s(25, 10) == 30 and poll_spacing_s(5, 10) == 10


# ------------------------------------------------------------------- per-instance capacity
def test_model_latency_is_the_median_period_average_in_ms(tmp_path: Path) -> None:
    values = [80_000, 79_000, 81_500, 80_200, 160_000]  # µs; one queued period
    points = [MetricPoint(ts=T0 + 60 * i, namespace="AWS/SageMaker", metric="ModelLatency", dims=DIMS,
                          stat="Average", period_s=60, value=v, observed_ts=T0 + 60 * i + 150)
              for i, v in enumerate(values)]
    cal = calibrate(folder_with(tmp_path, metrics=points))
    assert cal.params()["model_latency_ms"] == pytest.approx(80.2)
    assert "async_processing_s" in cal.skipped


def async_points(processing_s: float, backlog_s: float, unit: float) -> list[MetricPoint]:
    dims = DIMS
    out = []
    for i in range(6):
        for metric, value in (("TotalProcessingTime", (processing_s + backlog_s + i) * unit),
                              ("TimeInBacklog", (backlog_s + i) * unit)):
            out.append(MetricPoint(ts=T0 + 60 * i, namespace="AWS/SageMaker", metric=metric, dims=dims,
                                   stat="Average", period_s=60, value=value, observed_ts=T0 + 60 * i + 150))
    return out


@pytest.mark.parametrize(("unit", "factor"), [("Milliseconds", 1e3), ("Microseconds", 1e6)])
def test_async_processing_time_with_the_unit_told_by_completion_times(tmp_path: Path, unit: str,
                                                                      factor: float) -> None:
    load = [LoadInterval(ts=T0 + 60 * i, interval_s=60, offered_rps=1, achieved_rps=1, requests=60, failures=0,
                         users=1, completions=10, completion_s=LatencyMs(p50=30.0 + i)) for i in range(6)]
    cal = calibrate(folder_with(tmp_path, metrics=async_points(12.0, 20.0, factor), load=load))
    est = next(e for e in cal.estimates if e.field == "async_processing_s")
    assert est.value == pytest.approx(12.0) and unit in est.source
    assert "model_latency_ms" in cal.skipped


# ---------------------------------------------------------------------------- the file
def test_params_file_round_trips_and_merges(tmp_path: Path) -> None:
    path = folder_with(tmp_path, endpoint=scale_timeline(T0 + 300, 150, frm=1, to=4),
                       activities=[act(T0 + 300, T0 + 450, 4)])
    cal = calibrate(path)
    out = write_params_file(cal, path, tmp_path / "p.yaml")
    text = out.read_text()
    assert text.startswith("# scalecheck calibrate")
    assert "# provisioning_delay_s: 150 ± 0 from 1 observation(s)" in text
    assert "#   metric_publish_lag_s: no AWS/SageMaker datapoint" in text
    assert load_params_file(out) == {"provisioning_delay_s": 150.0}
    merged = merge_params(ModelParams(metric_publish_lag_s=30), load_params_file(out))
    assert merged.provisioning_delay_s == 150 and merged.metric_publish_lag_s == 30
    assert render(cal, path) == text


def test_load_params_file_rejects_unknown_and_invalid_fields(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"provisioning_delay": 3}))
    with pytest.raises(ValueError, match="bad.yaml"):
        load_params_file(bad)
    bad.write_text(yaml.safe_dump({"provisioning_delay_s": -1}))
    with pytest.raises(ValueError, match="provisioning_delay_s"):
        load_params_file(bad)
    wrapped = tmp_path / "wrapped.yaml"
    wrapped.write_text(yaml.safe_dump({"local": {"speed": 10, "params": {"model_latency_ms": 80}}}))
    assert load_params_file(wrapped) == {"model_latency_ms": 80}


def test_cli_calibrate_writes_the_file_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder_with(tmp_path, endpoint=scale_timeline(T0 + 300, 150, frm=1, to=4),
                       activities=[act(T0 + 300, T0 + 450, 4)])
    assert main(["calibrate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "provisioning_delay_s = 150" in out and "metric_publish_lag_s: skipped" in out
    assert load_params_file(path / "calibrated-params.yaml") == {"provisioning_delay_s": 150.0}
    assert main(["calibrate", str(tmp_path / "nope")]) == 104
    empty = folder_with(tmp_path / "e")
    assert main(["calibrate", str(empty), "-o", str(tmp_path / "x.yaml")]) == 100
    assert load_params_file(tmp_path / "x.yaml") == {}
