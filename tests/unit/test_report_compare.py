"""harness.report.compare: comparison.html of a scenario run, on the two async scale-from-zero scenarios."""

from __future__ import annotations

import html
import re
from pathlib import Path

import plotly.offline
import pytest

from harness.record import RunFolder
from harness.report.compare import (
    ScenarioSummary,
    comparison_figure,
    difference_sentence,
    render_comparison,
    summarize,
    write_comparison,
)
from harness.report.html import write_report
from tests import report_fixtures as rf


@pytest.fixture
def parent(tmp_path: Path) -> Path:
    return tmp_path / "20261121T194000Z-async-scale-from-zero"


@pytest.fixture
def folders(parent: Path) -> list[RunFolder]:
    folders = rf.comparison_runs(parent)
    for f in folders:
        write_report(f)
    return folders


def test_summaries(folders: list[RunFolder]) -> None:
    with_, without = (summarize(f.path) for f in folders)
    assert (with_.name, without.name) == (rf.WITH, rf.WITHOUT)
    assert with_.start_ts == rf.FIRST_REQUEST
    assert with_.first_instance_s == 372 and without.first_instance_s == 832
    assert not with_.already_serving
    assert (with_.peak_instances, with_.time_to_peak_s) == (1, 372)
    assert with_.min_capacity == 0
    # back to 0: 18 min after the later of the load end and the backlog emptying (fixture), from load end
    assert with_.back_to_min_s == 1080
    assert without.back_to_min_s == (rf.FIRST_REQUEST + 832 + 60 + 1080) - rf.ASYNC_LOAD_END


def test_first_request_falls_back_to_load_start(folders: list[RunFolder]) -> None:
    folder = folders[0]
    folder.write_run(folder.read_run().model_copy(update={"first_request_ts": None}))
    assert summarize(folder.path).first_instance_s == 372 + (rf.FIRST_REQUEST - rf.LOAD_START)


def test_difference_sentence(folders: list[RunFolder]) -> None:
    summaries = [summarize(f.path) for f in folders]
    assert difference_sentence(summaries) == (
        "with-backlog-policy got its first instance 6m12s after the first request, "
        "7m40s sooner than without-backlog-policy (13m52s).")
    assert difference_sentence(summaries[::-1]) == difference_sentence(summaries)  # the fastest leads


def _summary(name: str, first: float | None, *, at_start: int | None = None, observed: float = 1500.0
             ) -> ScenarioSummary:
    return ScenarioSummary(name=name, path=Path(name), start_ts=0.0, first_instance_s=first,
                           instances_at_start=at_start, observed_s=observed)


@pytest.mark.parametrize(("summaries", "sentence"), [
    pytest.param([_summary("a", 60.0)], "a got its first instance 1m00s after the first request.", id="one"),
    pytest.param([_summary("a", 90.0), _summary("b", None)],
                 "a got its first instance 1m30s after the first request, while b got no instance within its run "
                 "(25m00s observed).", id="one-never"),
    pytest.param([_summary("a", None), _summary("b", None)], "No scenario got an instance within its run.",
                 id="none"),
    pytest.param([_summary("a", 0.0, at_start=2), _summary("b", 30.0), _summary("c", 0.4)],
                 "a already had 2 instances at the first request, 30s sooner than b (30s); at the same time as c.",
                 id="already-serving-and-ties"),
    pytest.param([], "No scenario has a readable run with a first request.", id="empty"),
])
def test_difference_sentence_cases(summaries: list[ScenarioSummary], sentence: str) -> None:
    assert difference_sentence(summaries) == sentence


def test_comparison_figure_overlays_the_instance_curves(folders: list[RunFolder]) -> None:
    fig = comparison_figure([summarize(f.path) for f in folders])
    names = [t.name for t in fig.data]
    assert names == [rf.WITH, f"first instance: {rf.WITH}", rf.WITHOUT, f"first instance: {rf.WITHOUT}"]
    curve = next(t for t in fig.data if t.name == rf.WITH)
    assert curve.x[0] == pytest.approx((rf.T0 - rf.FIRST_REQUEST) / 60) and curve.line.shape == "hv"
    star = next(t for t in fig.data if t.name == f"first instance: {rf.WITHOUT}")
    assert list(star.x) == [pytest.approx(832 / 60)] and list(star.text) == ["first instance 13m52s"]
    lines = {s.name: s.x0 for s in fig.layout.shapes}
    assert lines[f"first-instance:{rf.WITH}"] == pytest.approx(6.2)
    assert lines[f"load-end:{rf.WITH}"] == pytest.approx((rf.ASYNC_LOAD_END - rf.FIRST_REQUEST) / 60)


def test_write_comparison_page(parent: Path, folders: list[RunFolder]) -> None:
    path = write_comparison(parent, [f.path for f in folders])
    assert path == parent / "comparison.html"
    page = path.read_text(encoding="utf-8")
    assert "<title>scalecheck comparison: async-scale-from-zero</title>" in page
    assert ('<p class="lead" id="difference">with-backlog-policy got its first instance 6m12s after the first '
            "request, 7m40s sooner than without-backlog-policy (13m52s).</p>") in page
    rows = re.findall(r'<tr class="scenario" data-scenario="([^"]+)">(.*?)</tr>', page, re.S)
    assert [name for name, _ in rows] == [rf.WITH, rf.WITHOUT]
    with_row, without_row = (row for _, row in rows)
    assert '<td class="num first-instance">6m12s</td>' in with_row
    assert '<td class="num first-instance">13m52s</td>' in without_row
    assert '<span class="chip FAIL" title="0 instances after the backlog emptied">FAIL scale_to_zero</span>' \
        in without_row
    assert '<a href="with-backlog-policy/report.html">with-backlog-policy/report.html</a>' in with_row
    assert "18m00s (to 0)" in with_row


def test_comparison_page_is_self_contained(parent: Path, folders: list[RunFolder]) -> None:
    page = write_comparison(parent, [f.path for f in folders]).read_text(encoding="utf-8")
    plotly_js = plotly.offline.get_plotlyjs()
    assert page.count(plotly_js) == 1
    rest = page.replace(plotly_js, "")
    assert not re.search(r"<script[^>]*\bsrc\s*=", rest, re.I)
    assert not re.search(r"<link\b|@import|url\(|<img\b|<iframe\b", rest, re.I)
    assert "http://" not in rest and "https://" not in rest
    assert "connect-src 'none'" in html.unescape(rest)


def test_links_are_relative_to_the_parent(tmp_path: Path) -> None:
    elsewhere = tmp_path / "runs" / "a b"
    folder = rf.async_run(elsewhere, rf.WITH)
    page = render_comparison(tmp_path / "parent", [folder.path])
    assert '<a href="../runs/a%20b/with-backlog-policy/report.html">' in page
    assert "(not written yet)" in page


def test_unreadable_scenario_folder_is_a_row_not_a_crash(parent: Path, folders: list[RunFolder]) -> None:
    broken = parent / "broken"
    broken.mkdir()
    page = write_comparison(parent, [folders[0].path, broken]).read_text(encoding="utf-8")
    assert "cannot read the run folder" in page and "broken" in page
    assert "with-backlog-policy got its first instance 6m12s after the first request." in page


def test_comparison_escapes_text(parent: Path, folders: list[RunFolder]) -> None:
    folder = folders[1]
    folder.write_run(folder.read_run().model_copy(update={"status": "aborted",
                                                          "status_reason": "<script>alert(1)</script>"}))
    page = write_comparison(parent, [f.path for f in folders]).read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "run aborted: &lt;script&gt;alert(1)&lt;/script&gt;" in page
