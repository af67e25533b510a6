"""`guardian rules` and `guardian webhooks`: manage a tenant's configuration through the API.

    guardian rules list|create FILE|update ID FILE|delete ID  [--api URL] [--tenant T]
    guardian webhooks list|create FILE|delete ID               [--api URL] [--tenant T]

FILE is a JSON body as documented in docs/api.md (`-` reads stdin). Output is the API's JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

RESOURCES = {
    "rules": ("/rules", "ruleId", ("list", "create", "update", "delete")),
    "webhooks": ("/webhooks", "webhookId", ("list", "create", "delete")),
}


def register(sub: argparse._SubParsersAction) -> None:
    for name, (_path, id_name, verbs) in RESOURCES.items():
        p = sub.add_parser(name, help=f"list/create/delete {name} through the API")
        p.add_argument("action", choices=verbs)
        p.add_argument("args", nargs="*", help=f"{id_name} and/or a JSON file ('-' for stdin)")
        p.add_argument("--api", default=os.environ.get("GUARDIAN_API_URL"), help="API base URL (GUARDIAN_API_URL)")
        p.add_argument("--tenant", help="sign a short-lived token for this tenant (else GUARDIAN_TOKEN)")
        p.set_defaults(func=run, resource=name)


def _body(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    return json.loads(text)


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.api.client import ApiCallError, ApiClient, bearer_for

    base, _id_name, _verbs = RESOURCES[args.resource]
    need = {"list": 0, "create": 1, "update": 2, "delete": 1}[args.action]
    if len(args.args) != need:
        print(f"guardian {args.resource} {args.action}: expected {need} argument(s)", file=sys.stderr)
        return 2
    if not args.api:
        print(f"guardian {args.resource}: pass --api or set GUARDIAN_API_URL", file=sys.stderr)
        return 2
    try:
        client = ApiClient(args.api, bearer_for(args.tenant))
        if args.action == "list":
            out = client.call("GET", base)
        elif args.action == "create":
            out = client.call("POST", base, _body(args.args[0]))
        elif args.action == "update":
            out = client.call("PUT", f"{base}/{args.args[0]}", _body(args.args[1]))
        else:
            out = client.call("DELETE", f"{base}/{args.args[0]}") or {"deleted": args.args[0]}
    except ApiCallError as exc:
        print(f"guardian {args.resource} {args.action}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"guardian {args.resource} {args.action}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2))
    return 0
