"""`guardian console publish --env ENV`: upload the console build to its bucket, write config.json, invalidate.

`make deploy` runs it after the SAM stack; it needs your AWS credentials (s3:PutObject/DeleteObject/ListBucket
on the console bucket, cloudfront:CreateInvalidation, ssm:GetParameter on the contract). docs/console.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("console", help="publish the analyst console (deployed environments)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    pub = actions.add_parser(
        "publish",
        help="upload build/console, write config.json (API URL, Cognito domain, client id), invalidate CloudFront",
    )
    pub.add_argument("--env", required=True, choices=("dev", "staging", "prod"))
    pub.add_argument("--build", default="build/console", help="the built console (make console); default build/console")
    pub.add_argument("--print-config", action="store_true", help="only print the config.json it would write")
    pub.set_defaults(func=run_publish)


def run_publish(args: argparse.Namespace) -> int:
    from botocore.exceptions import NoCredentialsError

    from anomaly_guardian.adapters.console_site import ContractMissing, publish, read_target

    try:
        target = read_target(args.env)
    except ContractMissing as exc:
        print(f"guardian console publish: {exc}", file=sys.stderr)
        return 2
    except NoCredentialsError:
        print("guardian console publish: no AWS credentials (set AWS_PROFILE or run aws sso login)", file=sys.stderr)
        return 2
    if args.print_config:
        print(json.dumps(target.config(), indent=2))
        return 0
    try:
        done = publish(Path(args.build), target, log=print)
    except FileNotFoundError as exc:
        print(f"guardian console publish: {exc}", file=sys.stderr)
        return 2
    print(f"console published: {len(done.uploaded)} objects, {len(done.removed)} removed; open {target.console_url}")
    return 0
