"""The end of every run folder — a run, ``scalecheck check``, a prediction — in one place.

:func:`conclude` decides the final verdicts of what the folder recorded (:mod:`harness.checks`) and
writes ``verdicts.json``, ``junit.xml`` and (unless told not to) ``report.html``; :func:`recheck` does it
again from the folder alone, offline.
"""

from __future__ import annotations

from pathlib import Path

from harness import checks
from harness.profile import Profile, parse_profile
from harness.record import Recorded, RunFolder, Verdict
from harness.report.html import write_report
from harness.report.junit import write_junit


def conclude(folder: RunFolder, recorded: Recorded, profile: Profile, *, report: bool = True) -> list[Verdict]:
    """Final verdicts of ``recorded`` into verdicts.json and junit.xml, and (``report``) report.html."""
    verdicts = checks.evaluate(recorded, profile, final=True).verdicts
    folder.write_verdicts(verdicts)
    write_junit(folder)
    if report:
        write_report(folder)
    return verdicts


def recheck(folder_path: Path) -> tuple[RunFolder, list[Verdict], list[str]]:
    """Recompute verdicts and JUnit from a run folder alone (``scalecheck check``); the profile is the one
    ``run.json`` recorded. Also returns the stream lines that could not be read (skipped)."""
    folder = RunFolder(folder_path)
    recorded = folder.load()
    profile = parse_profile(recorded.run.profile, str(folder_path / "run.json"))
    return folder, conclude(folder, recorded, profile, report=False), recorded.problems
