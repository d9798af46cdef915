"""The base every profile section is built on: a strict, frozen pydantic model and the ``Duration`` field type.

Contract: each section model subclasses :class:`_Spec`: an unknown field is an error (``extra="forbid"``),
a validated section is immutable (``frozen``), no number may be infinite or NaN (``allow_inf_nan=False``),
and a field written under its YAML alias (``duration``) may also be given by its Python name (``duration_s``).
``Duration`` reads what the user wrote (``250s``, ``5m``, ``1h30m``, a number of seconds) as float seconds
(:func:`~harness.profile.durations.parse_duration_s`).
It imports only :mod:`~harness.profile.durations` from the package, so every section module can import it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from harness.profile.durations import parse_duration_s

Duration = Annotated[float, BeforeValidator(parse_duration_s)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)
