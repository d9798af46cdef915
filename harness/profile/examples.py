"""Where the example profiles and the Locust entry file are, in a checkout or in an installed package.

An installed distribution carries them as package data in ``harness/examples/`` (the build copies the
repository's ``profiles/*.yaml`` and ``locustfile.py`` there, see ``setup.py``); a checkout (also an
editable install) reads them where they are, at the top of the repository. :func:`examples_dir` is the
first of the two that exists; ``FileNotFoundError`` names both when neither does.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # harness/
INSTALLED = PACKAGE / "examples"
CHECKOUT = PACKAGE.parent / "profiles"
STARTER = Path(__file__).resolve().with_name("starter.yaml")


def examples_dir() -> Path:
    """The folder holding the example profiles (``*.yaml``) and, in an installed package, ``locustfile.py``."""
    for folder in (INSTALLED, CHECKOUT):
        if folder.is_dir() and any(folder.glob("*.yaml")):
            return folder
    raise FileNotFoundError(f"no example profiles in {INSTALLED} or {CHECKOUT}: reinstall scalecheck")


def example_profiles() -> list[Path]:
    """Every shipped example profile, by name."""
    return sorted(examples_dir().glob("*.yaml"))


def example_profile(name: str) -> Path:
    """The shipped example profile ``name`` (e.g. ``realtime-target-tracking.yaml``)."""
    path = examples_dir() / name
    if not path.is_file():
        known = ", ".join(p.name for p in example_profiles())
        raise FileNotFoundError(f"no example profile {name!r} (shipped: {known})")
    return path


def locustfile() -> Path:
    """The Locust entry file users pass to ``locust -f`` (the repository's, or the installed copy)."""
    for path in (INSTALLED / "locustfile.py", PACKAGE.parent / "locustfile.py"):
        if path.is_file():
            return path
    raise FileNotFoundError("no locustfile.py shipped with this installation: reinstall scalecheck")
