"""Reading a profile: :func:`load_profile` (a YAML file) and :func:`parse_profile` (parsed YAML), and their errors.

Contract: both return a validated :class:`~harness.profile.model.Profile` or raise :class:`ProfileError`
listing the problems found, all at once, as ``<field path>: <message>`` — the path as the user wrote it
(``traffic.stages[0].duration``: YAML aliases, list indexes, no pydantic discriminator tags), the value
quoted (cut to a readable length) — also for a file that cannot be read, is larger than
:data:`MAX_PROFILE_BYTES`, is not UTF-8 text, is not YAML, repeats a key in a mapping (YAML would keep the
last one silently) or nests deeper than :data:`MAX_DEPTH`. A replay stage's ``file`` is read relative to the
profile file (``load_profile``) or ``base_dir`` (``parse_profile``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.profile.cost import STOP_TYPES
from harness.profile.durations import short_repr
from harness.profile.expectations import EXPECTATION_TYPES
from harness.profile.model import Profile

MAX_PROFILE_BYTES = 1 << 20  # a profile is a page of YAML; traffic traces go in replay files
MAX_DEPTH = 50  # mappings and lists nested deeper than this are not a profile (and could exhaust the stack)


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
            shown = "" if isinstance(value, dict | list) or value is None else f" (got {short_repr(value)})"
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


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key repeated in one mapping and nesting deeper than MAX_DEPTH."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(f"nested more than {MAX_DEPTH} levels deep (line {mark.line + 1})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: the base loader words that error
                break
            if first != key_node.start_mark.line + 1:
                raise yaml.YAMLError(f"key {short_repr(key)} appears twice in one mapping (lines {first} and "
                                     f"{key_node.start_mark.line + 1}); YAML would keep only the last")
        return super().construct_mapping(node, deep=deep)


def _text(p: Path) -> str:
    """The file's text; ProfileError for a file that cannot be read, is too large, binary or not UTF-8."""
    try:
        size = p.stat().st_size
        if size > MAX_PROFILE_BYTES:
            raise ProfileError(str(p), [f"the file is {size:,} bytes; a profile is at most {MAX_PROFILE_BYTES:,} "
                                        "(put traffic traces in a replay stage's file)"])
        raw = p.read_bytes()
    except OSError as err:
        raise ProfileError(short_repr(str(p), 120), [f"cannot read the file: {err.strerror or err}"]) from None
    if b"\x00" in raw:
        raise ProfileError(str(p), ["not a text file (it holds NUL bytes): a profile is YAML text in UTF-8"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ProfileError(str(p), [f"not UTF-8 text: byte 0x{raw[err.start]:02x} at offset {err.start} "
                                    "(save the file as UTF-8)"]) from None


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file; raises :class:`ProfileError` (also for I/O and YAML errors)."""
    p = Path(path)
    text = _text(p)
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ProfileError(str(p), [f"not valid YAML: {short_repr(str(err), 300)[1:-1]}"]) from None
    except RecursionError:
        raise ProfileError(str(p), [f"not valid YAML: nested too deeply (at most {MAX_DEPTH} levels)"]) from None
    return parse_profile(data, str(p), base_dir=p.parent)
