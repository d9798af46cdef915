"""``cost.json``: what a run cost, with every input, and how the report and the CLI show it.

Contract: :func:`cost_record` builds the file's content from the run's
:class:`~harness.profile.pricing.CostPlan` (instance type, region, the price with its source and date,
the cap), the observed :class:`~harness.checks.cost.CostFigures` (from ``endpoint.jsonl``) and the
expected ones (from the simulated profile, or why there are none). :func:`write_cost` writes it into the
run folder (:func:`record_cost`: priced from a recorded folder); :func:`read_cost` reads it back
(``None`` for a folder without one, e.g. an older run). :func:`cost_lines` is the short text both the
report and the end of ``scalecheck run`` show. A missing price is "no price" and its cost "unknown",
never $0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.checks.cost import CostFigures, cost_of
from harness.profile.pricing import CostPlan, format_usd
from harness.record import Recorded, write_json_atomic

COST_FILE = "cost.json"
CONVENTION = ("instance-seconds = the integral of DescribeEndpoint current_instances over endpoint time, each "
              "sample's count held until the next sample, from the first to the last sample; cost = "
              "instance-seconds x USD per instance-hour / 3600. Expected: the same integral over the simulated "
              "profile's samples. Not counted: the endpoint's life outside the sampled span, storage, data transfer.")


def cost_record(plan: CostPlan, observed: CostFigures, expected: CostFigures | None,
                expected_error: str | None = None) -> dict[str, Any]:
    """The content of ``cost.json``."""
    return {
        "instance_type": plan.instance_type, "region": plan.region,
        "price": plan.price.as_json() if plan.price is not None else None,
        "price_text": plan.price_text(), "max_usd": plan.max_usd, "convention": CONVENTION,
        "observed": observed.as_json(),
        "expected": expected.as_json() if expected is not None else None,
        "expected_error": expected_error,
    }


def write_cost(folder: Path, record: dict[str, Any]) -> Path:
    path = Path(folder) / COST_FILE
    write_json_atomic(path, record)
    return path


def record_cost(recorded: Recorded, plan: CostPlan, expected: CostFigures | None,
                expected_error: str | None = None) -> dict[str, Any]:
    """Price what ``recorded`` observed and write ``cost.json`` into its folder; returns the record."""
    observed = cost_of(recorded.endpoint, plan.instance_type, plan.price)
    record = cost_record(plan, observed, expected, expected_error)
    write_cost(recorded.path, record)
    return record


def read_cost(folder: Path) -> dict[str, Any] | None:
    """``cost.json`` of a run folder, or ``None`` when it has none (or an unreadable one)."""
    path = Path(folder) / COST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _figures_text(label: str, figures: dict[str, Any] | None) -> str:
    if figures is None:
        return f"{label}: —"
    hours = float(figures.get("instance_hours") or 0.0)
    usd = figures.get("usd")
    cost = format_usd(float(usd)) if usd is not None else "cost unknown (no price)"
    return f"{label}: {hours:.4g} instance-hours ({float(figures.get('instance_seconds') or 0):.0f} " \
           f"instance-seconds), {cost}"


def cost_lines(data: dict[str, Any]) -> list[str]:
    """Expected, observed, the cap and the price (with its source and date), one line each."""
    lines = []
    if data.get("expected") is not None:
        lines.append(_figures_text("expected", data["expected"]))
    elif data.get("expected_error"):
        lines.append(f"expected: unknown ({data['expected_error']})")
    lines.append(_figures_text("observed", data.get("observed")))
    if data.get("max_usd") is not None:
        lines.append(f"cap: {format_usd(float(data['max_usd']))}")
    lines.append(f"price: {data.get('price_text') or 'no price'}")
    return lines
