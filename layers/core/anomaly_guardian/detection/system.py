"""System metrics: statistical process control per service and metric.

Each series keeps a Holt level + trend (so daily cycles and slow drift are followed, not flagged),
a robust scale (EWMA of absolute one-step residuals, clipped, x1.2533 to a sigma, floored relative
to the level for flat or integer series and to the typical step for sparse ones), and a two-sided
CUSUM of clipped z-scores. Rules:
- spike: one point beyond `spike_sigma`, raised for series whose own tails are heavy: the rate and
  power-law exponent (Hill) of |z| > 3 are estimated from decayed counts with a near-Gaussian prior,
  and a burst envelope learns what a bursty series does every day;
- erratic: 3 of the last 6 points beyond 5 sigma on either side, when the tail model makes that rare
  (flapping or oscillation, which cancels in the CUSUM);
- run: `run_length` consecutive points beyond `sigma` on the same side (sustained shift, quick);
- cusum: the CUSUM crosses `cusum_h` (smaller sustained shifts).
Residual updates are clipped at 3 sigma, so single spikes do not drag the baseline.

One alarm per episode: after an alarm the pre-alarm baseline is frozen and extrapolated; the
episode ends quietly when `recovery_points` consecutive points are back within `sigma` of it, or,
if the shift persists for `rebase_points`, the new level (and its spread, if wider) becomes normal
(no second alarm for the return or the plateau). Then `cooldown_points` of quiet. A gap longer than
`max_gap_intervals` sampling intervals restarts the level (the scale is kept) with a short warm-up.
Checked on real NAB series with `guardian eval-metrics` as well as on generated ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.state.store import StateItem

KIND = "sys"
MAD_TO_SIGMA = 1.2533
Z_CLIP = 4.0
RESTART_WARMUP = 10
TAIL_Z = 3.0
LEVEL_CLIP = 3.0  # residuals are clipped at this many sigma before they move the level
SUSPECT_CLIP = 0.5
TAIL_PRIOR = 3e-3
TAIL_PRIOR_POINTS = 2000.0
TAIL_DECAY = 1.0 - 1.0 / 5000
TAIL_PRIOR_EXPONENT = 4.0
TAIL_MIN_EXPONENT = 1.5
ENV_FLOOR = 3.0
ENV_MULT = 2.5
ENV_ATTACK = 0.3
ENV_ATTACK_ALARM = 0.1
ENV_RELEASE = 0.9999
ERRATIC_Z = 5.0
ERRATIC_WINDOW = 6
ERRATIC_COUNT = 3
ERRATIC_MASK = (1 << ERRATIC_WINDOW) - 1
ERRATIC_CHANCE = math.comb(ERRATIC_WINDOW, ERRATIC_COUNT)
TAIL_TARGET = 3e-5
EPISODE_RATE = 0.2
ALARM_LOG_CAP = math.log(2.0)
STEP_FLOOR = 0.5
STEP_RATE = 0.005
STEP_CLIP = 50.0


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
            st.update(L=x, T=0.0, cp=0.0, cn=0.0, rp=0, rn=0, eb=0, w=RESTART_WARMUP, ep=None)
            st["n"] = n + 1
            return None
        pred = L + T * steps
        r = x - pred
        # Scale floors: relative to the level (flat or integer series) and to the series' typical step size
        # (a sparse series that is zero most of the time has no residual spread between its bursts).
        d = st.get("d", 0.0)
        sigma = max(S * MAD_TO_SIGMA, cfg.min_relative_scale * abs(L), STEP_FLOOR * d, 1e-9)
        st["d"] = d + STEP_RATE * (min(abs(x - st.get("x", x)), STEP_CLIP * sigma) - d)
        st["x"] = x
        z = r / sigma
        warm = n < cfg.warmup_points or st["w"] > 0
        if st["w"] > 0:
            st["w"] -= 1
        alarm = None
        ep = st["ep"]
        ended = False
        if ep is not None:
            ended = self._episode(st, ep, t, x, sigma)
        elif warm or st["cd"] > 0:
            if st["cd"] > 0:
                st["cd"] -= 1
        else:
            alarm = self._rules(st, z)
            if alarm is not None:
                st.update(ep=[pred, T, t, dt, 0, 0, x, 0.0], cp=0.0, cn=0.0, rp=0, rn=0, eb=0)
        if ended:  # the episode set the level, trend and scale to resume from: keep them
            st["n"] = n + 1
            return None
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
            # Residuals are clipped before they move the scale, at Z_CLIP sigma or at the burst envelope if
            # higher: outliers that are this series' everyday bursts must widen its scale, or it collapses.
            clip = max(Z_CLIP, st.get("env", ENV_FLOOR)) * sigma if S > 0 else abs(r)
            st["S"] = S + beta * (min(abs(r), clip) - S)
        st["n"] = n + 1
        if alarm is None:
            return None
        return alarm[0], z, pred, sigma, alarm[1]

    def _rules(self, st: dict, z: float) -> tuple[str, float] | None:
        cfg = self.cfg
        # Tail-adaptive spike limit from the series' own tail beyond TAIL_Z sigma: its rate, and its
        # power-law exponent (Hill estimator: 1 / mean log-excess), both from decayed sums with a prior
        # worth TAIL_PRIOR_POINTS points of near-Gaussian behaviour, so one outlier after a quiet week
        # barely moves the limit and an incident's first outliers do not mask the rest. The limit is the
        # |z| that TAIL_TARGET of points exceed under P(|z| > x) = rate * (x / TAIL_Z)^-exponent.
        tn, tk, tl = st.get("tn", 0.0), st.get("tk", 0.0), st.get("tl", 0.0)
        k = tk + TAIL_PRIOR * TAIL_PRIOR_POINTS
        rate = k / (tn + TAIL_PRIOR_POINTS)
        exponent = max(TAIL_MIN_EXPONENT, k / (tl + TAIL_PRIOR * TAIL_PRIOR_POINTS / TAIL_PRIOR_EXPONENT))
        limit = max(cfg.spike_sigma, TAIL_Z * (rate / TAIL_TARGET) ** (1.0 / exponent))
        # Burst envelope: a level the series' |z| rarely exceeds, that jumps part of the way (in log terms)
        # towards any |z| above it, alarms included, and sinks back slowly. A sparse or bursty series (zero
        # most of the time, so its residual scale collapses) learns within a few bursts that bursts are its
        # normal; a quiet series keeps it near 3 (below `spike_sigma` / ENV_MULT, so it changes nothing).
        az = abs(z)
        env = st.get("env", ENV_FLOOR)
        limit = max(limit, ENV_MULT * env)
        if az >= limit:
            # An alarm moves the envelope less, and counts in the tail with a capped log-excess: a one-off
            # does not mask the next, but a series whose "spikes" keep coming learns that they are its tail.
            st["env"] = env * (az / env) ** ENV_ATTACK_ALARM
            st["tn"], st["tk"], st["tl"] = tn * TAIL_DECAY + 1.0, tk * TAIL_DECAY + 1.0, tl * TAIL_DECAY + ALARM_LOG_CAP
            return ("spike", az)
        st["env"] = env * (az / env) ** ENV_ATTACK if az > env else max(ENV_FLOOR, env * ENV_RELEASE)
        st["tn"] = tn * TAIL_DECAY + 1.0
        if abs(z) > TAIL_Z:
            st["tk"] = tk * TAIL_DECAY + 1.0
            st["tl"] = tl * TAIL_DECAY + math.log(abs(z) / TAIL_Z)
        elif tk:
            st["tk"], st["tl"] = tk * TAIL_DECAY, tl * TAIL_DECAY
        # Erratic: ERRATIC_COUNT of the last ERRATIC_WINDOW points beyond ERRATIC_Z sigma, on either side (a
        # flapping or oscillating series: its CUSUM cancels out and no single point is a spike), when the tail
        # model makes that many by chance rarer than TAIL_TARGET (so bursty series, whose tail is heavy, do not
        # fire it with their everyday bursts).
        big = az > ERRATIC_Z
        st["eb"] = eb = ((st.get("eb", 0) << 1) | big) & ERRATIC_MASK
        if big and eb.bit_count() >= ERRATIC_COUNT:
            p_big = rate * (ERRATIC_Z / TAIL_Z) ** -exponent
            if ERRATIC_CHANCE * p_big**ERRATIC_COUNT < TAIL_TARGET:
                return ("erratic", az)
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

    def _episode(self, st: dict, ep: list, t: float, x: float, sigma: float) -> bool:
        """Advance the episode by one point; True when it ended (level, trend and scale are then set)."""
        cfg = self.cfg
        base, trend, t0, dt, count, ok, level, *rest = ep
        dev = rest[0] if rest else 0.0  # state stored before the episode tracked its spread
        expected = base + trend * ((t - t0) / dt if dt > 0 else 0.0)
        ok = ok + 1 if abs(x - expected) < cfg.sigma * sigma else 0
        count += 1
        dev += EPISODE_RATE * (abs(x - level) - dev)  # spread around the new level (the new regime's noise)
        level += EPISODE_RATE * (x - level)  # where the series is now (EWMA over the episode)
        if ok >= cfg.recovery_points:
            st.update(ep=None, L=expected, T=trend, cd=cfg.cooldown_points)
            return True
        if count >= cfg.rebase_points:
            # The shift is the new normal: resume from its level, and from its spread if that is wider
            # (a busier regime is usually noisier; the old, tighter scale would flag its ordinary noise).
            st.update(ep=None, L=level, T=trend, S=max(st["S"], dev), cd=cfg.cooldown_points)
            return True
        ep[4], ep[5], ep[6] = count, ok, level
        if rest:
            ep[7] = dev
        else:
            ep.append(dev)
        return False


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
        elif rule in ("run", "erratic"):
            score = 0.65 + 0.3 * min(1.0, abs(z) / (3 * cfg.sigma))
        else:
            score = 0.6 + 0.3 * min(1.0, stat / (3 * cfg.cusum_h))
        direction = "above" if z > 0 else "below"
        entity = f"{e.service}/{e.metricName}"
        names = {
            "spike": "single-point spike",
            "run": f"{cfg.run_length} points beyond {cfg.sigma:g} sigma",
            "cusum": "sustained shift (CUSUM)",
            "erratic": f"{ERRATIC_COUNT} of the last {ERRATIC_WINDOW} points beyond {ERRATIC_Z:g} sigma, either side",
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
