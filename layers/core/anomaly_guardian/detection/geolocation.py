"""Geolocation: impossible travel between a user's consecutive locations, and first-seen countries.

Speed is (distance minus both points' uncertainty radius) over elapsed time, so a country or region
centroid never "travels" from a precise point inside that country, and jumps shorter than
`min_distance_km` (GPS jitter, IP geolocation error) never count. A flagged location is held as
*pending* instead of replacing the trusted one: the user's next event from home is not a second
impossible trip, further events near the pending point raise nothing new, and once enough time has
passed to have travelled there, events from there are simply accepted.
Stored points are generalised to 0.1 degree (privacy).
"""

from __future__ import annotations

from collections.abc import Iterable

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.geo import haversine_km
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.state.store import StateItem

KIND = "geo"
MIN_ELAPSED_S = 1.0


def _speed(a: list, lat: float, lon: float, radius: float, t: float) -> tuple[float, float, float]:
    """(effective distance km, elapsed s, speed km/h) from stored point a = [lat, lon, t, radius, country]."""
    d = haversine_km(a[0], a[1], lat, lon) - a[3] - radius
    elapsed = abs(t - a[2])
    return d, elapsed, d / (max(elapsed, MIN_ELAPSED_S) / 3600.0)


class GeolocationDetector:
    name = "geolocation"

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        if ev.event.geoLocation is not None:
            return (f"{ev.tenant}#{KIND}#{ev.user}",)
        return ()

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        g = ev.event.geoLocation
        if g is None:
            return []
        cfg = config.geolocation
        state = states[f"{ev.tenant}#{KIND}#{ev.user}"].state
        t = ev.epoch
        if g.source == "region":
            # An AWS region code locates a data centre (a server-side call), not the person: it never
            # takes part in travel, but a region in a new country is still a new country.
            return self._region(state, g.country, cfg)
        point = [round(g.latitude, 1), round(g.longitude, 1), t, g.radius_km, g.country]
        last = state.get("p")
        n = state.get("n", 0)
        state["n"] = n + 1
        countries: list = state.setdefault("c", [])
        if last is None:
            state["p"] = point
            if g.country:
                countries.append(g.country)
            return []
        d, elapsed, speed = _speed(last, g.latitude, g.longitude, g.radius_km, t)
        impossible = d >= cfg.min_distance_km and speed > cfg.max_speed_kmh
        pending = state.get("x")
        if impossible and pending is not None:
            pd, _, pspeed = _speed(pending, g.latitude, g.longitude, g.radius_km, t)
            if pd < cfg.min_distance_km or pspeed <= cfg.max_speed_kmh:
                # Same place as the already-flagged jump: one anomaly per episode. The trusted point
                # stays until travel from it becomes feasible (then the move is simply accepted).
                return []
        findings: list[Finding] = []
        if impossible:
            state["x"] = point
            score = 0.75 + 0.25 * min(1.0, (speed / cfg.max_speed_kmh - 1.0) / 4.0)
            findings.append(
                Finding(
                    AnomalyType.GEOLOCATION,
                    score,
                    f"Impossible travel: {d:,.0f} km in {elapsed / 60:,.0f} min ({speed:,.0f} km/h)"
                    + (f" from {last[4]} to {g.country}" if last[4] and g.country else ""),
                    [
                        Explanation(
                            feature="travel_speed_kmh",
                            observed=round(speed, 1),
                            expected=cfg.max_speed_kmh,
                            detail=f"{d:,.0f} km (after location uncertainty) in {elapsed:,.0f} s",
                        )
                    ],
                    detector=self.name,
                )
            )
        else:
            state["p"] = point
            if pending is not None:
                del state["x"]
        country = g.country
        if country and country not in countries:
            # A country already reported with the pending (flagged) jump is not news a second time.
            already = not impossible and pending is not None and pending[4] == country
            if cfg.flag_new_country and n >= cfg.new_country_min_history and not already:
                explanation = Explanation(
                    feature="new_country",
                    observed=country,
                    expected=",".join(countries[-5:]) or None,
                    detail=f"first event from {country} after {n} located events",
                )
                if findings:
                    findings[0].explanation.append(explanation)
                else:
                    findings.append(
                        Finding(
                            AnomalyType.GEOLOCATION,
                            cfg.new_country_score,
                            f"First event from country {country} for this user",
                            [explanation],
                            detector=self.name,
                        )
                    )
            if not impossible:
                self._remember(countries, country, cfg.max_countries_remembered)
        return findings

    def _region(self, state: dict, country: str | None, cfg) -> list[Finding]:
        countries: list = state.setdefault("c", [])
        n = state.get("n", 0)
        if not country or country in countries:
            return []
        self._remember(countries, country, cfg.max_countries_remembered)
        if not cfg.flag_new_country or n < cfg.new_country_min_history:
            return []
        return [
            Finding(
                AnomalyType.GEOLOCATION,
                cfg.new_country_score,
                f"First event from country {country} (AWS region) for this user",
                [Explanation(feature="new_country", observed=country, detail="located by AWS region code")],
                detector=self.name,
            )
        ]

    @staticmethod
    def _remember(countries: list, country: str | None, cap: int) -> None:
        if country and country not in countries:
            countries.append(country)
            if len(countries) > cap:
                del countries[0]
