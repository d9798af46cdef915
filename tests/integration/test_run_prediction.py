"""End to end with a prediction: `scalecheck run --local` on the shortened walkthrough with `within: auto`
windows and an `agrees_with_prediction` expectation — the run simulates its profile from its own load
start into prediction/, derives the windows, and the emulator's capacity follows the prediction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.record import RunFolder
from tests.conftest import scalecheck, shortened_profile, write_profile

pytestmark = pytest.mark.integration


def only_run(reports: Path) -> Path:
    runs = [p for p in reports.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def test_auto_windows_and_agreement_with_the_prediction_pass(tmp_path: Path, reports: Path) -> None:
    data = shortened_profile()
    data["expectations"][0]["within"] = "auto"
    data["expectations"][1]["within"] = "auto"
    data["expectations"].append({"type": "agrees_with_prediction", "tolerance": "1m"})
    data["prediction"] = {"tolerance": "2m", "relative_tolerance": 0.25}
    result = scalecheck("run", str(write_profile(tmp_path, data)), "--local", "--reports", str(reports))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "prediction (" in result.stderr  # the run says what it predicted
    lines = result.stdout.splitlines()
    for label in ("scale_out to 4", "scale_in to 1", "error_rate", "agrees_with_prediction"):
        assert any(line.startswith("PASS") and label in line for line in lines), result.stdout
    assert "[auto: predicted" in result.stdout

    folder = RunFolder(only_run(reports))
    run = folder.read_run()
    info = run.prediction
    assert info is not None and info.error is None and info.folder == "prediction"
    # the prediction starts at the run's own load start and is a run folder of its own
    assert info.load_start_ts == run.load_start_ts
    pred = RunFolder(folder.path / "prediction")
    pred_run = pred.read_run()
    assert pred_run.kind == "prediction" and pred_run.load_start_ts == run.load_start_ts
    assert (pred.path / "report.html").is_file() and (pred.path / "verdicts.json").is_file()
    assert [v.status for v in pred.read_verdicts()] == ["PASS"] * 4
    # derived windows: predicted time after the anchor x 1.25 + 2m
    assert set(info.windows) == {"scale_out to 4", "scale_in to 1"}
    for label, within in info.windows.items():
        assert within == pytest.approx(info.predicted_s[label] * 1.25 + 120)
    assert [(c.from_count, c.to_count) for c in info.changes] == [(1, 4), (4, 1)]
    raw = json.loads((folder.path / "run.json").read_text())
    assert raw["prediction"]["windows"] == info.windows

    verdicts = {v.name: v for v in folder.read_verdicts()}
    out = verdicts["scale_out to 4"]
    assert out.details["window"] == "auto"
    assert out.window_end_ts == pytest.approx(out.trigger_ts + info.windows["scale_out to 4"])
    agree = verdicts["agrees_with_prediction"]
    assert [m["status"] for m in agree.details["matches"]] == ["agrees", "agrees"]

    html = (folder.path / "report.html").read_text()
    assert "predicted current" in html and "auto: predicted T+" in html

    # offline: the same verdicts from the folder alone, without simulating again
    (pred.path / "report.html").unlink()
    check = scalecheck("check", str(folder.path))
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("PASS") == 4
    assert not (pred.path / "report.html").exists()
