"""``scalecheck init [DIR]``: a place to begin outside the checkout.

Writes ``DIR/starter.yaml`` (a commented profile that runs as it is with ``--local``), copies the shipped
example profiles to ``DIR/examples/`` and the Locust entry file to ``DIR/locustfile.py``. It never
overwrites: a file already there is named and the command exits 104 with nothing written, unless
``--force``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from harness import exitcodes
from harness.cli.output import error
from harness.profile.examples import STARTER, example_profiles, locustfile

STARTER_NAME = "starter.yaml"


def init_plan(folder: Path) -> list[tuple[Path, Path]]:
    """``(source, destination)`` of every file ``init`` writes into ``folder``."""
    plan = [(STARTER, folder / STARTER_NAME)]
    plan += [(p, folder / "examples" / p.name) for p in example_profiles()]
    plan.append((locustfile(), folder / "locustfile.py"))
    return plan


def cmd_init(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    try:
        plan = init_plan(folder)
    except FileNotFoundError as err:
        error(str(err))
        return exitcodes.INVALID_CONFIG
    if folder.exists() and not folder.is_dir():
        error(f"{folder} exists and is not a folder")
        return exitcodes.INVALID_CONFIG
    taken = [str(dst) for _src, dst in plan if dst.exists()]
    if taken and not args.force:
        error(f"not overwriting {', '.join(taken)} (--force to replace them)")
        return exitcodes.INVALID_CONFIG
    for src, dst in plan:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    starter = folder / STARTER_NAME
    print(f"wrote {starter} (a commented profile), {len(plan) - 2} example profiles in {folder / 'examples'}, "
          f"and {folder / 'locustfile.py'}")
    print("next:")
    print(f"  scalecheck validate {starter}        # what it will do; nothing is sent")
    print(f"  scalecheck run {starter} --local     # on the embedded emulator, about a minute")
    return exitcodes.OK
