"""SageMaker control plane (JSON 1.1): models, endpoint configs, endpoints and their capacities.

Models and endpoint configs are records the emulator keeps; endpoints live in the model
(:class:`~harness.autoscaling.world.World`), which gives them their lifecycle: ``Creating`` until
``endpoint_create_delay_s``, ``Updating`` while instances are provisioned (aws-semantics §7).

An endpoint config may carry an ``AsyncInferenceConfig`` (aws-semantics §6): its S3OutputPath (required
here: the emulator has nowhere else to put results) and S3FailurePath must be ``s3://bucket[/path]``
URIs, ClientConfig.MaxConcurrentInvocationsPerInstance 1-1000. It is returned by
DescribeEndpointConfig and DescribeEndpoint, and CreateEndpoint hands the model an
:class:`~harness.autoscaling.entities.AsyncConfig`, making the endpoint asynchronous.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from harness.autoscaling.entities import AsyncConfig, Endpoint, Variant, WorldError
from harness.emulator.errors import AwsError
from harness.emulator.protocol import Call, service_model
from harness.emulator.timestamps import to_datetime, to_millis

if TYPE_CHECKING:
    from harness.emulator.app import Emulator


@contextmanager
def world_errors() -> Iterator[None]:
    """Turn the model's refusals into AWS errors."""
    try:
        yield
    except WorldError as err:
        raise AwsError(err.code, err.message) from None


def register(emu: Emulator) -> None:
    handlers = {
        "CreateModel": create_model,
        "DescribeModel": describe_model,
        "DeleteModel": delete_model,
        "CreateEndpointConfig": create_endpoint_config,
        "DescribeEndpointConfig": describe_endpoint_config,
        "DeleteEndpointConfig": delete_endpoint_config,
        "CreateEndpoint": create_endpoint,
        "DescribeEndpoint": describe_endpoint,
        "UpdateEndpointWeightsAndCapacities": update_weights_and_capacities,
        "DeleteEndpoint": delete_endpoint,
        "ListEndpoints": list_endpoints,
    }
    emu.register_ops("sagemaker", handlers)


def _arn(emu: Emulator, resource: str) -> str:
    return emu.world.arn("sagemaker", resource)


def create_model(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    name = p["ModelName"]
    if name in emu.models:
        raise AwsError("ValidationException",
                       f'Cannot create already existing model "{_arn(emu, "model/" + name.lower())}".')
    arn = _arn(emu, f"model/{name.lower()}")
    emu.models[name] = {"ModelName": name, "ModelArn": arn, "CreationTime": to_datetime(emu.now()),
                        "PrimaryContainer": p.get("PrimaryContainer") or {},
                        "ExecutionRoleArn": p.get("ExecutionRoleArn", "")}
    return {"ModelArn": arn}


def _model(emu: Emulator, name: str) -> dict[str, Any]:
    if name not in emu.models:
        raise AwsError("ValidationException", f'Could not find model "{_arn(emu, "model/" + name.lower())}".')
    return emu.models[name]


def describe_model(emu: Emulator, call: Call) -> dict[str, Any]:
    return dict(_model(emu, call.params["ModelName"]))


def delete_model(emu: Emulator, call: Call) -> dict[str, Any]:
    _model(emu, call.params["ModelName"])
    del emu.models[call.params["ModelName"]]
    return {}


def create_endpoint_config(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    name = p["EndpointConfigName"]
    arn = _arn(emu, f"endpoint-config/{name.lower()}")
    if name in emu.endpoint_configs:
        raise AwsError("ValidationException", f'Cannot create already existing endpoint configuration "{arn}".')
    for v in p["ProductionVariants"]:
        if v.get("ModelName"):
            _model(emu, v["ModelName"])
        if "InitialInstanceCount" not in v or "InstanceType" not in v:
            raise AwsError("ValidationException", f"Variant {v.get('VariantName')}: this emulator models "
                           "instance-based variants; InitialInstanceCount and InstanceType are required.")
    if p.get("AsyncInferenceConfig"):
        _check_async_config(p["AsyncInferenceConfig"])
    emu.endpoint_configs[name] = {
        "EndpointConfigName": name, "EndpointConfigArn": arn, "ProductionVariants": p["ProductionVariants"],
        "CreationTime": to_datetime(emu.now()),
        **({"AsyncInferenceConfig": p["AsyncInferenceConfig"]} if p.get("AsyncInferenceConfig") else {}),
    }
    return {"EndpointConfigArn": arn}


_S3_URI = re.compile(r"s3://[^/]+(/.*)?")


def _check_async_config(config: dict[str, Any]) -> None:
    output = config.get("OutputConfig") or {}
    if not output.get("S3OutputPath"):
        raise AwsError("ValidationException", "AsyncInferenceConfig.OutputConfig.S3OutputPath is required by the "
                       "scalecheck emulator (it writes the results there).")
    for member in ("S3OutputPath", "S3FailurePath"):
        value = output.get(member)
        if value is not None and not _S3_URI.fullmatch(value):
            raise AwsError("ValidationException", f"1 validation error detected: Value '{value}' at "
                           f"'asyncInferenceConfig.outputConfig.{member[0].lower()}{member[1:]}' failed to satisfy "
                           "constraint: Member must be an S3 URI of the form s3://bucket[/prefix]")
    count = (config.get("ClientConfig") or {}).get("MaxConcurrentInvocationsPerInstance")
    if count is not None and not 1 <= int(count) <= 1000:
        raise AwsError("ValidationException", f"1 validation error detected: Value '{count}' at "
                       "'asyncInferenceConfig.clientConfig.maxConcurrentInvocationsPerInstance' failed to satisfy "
                       "constraint: Member must have value between 1 and 1000")


def _endpoint_config(emu: Emulator, name: str) -> dict[str, Any]:
    if name not in emu.endpoint_configs:
        raise AwsError("ValidationException",
                       f'Could not find endpoint configuration "{_arn(emu, "endpoint-config/" + name.lower())}".')
    return emu.endpoint_configs[name]


def describe_endpoint_config(emu: Emulator, call: Call) -> dict[str, Any]:
    return dict(_endpoint_config(emu, call.params["EndpointConfigName"]))


def delete_endpoint_config(emu: Emulator, call: Call) -> dict[str, Any]:
    _endpoint_config(emu, call.params["EndpointConfigName"])
    del emu.endpoint_configs[call.params["EndpointConfigName"]]
    return {}


def create_endpoint(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    config = _endpoint_config(emu, p["EndpointConfigName"])
    variants = [Variant(name=v["VariantName"], instance_type=v["InstanceType"], current=0,
                        desired=int(v["InitialInstanceCount"]), weight=float(v.get("InitialVariantWeight", 1.0)))
                for v in config["ProductionVariants"]]
    async_config = None
    if config.get("AsyncInferenceConfig"):
        client = config["AsyncInferenceConfig"].get("ClientConfig") or {}
        count = client.get("MaxConcurrentInvocationsPerInstance")
        async_config = AsyncConfig(max_concurrent_per_instance=None if count is None else int(count))
    now = emu.now()
    with emu.lock, world_errors():
        ep = emu.world.create_endpoint(p["EndpointName"], p["EndpointConfigName"], variants, now,
                                       async_config=async_config)
    return {"EndpointArn": ep.arn}


def describe_endpoint(emu: Emulator, call: Call) -> dict[str, Any]:
    now = emu.now()
    with emu.lock, world_errors():
        emu.world.advance(now)
        ep = emu.world.endpoint(call.params["EndpointName"])
        return endpoint_description(emu, ep)


def endpoint_description(emu: Emulator, ep: Endpoint) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EndpointName": ep.name, "EndpointArn": ep.arn, "EndpointConfigName": ep.config_name,
        "EndpointStatus": ep.status, "CreationTime": to_datetime(ep.created_ts),
        "LastModifiedTime": to_datetime(ep.modified_ts),
    }
    if ep.failure_reason:
        out["FailureReason"] = ep.failure_reason
    if ep.status != "Creating":
        variants = []
        for v in ep.variants.values():
            item: dict[str, Any] = {
                "VariantName": v.name, "CurrentWeight": v.weight, "DesiredWeight": v.weight,
                "CurrentInstanceCount": v.current, "DesiredInstanceCount": v.desired,
            }
            if ep.status == "Updating" and v.current != v.desired:
                item["VariantStatus"] = [{"Status": "Updating", "StartTime": to_datetime(ep.modified_ts),
                                          "StatusMessage": f"Updating instance count from {v.current} to {v.desired}."}]
            variants.append(item)
        out["ProductionVariants"] = variants
    config = emu.endpoint_configs.get(ep.config_name, {})
    if config.get("AsyncInferenceConfig"):
        out["AsyncInferenceConfig"] = config["AsyncInferenceConfig"]
    return out


def update_weights_and_capacities(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    items = p["DesiredWeightsAndCapacities"]
    now = emu.now()
    with emu.lock, world_errors():
        emu.world.advance(now)
        ep = emu.world.endpoint(p["EndpointName"])
        # Validate the whole request before changing anything: a refused call applies none of its items.
        unknown = [i["VariantName"] for i in items if i["VariantName"] not in ep.variants]
        if unknown:
            raise AwsError("ValidationException",
                           f"The variant name(s) [{', '.join(unknown)}] is/are not present in endpoint {ep.name}.")
        if ep.status != "InService":  # refused for a weight-only change too (aws-semantics §7)
            raise AwsError("ValidationException", f'Cannot update in-progress endpoint "{ep.arn}".')
        desired = {i["VariantName"]: int(i["DesiredInstanceCount"]) for i in items if "DesiredInstanceCount" in i}
        if desired:
            emu.world.update_capacities(ep.name, desired, now)
            # A manual change moves the scalable target's view too, as SageMaker reports it back.
            for name, count in desired.items():
                target = emu.world.targets.get(f"endpoint/{ep.name}/variant/{name}")
                if target is not None:
                    target.desired = count
        for item in items:
            if "DesiredWeight" in item:
                ep.variants[item["VariantName"]].weight = float(item["DesiredWeight"])
    return {"EndpointArn": ep.arn}


def delete_endpoint(emu: Emulator, call: Call) -> dict[str, Any]:
    now = emu.now()
    with emu.lock, world_errors():
        emu.world.delete_endpoint(call.params["EndpointName"], now)
    return {}


LIST_TIME_FILTERS = (("CreationTimeAfter", "created_ts", 1), ("CreationTimeBefore", "created_ts", -1),
                     ("LastModifiedTimeAfter", "modified_ts", 1), ("LastModifiedTimeBefore", "modified_ts", -1))


def _check_enums(call: Call, *members: str) -> None:
    """Refuse enum values outside the model's set, as SageMaker's request validation does.

    The protocol layer checks types, not enums (see protocol.py, contract point 3).
    """
    shape = service_model(call.service).operation_model(call.operation).input_shape
    for member in members:
        value = call.params.get(member)
        allowed = shape.members[member].enum
        if value is not None and value not in allowed:
            raise AwsError("ValidationException",
                           f"1 validation error detected: Value '{value}' at '{member[0].lower()}{member[1:]}' "
                           f"failed to satisfy constraint: Member must satisfy enum value set: [{', '.join(allowed)}]")


def list_endpoints(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    _check_enums(call, "SortBy", "SortOrder", "StatusEquals")
    token = p.get("NextToken")
    if token and not token.isdigit():
        raise AwsError("ValidationException", f'Invalid pagination token because "{token}" was not issued by '
                       "ListEndpoints.")
    now = emu.now()
    with emu.lock:
        emu.world.advance(now)
        endpoints = list(emu.world.endpoints.values())
    if p.get("NameContains"):
        endpoints = [e for e in endpoints if p["NameContains"] in e.name]
    if p.get("StatusEquals"):
        endpoints = [e for e in endpoints if e.status == p["StatusEquals"]]
    for member, attr, sign in LIST_TIME_FILTERS:  # exclusive bounds, at the millisecond precision of responses
        if p.get(member) is not None:
            bound = to_millis(p[member].timestamp())
            endpoints = [e for e in endpoints if (to_millis(getattr(e, attr)) - bound) * sign > 0]
    keys: dict[str, Callable[[Endpoint], Any]] = {
        "Name": lambda e: e.name, "Status": lambda e: (e.status, e.created_ts),
        "CreationTime": lambda e: e.created_ts}
    endpoints.sort(key=keys[p.get("SortBy", "CreationTime")],
                   reverse=p.get("SortOrder", "Descending") == "Descending")
    start = int(token or 0)
    size = int(p.get("MaxResults") or 10)
    page = endpoints[start:start + size]
    out: dict[str, Any] = {"Endpoints": [
        {"EndpointName": e.name, "EndpointArn": e.arn, "CreationTime": to_datetime(e.created_ts),
         "LastModifiedTime": to_datetime(e.modified_ts), "EndpointStatus": e.status} for e in page]}
    if start + size < len(endpoints):
        out["NextToken"] = str(start + size)
    return out
