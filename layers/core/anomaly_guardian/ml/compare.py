"""Does the model earn its place? Recall per anomaly type of the statistical detectors alone versus
the model, at equal false-positive rates, on a labelled stream the model was not trained on.

False-positive rate = flagged unlabelled user events / unlabelled user events (metric events are
left out: the model does not score them). Thresholds for the model are set on the same stream's
negatives to hit the target rate exactly, which is how an operator would tune it from feedback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from anomaly_guardian.ml.model import ModelBundle
from anomaly_guardian.ml.training import replay_features, score_rows
from anomaly_guardian.models.event import InvalidEvent, parse_event


def statistical_scores(events: Sequence[dict[str, Any]], tenant: str = "eval", batch: int = 500) -> dict[str, float]:
    """Highest score any non-ML detector gives each event (min_score 0: every finding counts), replayed
    through the real pipeline in Kinesis-sized batches."""
    from anomaly_guardian.config import DetectionConfig
    from anomaly_guardian.detection.pipeline import DetectionPipeline
    from anomaly_guardian.detection.registry import build_detectors
    from anomaly_guardian.state.store import InMemoryStateStore

    detectors = build_detectors()  # no model configuration: the statistical detectors only
    assert all(d.name != "ml" for d in detectors)
    config = DetectionConfig(min_score=0.0)
    pipeline = DetectionPipeline(InMemoryStateStore(), config_for=lambda _t: config, detectors=detectors)
    scores: dict[str, float] = {}
    parsed = []
    for e in events:
        try:
            parsed.append(parse_event(e))
        except InvalidEvent:
            continue
    for start in range(0, len(parsed), batch):
        for a in pipeline.process(tenant, parsed[start : start + batch]):
            eid = a.originalEvent["eventId"]
            scores[eid] = max(scores.get(eid, 0.0), a.anomalyScore)
    return scores


def _threshold_for_fpr(neg_scores: np.ndarray, fpr: float) -> float:
    """Smallest threshold flagging at most `fpr` of the negatives."""
    k = int(np.floor(fpr * neg_scores.size))
    if k <= 0:
        return float(np.nextafter(neg_scores.max(), np.inf))
    return float(np.sort(neg_scores)[::-1][k - 1])


def compare(
    events: Sequence[dict[str, Any]],
    labels: dict[str, str],
    bundle: ModelBundle,
    episodes: dict[str, str] | None = None,
    extra_fpr: Sequence[float] = (0.001, 0.005),
    tenant: str = "eval",
) -> dict[str, Any]:
    episodes = episodes or {}
    rep = replay_features((tenant, parse_event(e)) for e in events if _valid(e))
    scores = score_rows(bundle, rep.X, rep.seq)
    ids = np.array(rep.event_ids)
    kind = np.array([labels.get(i, "") for i in rep.event_ids])
    neg = kind == ""
    by_event = statistical_scores(events, tenant)
    stat_score = np.array([by_event.get(i, 0.0) for i in rep.event_ids])
    stat = stat_score >= 0.5  # the deployed default min_score

    fpr_stat = float(stat[neg].mean())
    settings: dict[str, np.ndarray] = {"statistical (deployed)": stat}
    t_eq = _threshold_for_fpr(scores[neg], fpr_stat)
    settings[f"model alone @ FPR {fpr_stat:.4f}"] = scores >= t_eq
    deployed = scores >= 0.5
    fpr_model = float(deployed[neg].mean())
    # The statistical detectors loosened to the model's false-positive rate (their scores, lower threshold).
    t_stat = max(_threshold_for_fpr(stat_score[neg], fpr_model), 1e-9)
    settings[f"statistical loosened @ FPR {fpr_model:.4f}"] = stat_score >= t_stat
    settings["model alone @ deployed threshold"] = deployed
    settings["statistical + model (deployed)"] = stat | deployed
    for extra in extra_fpr:
        t = _threshold_for_fpr(scores[neg & ~stat], extra * neg.sum() / max(1, (neg & ~stat).sum()))
        settings[f"statistical + model @ FPR +{extra:.3f}"] = stat | (scores >= t)

    kinds = sorted(set(kind.tolist()) - {""})
    rows = {}
    for name, flag in settings.items():
        row: dict[str, Any] = {"fpr": float(flag[neg].mean())}
        for k in kinds:
            mask = kind == k
            row[k] = float(flag[mask].mean())
            eps = {episodes[i] for i in ids[mask] if i in episodes}
            if eps:
                hit = {episodes[i] for i in ids[mask & flag] if i in episodes}
                row[f"{k} (episodes)"] = len(hit) / len(eps)
        row["all labelled"] = float(flag[~neg].mean()) if (~neg).any() else 0.0
        rows[name] = row
    return {
        "userEvents": int(ids.size),
        "negatives": int(neg.sum()),
        "positives": {k: int((kind == k).sum()) for k in kinds},
        "rows": rows,
    }


def _valid(e: dict[str, Any]) -> bool:
    try:
        parse_event(e)
        return True
    except InvalidEvent:
        return False


def format_report(report: dict[str, Any]) -> str:
    rows = report["rows"]
    cols = [c for c in next(iter(rows.values())) if c != "fpr"]
    head = f"{'setting':44s} {'FPR':>7s} " + " ".join(f"{c[:22]:>22s}" for c in cols)
    lines = [
        f"user events {report['userEvents']}, negatives {report['negatives']}, positives {report['positives']}",
        head,
    ]
    for name, row in rows.items():
        lines.append(f"{name:44s} {row['fpr']:7.4f} " + " ".join(f"{row[c]:22.3f}" for c in cols))
    return "\n".join(lines)
