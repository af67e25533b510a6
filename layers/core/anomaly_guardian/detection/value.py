"""Value anomalies: amounts far from the user's robust moving statistics, and an absolute limit.

Amounts are compared on a log scale (spending is multiplicative: $300 after a $30 habit is as
unusual as $3,000 after $300). Per user we keep an EWMA level of log(amount) and an EWMA of the
absolute deviation (a robust scale; x1.2533 turns it into a sigma for normal data). Updates are
clipped at 3 sigma and flagged amounts are not learned, so one fraud does not teach the profile
that fraud is normal. A jump rule also flags an amount many times the user's largest earlier
one when it is already unusual (z >= `jump_z`): a wide spender's profile is loose, their maximum
is not. A user with little history is judged by a normal model with a population prior
(`ValueConfig.prior_*`): the expected level is a precision-weighted mix of the user's level and
the population median, and the scale includes the uncertainty of that level.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.state.store import StateItem

KIND = "value"
MAD_TO_SIGMA = 1.2533  # mean absolute deviation -> standard deviation for normal data


def baseline(state: dict, config: DetectionConfig) -> tuple[float, float, int]:
    """(expected log-amount, predictive log-scale, history) for a user: a normal model whose prior is
    the population (median and between-user spread) and whose data is the user's own level."""
    cfg = config.value
    n = state.get("n", 0)
    prior_m = math.log(cfg.prior_median)
    tau2 = cfg.prior_between_scale**2
    w2 = cfg.prior_within_scale**2
    if n == 0:
        return prior_m, max(math.sqrt(w2 + tau2), cfg.min_log_scale), 0
    # The user's own spread, pooled with the prior spread (n - 1 degrees of freedom vs prior_strength).
    own = max(state["s"] * MAD_TO_SIGMA, cfg.min_log_scale)
    dof = n - 1
    w2 = (dof * own * own + cfg.prior_strength * w2) / (dof + cfg.prior_strength)
    precision = n / w2 + 1.0 / tau2
    m = (n / w2 * state["m"] + prior_m / tau2) / precision
    return m, max(math.sqrt(w2 + 1.0 / precision), cfg.min_log_scale), n


class ValueDetector:
    name = "value"

    def __init__(self) -> None:
        # |z| of every transaction the z rule lets pass: the pipeline drains it into the tenant's calibration
        # (detection.calibration).
        self.observed: dict[str, list[float]] = {"value_z": []}

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        if ev.event.transactionAmount is not None:
            return (f"{ev.tenant}#{KIND}#{ev.user}",)
        return ()

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        amount = ev.event.transactionAmount
        if amount is None:
            return []
        cfg = config.value
        state = states[f"{ev.tenant}#{KIND}#{ev.user}"].state
        x = math.log(max(amount, 0.01))
        m, s, n = baseline(state, config)
        z = (x - m) / s
        findings: list[Finding] = []
        expected = round(math.exp(m), 2)
        limit = cfg.absolute_limit
        largest = state.get("x")
        jump = (
            largest is not None
            and n >= cfg.jump_min_history
            and x - largest >= math.log(cfg.jump_ratio)
            and z >= cfg.jump_z
        )
        z_fires = (z > cfg.z_threshold or jump) and amount >= cfg.min_amount
        if not z_fires:  # a flagged amount teaches neither the profile nor the tenant's calibration
            self.observed["value_z"].append(abs(z))
        if amount > limit or z_fires:
            score = 0.0
            reasons = []
            explanation = []
            if amount > limit:
                score = 0.75 + 0.25 * min(1.0, (amount - limit) / limit)
                reasons.append(f"above the absolute limit {limit:,.2f}")
                explanation.append(
                    Explanation(feature="transactionAmount", observed=amount, expected=limit, detail="absolute limit")
                )
            if z_fires:
                score = max(score, 0.6 + 0.4 * (1.0 - math.exp(-max(0.0, z - cfg.z_threshold) / cfg.z_threshold)))
                reasons.append(f"{math.exp(x - m):.1f}x the user's typical {expected:,.2f}")
                if jump:
                    reasons.append(f"{math.exp(x - largest):.0f}x their largest earlier amount")
                    explanation.append(
                        Explanation(
                            feature="ratio_to_largest_amount",
                            observed=round(math.exp(x - largest), 1),
                            expected=cfg.jump_ratio,
                            detail=f"largest of {n} earlier transactions: {math.exp(largest):,.2f}",
                        )
                    )
            explanation.append(
                Explanation(
                    feature="log_transaction_amount_z",
                    observed=round(z, 2),
                    expected=cfg.z_threshold,
                    detail=f"amount {amount:,.2f} vs typical {expected:,.2f} (robust log-scale {s:.2f}, "
                    f"{n} prior transactions{', shrunk to population prior' if n < cfg.min_history else ''})",
                )
            )
            findings.append(
                Finding(
                    AnomalyType.VALUE,
                    score,
                    f"Transaction amount {amount:,.2f} " + " and ".join(reasons),
                    explanation,
                    detector=self.name,
                )
            )
            if z_fires:
                return findings  # do not learn from an outlier
        # Learn: EWMA level and absolute deviation of log(amount), with clipped updates.
        if n == 0:
            state["n"], state["m"], state["s"], state["x"] = 1, x, 0.0, x
            return findings
        if largest is None or x > largest:
            state["x"] = x
        alpha = 1.0 / min(n + 1, cfg.horizon)
        d = x - state["m"]
        if n >= 3:
            bound = 3.0 * max(state["s"] * MAD_TO_SIGMA, cfg.min_log_scale)
            d = max(-bound, min(bound, d))
        state["m"] += alpha * d
        state["s"] += alpha * (abs(d) - state["s"])
        state["n"] = n + 1
        return findings
