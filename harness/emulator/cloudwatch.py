"""CloudWatch (smithy-rpc-v2-cbor / JSON 1.0): GetMetricData, GetMetricStatistics, ListMetrics, DescribeAlarms.

Datapoints come from the model's metric store and become visible only after their period ends plus
the publication lag (aws-semantics §5, §8): queries see what a CloudWatch client would see then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.autoscaling.alarms import Alarm
from harness.autoscaling.metrics import STATISTICS, MetricKey
from harness.emulator.errors import AwsError
from harness.emulator.protocol import Call
from harness.emulator.sagemaker import world_errors
from harness.emulator.timestamps import to_datetime, to_epoch

if TYPE_CHECKING:
    from harness.emulator.app import Emulator

MAX_QUERIES = 500  # aws-semantics §8 [S11]
# Units SageMaker publishes (aws-semantics §5); every other metric is "None".
METRIC_UNITS = {"ModelLatency": "Microseconds", "OverheadLatency": "Microseconds", "ModelSetupTime": "Microseconds"}


def register(emu: Emulator) -> None:
    ops = {
        "GetMetricData": get_metric_data,
        "GetMetricStatistics": get_metric_statistics,
        "ListMetrics": list_metrics,
        "DescribeAlarms": describe_alarms,
        "PutMetricAlarm": put_metric_alarm,
        "DeleteAlarms": delete_alarms,
    }
    emu.register_ops("cloudwatch", ops)


def _key(metric: dict[str, Any]) -> MetricKey:
    dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}
    return MetricKey.of(metric["Namespace"], metric["MetricName"], **dims)


def _check_period(period: int, field: str) -> None:
    if period <= 0 or period % 60:
        raise AwsError("InvalidParameterValue",
                       f"The parameter {field} must be a multiple of 60 for these metrics; got {period}.")


def _check_stat(stat: str, field: str) -> None:
    if stat not in STATISTICS:
        raise AwsError("InvalidParameterValue",
                       f"The parameter {field} {stat!r} is not supported by the emulator; "
                       f"use one of {', '.join(STATISTICS)}.")


def get_metric_data(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    queries = p["MetricDataQueries"]
    if len(queries) > MAX_QUERIES:
        raise AwsError("ValidationError",
                       f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.")
    start, end = to_epoch(p["StartTime"]), to_epoch(p["EndTime"])
    if end <= start:
        raise AwsError("ValidationError", "The parameter StartTime must be less than the parameter EndTime.")
    descending = p.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    now = emu.advance()
    results = []
    for i, q in enumerate(queries):
        if "MetricStat" not in q:
            raise AwsError("ValidationError", f"MetricDataQueries[{i}] ({q.get('Id')}): metric math expressions "
                           "are not supported by the emulator; use MetricStat.")
        stat = q["MetricStat"]
        _check_period(int(stat["Period"]), f"MetricDataQueries[{i}].MetricStat.Period")
        _check_stat(stat["Stat"], f"MetricDataQueries[{i}].MetricStat.Stat")
        with emu.lock:
            points = emu.world.metrics.datapoints(_key(stat["Metric"]), stat["Stat"], int(stat["Period"]),
                                                  start, end, now)
        if descending:
            points.reverse()
        if q.get("ReturnData", True) is False:
            continue
        results.append({
            "Id": q["Id"], "Label": q.get("Label") or stat["Metric"]["MetricName"],
            "Timestamps": [to_datetime(ts) for ts, _ in points], "Values": [float(v) for _, v in points],
            "StatusCode": "Complete",
        })
    return {"MetricDataResults": results, "Messages": []}


def get_metric_statistics(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    stats = p.get("Statistics") or []
    if not stats:
        raise AwsError("InvalidParameterCombination", "At least one of the parameters Statistics and "
                       "ExtendedStatistics must be specified (ExtendedStatistics are not supported by the emulator).")
    for s in stats:
        _check_stat(s, "Statistics")
    period = int(p["Period"])
    _check_period(period, "Period")
    now = emu.advance()
    key = _key(p)
    unit = METRIC_UNITS.get(p["MetricName"], "None")
    start, end = to_epoch(p["StartTime"]), to_epoch(p["EndTime"])
    if p.get("Unit") and p["Unit"] != unit:  # a Unit filter matches only datapoints stored with that unit
        return {"Label": p["MetricName"], "Datapoints": []}
    with emu.lock:
        series = {s: emu.world.metrics.datapoints(key, s, period, start, end, now) for s in stats}
    by_ts: dict[int, dict[str, Any]] = {}
    for s, points in series.items():
        for ts, v in points:
            by_ts.setdefault(ts, {"Timestamp": to_datetime(ts), "Unit": unit})[s] = float(v)
    return {"Label": p["MetricName"], "Datapoints": [by_ts[t] for t in sorted(by_ts)]}


def list_metrics(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    with emu.lock:
        keys = emu.world.metrics.keys(p.get("Namespace"), p.get("MetricName"))
    wanted = {(d["Name"], d.get("Value")) for d in p.get("Dimensions") or []}
    out = []
    for k in sorted(keys):
        dims = dict(k.dims)
        if all(name in dims and (value is None or dims[name] == value) for name, value in wanted):
            out.append({"Namespace": k.namespace, "MetricName": k.name,
                        "Dimensions": [{"Name": n, "Value": v} for n, v in k.dims]})
    return {"Metrics": out}


def alarm_shape(alarm: Alarm) -> dict[str, Any]:
    return {
        "AlarmName": alarm.name, "AlarmArn": alarm.arn, "AlarmDescription": alarm.description,
        "AlarmConfigurationUpdatedTimestamp": to_datetime(alarm.created_ts), "ActionsEnabled": True,
        "OKActions": [], "AlarmActions": list(alarm.actions), "InsufficientDataActions": [],
        "StateValue": alarm.state, "StateReason": alarm.state_reason,
        "StateUpdatedTimestamp": to_datetime(alarm.state_updated_ts),
        "MetricName": alarm.metric.name, "Namespace": alarm.metric.namespace, "Statistic": alarm.statistic,
        "Dimensions": [{"Name": n, "Value": v} for n, v in alarm.metric.dims],
        "Period": alarm.period_s, "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm, "Threshold": float(alarm.threshold),
        "ComparisonOperator": alarm.comparison, "TreatMissingData": alarm.treat_missing,
        **({"Unit": alarm.unit} if alarm.unit else {}),
    }


def describe_alarms(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    emu.advance()
    with emu.lock:
        alarms = sorted(emu.world.alarms.values(), key=lambda a: a.name)
        if p.get("AlarmNames"):
            alarms = [a for a in alarms if a.name in p["AlarmNames"]]
        if p.get("AlarmNamePrefix"):
            alarms = [a for a in alarms if a.name.startswith(p["AlarmNamePrefix"])]
        if p.get("StateValue"):
            alarms = [a for a in alarms if a.state == p["StateValue"]]
        if p.get("ActionPrefix"):
            alarms = [a for a in alarms if any(x.startswith(p["ActionPrefix"]) for x in a.actions)]
        shapes = [alarm_shape(a) for a in alarms]
    types = p.get("AlarmTypes") or ["MetricAlarm"]
    size = int(p.get("MaxRecords") or 50)
    token = p.get("NextToken")
    if token and not token.isdigit():
        raise AwsError("InvalidNextToken", "The next token specified is invalid.")
    start = int(token or 0)
    out: dict[str, Any] = {"MetricAlarms": shapes[start:start + size] if "MetricAlarm" in types else [],
                           "CompositeAlarms": []}
    if start + size < len(shapes):
        out["NextToken"] = str(start + size)
    return out


COMPARISONS = ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold",
               "LessThanOrEqualToThreshold")
TREAT_MISSING = ("missing", "breaching", "notBreaching", "ignore")


def put_metric_alarm(emu: Emulator, call: Call) -> dict[str, Any]:
    """PutMetricAlarm on one metric (no metric math); AlarmActions may name any ARN, as AWS accepts."""
    p = call.params
    if p.get("Metrics"):
        raise AwsError("ValidationError", "Metric math alarms (Metrics) are not supported by the emulator.")
    for name in ("AlarmName", "MetricName", "Namespace", "Period", "EvaluationPeriods", "Threshold",
                 "ComparisonOperator"):
        if p.get(name) is None:
            raise AwsError("ValidationError", f"The parameter {name} is required.")
    if not p.get("Statistic"):
        raise AwsError("ValidationError", "One of the parameters Statistic and ExtendedStatistic is required "
                       "(ExtendedStatistic is not supported by the emulator).")
    if p["Statistic"] not in STATISTICS:
        raise AwsError("ValidationError", f"The parameter Statistic {p['Statistic']!r} must be one of "
                       f"{', '.join(STATISTICS)}.")
    period, evaluations = int(p["Period"]), int(p["EvaluationPeriods"])
    if period <= 0 or period % 60:
        raise AwsError("ValidationError", f"The parameter Period must be a multiple of 60; got {period}.")
    if evaluations < 1:
        raise AwsError("ValidationError", "The parameter EvaluationPeriods must be at least 1.")
    datapoints = int(p.get("DatapointsToAlarm") or evaluations)
    if not 1 <= datapoints <= evaluations:
        raise AwsError("ValidationError", f"DatapointsToAlarm ({datapoints}) must be between 1 and "
                       f"EvaluationPeriods ({evaluations}).")
    if p["ComparisonOperator"] not in COMPARISONS:
        raise AwsError("ValidationError", f"The parameter ComparisonOperator {p['ComparisonOperator']!r} must be "
                       f"one of {', '.join(COMPARISONS)}.")
    treat = p.get("TreatMissingData") or "missing"
    if treat not in TREAT_MISSING:
        raise AwsError("ValidationError", f"The parameter TreatMissingData {treat!r} must be one of "
                       f"{', '.join(TREAT_MISSING)}.")
    now = emu.now()
    with emu.lock, world_errors():
        emu.world.put_metric_alarm(
            name=p["AlarmName"], metric=_key(p), statistic=p["Statistic"], period_s=period,
            evaluation_periods=evaluations, datapoints_to_alarm=datapoints, threshold=float(p["Threshold"]),
            comparison=p["ComparisonOperator"], treat_missing=treat, actions=list(p.get("AlarmActions") or []),
            description=p.get("AlarmDescription") or "", unit=p.get("Unit"), now=now)
    return {}


def delete_alarms(emu: Emulator, call: Call) -> dict[str, Any]:
    now = emu.now()
    with emu.lock, world_errors():
        emu.world.delete_alarms(list(call.params.get("AlarmNames") or []), now)
    return {}
