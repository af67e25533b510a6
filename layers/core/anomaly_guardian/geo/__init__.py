"""Geolocation: the contract's three `geoLocation` forms resolved to one point, and distances.

The tables are bundled (no network, no GeoIP database): ISO 3166-1 alpha-2 country centroids and
AWS region locations. Points are generalised to 0.1 degrees (about 11 km) before storage.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EARTH_RADIUS_KM = 6371.0088


class GeoPoint(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)
    country: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=128)
    # Where the point came from: "coordinates", "country" or "region" (a centroid is coarse).
    source: str = "coordinates"
    # How far the true position may be from the point (km): 0 for coordinates, the country's rough
    # radius for a centroid. Impossible-travel checks subtract it so coarse points do not fire.
    radius_km: float = Field(default=0.0, ge=0)


DEFAULT_COUNTRY_RADIUS_KM = 250.0
REGION_RADIUS_KM = 300.0


@lru_cache(maxsize=1)
def tables() -> tuple[dict[str, Any], dict[str, Any]]:
    """(countries, regions) from the bundled locations.json."""
    data = json.loads(resources.files(__package__).joinpath("locations.json").read_text("utf-8"))
    return data["countries"], data["regions"]


@lru_cache(maxsize=2048)
def _code_point(code: str) -> GeoPoint | None:
    countries, regions = tables()
    region = regions.get(code.lower())
    if region is not None:
        return GeoPoint(
            latitude=region["lat"],
            longitude=region["lon"],
            country=region["country"],
            city=region.get("city"),
            source="region",
            radius_km=REGION_RADIUS_KM,
        )
    country = countries.get(code.upper())
    if country is not None:
        return GeoPoint(
            latitude=country["lat"],
            longitude=country["lon"],
            country=code.upper(),
            source="country",
            radius_km=float(country.get("r", DEFAULT_COUNTRY_RADIUS_KM)),
        )
    return None


def resolve_geo(value: Any) -> Any:
    """Turn 'DE', 'us-east-1' or {latitude, longitude, ...} into a GeoPoint (or a dict pydantic validates).

    Unknown strings raise ValueError with a message naming what was expected. Codes resolve through
    a cache of frozen points (hot path: no dict building per event).
    """
    if value is None or isinstance(value, GeoPoint):
        return value
    if isinstance(value, str):
        point = _code_point(value.strip())
        if point is None:
            raise ValueError(
                f"unknown location {value.strip()!r}: expected an ISO 3166-1 alpha-2 country code (e.g. 'DE'), "
                "an AWS region code (e.g. 'us-east-1') or an object with latitude and longitude"
            )
        return point
    if isinstance(value, dict):
        if "latitude" not in value or "longitude" not in value:
            missing = [k for k in ("latitude", "longitude") if k not in value]
            raise ValueError(f"a geoLocation object needs both latitude and longitude (missing {', '.join(missing)})")
        if "source" in value or "radius_km" in value:
            # Coordinates given by the caller are precise; a source/radius in the body is not trusted.
            value = {k: v for k, v in value.items() if k not in ("source", "radius_km")}
        country = value.get("country")
        if isinstance(country, str) and not (country.isupper() and country.strip() == country):
            value = {**value, "country": country.strip().upper()}
        return value
    raise ValueError("geoLocation must be a country code, an AWS region code or an object with latitude and longitude")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def generalise(point: GeoPoint, places: int = 1) -> tuple[float, float]:
    """Coordinates rounded for storage (privacy: about 11 km at one decimal place)."""
    return round(point.latitude, places), round(point.longitude, places)
