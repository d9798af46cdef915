"""A profile with scenarios: each scenario a full run in turn, under one parent folder, then compared.

Every scenario gets a run folder of its own (``<reports>/<stamp>-<profile>/<scenario>``, the derived profile
in its ``profile.yaml``) and, with ``--local``, a fresh emulator, so every scenario starts from the same
state; then ``scenarios.json`` and ``comparison.html`` in the parent. The exit code is the worst scenario's
(:func:`harness.exitcodes.worst_exit_code`), or 128 + the signal that interrupted them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import exitcodes
from harness.load import interrupts
from harness.profile import Profile
from harness.record import make_unique_dir, run_folder_name, write_scenarios_index
from harness.report.compare import write_comparison
from harness.run.runner import Runner, RunOptions, RunResult, consent_of


@dataclass(frozen=True)
class ScenarioRun:
    name: str
    result: RunResult


@dataclass(frozen=True)
class ScenariosResult:
    """The outcome of ``scalecheck run`` on a profile with scenarios."""

    parent: Path
    runs: list[ScenarioRun]
    skipped: list[str]
    comparison: Path | None
    exit_code: int
    interrupted: bool = False
    signum: int | None = None  # the signal that interrupted the scenarios (exit_code is then 128 + it)


def run_scenarios(profile: Profile, profile_path: Path, options: RunOptions,
                  say: Callable[[str], None]) -> ScenariosResult:
    """Run every scenario of ``profile`` in turn, each a full run folder in ``<reports>/<stamp>-<profile>/``,
    then write ``scenarios.json`` and ``comparison.html`` there. SIGINT/SIGTERM finalises the scenario running
    (aborted) and skips the rest; what exists is still indexed and (unless a second signal came) compared."""
    consent_of(profile, options)  # refused before anything is contacted or written
    parent = make_unique_dir(Path(options.reports_dir), run_folder_name(time.time(), profile.name))
    parent_name = parent.name
    say(f"{len(profile.scenarios)} scenarios: {', '.join(s.name for s in profile.scenarios)} in {parent}")
    runs: list[ScenarioRun] = []
    folders: list[tuple[str, Path]] = []  # every scenario that left a run folder, even one that raised
    signum: int | None = None
    try:
        for i, sc in enumerate(profile.scenarios, start=1):
            without = f" without {', '.join(sc.without_policies)}" if sc.without_policies else ""
            say(f"scenario {i}/{len(profile.scenarios)}: {sc.name}{without}"
                + (f" — {sc.description.strip()}" if sc.description.strip() else ""))
            runner = Runner(profile.for_scenario(sc.name), profile_path, options, say, scenario=sc.name,
                            run_id=f"{parent_name}/{sc.name}")
            try:
                result = runner.execute()
            finally:
                if runner.folder is not None:
                    folders.append((sc.name, runner.folder.path))
            runs.append(ScenarioRun(sc.name, result))
            if result.interrupted:
                signum = result.signum or signal.SIGINT
                break
    except KeyboardInterrupt as err:  # between scenarios, or before a scenario's folder existed
        signum = getattr(err, "signum", signal.SIGINT)
    finally:
        comparison = _index_and_compare(parent, profile.name, folders, say)
    done = {r.name for r in runs}
    skipped = [sc.name for sc in profile.scenarios if sc.name not in done]
    if skipped:
        say(f"skipped scenario(s) {', '.join(skipped)} (interrupted)")
    codes = [r.result.exit_code for r in runs] + ([exitcodes.INCONCLUSIVE] if skipped else [])
    code = exitcodes.for_signal(signum) if signum is not None else exitcodes.worst_exit_code(codes)
    return ScenariosResult(parent, runs, skipped, comparison, code, signum is not None, signum)


def _index_and_compare(parent: Path, profile_name: str, folders: list[tuple[str, Path]],
                       say: Callable[[str], None]) -> Path | None:
    write_scenarios_index(parent, profile_name, folders)
    if not folders:
        return None
    written: list[Path] = []
    try:
        if not interrupts.unless_hurried(lambda: written.append(write_comparison(parent, [f for _n, f in folders]))):
            say(f"comparison skipped (interrupted again); scalecheck report {parent} writes it")
    except Exception as err:  # the run folders are what matters; a broken comparison must not lose them
        say(f"could not write the comparison: {type(err).__name__}: {err}")
    return written[0] if written else None
