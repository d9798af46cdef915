"""Prices and cost: the shipped snapshot, AWS's offer-file format, overrides, "no price", and the cost of a
recorded folder = instance-seconds × price, exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from harness.checks.cost import cost_of, instance_seconds
from harness.cli.parser import build_parser
from harness.errors import ConfigError
from harness.profile import ProfileError, load_profile, parse_profile
from harness.profile.pricing import (
    load_offer_file,
    load_snapshot,
    no_price_text,
    parse_offer_file,
    plan_cost,
    resolve_price,
)
from harness.record import EndpointSample, RunFolder, RunInfo
from harness.report.cost import cost_lines, read_cost, record_cost
from tests.conftest import ROOT, shortened_profile


def hosting(sku: str, instance: str, region: str = "us-east-1", component: str | None = "Hosting",
            usagetype: str | None = None, location: str | None = None) -> dict:
    attributes = {"servicecode": "AmazonSageMaker", "locationType": "AWS Region", "instanceName": instance,
                  "instanceType": f"{instance}-Hosting", "vCpu": "2", "memory": "8 GiB"}
    if region:
        attributes["regionCode"] = region
    if location:
        attributes["location"] = location
    if component:
        attributes["component"] = component
    attributes["usagetype"] = usagetype or f"USE1-Host:{instance}"
    return {"sku": sku, "productFamily": "ML Instance", "attributes": attributes}


def on_demand(sku: str, usd: str, unit: str = "Hrs") -> dict:
    """One SKU's OnDemand terms as the offer file writes them: sku.offerTermCode -> priceDimensions."""
    term = f"{sku}.JRTCKXETXF"
    return {term: {"offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
                   "termAttributes": {}, "priceDimensions": {f"{term}.6YS6EN2CT7": {
                       "rateCode": f"{term}.6YS6EN2CT7", "description": f"${usd} per hour", "beginRange": "0",
                       "endRange": "Inf", "unit": unit, "appliesTo": [], "pricePerUnit": {"USD": usd}}}}}


def offer_file() -> dict:
    products = {
        "AAA": hosting("AAA", "ml.m5.large"),
        "BBB": {**hosting("BBB", "ml.m5.large", component="Notebook"), "sku": "BBB"},  # not hosting
        "CCC": hosting("CCC", "ml.m5.large", region="eu-west-1", usagetype="EU-Host:ml.m5.large"),
        "DDD": hosting("DDD", "ml.c5.large", component=None),  # no component: the Host usage type says it
        "EEE": hosting("EEE", "ml.r5.large"),  # a $0 figure is no price
        "FFF": hosting("FFF", "ml.g4dn.xlarge", region="", location="US East (N. Virginia)"),
        "GGG": hosting("GGG", "ml.t3.medium", component="Training", usagetype="USE1-Train:ml.t3.medium"),
    }
    terms = {"AAA": on_demand("AAA", "0.1150000000"), "BBB": on_demand("BBB", "0.9990000000"),
             "CCC": on_demand("CCC", "0.1280000000"), "DDD": on_demand("DDD", "0.1190000000"),
             "EEE": on_demand("EEE", "0.0000000000"), "FFF": on_demand("FFF", "0.7364000000"),
             "GGG": on_demand("GGG", "0.0500000000")}
    return {"formatVersion": "v1.0", "disclaimer": "...", "offerCode": "AmazonSageMaker", "version": "20261120",
            "publicationDate": "2026-11-20T18:00:00Z", "products": products,
            "terms": {"OnDemand": terms, "Reserved": {}}}


def test_offer_file_parser_reads_hosting_prices_of_the_region(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    path.write_text(json.dumps(offer_file()))
    prices = load_offer_file(path, "us-east-1")
    assert {k: p.usd_per_hour for k, p in prices.items()} == {
        "ml.m5.large": 0.115, "ml.c5.large": 0.119, "ml.g4dn.xlarge": 0.7364}
    m5 = prices["ml.m5.large"]
    assert m5.origin == "price-file" and m5.read == "2026-11-20" and m5.region == "us-east-1"
    assert str(path) in m5.source and "SKU AAA" in m5.source
    assert "ml.r5.large" not in prices and "ml.t3.medium" not in prices  # $0, and not hosting
    assert load_offer_file(path, "eu-west-1")["ml.m5.large"].usd_per_hour == 0.128


@pytest.mark.parametrize(("data", "message"), [
    pytest.param({"products": {}}, "not an AWS price list (offer) file", id="no-terms"),
    pytest.param([1, 2], "not an AWS price list (offer) file", id="not-a-mapping"),
    pytest.param({**offer_file(), "offerCode": "AmazonEC2"}, "AmazonEC2, not of AmazonSageMaker", id="other-service"),
])
def test_offer_file_that_cannot_be_used_is_a_config_error(tmp_path: Path, data: object, message: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_offer_file(path, "us-east-1")


def test_offer_file_without_the_region_names_what_it_has() -> None:
    with pytest.raises(ValueError, match="no SageMaker real-time hosting price .* for ap-south-1"):
        parse_offer_file(offer_file(), "ap-south-1", source="f.json")


def test_unknown_type_has_no_price_never_zero() -> None:
    assert resolve_price("ml.nope.xlarge", "us-east-1") is None
    assert resolve_price("ml.m5.large", "eu-west-1") is None  # the snapshot holds us-east-1 only
    figures = cost_of([sample(0, 1), sample(60, 1)], "ml.nope.xlarge", None)
    assert figures.instance_seconds == 60 and figures.usd is None
    assert "cost unknown" in figures.summary("observed") and "$0" not in figures.summary("observed")
    assert "no price" in no_price_text("ml.nope.xlarge", "us-east-1")
    plan = plan_cost("ml.nope.xlarge", "us-east-1")
    assert plan.price is None and "no price" in plan.price_text()


def test_profile_overrides_win_over_the_offer_file_and_the_snapshot() -> None:
    offer = parse_offer_file(offer_file(), "us-east-1", source="f.json")
    assert resolve_price("ml.m5.large", "us-east-1", offer=offer).origin == "price-file"
    price = resolve_price("ml.m5.large", "us-east-1", overrides={"ml.m5.large": 0.2}, offer=offer)
    assert price is not None and price.usd_per_hour == 0.2 and price.origin == "profile"
    assert resolve_price("ml.m5.large", "us-east-1").origin == "snapshot"
    data = shortened_profile(cost={"prices": {"ml.m5.large": 0.2}})
    profile = parse_profile(data)
    plan = plan_cost("ml.m5.large", "us-east-1", overrides=profile.cost.prices, offer=offer)
    assert plan.price is not None and plan.price.usd_per_hour == 0.2


def test_a_cap_needs_a_price_and_takes_the_lower_of_profile_and_flag() -> None:
    with pytest.raises(ConfigError, match="cannot be enforced: ml.nope.xlarge: no price"):
        plan_cost("ml.nope.xlarge", "us-east-1", flag_max_usd=1.0)
    assert plan_cost("ml.m5.large", "us-east-1", profile_max_usd=2.0, flag_max_usd=0.5).max_usd == 0.5
    assert plan_cost("ml.m5.large", "us-east-1", profile_max_usd=0.25).max_usd == 0.25


def test_snapshot_prices_each_name_a_source_and_a_date_and_cover_the_shipped_profiles() -> None:
    snap = load_snapshot()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", snap.date) and snap.region == "us-east-1"
    for name, price in snap.prices.items():
        assert price.usd_per_hour > 0, name
        assert price.source.startswith("https://"), name
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", price.read), name
    shipped = [*(ROOT / "profiles").glob("*.yaml"), ROOT / "harness" / "profile" / "starter.yaml"]
    used = {load_profile(p).endpoint.instance_type for p in shipped}
    assert used <= set(snap.prices), used - set(snap.prices)
    line = snap.prices["ml.m5.large"].describe()
    assert line.startswith("ml.m5.large $0.115/h, us-east-1, source https://") and f"read {snap.date}" in line


def sample(ts: float, current: int | None, desired: int | None = None) -> EndpointSample:
    return EndpointSample(ts=ts, endpoint_name="ep", variant_name="AllTraffic", status="InService",
                          current_instances=current, desired_instances=desired if desired is not None else current)


def test_instance_seconds_hold_each_count_until_the_next_sample() -> None:
    samples = [sample(130, 2), sample(0, 1), sample(30, 3), sample(45, None), sample(90, 2), sample(100, 2)]
    # 1 x 30 s + 3 x 60 s (the sample without a count is skipped) + 2 x 10 s + 2 x 30 s; the last adds nothing
    assert instance_seconds(samples) == (290.0, 0.0, 130.0, 5)
    assert instance_seconds(samples, until_ts=100)[0] == 230.0
    assert instance_seconds([]) == (0.0, None, None, 0)
    assert instance_seconds([sample(5, 4)]) == (0.0, 5.0, 5.0, 1)


def test_cost_json_equals_instance_seconds_times_the_snapshot_price(tmp_path: Path) -> None:
    run = RunInfo(run_id="r", profile_name="p", profile={}, mode="aws", speed=1, region="us-east-1",
                  endpoint_name="ep", variant_name="AllTraffic", started_ts=0.0, load_start_ts=10.0)
    folder = RunFolder.create(tmp_path, run)
    for s in (sample(0, 1), sample(30, 3), sample(90, 2), sample(100, 2), sample(3700, 1)):
        folder.append("endpoint", s)
    folder.close()
    plan = plan_cost("ml.m5.large", "us-east-1")
    snapshot_price = load_snapshot().prices["ml.m5.large"].usd_per_hour
    record_cost(folder.load(), plan, None, "not simulated in this test")
    data = read_cost(folder.path)
    assert data is not None
    seconds = 1 * 30 + 3 * 60 + 2 * 10 + 2 * 3600
    assert data["observed"]["instance_seconds"] == seconds
    assert data["observed"]["usd"] == seconds * snapshot_price / 3600
    assert data["price"]["usd_per_hour"] == snapshot_price and data["price"]["source"].startswith("https://")
    assert data["price"]["read"] == load_snapshot().prices["ml.m5.large"].read
    lines = cost_lines(data)
    assert lines[0] == "expected: unknown (not simulated in this test)"
    assert lines[1].startswith(f"observed: {seconds / 3600:.4g} instance-hours ({seconds} instance-seconds), $")
    assert lines[-1].startswith("price: ml.m5.large $0.115/h, us-east-1, source https://")


def test_cost_json_of_an_unpriced_type_says_unknown(tmp_path: Path) -> None:
    run = RunInfo(run_id="r", profile_name="p", profile={}, mode="aws", speed=1, region="us-east-1",
                  endpoint_name="ep", variant_name="AllTraffic", started_ts=0.0)
    folder = RunFolder.create(tmp_path, run)
    folder.append("endpoint", sample(0, 1))
    folder.append("endpoint", sample(60, 1))
    folder.close()
    record_cost(folder.load(), plan_cost("ml.nope.xlarge", "us-east-1"), None, None)
    data = read_cost(folder.path)
    assert data is not None and data["observed"]["usd"] is None and data["price"] is None
    assert "cost unknown (no price)" in cost_lines(data)[0] and "no price" in cost_lines(data)[-1]


@pytest.mark.parametrize(("section", "problem"), [
    pytest.param({"cost": {"prices": {"ml.m5.large": 0}}}, "cost.prices: ml.m5.large: 0 is not a price", id="zero"),
    pytest.param({"cost": {"prices": {"m5.large": 0.1}}}, "cost.prices: 'm5.large' is not a SageMaker", id="name"),
    pytest.param({"cost": {"max_usd": -1}}, "cost.max_usd", id="cap"),
    pytest.param({"stop": [{"type": "error_rate", "above": "lots", "for": 3}]}, "stop[0].above", id="rate"),
    pytest.param({"stop": [{"type": "error_rate", "above": 0.05, "for": 0}]}, "stop[0].for", id="for"),
    pytest.param({"stop": [{"type": "p99_latency", "above": 5}]}, "stop[0].above_ms: required", id="ms"),
    pytest.param({"stop": [{"type": "instances", "above": 0}]}, "stop[0].above: 0 instances is below", id="inst"),
    pytest.param({"stop": [{"type": "queue", "above": 1}]}, "stop[0]", id="type"),
])
def test_bad_cost_and_stop_fields_are_named(section: dict, problem: str) -> None:
    with pytest.raises(ProfileError) as err:
        parse_profile(shortened_profile(**section))
    assert problem in str(err.value)


def test_cost_and_stop_sections_parse_and_survive_a_scenario(tmp_path: Path) -> None:
    data = shortened_profile(cost={"prices": {"ml.m5.large": 0.12}, "max_usd": 3},
                             stop=[{"type": "error_rate", "above": "5%", "for": 3},
                                   {"type": "p99_latency", "above_ms": 2000, "for": 2},
                                   {"type": "instances", "above": 4}],
                             scenarios=[{"name": "a"}])
    profile = parse_profile(data)
    assert profile.cost.max_usd == 3 and profile.stop[0].above == 0.05
    again = profile.for_scenario("a")
    assert again.stop == profile.stop and again.cost == profile.cost
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(profile.model_dump(mode="json", by_alias=True, exclude_none=True)))
    assert load_profile(path).stop == profile.stop


def test_help_lists_exit_code_103() -> None:
    text = build_parser().format_help()
    assert "103 stopped early by a stop condition or the cost cap" in text
