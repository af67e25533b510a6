"""System metrics: an ensemble of two streaming members per service and metric, one state item.

1. `SurpriseMonitor` (grades every point, alarms on its own): HTM/NAB-style anomaly likelihood over
   the prediction errors of two cheap predictors (persistence, time-of-day profile), plus a novelty
   channel (distance beyond the series' slowly decaying range). Its grade is the finding's score.
2. `SeriesMonitor` below (statistical process control; the rules tuned on the generator's failure
   shapes): an alarm of its rules is emitted too, scored by the surprise grade at that point (0.5 when
   the point is not surprising, so a user's threshold can drop weak rule alarms).
Measured with NAB's scorer and on the generator: docs/evaluation.md.

The control chart:

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
from typing import NamedTuple

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


# ---- Surprise: prediction-error likelihood + novelty (the scorer behind the system detector's grades) ----
SLOTS = 96  # time-of-day profile: 15-minute slots
SHORT = 10  # points in the short window of prediction errors
ERR_CAP = 10.0  # a single error counts at most this many MAEs (one outlier cannot dominate the short mean)
LEVEL_RATE = 0.8  # the "persistence" predictor: an EWMA that is nearly the last value
SLOT_RATE = 0.2  # the seasonal predictor: each slot's EWMA over past days
MAE_RATE = 0.01
ERR_LONG_RATE = 0.002  # horizon (~500 points) of the distribution the short mean is judged against
SEASON_MIN_POINTS = 288
NOVELTY_GAIN = 2.0
NOVELTY_UNIT = 0.05  # an excursion of 5% of the usual range beyond it is worth NOVELTY_GAIN * ln 2
RANGE_DECAY = 0.0005
RANGE_MIN_RELATIVE = 0.02
MEAN_RATE = 0.01
RECORD_DECAY = 1.0 - 1.0 / 500
# Points before the scorer may alarm: two days of 5-minute samples. A younger range is broken by ordinary
# heavy-tailed noise (generated NAB-like series, seed 7: 16 of the 54 false novelty alarms fell between
# points 300 and 600; NAB's scorer ignores the first 15 % of a file, its score is unchanged).
SURPRISE_WARMUP = 600
SURPRISE_ALARM = 2.75  # -log10 tail probability that opens an alarm
SURPRISE_REFRACTORY = 150  # points of quiet after an alarm (one alarm per episode)
ALARM_MIN_GRADE = 0.07  # finding score 0.63: below it a crossing is silent (NAB's best threshold lies above)


def _tail(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


class Surprise(NamedTuple):
    alarm: bool  # the surprise crossed the alarm level outside the refractory period
    score: float  # 0.5..0.99: the grade of this point (0.5 = not surprising)
    channel: str  # "likelihood" or "novelty"
    expected: float
    surprise: float  # -log10 tail probability
    quiet: bool  # inside the refractory period of an earlier alarm (of either member)


class SurpriseMonitor:
    """HTM/NAB-style anomaly likelihood over an ensemble of cheap predictors, plus a novelty channel.

    Per point: two predictors (persistence EWMA, time-of-day profile); the one with the lower running MAE
    gives the normalised prediction error e (capped). The mean of the last SHORT errors is judged against
    the long-run distribution of that mean (EWMA mean/variance): likelihood channel = -log10 of its
    Gaussian upper tail. The novelty channel measures how far the value leaves the series' slowly
    decaying range. Surprise = max of both; an alarm opens when it crosses SURPRISE_ALARM outside the
    refractory period. Its grade is how far the surprise exceeds both the alarm level and the series' own
    recent record of surprise (a series that is often surprising needs more). Bounded state: ~120 floats;
    a few microseconds per point in pure Python.

    `update(st, t, x)` returns None or (score 0.5..1, channel, expected, surprise)."""

    __slots__ = ()

    def update(self, st: dict, t: float, x: float) -> Surprise | None:
        n = st.get("n", 0)
        slot = int((t % 86400.0) / 86400.0 * SLOTS)
        if n == 0:
            pf: list = [None] * SLOTS
            pf[slot] = x
            st.update(n=1, L=x, ma=[0.0, 0.0], pf=pf, b=[], mu=0.0, va=0.0, M=x, hi=x, lo=x, rc=0.0, rf=0)
            return None
        L, ma, pf = st["L"], st["ma"], st["pf"]
        season = pf[slot]
        preds = (L, season if season is not None else L)
        res = (x - preds[0], x - preds[1])
        k = 1 if n > SEASON_MIN_POINTS and ma[1] < ma[0] else 0
        floor = 1e-6 * (abs(L) + 1e-9) + 1e-9
        e = abs(res[k]) / max(ma[k], floor)
        for j in (0, 1):
            a = abs(res[j])
            ma[j] += MAE_RATE * ((min(a, 6 * ma[j]) if ma[j] > 0 else a) - ma[j])
        st["L"] = L + LEVEL_RATE * res[0]
        pf[slot] = x if season is None else season + SLOT_RATE * (x - season)
        # Novelty: distance beyond the slowly decaying range, in units of the range.
        hi, lo, mean = st["hi"], st["lo"], st["M"]
        width = max(hi - lo, floor, RANGE_MIN_RELATIVE * abs(mean))
        d = max(x - hi, lo - x, 0.0) / width
        s_novel = NOVELTY_GAIN * math.log1p(d / NOVELTY_UNIT) if d > 0 else 0.0
        mean += MEAN_RATE * (x - mean)
        st["M"] = mean
        st["hi"] = max(x, hi - RANGE_DECAY * (hi - mean))
        st["lo"] = min(x, lo + RANGE_DECAY * (mean - lo))
        # Likelihood of the short mean of errors under its own long-run distribution.
        buf = st["b"]
        buf.append(min(e, ERR_CAP))
        if len(buf) > SHORT:
            del buf[0]
        m = sum(buf) / len(buf)
        n += 1
        mu, va = st["mu"], st["va"]
        z = (m - mu) / math.sqrt(va) if va > 0 else 0.0
        rate = ERR_LONG_RATE if n > 500 else 1.0 / n
        dm = m - mu
        st["mu"] = mu + rate * dm
        st["va"] = (1 - rate) * (va + rate * dm * dm)
        s_like = -math.log10(max(_tail(z), 1e-300)) if z > 0 else 0.0
        surprise = max(s_like, s_novel)
        record = st["rc"]
        st["rc"] = max(surprise, record * RECORD_DECAY)
        st["n"] = n
        ratio = surprise / max(record, SURPRISE_ALARM)
        grade = min(1.0, math.log(ratio + 1.0) / 3.0 * max(0.0, min(1.0, (surprise - SURPRISE_ALARM) / 10.0 + 0.3)))
        alarm = False
        quiet = st["rf"] > 0
        if quiet:
            st["rf"] -= 1
        elif n > SURPRISE_WARMUP and surprise > SURPRISE_ALARM:
            # A crossing opens the refractory period either way; only a graded one is an alarm (a weak
            # crossing in a series that is often surprising stays silent, and does not re-arm either).
            st["rf"] = SURPRISE_REFRACTORY
            alarm = grade >= ALARM_MIN_GRADE
        return Surprise(
            alarm, 0.5 + 0.49 * grade, "likelihood" if s_like >= s_novel else "novelty", preds[k], surprise, quiet
        )


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
        # Two members, one state item: the control chart (top-level keys) says *that* a known failure shape
        # happened (spike, run, CUSUM shift, flapping); the surprise scorer (st["lk"]) grades *how*
        # surprising the point is, and alarms on its own when its likelihood or novelty crosses the bar.
        found = ensemble_update(SeriesMonitor(config), st, ev.epoch, e.metricValue)
        if found is None:
            return []
        (rule, z, expected, sigma, stat), sur = found
        score = surprise_score(sur)
        entity = f"{e.service}/{e.metricName}"
        direction = "above" if e.metricValue > expected else "below"
        cfg = config.system
        names = {
            "spike": "single-point spike",
            "run": f"{cfg.run_length} points beyond {cfg.sigma:g} sigma",
            "cusum": "sustained shift (CUSUM)",
            "erratic": f"{ERRATIC_COUNT} of the last {ERRATIC_WINDOW} points beyond {ERRATIC_Z:g} sigma, either side",
            "likelihood": f"prediction errors of the last {SHORT} points unusually large",
            "novelty": "outside the range the series has kept",
        }
        if z is not None:
            detail = f"rule={rule}; robust z={z:.2f}; sigma={sigma:.4g}" + (
                f"; cusum={stat:.1f} > {cfg.cusum_h:g}" if rule == "cusum" else ""
            )
            what = f"{names[rule]}, z={z:.1f}"
        else:
            detail = f"rule={rule}; surprise={stat:.1f} (-log10 p) > {SURPRISE_ALARM:g}"
            what = f"{names[rule]}, surprise {stat:.1f}"
        if sur is not None:
            detail += f"; grade={score:.2f}"
        return [
            Finding(
                AnomalyType.SYSTEM,
                score,
                f"{entity} {e.metricValue:g} is {direction} its expected {expected:.4g} ({what})",
                [Explanation(feature=e.metricName, observed=e.metricValue, expected=round(expected, 4), detail=detail)],
                detector=self.name,
                entities={"userId": entity, "service": e.service},
            )
        ]


def ensemble_update(monitor: SeriesMonitor, st: dict, t: float, x: float):
    """Both members over one series state; None, or ((rule, z, expected, sigma, stat), surprise). The scorer's
    own alarms carry z = sigma = None and stat = its surprise. Shared by the detector and `guardian eval`."""
    result = monitor.update(st, t, x)
    sur = SurpriseMonitor().update(st.setdefault("lk", {}), t, x)
    if sur is not None and sur.alarm:
        return (sur.channel, None, sur.expected, None, sur.surprise), sur
    if result is not None:
        return result, sur
    return None


def surprise_score(sur: Surprise | None) -> float:
    """The finding's score from the surprise grade: 0.5 (a rule fired, nothing surprising) to 0.99. The square
    root spreads typical alarms over MEDIUM..CRITICAL; it is monotone, so rankings (and NAB) are unchanged."""
    if sur is None:
        return 0.5
    return 0.5 + 0.49 * math.sqrt((sur.score - 0.5) / 0.49)
