"""Build step that pyproject.toml cannot declare: ship the repository's example profiles and locustfile.py.

They live at the top of the repository (``profiles/``, ``locustfile.py``) where users of a checkout find
them; a wheel carries copies as package data in ``harness/examples/`` (read by
``harness.profile.examples``), so that ``pip install .`` gives ``scalecheck init`` and ``scalecheck demo``
everything they need. Everything else is configured in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithExamples(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "harness" / "examples"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted((ROOT / "profiles").glob("*.yaml")) + [ROOT / "locustfile.py"]:
            shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildWithExamples})
