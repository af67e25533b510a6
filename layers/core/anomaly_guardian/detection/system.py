"""System metrics: statistical process control per service and metric.

Each series keeps a Holt level + trend (so daily cycles and slow drift are followed, not flagged),
a robust scale (EWMA of absolute one-step residuals, clipped, x1.2533 to a sigma, floored relative
to the level for flat or integer series), and a two-sided CUSUM of clipped z-scores. Rules:
- spike: one point beyond `spike_sigma`, raised further for series whose own tails are heavy
  (the rate of |z| > 4 is tracked and a power-law tail assumed), so heavy-tailed noise is not news;
- run: `run_length` consecutive points beyond `sigma` on the same side (sustained shift, quick);
- cusum: the CUSUM crosses `cusum_h` (smaller sustained shifts).
Residual updates are clipped at 3 sigma, so single spikes do not drag the baseline.

One alarm per episode: after an alarm the pre-alarm baseline is frozen and extrapolated; the
episode ends quietly when `recovery_points` consecutive points are back within `sigma` of it, or,
if the shift persists for `rebase_points`, the new level becomes normal (no second alarm for the
return or the plateau). Then `cooldown_points` of quiet. A gap longer than `max_gap_intervals`
sampling intervals restarts the level (the scale is kept) with a short warm-up.
"""

from __future__ import annotations

from collections.abc import Iterable

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.state.store import StateItem

KIND = "sys"
MAD_TO_SIGMA = 1.2533
Z_CLIP = 4.0
RESTART_WARMUP = 10
TAIL_Z = 4.0
LEVEL_CLIP = 3.0  # residuals are clipped at this many sigma before they move the level
SUSPECT_CLIP = 0.5
TAIL_PRIOR = 1e-4
TAIL_RATE = 1.0 / 1000
TAIL_TARGET = 3e-5


def series_key(tenant: str, service: str, metric: str) -> str:
    return f"{tenant}#{KIND}#{service}|{metric}"


class SeriesMonitor:
    """The control chart for one series, over a plain dict (the stored state). Pure, so the NAB-like
    evaluation and the detector share it. `update` returns None or (rule, z, expected, sigma, stat)."""

    __slots__ = ("cfg",)

    def __init__(self, config: DetectionConfig) -> None:
        self.cfg = config.system

    def update(self, st: dict, t: float, x: float) -> tuple[str, float, float, float, float] | None:
        cfg = self.cfg
        n = st.get("n", 0)
        if n == 0:
            st.update(n=1, L=x, T=0.0, S=0.0, dt=0.0, t=t, cp=0.0, cn=0.0, rp=0, rn=0, w=0, cd=0, ep=None)
            return None
        gap = t - st["t"]
        if gap <= 0:  # duplicate or late point: judge it against the level, do not move the clock
            gap = st["dt"] or 1.0
        else:
            st["t"] = t
        dt = st["dt"]
        if dt <= 0:
            dt = st["dt"] = gap
        steps = gap / dt
        if steps < 3.0:
            st["dt"] = dt + 0.05 * (gap - dt)
        steps = max(steps, 1e-3)
        L, T, S = st["L"], st["T"], st["S"]
        if steps > cfg.max_gap_intervals:
            st.update(L=x, T=0.0, cp=0.0, cn=0.0, rp=0, rn=0, w=RESTART_WARMUP, ep=None)
            st["n"] = n + 1
            return None
        pred = L + T * steps
        r = x - pred
        sigma = max(S * MAD_TO_SIGMA, cfg.min_relative_scale * abs(L), 1e-9)
        z = r / sigma
        warm = n < cfg.warmup_points or st["w"] > 0
        if st["w"] > 0:
            st["w"] -= 1
        alarm = None
        ep = st["ep"]
        if ep is not None:
            self._episode(st, ep, t, x, sigma)
        elif warm or st["cd"] > 0:
            if st["cd"] > 0:
                st["cd"] -= 1
        else:
            alarm = self._rules(st, z)
            if alarm is not None:
                st.update(ep=[pred, T, t, dt, 0, 0, x], cp=0.0, cn=0.0, rp=0, rn=0)
        # Holt update with a clipped residual (robust to spikes); scale frozen during an episode.
        if n >= 5 and S > 0:
            # Points beyond `sigma` are suspect: they may nudge the level but not drag
            # it (half a sigma at most), so a shift is not absorbed before the CUSUM / run rules see it.
            bound = (LEVEL_CLIP if abs(z) <= cfg.sigma else SUSPECT_CLIP) * sigma
            rc = max(-bound, min(bound, r))
        else:
            rc = r
        new_l = pred + cfg.ewma_lambda * rc
        st["T"] = T + cfg.trend_beta * ((new_l - L) / steps - T)
        st["L"] = new_l
        if st["ep"] is None and alarm is None:
            beta = max(cfg.scale_beta, 1.0 / (n + 1)) if n < cfg.warmup_points else cfg.scale_beta
            st["S"] = S + beta * (min(abs(r), Z_CLIP * sigma if S > 0 else abs(r)) - S)
        st["n"] = n + 1
        if alarm is None:
            return None
        return alarm[0], z, pred, sigma, alarm[1]

    def _rules(self, st: dict, z: float) -> tuple[str, float] | None:
        cfg = self.cfg
        # Tail-adaptive spike limit: track how often |z| > 4 (Gaussian: ~6e-5). Assuming a power-law
        # tail (P(|z| > x) ~ x^-3, Student-t with 3 dof), pick the limit that ~3e-5 of points exceed.
        tail = st.get("pt", TAIL_PRIOR)
        limit = max(cfg.spike_sigma, TAIL_Z * (tail / TAIL_TARGET) ** (1.0 / 3.0))
        if abs(z) >= limit:
            return ("spike", abs(z))  # an alarm point does not count as ordinary tail
        st["pt"] = tail + TAIL_RATE * ((1.0 if abs(z) > TAIL_Z else 0.0) - tail)
        zc = max(-Z_CLIP, min(Z_CLIP, z))
        st["cp"] = cp = max(0.0, st["cp"] + zc - cfg.cusum_k)
        st["cn"] = cn = max(0.0, st["cn"] - zc - cfg.cusum_k)
        st["rp"] = st["rp"] + 1 if z > cfg.sigma else 0
        st["rn"] = st["rn"] + 1 if z < -cfg.sigma else 0
        if st["rp"] >= cfg.run_length or st["rn"] >= cfg.run_length:
            return ("run", abs(z))
        if cp > cfg.cusum_h or cn > cfg.cusum_h:
            return ("cusum", max(cp, cn))
        return None

    def _episode(self, st: dict, ep: list, t: float, x: float, sigma: float) -> None:
        cfg = self.cfg
        base, trend, t0, dt, count, ok, level = ep
        expected = base + trend * ((t - t0) / dt if dt > 0 else 0.0)
        ok = ok + 1 if abs(x - expected) < cfg.sigma * sigma else 0
        count += 1
        level += 0.2 * (x - level)  # where the series is now (EWMA over the episode)
        if ok >= cfg.recovery_points:
            st.update(ep=None, L=expected, T=trend, cd=cfg.cooldown_points)
        elif count >= cfg.rebase_points:
            st.update(ep=None, L=level, T=trend, cd=cfg.cooldown_points)  # the shift is the new normal
        else:
            ep[4], ep[5], ep[6] = count, ok, level


class SystemDetector:
    name = "system"

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        e = ev.event
        if e.eventType == "metric":
            return (series_key(ev.tenant, e.service, e.metricName),)
        return ()

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        e = ev.event
        if e.eventType != "metric":
            return []
        st = states[series_key(ev.tenant, e.service, e.metricName)].state
        result = SeriesMonitor(config).update(st, ev.epoch, e.metricValue)
        if result is None:
            return []
        rule, z, expected, sigma, stat = result
        cfg = config.system
        if rule == "spike":
            score = 0.7 + 0.3 * (1.0 - cfg.spike_sigma / max(abs(z), cfg.spike_sigma))
        elif rule == "run":
            score = 0.65 + 0.3 * min(1.0, abs(z) / (3 * cfg.sigma))
        else:
            score = 0.6 + 0.3 * min(1.0, stat / (3 * cfg.cusum_h))
        direction = "above" if z > 0 else "below"
        entity = f"{e.service}/{e.metricName}"
        names = {
            "spike": "single-point spike",
            "run": f"{cfg.run_length} points beyond {cfg.sigma:g} sigma",
            "cusum": "sustained shift (CUSUM)",
        }
        return [
            Finding(
                AnomalyType.SYSTEM,
                score,
                f"{entity} {e.metricValue:g} is {direction} its expected {expected:.4g} ({names[rule]}, z={z:.1f})",
                [
                    Explanation(
                        feature=e.metricName,
                        observed=e.metricValue,
                        expected=round(expected, 4),
                        detail=f"rule={rule}; robust z={z:.2f}; sigma={sigma:.4g}"
                        + (f"; cusum={stat:.1f} > {cfg.cusum_h:g}" if rule == "cusum" else ""),
                    )
                ],
                detector=self.name,
                entities={"userId": entity, "service": e.service},
            )
        ]
