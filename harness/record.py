"""The run folder: the one artifact every stage reads and writes.

A run leaves ``reports/<UTC-stamp>-<profile>/`` holding:

``run.json``          :class:`RunInfo`, rewritten atomically as the run progresses.
``events.jsonl``      :class:`RunEvent` — load start/stop and stage starts, as they happen.
``load.jsonl``        :class:`LoadInterval` — what the load generator offered and achieved.
``metrics.jsonl``     :class:`MetricPoint` — CloudWatch datapoints; *upserted*: a later line for the
                      same (namespace, metric, dims, stat, period, ts) replaces an earlier one,
                      because CloudWatch revises late data.
``endpoint.jsonl``    :class:`EndpointSample` — DescribeEndpoint samples.
``activities.jsonl``  :class:`Activity` — scaling activities, upserted by ``activity_id``.
``alarms.jsonl``      :class:`AlarmSample` — alarm states as DescribeAlarms reported them.
``prediction/``       when the profile needs one (``within: auto``, ``agrees_with_prediction``) or
                      ``--predict``: the simulator's run folder for this run (``kind`` prediction,
                      started at the run's load start); ``run.json`` ``prediction`` keeps what the
                      checks take from it (:class:`PredictionInfo`).
``cost.json``         instance-seconds and cost, observed and expected, with the price and its source
                      (:mod:`harness.report.cost`).
``verdicts.json``     list of :class:`Verdict`.
``junit.xml``, ``report.html``.

Every timestamp (``*_ts``) is UTC epoch seconds of **endpoint time** (docs/architecture.md "Time"). Streams
are append-only JSON lines flushed line by line, so an interrupted run leaves a readable folder; a
torn last line is ignored on read. ``scalecheck check`` and ``scalecheck report`` recompute
everything from the folder alone.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

RunStatus = Literal["running", "complete", "invalid", "aborted", "stopped"]
VerdictStatus = Literal["PASS", "FAIL", "INCONCLUSIVE"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Clock(_Record):
    """Maps wall time to endpoint time: ``ts = endpoint0_ts + (wall - wall0_ts) * speed``."""

    wall0_ts: float
    endpoint0_ts: float
    speed: float = 1.0

    def endpoint_ts(self, wall_ts: float | None = None) -> float:
        """Endpoint time at ``wall_ts`` (default: now)."""
        wall = time.time() if wall_ts is None else wall_ts
        return self.endpoint0_ts + (wall - self.wall0_ts) * self.speed

    def wall_ts(self, endpoint_ts: float) -> float:
        """Wall time at which endpoint time reaches ``endpoint_ts``."""
        return self.wall0_ts + (endpoint_ts - self.endpoint0_ts) / self.speed

    @staticmethod
    def identity() -> Clock:
        """Real AWS: endpoint time is wall time."""
        now = time.time()
        return Clock(wall0_ts=now, endpoint0_ts=now, speed=1.0)


class StageSpan(_Record):
    """One traffic stage as it was actually scheduled (endpoint time)."""

    name: str
    start_ts: float
    end_ts: float


class PredictedChange(_Record):
    """One capacity change of the prediction: requested at ``start_ts``, InService with ``to_count``
    instances at ``end_ts`` (as :class:`harness.predict.simulate.CapacityChange`)."""

    start_ts: float
    end_ts: float
    from_count: int
    to_count: int


class PredictionInfo(_Record):
    """What a run took from its prediction (``run.json`` ``prediction``), so that ``scalecheck check``
    decides from the folder alone, without simulating again.

    ``folder``: the prediction's run folder, relative to the run folder (``prediction``). ``windows``:
    derived ``within`` (seconds) per expectation label whose window is ``auto``; ``predicted_s``: the
    predicted time from its anchor to the event, the base of that window; ``unknown``: why a window
    could not be derived (the prediction never shows the event). ``changes``: the predicted capacity
    changes; ``initial_instances``: the predicted count at load start. ``error``: the simulation failed
    (then nothing else is set)."""

    folder: str | None = "prediction"
    load_start_ts: float | None = None
    tolerance_s: float = 0.0
    relative_tolerance: float = 0.0
    windows: dict[str, float] = Field(default_factory=dict)
    predicted_s: dict[str, float] = Field(default_factory=dict)
    unknown: dict[str, str] = Field(default_factory=dict)
    changes: list[PredictedChange] = Field(default_factory=list)
    initial_instances: int | None = None
    error: str | None = None


class RunInfo(_Record):
    """``run.json``: what ran, against what, and how it ended."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    kind: Literal["run", "prediction"] = "run"
    profile_name: str
    profile: dict[str, Any]
    mode: Literal["local", "aws"]
    speed: float
    region: str
    endpoint_name: str
    variant_name: str
    endpoint_url: str | None = None
    # where each service's requests went ({botocore service name: scheme://host:port}); empty in older folders
    endpoints: dict[str, str] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    clock: Clock | None = None
    status: RunStatus = "running"
    status_reason: str | None = None
    started_ts: float
    ended_ts: float | None = None
    load_start_ts: float | None = None
    load_end_ts: float | None = None
    first_request_ts: float | None = None
    stages: list[StageSpan] = Field(default_factory=list)
    scenario: str | None = None
    prediction: PredictionInfo | None = None
    # "profile": the profile's scaling was put on the endpoint for the run (against AWS: snapshot before,
    # restored after, scaling-*.json); "live": the endpoint's own setup was read, verified, left unchanged
    scaling_source: Literal["profile", "live"] | None = None


class RunEvent(_Record):
    """``events.jsonl``: something the run did: ``load_start``, ``stage_start``, ``first_request``,
    ``load_stop``, ``scheduled_action_put``, ``collector_error``, ..."""

    ts: float
    kind: str
    detail: str = ""


class LatencyMs(_Record):
    """Percentiles of one interval: ``latency_ms`` in wall-clock milliseconds as the client measured them,
    ``completion_s`` in endpoint seconds.

    The load generator computes them from the interval's HDR histogram (:mod:`harness.load.stats`):
    nearest-rank percentiles within 0.1 % and never below the true value (capped at ``max``), ``max``
    exact. Other writers (the simulator, older runs) used the exact nearest-rank percentiles."""

    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


class LoadInterval(_Record):
    """``load.jsonl``: one interval of load as offered and achieved.

    Rates are requests per second of endpoint time; ``ts`` is the interval start.
    """

    ts: float
    interval_s: float
    stage: str | None = None
    offered_rps: float
    achieved_rps: float
    requests: int
    failures: int
    users: int
    # Open loop: arrivals of this interval that found no free user and were never sent (counted in
    # offered_rps, which is then the arrivals scheduled per second, not in requests / achieved_rps).
    dropped: int = 0
    latency_ms: LatencyMs = Field(default_factory=LatencyMs)
    errors: dict[str, int] = Field(default_factory=dict)
    # Async endpoints: requests of the completion sample whose output (or failure) object appeared in
    # this interval, and their end-to-end time from InvokeEndpointAsync to the object, in endpoint seconds.
    completions: int = 0
    completion_failures: int = 0
    completion_s: LatencyMs = Field(default_factory=LatencyMs)
    # The interval's HDR histograms, encoded (HdrHistogram V2 compressed, base64): request latency in
    # microseconds, completion time in milliseconds (harness.load.stats constants). What makes intervals of
    # several load generator processes mergeable exactly (harness.load.stats.merge_intervals). None when
    # the interval has no such samples, and in records written before them or by the simulator.
    latency_hdr: str | None = None
    completion_hdr: str | None = None
    # Distributed load (Locust master + workers): how many workers' records of this interval were merged
    # into this one (harness.load.stats.IntervalMerger); None for a single load generator process.
    workers: int | None = None


class MetricPoint(_Record):
    """``metrics.jsonl``: one CloudWatch datapoint (``ts`` = period start)."""

    ts: float
    namespace: str
    metric: str
    dims: dict[str, str]
    stat: str
    period_s: int
    value: float
    observed_ts: float | None = None

    def key(self) -> tuple[Any, ...]:
        """Identity for upserts: a later point with the same key replaces the earlier one."""
        return (self.namespace, self.metric, tuple(sorted(self.dims.items())), self.stat,
                self.period_s, self.ts)


class EndpointSample(_Record):
    """``endpoint.jsonl``: one DescribeEndpoint answer, reduced to one variant."""

    ts: float
    endpoint_name: str
    variant_name: str
    status: str
    current_instances: int | None
    desired_instances: int | None
    current_weight: float | None = None
    desired_weight: float | None = None


class Activity(_Record):
    """``activities.jsonl``: one Application Auto Scaling activity (upserted by ``activity_id``)."""

    activity_id: str
    resource_id: str
    start_ts: float
    end_ts: float | None = None
    status_code: str
    description: str
    cause: str
    status_message: str | None = None
    observed_ts: float | None = None


class AlarmSample(_Record):
    """``alarms.jsonl``: the state of one alarm as DescribeAlarms reported it."""

    ts: float
    alarm_name: str
    state: str
    threshold: float | None = None
    state_updated_ts: float | None = None
    metric: str | None = None
    comparison: str | None = None
    state_reason: str | None = None


class Verdict(_Record):
    """The outcome of one expectation, with the evidence that decided it."""

    name: str
    kind: str
    status: VerdictStatus
    summary: str
    source: str = ""
    trigger_ts: float | None = None
    observed_ts: float | None = None
    window_start_ts: float | None = None
    window_end_ts: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


STREAMS: dict[str, type[_Record]] = {
    "events": RunEvent,
    "load": LoadInterval,
    "metrics": MetricPoint,
    "endpoint": EndpointSample,
    "activities": Activity,
    "alarms": AlarmSample,
}

R = TypeVar("R", bound=_Record)


FOLDER_NAME_MAX_BYTES = 120  # of the profile part: the whole name stays far below a file system's 255 bytes


def run_folder_name(started_ts: float, profile_name: str) -> str:
    """``<UTC-stamp>-<profile>``, e.g. ``20261121T194100Z-realtime-target-tracking``: letters (any script),
    digits and ``-_.`` kept, everything else ``-``, cut to :data:`FOLDER_NAME_MAX_BYTES` of UTF-8."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_ts))
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in profile_name).strip(".") or "profile"
    safe = safe.encode("utf-8")[:FOLDER_NAME_MAX_BYTES].decode("utf-8", errors="ignore")
    return f"{stamp}-{safe}"


def make_unique_dir(root: Path, name: str) -> Path:
    """Create ``root/name``, or ``root/name-2``, ``-3``, … when it exists (two runs of one profile started in
    the same second); the creation is atomic, so concurrent runs never share a folder."""
    Path(root).mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = Path(root) / (name if n == 1 else f"{name}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{Path(root) / name}: 10,000 folders of that name already exist")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a reader never sees a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")
    os.replace(tmp, path)


SCENARIOS_INDEX = "scenarios.json"  # in the parent folder of a profile's scenarios: their run folders, in order


def write_scenarios_index(parent: Path, profile_name: str, folders: list[tuple[str, Path]]) -> None:
    """Write ``scenarios.json`` of a scenarios parent folder: ``(scenario name, run folder)`` in run order."""
    write_json_atomic(Path(parent) / SCENARIOS_INDEX, {
        "profile": profile_name, "scenarios": [{"name": n, "folder": Path(f).name} for n, f in folders]})


def is_scenarios_parent(path: Path) -> bool:
    """Whether ``path`` is the parent folder of a scenarios run (it holds ``scenarios.json``)."""
    return (Path(path) / SCENARIOS_INDEX).is_file()


def scenario_folders(parent: Path) -> list[tuple[str, Path]]:
    """``(scenario name, run folder)`` of a scenarios parent folder, in run order; ``ValueError`` when its
    index is unreadable or names no scenario."""
    path = Path(parent) / SCENARIOS_INDEX
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = [(str(e["name"]), Path(parent) / str(e["folder"])) for e in data["scenarios"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a readable scenarios index ({err})") from None
    if not entries:
        raise ValueError(f"{path}: no scenario ran (the run was interrupted before the first one)")
    return entries


class StreamWriter:
    """Appends records to one ``*.jsonl`` stream, flushing each line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] = path.open("a", encoding="utf-8")

    def append(self, record: _Record) -> None:
        self._fh.write(record.model_dump_json() + "\n")
        self._fh.flush()

    def extend(self, records: Iterable[_Record]) -> None:
        for record in records:
            self._fh.write(record.model_dump_json() + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_stream(path: Path, model: type[R], problems: list[str] | None = None) -> Iterator[R]:
    """Records of one stream; a missing file is empty. A line that is not a record (torn by an interrupted
    write, not UTF-8, edited by hand) is skipped, and said in ``problems`` (``load.jsonl line 17: …``), so
    one bad byte never costs the rest of the folder."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield model.model_validate_json(raw.decode("utf-8"))
            except UnicodeDecodeError as err:
                if problems is not None:
                    problems.append(f"{path.name} line {number}: not UTF-8 (byte 0x{raw[err.start]:02x}), skipped")
            except ValueError:
                if problems is not None and raw.endswith(b"\n"):  # a torn last line is normal after a kill
                    problems.append(f"{path.name} line {number}: not a {model.__name__} record, skipped")


@dataclass
class Recorded:
    """Everything a run folder holds, with upserts applied and streams sorted by time."""

    path: Path
    run: RunInfo
    events: list[RunEvent] = field(default_factory=list)
    load: list[LoadInterval] = field(default_factory=list)
    metrics: list[MetricPoint] = field(default_factory=list)
    endpoint: list[EndpointSample] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    alarms: list[AlarmSample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # lines of the streams that could not be read

    def metric_series(self, metric: str, stat: str | None = None) -> list[MetricPoint]:
        """Datapoints of one metric (any dims), sorted by ``ts``."""
        return [p for p in self.metrics if p.metric == metric and (stat is None or p.stat == stat)]

    @staticmethod
    def of(path: Path, run: RunInfo, streams: dict[str, list[dict[str, Any]]]) -> Recorded:
        """A folder's content from in-memory records (dicts of the stream models, e.g. a prediction's),
        with upserts applied and sorted as :meth:`RunFolder.load` does."""
        def parsed(name: str) -> list[Any]:
            return [STREAMS[name].model_validate(r) for r in streams.get(name, [])]

        return _assemble(path, run, {name: parsed(name) for name in STREAMS})


class RunFolder:
    """A run folder on disk: create it, append to its streams, read it back."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._writers: dict[str, StreamWriter] = {}

    @classmethod
    def create(cls, root: Path, run: RunInfo) -> RunFolder:
        """Make ``root/<run_id>`` and write its ``run.json``. A top-level ``run_id`` that is taken gets a
        ``-N`` suffix (:func:`make_unique_dir`, and ``run_id`` follows); one inside a parent folder
        (``parent/scenario``) must be new."""
        if "/" in run.run_id:
            path = Path(root) / run.run_id
            path.mkdir(parents=True, exist_ok=False)
        else:
            path = make_unique_dir(Path(root), run.run_id)
            run = run.model_copy(update={"run_id": path.name})
        folder = cls(path)
        folder.write_run(run)
        return folder

    def stream_path(self, stream: str) -> Path:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}; known: {', '.join(STREAMS)}")
        return self.path / f"{stream}.jsonl"

    def writer(self, stream: str) -> StreamWriter:
        """The (shared) appender for ``stream``."""
        if stream not in self._writers:
            self._writers[stream] = StreamWriter(self.stream_path(stream))
        return self._writers[stream]

    def append(self, stream: str, record: _Record) -> None:
        self.writer(stream).append(record)

    def write_run(self, run: RunInfo) -> None:
        write_json_atomic(self.path / "run.json", run.model_dump(mode="json"))

    def read_run(self) -> RunInfo:
        """``run.json``; FileNotFoundError when missing, ValueError when unreadable or written by a newer
        scalecheck (a ``schema_version`` above :data:`SCHEMA_VERSION`)."""
        path = self.path / "run.json"
        if not path.exists():
            raise FileNotFoundError(f"{self.path} is not a run folder: run.json is missing")
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise ValueError(f"{path}: not readable JSON ({err})") from None
        version = data.get("schema_version", SCHEMA_VERSION) if isinstance(data, dict) else SCHEMA_VERSION
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise ValueError(f"{path}: written by a newer scalecheck (run folder schema {version}; this one reads "
                             f"up to {SCHEMA_VERSION}): upgrade scalecheck to read it")
        return RunInfo.model_validate(data)

    def write_verdicts(self, verdicts: list[Verdict]) -> None:
        write_json_atomic(self.path / "verdicts.json", [v.model_dump(mode="json") for v in verdicts])

    def read_verdicts(self) -> list[Verdict]:
        path = self.path / "verdicts.json"
        if not path.exists():
            return []
        return [Verdict.model_validate(v) for v in json.loads(path.read_text(encoding="utf-8"))]

    def close(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()

    def load(self) -> Recorded:
        """Read the whole folder, applying upserts, sorted by time."""
        run = self.read_run()
        problems: list[str] = []
        recorded = _assemble(self.path, run, {name: list(read_stream(self.stream_path(name), model, problems))
                                              for name, model in STREAMS.items()})
        recorded.problems = problems
        return recorded

    def load_prediction(self) -> Recorded | None:
        """The run's prediction folder (``run.json`` ``prediction.folder``), if it has one."""
        run = self.read_run()
        sub = run.prediction.folder if run.prediction is not None else None
        if not sub or not (self.path / sub / "run.json").is_file():
            return None
        return RunFolder(self.path / sub).load()


def _assemble(path: Path, run: RunInfo, streams: dict[str, list[Any]]) -> Recorded:
    metrics: dict[tuple[Any, ...], MetricPoint] = {}
    for p in streams["metrics"]:
        metrics[p.key()] = p
    activities: dict[str, Activity] = {}
    for a in streams["activities"]:
        activities[a.activity_id] = a
    return Recorded(
        path=path,
        run=run,
        events=sorted(streams["events"], key=lambda e: e.ts),
        load=sorted(streams["load"], key=lambda x: x.ts),
        metrics=sorted(metrics.values(), key=lambda p: (p.metric, p.ts)),
        endpoint=sorted(streams["endpoint"], key=lambda s: s.ts),
        activities=sorted(activities.values(), key=lambda a: a.start_ts),
        alarms=sorted(streams["alarms"], key=lambda s: s.ts),
    )
