"""`guardian train`: generate (or read) a labelled stream, run preprocess -> train -> evaluate (the
same jobs as ml/src and the SageMaker pipeline), write the model the detector loads, and with
`--report` measure the model against the statistical detectors on a stream it was not trained on."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train the anomaly models locally and export the detector's artifact", description=__doc__
    )
    p.add_argument("--input", help="directory with events.jsonl [labels.jsonl feedback.jsonl]; default: generate")
    p.add_argument(
        "--source",
        choices=("scenario", "synth"),
        default="scenario",
        help="generator when --input is not given: the project's scenario generator or the small ML one",
    )
    p.add_argument("--events", type=int, default=60_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--eval-seed", type=int, default=8, help="seed of the unseen stream used by --report")
    p.add_argument("--workdir", default="ml/artifacts")
    p.add_argument("--n-estimators", type=int, default=100)
    p.add_argument("--contamination", type=float, default=0.01)
    p.add_argument("--report", action="store_true", help="compare with the statistical detectors at equal FPR")
    p.add_argument("--report-only", action="store_true", help="skip training; report on the existing model")
    p.add_argument("--generate-only", action="store_true", help="only write <workdir>/data/{events,labels}.jsonl")
    p.set_defaults(func=run)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")


def labelled_stream(source: str, events: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(events, labels) from the scenario generator, or the ML fallback generator."""
    if source == "scenario":
        try:
            from anomaly_guardian.scenario.generator import generate
        except ImportError:
            print("guardian train: scenario generator not installed, using the ML generator", file=sys.stderr)
        else:
            sc = generate(events, seed)
            return sc.events, sc.labels
    from anomaly_guardian.ml.synth import Generator

    users = max(50, events // 100)
    rows = list(Generator(users=users, days=14, seed=seed).events())
    return [e for e, _ in rows], [{"eventId": e["eventId"], "label": lab} for e, lab in rows if lab]


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.ml import jobs

    work = Path(args.workdir)
    model_path = work / "model.npz"
    if args.generate_only:
        events, labels = labelled_stream(args.source, args.events, args.seed)
        _write_jsonl(work / "data" / "events.jsonl", events)
        _write_jsonl(work / "data" / "labels.jsonl", labels)
        print(f"wrote {len(events)} events and {len(labels)} labels to {work / 'data'}", file=sys.stderr)
        return 0
    if not args.report_only:
        started = time.perf_counter()
        data = Path(args.input) if args.input else work / "data"
        if not args.input:
            events, labels = labelled_stream(args.source, args.events, args.seed)
            _write_jsonl(data / "events.jsonl", events)
            _write_jsonl(data / "labels.jsonl", labels)
        summary = jobs.preprocess(data, work / "processed")
        print(f"preprocess: {json.dumps(summary)}", file=sys.stderr)
        trained = jobs.train(
            work / "processed" / "train",
            work / "model",
            n_estimators=args.n_estimators,
            contamination=args.contamination,
        )
        print(f"train: {json.dumps(trained)}", file=sys.stderr)
        report = jobs.evaluate(work / "model", work / "processed" / "test", work / "evaluation")
        shutil.copyfile(work / "model" / jobs.MODEL_FILE, model_path)
        m = report["metrics"]
        print(
            f"evaluate (held-out later part of the stream): precision {m['precision']:.3f} recall {m['recall']:.3f} "
            f"F1 {m['f1']:.3f} ROC-AUC {m['roc_auc']:.3f} PR-AUC {m['pr_auc']:.3f} FPR {m['false_positive_rate']:.4f}"
        )
        print(
            f"model written to {model_path} ({model_path.stat().st_size} bytes) in "
            f"{time.perf_counter() - started:.1f} s; the detector loads it with MODEL_PATH={model_path}"
        )
    if args.report or args.report_only:
        from anomaly_guardian.ml.compare import compare, format_report
        from anomaly_guardian.ml.model import ModelBundle

        if not model_path.exists():
            print(f"guardian train: no model at {model_path}; run without --report-only first", file=sys.stderr)
            return 2
        bundle = ModelBundle.from_bytes(model_path.read_bytes())
        events, labels = labelled_stream(args.source, args.events, args.eval_seed)
        result = compare(
            events,
            {r["eventId"]: r["label"] for r in labels},
            bundle,
            episodes={r["eventId"]: r["episode"] for r in labels if r.get("episode")},
        )
        result["source"], result["seed"] = args.source, args.eval_seed
        (work / "report.json").write_text(json.dumps(result, indent=2))
        print(f"\nrecall by anomaly type on an unseen stream (source {args.source}, seed {args.eval_seed}):")
        print(format_report(result))
    return 0
