"""The run folder: streams survive torn writes, upserts apply, names are stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.record import (
    Activity,
    EndpointSample,
    LatencyMs,
    LoadInterval,
    MetricPoint,
    RunFolder,
    RunInfo,
    run_folder_name,
)


def make_run(run_id: str = "20261121T000000Z-p") -> RunInfo:
    return RunInfo(run_id=run_id, profile_name="p", profile={}, mode="local", speed=30, region="us-east-1",
                   endpoint_name="ep", variant_name="AllTraffic", started_ts=100.0)


def test_folder_name_is_utc_stamp_and_safe_profile_name() -> None:
    assert run_folder_name(1795219260.0, "my profile/1") == "20261121T000100Z-my-profile-1"


def test_metrics_are_upserted_and_activities_keep_their_latest_state(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, make_run())
    point = MetricPoint(ts=60, namespace="AWS/SageMaker", metric="Invocations", dims={"EndpointName": "ep"},
                        stat="Sum", period_s=60, value=10)
    folder.append("metrics", point)
    folder.append("metrics", point.model_copy(update={"value": 12}))  # CloudWatch revised the datapoint
    act = Activity(activity_id="a1", resource_id="r", start_ts=50, status_code="InProgress",
                   description="Setting desired instance count to 4.", cause="c")
    folder.append("activities", act)
    folder.append("activities", act.model_copy(update={"status_code": "Successful", "end_ts": 400}))
    folder.close()
    recorded = folder.load()
    assert [p.value for p in recorded.metrics] == [12]
    assert [(a.status_code, a.end_ts) for a in recorded.activities] == [("Successful", 400)]


def test_torn_last_line_is_ignored_and_streams_sorted(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, make_run())
    for ts in (30.0, 10.0):
        folder.append("endpoint", EndpointSample(ts=ts, endpoint_name="ep", variant_name="v", status="InService",
                                                 current_instances=1, desired_instances=1))
    folder.close()
    with (folder.path / "endpoint.jsonl").open("a") as fh:
        fh.write('{"ts": 40.0, "endpoint_na')  # the writer was killed mid-line
    recorded = RunFolder(folder.path).load()
    assert [s.ts for s in recorded.endpoint] == [10.0, 30.0]


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run.json is missing"):
        RunFolder(tmp_path).load()


def test_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    first = RunFolder.create(tmp_path, make_run())
    (first.path / "load.jsonl").write_text("kept\n")
    second = RunFolder.create(tmp_path, make_run())  # same run id, same second: a folder of its own
    assert second.path != first.path and second.read_run().run_id == second.path.name
    assert (first.path / "load.jsonl").read_text() == "kept\n"
    inner = make_run().model_copy(update={"run_id": f"{first.path.name}/scenario"})
    RunFolder.create(tmp_path, inner)
    with pytest.raises(FileExistsError):  # a scenario folder inside its parent must be new
        RunFolder.create(tmp_path, inner)


def test_unknown_stream_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown stream 'lod'"):
        RunFolder.create(tmp_path, make_run()).stream_path("lod")


def test_load_lines_without_histograms_still_load(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, make_run())
    old = ('{"ts": 100.0, "interval_s": 10.0, "stage": "s", "offered_rps": 5.0, "achieved_rps": 4.9, '
           '"requests": 49, "failures": 0, "users": 2, "latency_ms": {"p50": 12.0, "p90": 20.0, "p95": 22.0, '
           '"p99": 30.0, "max": 31.0}, "errors": {}}')
    (folder.path / "load.jsonl").write_text(old + "\n", encoding="utf-8")
    new = LoadInterval(ts=110.0, interval_s=10.0, offered_rps=5.0, achieved_rps=0.1, requests=1, failures=0,
                       users=2, latency_ms=LatencyMs(p50=12.0, p90=12.0, p95=12.0, p99=12.0, max=12.0),
                       latency_hdr="HISTFAAAAB14nJNpmSzMwMDAxQABzFCaEUzOmQBhAAA2PwKF", completion_hdr=None)
    folder.append("load", new)
    folder.close()
    first, second = folder.load().load
    assert first.latency_ms.p99 == 30.0 and first.latency_hdr is None and first.completion_hdr is None
    assert first.completions == 0 and first.completion_s == LatencyMs()
    assert second == new


def test_a_bad_line_costs_that_line_only_and_is_reported(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, make_run())
    sample = EndpointSample(ts=1.0, endpoint_name="ep", variant_name="AllTraffic", status="InService",
                            current_instances=1, desired_instances=1)
    folder.append("endpoint", sample)
    with folder.stream_path("endpoint").open("ab") as fh:
        fh.write(b'{"ts": 2.0, "status": "In\xffService"}\n')  # one non-UTF-8 byte
        fh.write(b"not json at all\n")
    folder.append("endpoint", sample.model_copy(update={"ts": 3.0}))
    with folder.stream_path("endpoint").open("ab") as fh:
        fh.write(b'{"ts": 4.0, "sta')  # torn by a kill: normal, not reported
    folder.close()
    recorded = folder.load()
    assert [s.ts for s in recorded.endpoint] == [1.0, 3.0]
    assert recorded.problems == ["endpoint.jsonl line 2: not UTF-8 (byte 0xff), skipped",
                                 "endpoint.jsonl line 3: not a EndpointSample record, skipped"]


def test_a_folder_from_a_newer_scalecheck_is_refused_clearly(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, make_run())
    data = folder.read_run().model_dump(mode="json")
    (folder.path / "run.json").write_text(json.dumps({**data, "schema_version": 99, "a_new_field": 1}))
    with pytest.raises(ValueError, match=r"newer scalecheck \(run folder schema 99; this one reads up to 1\)"):
        folder.load()
