"""Profile validation: every problem is reported before any traffic, naming the field and the value."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from harness.profile import ProfileError, load_profile, parse_profile
from harness.profile.durations import format_duration, parse_duration_s

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "profiles" / "realtime-target-tracking.yaml").read_text())


def with_change(path: str, value: object) -> dict:
    """The walkthrough profile with one field set (``a.b[0].c``), or deleted when value is ...."""
    data = copy.deepcopy(BASE)
    node = data
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    key = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return data


def test_every_shipped_profile_is_valid() -> None:
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        load_profile(path)


def test_walkthrough_profile_means_what_the_issue_says() -> None:
    p = load_profile(ROOT / "profiles" / "realtime-target-tracking.yaml")
    assert (p.endpoint.name, p.endpoint.variant) == ("xgboost-abalone", "AllTraffic")
    assert (p.scaling.min_capacity, p.scaling.max_capacity) == (1, 4)
    policy = p.scaling.policies[0]
    assert (policy.metric, policy.target_value) == ("SageMakerVariantInvocationsPerInstance", 10)
    assert (policy.scale_out_cooldown_s, policy.scale_in_cooldown_s) == (60, 300)
    assert p.traffic.duration_s == 250
    assert p.resource_id == "endpoint/xgboost-abalone/variant/AllTraffic"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        pytest.param("expectations[0].within", "12x", "expectations[0].within: '12x' is not a duration",
                     id="bad-duration"),
        pytest.param("expectations[0].to", 0, "expectations[0].to: Input should be greater than or equal to 1",
                     id="scale-out-to-zero"),
        pytest.param("expectations[1].after", "later", "expectations[1].after: String should match pattern",
                     id="bad-anchor"),
        pytest.param("expectations[0].after", "stage:warmup", "no stage named 'warmup'", id="unknown-stage-anchor"),
        pytest.param("expectations[2].max", 1.5, "expectations[2].max: Input should be less than or equal to 1",
                     id="error-rate-above-1"),
        pytest.param("expectations[0].type", "scale_sideways", "expectations[0]: Input tag 'scale_sideways'",
                     id="unknown-expectation"),
        pytest.param("scaling.min_capacity", 5, "min_capacity 5 is above max_capacity 4", id="min-above-max"),
        pytest.param("scaling.policies[0].target_value", -1,
                     "scaling.policies[0].target_value: Input should be greater than 0 (got -1)", id="negative-target"),
        pytest.param("scaling.policies[0].scale_in_cooldown", "five minutes",
                     "scaling.policies[0].scale_in_cooldown: 'five minutes' is not a duration", id="bad-cooldown"),
        pytest.param("scaling.policies", [], "scaling: give at least one policy or scheduled action",
                     id="no-policy"),
        pytest.param("scaling.start_capacity", 7, "start_capacity 7 is outside [min_capacity 1, max_capacity 4]",
                     id="start-capacity-outside"),
        pytest.param("scaling.policies[0].custom_metric", {"name": "ApproximateBacklogSizePerInstance"},
                     "give either metric (predefined) or custom_metric, not both", id="two-metrics"),
        pytest.param("scaling.policies[0]", {"type": "step", "name": "s", "steps": [{"lower": 0, "adjustment": 1}],
                                             "alarm": {"name": "CPUUtilization", "threshold": 80,
                                                       "comparison": "Greater", "period": "90s"}},
                     "scaling.policies[0].alarm.comparison: Input should be", id="step-bad-comparison"),
        pytest.param("scaling.policies[0]", {"type": "step", "name": "s",
                                             "steps": [{"lower": 0, "upper": 10, "adjustment": 1},
                                                       {"lower": 20, "adjustment": 2}],
                                             "alarm": {"name": "CPUUtilization", "threshold": 80,
                                                       "comparison": "GreaterThanThreshold"}},
                     "steps must not overlap or leave gaps", id="step-gap"),
        pytest.param("scaling.scheduled_actions", [{"name": "peak", "min_capacity": 3}],
                     "give exactly one of schedule", id="scheduled-without-time"),
        pytest.param("scaling.scheduled_actions", [{"name": "peak", "at": "load_start+soon", "min_capacity": 3}],
                     "'soon' is not a duration", id="scheduled-bad-offset"),
        pytest.param("expectations[0]", {"type": "backlog_drained", "within": "5m"},
                     "backlog_drained needs an async endpoint", id="backlog-on-realtime"),
        pytest.param("expectations[0]", {"type": "scale_from_zero", "within": "5m"},
                     "scale_from_zero needs scaling.min_capacity 0 (got 1)", id="from-zero-with-min-1"),
        pytest.param("expectations[0]", {"type": "scaled_by", "policy": "nope", "within": "5m"},
                     "expectations[0].policy: no policy named 'nope'", id="scaled-by-unknown-policy"),
        pytest.param("expectations[0]", {"type": "capacity_at", "offset": "5m"},
                     "give instances, min or max", id="capacity-at-without-count"),
        pytest.param("scenarios", [{"name": "without", "without_policies": ["nope"]}],
                     "scenarios[0].without_policies: no policy named 'nope'", id="scenario-unknown-policy"),
        pytest.param("traffic.stages[0].rate_rps", ..., "a hold stage needs rate_rps", id="hold-without-rate"),
        pytest.param("traffic.stages[0].duration", "0s", "traffic.stages[0].duration: Input should be greater than 0",
                     id="zero-duration"),
        pytest.param("traffic.stages[0].kind", "ramp", "a ramp stage needs from_rps and to_rps",
                     id="ramp-without-rates"),
        pytest.param("endpoint.name", "bad_name!", "endpoint.name: String should match pattern",
                     id="bad-endpoint-name"),
        pytest.param("endpoint.initial_instance_count", 9, "initial_instance_count 9 is outside scaling [1, 4]",
                     id="initial-outside-bounds"),
        pytest.param("endpoint.instance_typo", "ml.m5.large", "endpoint.instance_typo: unknown field",
                     id="misspelt-field"),
        pytest.param("endpoint", ..., "endpoint: required field is missing", id="missing-section"),
        pytest.param("local.speed", 0, "local.speed: Input should be greater than 0", id="zero-speed"),
        pytest.param("local.params", {"provisioning_delay_s": -5}, "local.params.provisioning_delay_s",
                     id="negative-model-parameter"),
        pytest.param("local.params", {"provisoning_delay_s": 5}, "local.params.provisoning_delay_s: unknown field",
                     id="misspelt-model-parameter"),
    ],
)
def test_invalid_profiles_name_the_field(path: str, value: object, expected: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(with_change(path, value), "p.yaml")
    message = str(info.value)
    assert message.startswith("p.yaml: invalid profile")
    assert expected in message, message


def test_all_problems_are_reported_at_once() -> None:
    data = with_change("expectations[0].within", "soon")
    data["traffic"]["stages"][0]["rate_rps"] = -2
    with pytest.raises(ProfileError) as info:
        parse_profile(data, "p.yaml")
    assert len(info.value.problems) == 2


def test_duplicate_expectation_names_need_explicit_names() -> None:
    data = copy.deepcopy(BASE)
    data["expectations"].append(copy.deepcopy(data["expectations"][0]))
    with pytest.raises(ProfileError, match="repeated: scale_out to 4"):
        parse_profile(data)
    data["expectations"][-1]["name"] = "second look"
    assert parse_profile(data).expectations[-1].label == "second look"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("name: [unclosed", "not valid YAML", id="broken-yaml"),
        pytest.param("- just\n- a list\n", "a profile is a mapping", id="not-a-mapping"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=problem):
        load_profile(path)


def test_missing_file_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read the file"):
        load_profile(tmp_path / "nope.yaml")


def test_profile_round_trips_through_run_json() -> None:
    """run.json keeps the resolved profile; check/report rebuild it from there."""
    p = parse_profile(BASE)
    again = parse_profile(p.model_dump(mode="json", by_alias=True))
    assert again == p


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("250s", 250.0, id="seconds"),
        pytest.param("5m", 300.0, id="minutes"),
        pytest.param("1h30m", 5400.0, id="compound"),
        pytest.param("1.5m", 90.0, id="fraction"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param(90, 90.0, id="bare-number"),
        pytest.param("90", 90.0, id="numeric-string"),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "5m3", "-5s", True, None, "1h-5m"])
def test_bad_durations_name_the_value(text: object) -> None:
    with pytest.raises(ValueError, match=repr(text).replace("(", r"\(")):
        parse_duration_s(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [pytest.param(12.5, "12.5s", id="short"), pytest.param(65, "1m05s", id="minutes"),
     pytest.param(3600, "1h00m", id="hours")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_the_readme_profile_example_is_valid() -> None:
    """The README's profile block documents every policy and expectation type: it must stay valid."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("```yaml\nendpoint:") + len("```yaml\n"):]
    data = yaml.safe_load(block[: block.index("```")])
    data["name"] = "readme-example"
    profile = parse_profile(data, "README.md")
    assert {p.type for p in profile.scaling.policies} == {"target_tracking", "step"}
    assert profile.scaling.scheduled_actions and profile.scenarios


# --- within: auto, prediction, agrees_with_prediction ---------------------------------------------

def test_within_auto_is_a_window_from_the_prediction() -> None:
    data = copy.deepcopy(BASE)
    data["expectations"][0]["within"] = "auto"
    data["expectations"][1]["within"] = " AUTO "
    data["expectations"].append({"type": "agrees_with_prediction"})
    data["prediction"] = {"tolerance": "90s", "relative_tolerance": 0.5}
    p = parse_profile(data)
    out, in_, _, agree = p.expectations
    assert out.within_s is None and out.auto_window and in_.auto_window
    assert agree.type == "agrees_with_prediction" and agree.tolerance_s == 60 and agree.instances == 0
    assert p.needs_prediction
    assert p.prediction.tolerance_s == 90 and p.prediction.window_s(100) == 100 * 1.5 + 90
    # run.json and profile.yaml (exclude_none) keep `auto`
    for dump in (p.model_dump(mode="json", by_alias=True),
                 p.model_dump(mode="json", by_alias=True, exclude_none=True)):
        assert dump["expectations"][0]["within"] == "auto"
        assert parse_profile(dump) == p


def test_prediction_defaults_and_explicit_windows_need_no_prediction() -> None:
    p = parse_profile(copy.deepcopy(BASE))
    assert p.prediction.tolerance_s == 120 and p.prediction.relative_tolerance == 0.25
    assert p.prediction.window_s(360) == 360 * 1.25 + 120
    assert not p.needs_prediction and not p.expectations[0].auto_window


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        pytest.param("expectations.0.within", None, "expectations[0].within: give a duration like 5m, or auto",
                     id="null-window"),
        pytest.param("expectations.0.within", "autom", "or auto (derived from the prediction)", id="typo"),
        pytest.param("expectations.0.within", "0s", "expectations[0].within: Input should be greater than 0",
                     id="zero-window"),
        pytest.param("prediction.relative_tolerance", -1, "prediction.relative_tolerance", id="negative-relative"),
        pytest.param("prediction.tolerance", "soon", "prediction.tolerance", id="bad-tolerance"),
        pytest.param("prediction.slack", 1, "prediction.slack: unknown field", id="unknown-prediction-field"),
    ],
)
def test_invalid_auto_and_prediction_fields(path: str, value: object, expected: str) -> None:
    data = with_change(path, value) if not path.startswith("prediction.") else copy.deepcopy(BASE)
    if path.startswith("prediction."):
        data["prediction"] = {path.split(".", 1)[1]: value}
    with pytest.raises(ProfileError) as err:
        parse_profile(data)
    assert expected in str(err.value)


def test_invalid_agrees_with_prediction() -> None:
    data = copy.deepcopy(BASE)
    data["expectations"] = [{"type": "agrees_with_prediction", "instances": -1, "tolerance": "-1s"}]
    with pytest.raises(ProfileError) as err:
        parse_profile(data)
    assert "expectations[0].instances" in str(err.value) and "expectations[0].tolerance" in str(err.value)


# --- traffic stage kinds: step, spike, sine, replay; arrivals -------------------------------------------

STAGE_EXAMPLES = """
traffic:
  arrivals: poisson
  seed: 42
  stages:
    - {name: warm, kind: hold, duration: 5m, rate_rps: 2}
    - {name: up, kind: ramp, duration: 10m, from_rps: 2, to_rps: 20}
    - {name: stairs, kind: step, duration: 20m, from_rps: 5, to_rps: 20, steps: 4}
    - {name: burst, kind: spike, duration: 15m, base_rps: 5, peak_rps: 50, spike_at: 5m, spike_duration: 1m}
    - {name: day, kind: sine, duration: 2d, mean_rps: 20, amplitude_rps: 15, period: 1d, phase: 6h}
    - {name: prod, kind: replay, file: traffic/invocations.csv, scale: 0.5}
"""
REPLAY_CSV = "timestamp,value\n2024-05-01T10:00:00Z,600\n2024-05-01T10:01:00Z,1200\n2024-05-01T10:03:00Z,300\n"


def _write_profile(tmp_path: Path, traffic_yaml: str) -> Path:
    data = copy.deepcopy(BASE)
    data["traffic"] = yaml.safe_load(traffic_yaml)["traffic"]
    (tmp_path / "traffic").mkdir(exist_ok=True)
    (tmp_path / "traffic" / "invocations.csv").write_text(REPLAY_CSV)
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_stage_kind_in_a_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the replay file is found next to the profile, not in the working directory
    p = load_profile(_write_profile(tmp_path, STAGE_EXAMPLES))
    t = p.traffic
    assert (t.arrivals, t.seed) == ("poisson", 42)
    assert [s.kind for s in t.stages] == ["hold", "ramp", "step", "spike", "sine", "replay"]
    step, spike, sine, replay = t.stages[2:]
    assert (step.from_rps, step.to_rps, step.steps, step.duration_s) == (5, 20, 4, 1200)
    assert (spike.base_rps, spike.peak_rps, spike.spike_at_s, spike.spike_duration_s) == (5, 50, 300, 60)
    assert (sine.mean_rps, sine.amplitude_rps, sine.period_s, sine.phase_s) == (20, 15, 86400, 21600)
    # the gap at 10:02 is a minute without invocations; duration defaults to the file's 4 minutes
    assert (replay.values, replay.values_period_s, replay.scale, replay.duration_s) == ([600, 1200, 0, 300], 60, 0.5,
                                                                                        240)
    # a dumped profile (run.json, the load generator's copy) needs neither the file nor its folder
    again = parse_profile(p.model_dump(mode="json", by_alias=True), "run.json")
    assert again.traffic == t
    again = parse_profile(p.model_dump(mode="json", by_alias=True, exclude_none=True), "run.json")
    assert again.traffic == t


def test_uniform_arrivals_by_default() -> None:
    assert parse_profile(BASE).traffic.arrivals == "uniform"


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        pytest.param({"kind": "step", "duration": "10m", "from_rps": 1, "to_rps": 5},
                     "traffic.stages[0]: a step stage needs steps", id="step-without-steps"),
        pytest.param({"kind": "step", "duration": "10m", "from_rps": 1, "to_rps": 5, "steps": 1},
                     "traffic.stages[0].steps: Input should be greater than or equal to 2 (got 1)", id="step-one"),
        pytest.param({"kind": "step", "from_rps": 1, "to_rps": 5, "steps": 3},
                     "traffic.stages[0]: a step stage needs duration", id="step-without-duration"),
        pytest.param({"kind": "spike", "duration": "10m", "base_rps": 1, "peak_rps": 5},
                     "a spike stage needs spike_at and spike_duration", id="spike-without-timing"),
        pytest.param({"kind": "spike", "duration": "10m", "base_rps": 1, "peak_rps": 5, "spike_at": "9m",
                      "spike_duration": "2m"},
                     "spike_at 540 s + spike_duration 120 s ends after the stage's duration 600 s",
                     id="spike-past-the-end"),
        pytest.param({"kind": "spike", "duration": "10m", "base_rps": 1, "peak_rps": 5, "spike_at": "soon",
                      "spike_duration": "2m"}, "traffic.stages[0].spike_at: 'soon' is not a duration",
                     id="spike-bad-at"),
        pytest.param({"kind": "sine", "duration": "1d", "mean_rps": 10, "amplitude_rps": 12, "period": "1d"},
                     "amplitude_rps 12 is above mean_rps 10: the rate would go below 0", id="sine-negative"),
        pytest.param({"kind": "sine", "duration": "1d", "mean_rps": 10, "amplitude_rps": 5, "period": "0s"},
                     "traffic.stages[0].period: Input should be greater than 0", id="sine-zero-period"),
        pytest.param({"kind": "sine", "duration": "1d", "mean_rps": 10, "amplitude_rps": 5},
                     "a sine stage needs period", id="sine-without-period"),
        pytest.param({"kind": "sine", "duration": "1d", "mean_rps": 10, "amplitude_rps": 5, "period": "1d",
                      "rate_rps": 3}, "a sine stage does not take rate_rps (it takes mean_rps, amplitude_rps, "
                     "period, phase)", id="field-of-another-kind"),
        pytest.param({"kind": "replay"}, "a replay stage needs file (a CSV of requests per minute) or values",
                     id="replay-without-file"),
        pytest.param({"kind": "replay", "file": "no/such.csv"}, "replay file 'no/such.csv' does not exist",
                     id="replay-missing-file"),
        pytest.param({"kind": "replay", "values": [60, "x"]}, "traffic.stages[0].values[1]: Input should be a valid "
                     "number", id="replay-inline-non-numeric"),
        pytest.param({"kind": "replay", "values": [60, 60], "duration": "3m"},
                     "duration 180 s is longer than the replay data (120 s: 2 periods of 60 s)",
                     id="replay-too-long"),
        pytest.param({"kind": "replay", "values": [60], "scale": 0}, "traffic.stages[0].scale: Input should be "
                     "greater than 0 (got 0)", id="replay-zero-scale"),
        pytest.param({"kind": "wave", "duration": "1m"}, "traffic.stages[0].kind: Input should be 'hold', 'ramp', "
                     "'step', 'spike', 'sine' or 'replay' (got 'wave')", id="unknown-kind"),
    ],
)
def test_invalid_stages_name_the_field_and_value(stage: dict, expected: str) -> None:
    data = with_change("traffic.stages", [{"name": "s", **stage}])
    with pytest.raises(ProfileError) as info:
        parse_profile(data, "p.yaml")
    assert expected in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("csv_text", "expected"),
    [
        pytest.param("", "traffic.stages[5]: replay file '", id="empty"),
        pytest.param("timestamp,value\n2024-05-01T10:00:00Z,10\n2024-05-01T10:01:00Z,many\n",
                     "row 3: value 'many' is not a non-negative number", id="non-numeric-row"),
    ],
)
def test_bad_replay_files_name_the_file_and_row(tmp_path: Path, csv_text: str, expected: str) -> None:
    path = _write_profile(tmp_path, STAGE_EXAMPLES)
    (tmp_path / "traffic" / "invocations.csv").write_text(csv_text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert expected in str(info.value) and "invocations.csv" in str(info.value), str(info.value)


def test_invalid_arrivals() -> None:
    with pytest.raises(ProfileError, match=r"traffic.arrivals: Input should be 'uniform' or 'poisson' \(got 'burst'\)"):
        parse_profile(with_change("traffic.arrivals", "burst"), "p.yaml")
