"""`guardian opensearch sync`: apply the declared OpenSearch objects (search/declared.py) idempotently."""

from __future__ import annotations

import argparse
import json
import os
import sys

from anomaly_guardian.search.sync import KINDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "opensearch", help="OpenSearch objects as code (index templates, ISM, AD, alerting, dashboards, roles)"
    )
    osub = p.add_subparsers(dest="opensearch_command", required=True, metavar="SUBCOMMAND")
    s = osub.add_parser(
        "sync",
        help="create, update and delete the declared OpenSearch objects; report drift",
        description="Compare the declared objects with the domain and create what is missing, update what "
        "drifted and delete managed objects (names starting with guardian-) that are no longer declared. "
        "--check only reports (exit 1 when anything would change). Requests are signed with SigV4 "
        "(service es) unless --auth basic.",
    )
    s.add_argument(
        "--endpoint", default=os.environ.get("OPENSEARCH_ENDPOINT"), help="domain endpoint (env OPENSEARCH_ENDPOINT)"
    )
    s.add_argument(
        "--env",
        help="a deployment (dev, staging, prod): endpoint from the SSM contract, alerts topic and writer roles "
        "from the stack anomaly-guardian-ENV's outputs; --context adds analysts and tenants",
    )
    s.add_argument(
        "--dashboards-url",
        default=os.environ.get("OPENSEARCH_DASHBOARDS_URL"),
        help="Dashboards base URL (default ENDPOINT/_dashboards)",
    )
    s.add_argument("--region", default=None, help="AWS region for SigV4 (default: the session's)")
    s.add_argument("--auth", choices=["sigv4", "basic"], default=os.environ.get("OPENSEARCH_AUTH", "sigv4"))
    s.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (self-signed test clusters)")
    s.add_argument("--context", help="JSON file with the sync context (search.declared.SyncContext fields)")
    s.add_argument("--sns-topic-arn", help="alerting channel topic")
    s.add_argument("--sns-role-arn", help="role OpenSearch assumes to publish to the topic")
    s.add_argument("--indexer-role", action="append", default=[], help="backend role (IAM role ARN) of a writer")
    s.add_argument("--analyst-role", action="append", default=[], help="backend role of read-only analysts")
    s.add_argument(
        "--tenant-role",
        action="append",
        default=[],
        metavar="TENANT=ROLE",
        help="backend role of one tenant's analysts (document-level security on the anomalies)",
    )
    s.add_argument(
        "--check", action="store_true", help="only report what would change (drift); exit 1 if anything would"
    )
    s.add_argument("--keep-undeclared", action="store_true", help="do not delete managed objects no longer declared")
    s.add_argument("--no-start", action="store_true", help="do not start the detectors")
    s.add_argument("--skip", action="append", default=[], choices=sorted(KINDS), help="leave this kind alone")
    s.set_defaults(func=run_sync)


def context_from(args: argparse.Namespace):
    from anomaly_guardian.search.declared import SyncContext

    data: dict = dict(getattr(args, "deployed_context", None) or {})
    if args.context:
        with open(args.context, encoding="utf-8") as f:
            extra = json.load(f)
        for key, value in extra.items():  # lists add up (roles), everything else overrides
            data[key] = sorted({*data.get(key, []), *value}) if isinstance(value, list) else value
    ctx = SyncContext.from_dict(data)
    if args.sns_topic_arn:
        ctx.sns_topic_arn = args.sns_topic_arn
    if args.sns_role_arn:
        ctx.sns_role_arn = args.sns_role_arn
    ctx.indexer_backend_roles = sorted({*ctx.indexer_backend_roles, *args.indexer_role})
    ctx.analyst_backend_roles = sorted({*ctx.analyst_backend_roles, *args.analyst_role})
    for item in args.tenant_role:
        tenant, sep, role = item.partition("=")
        if not sep or not tenant or not role:
            raise ValueError(f"--tenant-role takes TENANT=ROLE, got {item!r}")
        ctx.tenant_backend_roles.setdefault(tenant, [])
        ctx.tenant_backend_roles[tenant] = sorted({*ctx.tenant_backend_roles[tenant], role})
    if ctx.dashboards_url is None and (args.dashboards_url or args.endpoint):
        ctx.dashboards_url = args.dashboards_url or f"{args.endpoint.rstrip('/')}/_dashboards"
    return ctx


def run_sync(args: argparse.Namespace) -> int:
    from anomaly_guardian.adapters.opensearch_admin import OpenSearchAdmin
    from anomaly_guardian.search.declared import build
    from anomaly_guardian.search.sync import SyncError, sync

    if args.env:
        from anomaly_guardian.adapters.opensearch_admin import deployment_context

        try:
            found = deployment_context(args.env, args.region)
        except Exception as exc:  # botocore errors: no credentials, no stack, no parameter
            print(f"guardian opensearch sync: cannot read deployment {args.env}: {exc}", file=sys.stderr)
            return 1
        args.endpoint = args.endpoint or found["endpoint"]
        args.deployed_context = {k: v for k, v in found["context"].items() if v}
    if not args.endpoint:
        print("guardian opensearch sync: --endpoint (or OPENSEARCH_ENDPOINT, or --env) is required", file=sys.stderr)
        return 2
    try:
        ctx = context_from(args)
        admin = OpenSearchAdmin(
            args.endpoint,
            args.dashboards_url,
            region=args.region,
            auth=args.auth,
            username=os.environ.get("OPENSEARCH_USERNAME"),
            password=os.environ.get("OPENSEARCH_PASSWORD"),
            verify_certs=not args.insecure,
        )
        report = sync(
            admin,
            build(ctx),
            dry_run=args.check,
            delete_undeclared=not args.keep_undeclared,
            start_detectors=not args.no_start,
            skip=args.skip,
        )
    except (SyncError, RuntimeError, ValueError, OSError) as exc:
        print(f"guardian opensearch sync: {exc}", file=sys.stderr)
        return 1
    for change in report.changes:
        if change.action != "unchanged":
            print(change.line())
    for name in report.started:
        print(f"started   detector      {name}")
    print(report.summary())
    if args.check and report.writes:
        print("drift: the domain differs from the declarations (run without --check to apply)", file=sys.stderr)
        return 1
    return 0
