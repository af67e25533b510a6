"""`guardian model`: the detector model's lifecycle after `make deploy` (docs/ml.md).

  guardian model list      --env ENV           packages of the project's group, newest first, with PR-AUC
  guardian model approve   --env ENV ARN|--latest [--note TEXT] [--force]
                                               approve a package: SageMaker emits the state change, the
                                               stack's rule promotes it, the detector loads it (<= 60 s)
  guardian model status    --env ENV           the live and previous model (version, package, when)
  guardian model rollback  --env ENV           put the previous model back (run again to undo)
  guardian model promote   --env ENV ARN       promote an approved package again (e.g. an older one);
                                               approval events promote each package only once
  guardian model register  --local FILE        (local stack only) register an exported model.npz as a
                                               PendingManualApproval package, as the pipeline would

`--env` reads the models bucket and the package group from the SSM contract
(`/anomaly-guardian/<env>/s3/models-bucket`, `.../ml/model-package-group`) with your AWS credentials;
`--local` uses the running local stack (`.local/stack.json`, `env.json`), which emits the state-change
events SageMaker would for its emulated registry.
"""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MODEL_KEY = "models/detector/current.npz"  # sam/template.yaml ModelKey default


@dataclass(slots=True)
class Target:
    bucket: str
    key: str
    group: str
    local: bool
    region: str


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="approve, promote, inspect and roll back the detector's model")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    def common(q: argparse.ArgumentParser) -> None:
        where = q.add_mutually_exclusive_group(required=True)
        where.add_argument("--env", choices=("dev", "staging", "prod"), help="deployed stack (SSM contract)")
        where.add_argument("--local", action="store_true", help="the running local stack (.local/)")
        q.add_argument("--state-dir", type=Path, default=None, help="the local stack's state directory")
        q.add_argument("--key", default=None, help=f"live model key (default {DEFAULT_MODEL_KEY})")
        q.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))

    ls = verbs.add_parser("list", help="packages of the group, newest first")
    ls.add_argument("--status", choices=("PendingManualApproval", "Approved", "Rejected"))
    approve = verbs.add_parser("approve", help="approve a package (promotion follows through EventBridge)")
    approve.add_argument("arn", nargs="?", help="model package ARN")
    approve.add_argument("--latest", action="store_true", help="the newest package awaiting approval")
    approve.add_argument("--note", default="", help="recorded as the package's ApprovalDescription")
    approve.add_argument("--force", action="store_true", help="approve even if its PR-AUC is below the champion's")
    status = verbs.add_parser("status", help="the live and the previous model")
    rollback = verbs.add_parser("rollback", help="restore the previous model")
    promote = verbs.add_parser("promote", help="make an approved package's model live now (again)")
    promote.add_argument("arn", help="model package ARN (must be Approved)")
    reg = verbs.add_parser("register", help="(local stack) register an exported model as a pending package")
    reg.add_argument("model", type=Path, help="model.npz (make train writes ml/artifacts/model.npz)")
    for q in (ls, approve, status, rollback, promote, reg):
        common(q)
    p.set_defaults(func=run)


def resolve_target(args: argparse.Namespace) -> Target:
    """Where the model lives and which group it comes from; for --local also points boto3 at the stack."""
    if args.local:
        from anomaly_guardian.local.state import ENV_FILE, default_state_dir, read_stack

        state = Path(args.state_dir or default_state_dir())
        stack = read_stack(state)
        env = json.loads((state / ENV_FILE).read_text(encoding="utf-8"))
        fn = env.get("ModelPromoteFunction") or next(iter(env.values()))
        os.environ["AWS_ENDPOINT_URL"] = stack["aws_endpoint_url"]
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(name, "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        _reset_clients()
        return Target(fn["MODEL_BUCKET"], args.key or fn["MODEL_KEY"], fn["MODEL_PACKAGE_GROUP"], True, "us-east-1")
    if not args.region:
        raise ValueError("no region: pass --region or set AWS_REGION")
    os.environ.setdefault("AWS_REGION", args.region)
    from anomaly_guardian.adapters.ml_artifacts import _client

    ssm = _client("ssm")

    def get(name: str) -> str:
        path = f"/anomaly-guardian/{args.env}/{name}"
        try:
            return ssm.get_parameter(Name=path)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            raise ValueError(f"SSM parameter {path} is missing: deploy the Terraform environment first") from None

    return Target(
        get("s3/models-bucket"), args.key or DEFAULT_MODEL_KEY, get("ml/model-package-group"), False, args.region
    )


def _reset_clients() -> None:
    from anomaly_guardian.adapters import ml_artifacts

    ml_artifacts.reset_clients()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _promoter(t: Target) -> Any:
    from anomaly_guardian.adapters.model_registry import S3ArtifactStore, SageMakerRegistry
    from anomaly_guardian.ml.lifecycle import Promoter

    return Promoter(S3ArtifactStore(t.bucket), SageMakerRegistry(), t.key, package_group=t.group)


def do_list(t: Target, status: str | None) -> list[dict[str, Any]]:
    from anomaly_guardian.adapters.model_registry import SageMakerRegistry

    reg = SageMakerRegistry()
    rows = []
    for pkg in reg.packages(t.group, status=status, limit=20):
        desc = reg.describe(pkg["ModelPackageArn"])
        rows.append(
            {
                "arn": pkg["ModelPackageArn"],
                "version": pkg.get("ModelPackageVersion"),
                "status": pkg.get("ModelApprovalStatus"),
                "created": str(pkg.get("CreationTime", "")),
                "prAuc": reg.pr_auc(desc),
            }
        )
    return rows


def do_approve(t: Target, arn: str | None, latest: bool, note: str, force: bool) -> dict[str, Any]:
    from anomaly_guardian.adapters.model_registry import SageMakerRegistry

    reg = SageMakerRegistry()
    if bool(arn) == bool(latest):
        raise ValueError("name one package: ARN or --latest")
    if latest:
        pending = reg.packages(t.group, status="PendingManualApproval", limit=1)
        if not pending:
            raise ValueError(f"no package awaiting approval in {t.group}")
        arn = pending[0]["ModelPackageArn"]
    assert arn is not None
    desc = reg.describe(arn)
    if desc.get("ModelPackageGroupName") != t.group:
        raise ValueError(f"{arn} is in group {desc.get('ModelPackageGroupName')!r}, not the stack's {t.group!r}")
    candidate = reg.pr_auc(desc)
    champions = reg.packages(t.group, status="Approved", limit=1)
    champion = reg.pr_auc(reg.describe(champions[0]["ModelPackageArn"])) if champions else None
    if candidate is not None and champion is not None and candidate < champion and not force:
        raise ValueError(
            f"PR-AUC {candidate:.4f} is below the champion's {champion:.4f}; pass --force to approve anyway"
        )
    approved = reg.approve(arn, note or f"approved by {_actor()} (guardian model approve)")
    # SageMaker now emits "SageMaker Model Package State Change" (the local stack emits it for the
    # emulation, local/eventbridge.py): the stack's rule runs model_promote.
    return {
        "approved": arn,
        "status": approved.get("ModelApprovalStatus"),
        "prAuc": candidate,
        "championPrAuc": champion,
    }


def do_register(t: Target, model: Path) -> dict[str, Any]:
    """Local stack only: what the pipeline's Register step does, for a model trained with `make train`."""
    from anomaly_guardian.adapters.ml_artifacts import _client
    from anomaly_guardian.ids import new_ulid
    from anomaly_guardian.ml.lifecycle import validate

    if not t.local:
        raise ValueError("register is for the local stack; on AWS the pipeline registers packages")
    data = model.read_bytes()
    bundle = validate(data)
    sm, s3 = _client("sagemaker"), _client("s3")
    try:
        sm.describe_model_package_group(ModelPackageGroupName=t.group)
    except Exception:
        sm.create_model_package_group(ModelPackageGroupName=t.group, ModelPackageGroupDescription="local stack")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.npz")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    key = f"pipelines/local/models/{new_ulid()}/output/model.tar.gz"
    s3.put_object(Bucket=t.bucket, Key=key, Body=buf.getvalue())
    arn = sm.create_model_package(
        ModelPackageGroupName=t.group,
        ModelPackageDescription=f"{model.name} (model {bundle.version}), registered locally",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "local/anomaly-guardian-ml:local", "ModelDataUrl": f"s3://{t.bucket}/{key}"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    return {"registered": arn, "modelVersion": bundle.version, "modelDataUrl": f"s3://{t.bucket}/{key}"}


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.ml.lifecycle import PromotionRefused

    try:
        t = resolve_target(args)
        if args.verb == "list":
            out: Any = do_list(t, args.status)
        elif args.verb == "approve":
            out = do_approve(t, args.arn, args.latest, args.note, args.force)
        elif args.verb == "status":
            out = _promoter(t).status()
        elif args.verb == "rollback":
            out = _promoter(t).rollback(actor=_actor())
        elif args.verb == "promote":
            out = _promoter(t).promote(args.arn, actor=_actor(), force=True)
        else:
            out = do_register(t, args.model)
    except (ValueError, PromotionRefused, FileNotFoundError, RuntimeError) as exc:
        print(f"guardian model {args.verb}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=1, default=str))
    if args.verb in ("rollback", "promote") and out.get("status") == "refused":
        return 1
    return 0
