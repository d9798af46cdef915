"""JUnit XML of a run's verdicts, for CI systems (Jenkins, GitLab, GitHub test reporters, Azure).

One ``<testsuite>`` per run, one ``<testcase>`` per verdict (``classname`` = ``scalecheck.<profile>``,
``name`` = the verdict name), in verdict order:

* ``PASS`` — an empty testcase.
* ``FAIL`` — ``<failure type="FAIL" message="<summary>">`` with the evidence as text.
* ``INCONCLUSIVE`` — ``<error type="inconclusive" message="INCONCLUSIVE: <summary>">``. Not
  ``<skipped>``: every CI system listed shows a skipped test as neutral (often green), and an
  undecided expectation must never look like a pass (docs/architecture.md "Checks"). ``<error>`` is counted in
  ``errors=`` and turns the build red/unstable everywhere.

When the run did not complete (``status`` ``aborted``, ``stopped`` early, or still ``running``) one more
testcase, ``name="run"``, carries ``<error type="aborted">`` (``type="stopped"``, or ``type="incomplete"``)
with the reason, so that an
interrupted run with few or no verdicts cannot show up as green either. Each testcase has
``<properties>`` with its evidence timestamps (UTC epoch seconds of endpoint time) and the user's
source text; the suite's ``<properties>`` name the run (id, kind, mode, speed, endpoint, region,
status). ``time`` is 0 for testcases (a verdict has no duration of its own) and the run's wall-clock
duration for the suite. Text that XML 1.0 cannot carry (control characters) is dropped.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from harness.record import RunFolder, RunInfo, Verdict

_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _evidence(v: Verdict) -> str:
    lines = [f"{v.status}: {v.summary}"]
    if v.source:
        lines.append(f"expectation: {v.source}")
    for label, ts in (("trigger", v.trigger_ts), ("observed", v.observed_ts),
                      ("window start", v.window_start_ts), ("window end", v.window_end_ts)):
        if ts is not None:
            stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            rel = f" (trigger {ts - v.trigger_ts:+.0f}s)" if v.trigger_ts is not None else ""
            lines.append(f"{label}: {stamp}{rel}")
    lines += [f"{k}: {val}" for k, val in v.details.items()]
    return _clean("\n".join(lines))


def _properties(parent: ET.Element, props: dict[str, object]) -> None:
    el = ET.SubElement(parent, "properties")
    for name, value in props.items():
        if value is not None and value != "":
            ET.SubElement(el, "property", name=name, value=_clean(str(value)))


def _testcase(suite: ET.Element, classname: str, v: Verdict) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=_clean(v.name), time="0")
    _properties(case, {"kind": v.kind, "status": v.status, "source": v.source,
                       "trigger_ts": v.trigger_ts, "observed_ts": v.observed_ts,
                       "window_start_ts": v.window_start_ts, "window_end_ts": v.window_end_ts})
    if v.status == "FAIL":
        ET.SubElement(case, "failure", type="FAIL", message=_clean(v.summary)).text = _evidence(v)
    elif v.status == "INCONCLUSIVE":
        ET.SubElement(case, "error", type="inconclusive",
                      message=_clean(f"INCONCLUSIVE: {v.summary}")).text = _evidence(v)
    else:
        ET.SubElement(case, "system-out").text = _evidence(v)


def junit_xml(run: RunInfo, verdicts: list[Verdict]) -> str:
    """The JUnit XML document (UTF-8 text with an XML declaration) for ``run``'s verdicts."""
    classname = f"scalecheck.{run.profile_name}"
    failures = sum(v.status == "FAIL" for v in verdicts)
    errors = sum(v.status == "INCONCLUSIVE" for v in verdicts) + (run.status != "complete")
    tests = len(verdicts) + (run.status != "complete")
    wall_s = 0.0
    if run.ended_ts is not None and run.speed > 0:
        wall_s = max(0.0, (run.ended_ts - run.started_ts) / run.speed)
    counts = {"tests": str(tests), "failures": str(failures), "errors": str(errors), "skipped": "0",
              "time": f"{wall_s:.3f}"}
    root = ET.Element("testsuites", name="scalecheck", **counts)
    suite_name = f"{classname}{' (prediction)' if run.kind == 'prediction' else ''}"
    suite = ET.SubElement(root, "testsuite", name=_clean(suite_name), **counts,
                          timestamp=datetime.fromtimestamp(run.started_ts, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    _properties(suite, {"run_id": run.run_id, "kind": run.kind, "mode": run.mode, "speed": f"{run.speed:g}",
                        "endpoint": run.endpoint_name, "variant": run.variant_name, "region": run.region,
                        "status": run.status, "status_reason": run.status_reason})
    for v in verdicts:
        _testcase(suite, _clean(classname), v)
    if run.status != "complete":
        kind = run.status if run.status in ("aborted", "stopped") else "incomplete"
        reason = run.status_reason or ("no reason recorded" if kind != "incomplete"
                                       else "run.json still says 'running': the run did not finish")
        case = ET.SubElement(suite, "testcase", classname=_clean(classname), name="run", time="0")
        ET.SubElement(case, "error", type=kind, message=_clean(f"run {kind}: {reason}")).text = _clean(
            f"The run did not complete ({run.status}); its verdicts may be missing or undecided.")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(folder: RunFolder) -> Path:
    """Write ``<folder>/junit.xml`` from ``run.json`` and ``verdicts.json``; returns its path."""
    path = folder.path / "junit.xml"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(junit_xml(folder.read_run(), folder.read_verdicts()), encoding="utf-8")
    os.replace(tmp, path)
    return path
