"""The HTML report opened in a real headless Chromium: it renders, offline, and is not blank.

Needs Debian's ``chromium`` on PATH (``make test`` installs it). Every Chromium call is bounded by a
timeout. Network isolation is checked with Chromium's own net log: no request whose top frame is the
``file://`` report may leave for any other scheme (Chromium's background requests are not the page's).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from harness.report.compare import write_comparison
from harness.report.html import write_report
from tests import report_fixtures as rf
from tests.fixtures_runs import NAMES, scale_out_in_run

pytestmark = pytest.mark.integration

CHROMIUM_TIMEOUT_S = 120
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=15000"]


def chromium_path() -> str:
    """Debian's chromium; a missing browser FAILS the test (inside the test, so it counts as FAILED)."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: the report browser tests need Debian's `chromium` on PATH; "
                    "`make test` installs it (target `browser`), or run `apt-get install -y chromium`.")
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(scale_out_in_run(tmp_path_factory.mktemp("runs"), status={NAMES[1]: "INCONCLUSIVE"}))


@pytest.fixture(scope="module")
def async_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(rf.async_run(tmp_path_factory.mktemp("async"), rf.WITH))


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("scenarios") / "20261121T194000Z-async-scale-from-zero"
    folders = rf.comparison_runs(parent)
    for folder in folders:
        write_report(folder)
    return write_comparison(parent, [f.path for f in folders])


def run_chromium(tmp: Path, page: Path, *args: str) -> tuple[str, list[str]]:
    """Open ``page``; returns (stdout, URLs the page itself requested, per Chromium's net log)."""
    netlog = tmp / "netlog.json"
    cmd = [chromium_path(), *FLAGS, f"--user-data-dir={tmp / 'profile'}", f"--log-net-log={netlog}", *args,
           page.resolve().as_uri()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {CHROMIUM_TIMEOUT_S}s: {' '.join(cmd)}")
    assert proc.returncode == 0, f"chromium exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc.stdout, page_requests(netlog)


def page_requests(netlog: Path) -> list[str]:
    """Non-local URLs requested on behalf of a ``file://`` page (browser housekeeping excluded)."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] != start_job or "url" not in params:
            continue
        if "file://" in params.get("network_isolation_key", "") and not params["url"].startswith(
                ("file:", "data:", "blob:")):
            urls.append(params["url"])
    return urls


def png_pixels(data: bytes) -> np.ndarray:
    """A tiny PNG decoder (8-bit RGB/RGBA, non-interlaced — what Chromium writes): (h, w, channels)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body, pos = data[pos + 8:pos + 8 + length], pos + 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    bpp = 3 if color == 2 else 4
    rows = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, width * bpp + 1)
    out = np.empty((height, width * bpp), np.uint8)
    prev = np.zeros(width * bpp, np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            out[y] = line
        elif kind == 1:  # Sub: running sum per channel, wrapping at 256
            out[y] = line.reshape(width, bpp).cumsum(axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:  # Up
            out[y] = line + prev
        else:
            out[y] = np.frombuffer(_unfilter_left(kind, line.tobytes(), prev.tobytes(), bpp), np.uint8)
        prev = out[y]
    return out.reshape(height, width, bpp)


def _unfilter_left(kind: int, line: bytes, prev: bytes, bpp: int) -> bytearray:
    """Average (3) and Paeth (4) depend on the reconstructed left byte: a loop per channel."""
    cur = bytearray(len(line))
    for ch in range(bpp):
        a = c = 0
        for i in range(ch, len(line), bpp):
            b = prev[i]
            if kind == 3:
                pred = (a + b) >> 1
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            a = cur[i] = (line[i] + pred) & 0xFF
            c = b
    return cur


def test_report_renders_plotly_svg_and_verdicts(report: Path, tmp_path: Path) -> None:
    dom, requests = run_chromium(tmp_path, report, "--dump-dom")
    assert 'class="main-svg"' in dom, "plotly did not render its SVG"
    for name in ("offered req/s", "achieved req/s", "failures/s", "InvocationsPerInstance (Sum)",
                 "current instances", "desired instances", "scaling activity", "p99 (client)",
                 "ModelLatency avg (CloudWatch)"):
        assert f">{name}</text>" in dom, f"legend entry {name!r} not rendered"
    for status, name in (("PASS", NAMES[0]), ("INCONCLUSIVE", NAMES[1]), ("FAIL", NAMES[2])):
        row = f'<tr class="{status}"><td class="status">{status}</td><td><b>{name.replace("<", "&lt;")}'
        assert row in dom, f"verdict row {name!r} missing"
    assert "target 10 (AlarmHigh above)" in dom
    assert 'data-title="Download plot as a PNG"' in dom and 'data-title="Share chart' not in dom
    assert requests == [], f"the report made network requests: {requests}"


def test_report_screenshot_is_not_blank(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    _, requests = run_chromium(tmp_path, report, f"--screenshot={png}", "--window-size=1400,2000")
    assert png.exists() and png.stat().st_size > 10_000
    px = png_pixels(png.read_bytes()).astype(np.uint32)
    assert px.shape[:2] == (2000, 1400)
    packed = (px[..., 0] << 16) | (px[..., 1] << 8) | px[..., 2]
    assert len(np.unique(packed)) > 200, "the screenshot has too few colors: blank or unrendered"
    assert (packed != 0xFFFFFF).mean() > 0.1, "the screenshot is mostly white"
    assert requests == []


def test_net_log_detector_sees_page_requests(tmp_path: Path) -> None:
    """Guards the guard: a page that does load a remote image is caught by :func:`page_requests`."""
    page = tmp_path / "leaky.html"
    page.write_text('<img src="https://example.invalid/pixel.png">', encoding="utf-8")
    _, requests = run_chromium(tmp_path, page, "--dump-dom")
    assert "https://example.invalid/pixel.png" in requests


def _band_segments(dom: str, rgb: str) -> int:
    """Alarm-band segments plotly drew in colour ``rgb`` (the bands are 11 px wide lines)."""
    return len(re.findall(r'<path class="js-line" d="M[^"]+" style="[^"]*stroke: rgb\(' + re.escape(rgb)
                          + r'\);[^"]*stroke-width: 11px', dom))


def test_async_report_renders_backlog_and_alarm_bands(async_report: Path, tmp_path: Path) -> None:
    dom, requests = run_chromium(tmp_path, async_report, "--dump-dom")
    assert 'class="main-svg"' in dom
    for name in ("ApproximateBacklogSize (Average)", "ApproximateBacklogSize (Maximum)",
                 "ApproximateBacklogSizePerInstance (Average)", "completions/s", "completion p50 (endpoint s)",
                 "p99 (client)", "current instances", "OK", "ALARM", "INSUFFICIENT_DATA"):
        assert f">{name}</text>" in dom, f"legend entry {name!r} not rendered"
    assert ">InvocationsPerInstance (Sum)</text>" not in dom
    for text in ("Backlog (CloudWatch, EndpointName)", "Alarm states", "target 5 per instance (AlarmHigh above)",
                 "HasBacklogWithoutCapacity (Average; 1 = backlog and no instance)"):
        assert text in dom, text
    for label in ("AlarmHigh (Invocations-ScalingPolicy)", "AlarmLow (Invocations-ScalingPolicy)", rf.STEP_ALARM):
        assert f'data-unformatted="{label}"' in dom, f"alarm band label {label!r} not rendered"
    # one drawn segment per state change: AlarmHigh INSUFFICIENT_DATA→OK, the step alarm
    # INSUFFICIENT_DATA→ALARM→OK, AlarmLow ALARM
    assert _band_segments(dom, "175, 184, 193") == 2
    assert _band_segments(dom, "207, 34, 46") == 2
    assert _band_segments(dom, "45, 164, 78") == 2
    assert requests == [], f"the report made network requests: {requests}"


def test_comparison_renders_both_scenarios_offline(comparison: Path, tmp_path: Path) -> None:
    dom, requests = run_chromium(tmp_path, comparison, "--dump-dom")
    assert 'class="main-svg"' in dom, "plotly did not render its SVG"
    for scenario in (rf.WITH, rf.WITHOUT):
        assert f">{scenario}</text>" in dom, f"legend entry {scenario!r} not rendered"
        assert f'<tr class="scenario" data-scenario="{scenario}">' in dom
        assert f'<a href="{scenario}/report.html">' in dom
    assert ">first instance 6m12s</text>" in dom and ">first instance 13m52s</text>" in dom
    assert "6m12s after the first request, 7m40s sooner than without-backlog-policy (13m52s)." in dom
    assert requests == [], f"the comparison made network requests: {requests}"
