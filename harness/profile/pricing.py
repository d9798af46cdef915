"""Instance prices: the shipped snapshot, a profile's ``cost.prices`` and AWS's own SageMaker offer file.

Contract: a :class:`Price` is one on-demand USD figure per instance-hour of SageMaker real-time hosting, for
one instance type in one region, always with where it came from (``source``: a URL, a file, the profile) and
when it was read (``read``: a date). Nothing here ever makes a price up: a type no source names has **no
price** (``None``), never 0, and every cost computed from it is *unknown*.

Where a price comes from, first match wins (:func:`resolve_price`):

1. the profile's ``cost.prices`` (the user's own figure, for any region);
2. ``--price-file``: AWS's SageMaker offer file (:func:`parse_offer_file`);
3. the snapshot shipped in ``harness/profile/prices.json`` (dated; its region only, us-east-1).

The offer file is the Price List bulk file (``.../offers/v1.0/aws/AmazonSageMaker/current/[region/]index.json``),
read as AWS documents it ("Reading the service price list file"): ``products`` maps a SKU to
``{sku, productFamily, attributes}``; ``terms.OnDemand`` maps a SKU to its offers, each with
``priceDimensions`` whose ``pricePerUnit.USD`` is a decimal string per ``unit``. A SageMaker real-time
hosting price is a product whose ``attributes.component`` is ``Hosting`` (or, when the component is
missing, whose ``usagetype`` is ``<REGION>-Host:<instance>``), named by ``attributes.instanceName``
(else ``instanceType`` without a ``-hosting`` suffix), in the region given by ``attributes.regionCode``
(else ``location``), priced per ``Hrs``. Several matching SKUs of one type keep the highest figure (a
cap errs on the safe side); a $0 figure is skipped (not a usable price). The file's ``publicationDate``
is the price's ``read`` date.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from harness.errors import ConfigError

SNAPSHOT_FILE = "prices.json"
HOURLY_UNITS = {"hrs", "hr", "hours", "hour"}
# regionCode -> the "location" name the offer file uses, for files whose products lack regionCode.
LOCATIONS = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)", "eu-central-1": "EU (Frankfurt)", "eu-north-1": "EU (Stockholm)",
    "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-southeast-1": "Asia Pacific (Singapore)", "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-south-1": "Asia Pacific (Mumbai)", "ca-central-1": "Canada (Central)", "sa-east-1": "South America (Sao Paulo)",
}

Origin = Literal["snapshot", "profile", "price-file"]


def format_usd(usd: float) -> str:
    """``$0.0031`` below a dollar (four decimals: short runs cost cents), ``$12.40`` above."""
    return f"${usd:.4f}" if abs(usd) < 1 else f"${usd:,.2f}"


@dataclass(frozen=True)
class Price:
    """One on-demand price of SageMaker real-time hosting, with its provenance."""

    instance_type: str
    usd_per_hour: float
    region: str
    source: str
    read: str
    origin: Origin
    snapshot_date: str | None = None
    note: str = ""

    def describe(self) -> str:
        """``ml.m5.large $0.115/h, us-east-1, source <url>, read 2026-12-03`` (plus where it was taken from)."""
        where = {"snapshot": f"snapshot {self.snapshot_date}", "profile": "profile cost.prices",
                 "price-file": "--price-file"}[self.origin]
        return (f"{self.instance_type} ${self.usd_per_hour:g}/h, {self.region}, source {self.source}, "
                f"read {self.read} ({where})")

    def as_json(self) -> dict[str, Any]:
        return {"instance_type": self.instance_type, "usd_per_hour": self.usd_per_hour, "region": self.region,
                "source": self.source, "read": self.read, "origin": self.origin,
                "snapshot_date": self.snapshot_date, "note": self.note}


def no_price_text(instance_type: str, region: str) -> str:
    """What is shown instead of a price: ``ml.x.large: no price (us-east-1) — ...``."""
    return (f"{instance_type}: no price ({region}): not in the price snapshot; give one in the profile's "
            "cost.prices or pass AWS's SageMaker offer file with --price-file")


@dataclass(frozen=True)
class Snapshot:
    """The shipped, dated price table (``prices.json``)."""

    date: str
    region: str
    prices: dict[str, Price]


def load_snapshot() -> Snapshot:
    """The snapshot shipped with the package."""
    data = json.loads(resources.files("harness.profile").joinpath(SNAPSHOT_FILE).read_text(encoding="utf-8"))
    date, region = str(data["snapshot_date"]), str(data["region"])
    prices = {name: Price(instance_type=name, usd_per_hour=float(p["usd_per_hour"]), region=region,
                          source=str(p["source"]), read=str(p["read"]), origin="snapshot", snapshot_date=date,
                          note=str(p.get("note", "")))
              for name, p in data["prices"].items()}
    return Snapshot(date=date, region=region, prices=prices)


def _instance_name(attributes: dict[str, Any]) -> str | None:
    name = attributes.get("instanceName") or attributes.get("instanceType")
    if not isinstance(name, str) or not name.startswith("ml."):
        return None
    lowered = name.lower()
    return name[: -len("-hosting")] if lowered.endswith("-hosting") else name


def _is_hosting(attributes: dict[str, Any]) -> bool:
    component = attributes.get("component")
    if isinstance(component, str) and component:
        return component.lower() == "hosting"
    usage = str(attributes.get("usagetype", ""))
    return usage.startswith("Host:") or "-Host:" in usage


def _in_region(attributes: dict[str, Any], region: str) -> bool:
    if attributes.get("locationType") not in (None, "AWS Region"):
        return False
    code = attributes.get("regionCode")
    if code is not None:
        return code == region
    return LOCATIONS.get(region) is not None and attributes.get("location") == LOCATIONS[region]


def _hourly_usd(offers: Any) -> float | None:
    """The hourly USD figure of one SKU's on-demand offers (the first range of a tiered one)."""
    if not isinstance(offers, dict):
        return None
    figures: list[tuple[float, float]] = []
    for offer in offers.values():
        dims = offer.get("priceDimensions", {}) if isinstance(offer, dict) else {}
        for dim in dims.values() if isinstance(dims, dict) else ():
            if not isinstance(dim, dict) or str(dim.get("unit", "")).lower() not in HOURLY_UNITS:
                continue
            usd = dim.get("pricePerUnit", {}).get("USD")
            try:
                figures.append((float(dim.get("beginRange", 0) or 0), float(usd)))
            except (TypeError, ValueError):
                continue
    if not figures:
        return None
    return min(figures)[1]


def parse_offer_file(data: Any, region: str, *, source: str) -> dict[str, Price]:
    """Hosting prices of ``region`` in an AWS SageMaker offer file (already parsed JSON), by instance type.
    ``ValueError`` when ``data`` is not an offer file or holds no hosting price for ``region``."""
    if not isinstance(data, dict) or not isinstance(data.get("products"), dict) \
            or not isinstance(data.get("terms"), dict) or not isinstance(data["terms"].get("OnDemand"), dict):
        raise ValueError(f"{source}: not an AWS price list (offer) file: it needs \"products\" and "
                         "\"terms\": {\"OnDemand\": ...} (see AWS's \"Reading the service price list file\")")
    read = str(data.get("publicationDate", "") or "unknown")[:10]
    offer_code = data.get("offerCode")
    if offer_code not in (None, "AmazonSageMaker"):
        raise ValueError(f"{source}: the offer file of {offer_code}, not of AmazonSageMaker")
    on_demand = data["terms"]["OnDemand"]
    found: dict[str, Price] = {}
    regions_seen: set[str] = set()
    for sku, product in data["products"].items():
        attributes = product.get("attributes", {}) if isinstance(product, dict) else {}
        if not isinstance(attributes, dict) or not _is_hosting(attributes):
            continue
        name = _instance_name(attributes)
        if name is None:
            continue
        regions_seen.add(str(attributes.get("regionCode") or attributes.get("location") or "?"))
        if not _in_region(attributes, region):
            continue
        usd = _hourly_usd(on_demand.get(sku))
        if usd is None or usd <= 0:
            continue
        if name in found and found[name].usd_per_hour >= usd:
            continue
        version = f", version {data['version']}" if data.get("version") else ""
        found[name] = Price(instance_type=name, usd_per_hour=usd, region=region, read=read, origin="price-file",
                            source=f"{source} (AWS offer file, publicationDate {read}{version}, SKU {sku})")
    if not found:
        seen = ", ".join(sorted(regions_seen)[:8]) or "none"
        raise ValueError(f"{source}: no SageMaker real-time hosting price (component Hosting, per Hrs) for "
                         f"{region} (hosting prices found for: {seen})")
    return found


def load_offer_file(path: str | Path, region: str) -> dict[str, Price]:
    """:func:`parse_offer_file` of a file; ``ConfigError`` (exit 104) for a file that cannot be read or used."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"--price-file {p}: cannot read it: {err.strerror or err}") from None
    except ValueError as err:
        raise ConfigError(f"--price-file {p}: not JSON: {err}") from None
    try:
        return parse_offer_file(data, region, source=str(p))
    except ValueError as err:
        raise ConfigError(f"--price-file {err}") from None


def resolve_price(instance_type: str, region: str, *, overrides: dict[str, float] | None = None,
                  offer: dict[str, Price] | None = None, snapshot: Snapshot | None = None) -> Price | None:
    """The price of ``instance_type`` in ``region``: the profile's override, else the offer file's, else the
    snapshot's (its region only); ``None`` when no source names it."""
    if overrides and instance_type in overrides:
        return Price(instance_type=instance_type, usd_per_hour=float(overrides[instance_type]), region=region,
                     source="the profile (cost.prices)", read="as given", origin="profile")
    if offer and instance_type in offer:
        return offer[instance_type]
    snap = snapshot if snapshot is not None else load_snapshot()
    if region == snap.region:
        return snap.prices.get(instance_type)
    return None


@dataclass(frozen=True)
class CostPlan:
    """What a run needs to cost itself: the instance type, its price (``None``: no price) and the cap."""

    instance_type: str
    region: str
    price: Price | None
    max_usd: float | None = None

    def price_text(self) -> str:
        return self.price.describe() if self.price is not None else no_price_text(self.instance_type, self.region)


def plan_cost(instance_type: str, region: str, *, overrides: dict[str, float] | None = None,
              offer: dict[str, Price] | None = None, profile_max_usd: float | None = None,
              flag_max_usd: float | None = None) -> CostPlan:
    """The run's :class:`CostPlan`. The cap is the lower of ``cost.max_usd`` and ``--max-cost-usd``; a cap on a
    type without a price cannot be enforced, so it is refused (``ConfigError``, before any traffic)."""
    caps = [c for c in (profile_max_usd, flag_max_usd) if c is not None]
    cap = min(caps) if caps else None
    price = resolve_price(instance_type, region, overrides=overrides, offer=offer)
    if cap is not None and price is None:
        raise ConfigError(f"a cost cap of {format_usd(cap)} cannot be enforced: {no_price_text(instance_type, region)}")
    return CostPlan(instance_type=instance_type, region=region, price=price, max_usd=cap)
