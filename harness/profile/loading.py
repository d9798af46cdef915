"""Reading a profile: :func:`load_profile` (a YAML file) and :func:`parse_profile` (parsed YAML), and their errors.

Contract: both return a validated :class:`~harness.profile.model.Profile` or raise :class:`ProfileError`
listing the problems found, all at once, as ``<field path>: <message>`` — the path as the user wrote it
(``traffic.stages[0].duration``: YAML aliases, list indexes, no pydantic discriminator tags), the value
quoted — also for a file that cannot be read or is not YAML. A replay stage's ``file`` is read relative
to the profile file (``load_profile``) or ``base_dir`` (``parse_profile``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.profile.cost import STOP_TYPES
from harness.profile.expectations import EXPECTATION_TYPES
from harness.profile.model import Profile


class ProfileError(ValueError):
    """A profile that cannot be run; ``problems`` lists ``field path: message`` strings."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid profile\n" + "\n".join(f"  {p}" for p in problems))


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    previous: Any = None
    for part in loc:
        tag = part in {"target_tracking", "step", *EXPECTATION_TYPES, *STOP_TYPES}
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "function-after" or (tag and isinstance(previous, int)):
            pass  # discriminator tags pydantic inserts into the path (after a list index)
        else:
            out += ("." if out else "") + str(part)
        previous = part if part != "function-after" else previous
    return out or "(top level)"


def _problems(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        where = _loc(e["loc"])
        if e["type"] in {"missing"}:
            problems.append(f"{where}: required field is missing")
        elif e["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown field (check the spelling)")
        else:
            value = e.get("input")
            shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
            problems.append(f"{where}: {msg}{shown}")
    return problems


def parse_profile(data: Any, source: str = "<profile>", base_dir: str | Path | None = None) -> Profile:
    """Validate already-parsed YAML; raises :class:`ProfileError`. Relative paths in it (a replay stage's
    ``file``) are read from ``base_dir`` (default: the working directory)."""
    if not isinstance(data, dict):
        raise ProfileError(source, ["(top level): a profile is a mapping of fields (name, endpoint, ...)"])
    try:
        return Profile.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as err:
        raise ProfileError(source, _problems(err)) from None


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file; raises :class:`ProfileError` (also for I/O and YAML errors)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ProfileError(str(p), [f"cannot read the file: {err.strerror or err}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ProfileError(str(p), [f"not valid YAML: {err}"]) from None
    return parse_profile(data, str(p), base_dir=p.parent)
