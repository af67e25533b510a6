"""`guardian rules` and `guardian webhooks`: manage a tenant's configuration through the API.

    guardian rules list|show ID|create FILE|update ID FILE|delete ID  [--api URL] [--tenant T]
    guardian rules set-threshold ID VALUE|enable ID|disable ID|history ID
    guardian webhooks list|create FILE|delete ID                       [--api URL] [--tenant T]

FILE is a JSON body as documented in docs/api.md (`-` reads stdin). Output is the API's JSON.
`set-threshold`, `enable` and `disable` read the rule, change `conditions.threshold` / `enabled` and
PUT it back with the version they read (a concurrent change answers 409 and nothing is overwritten).
ID is a rule's ULID or a built-in detector's id (velocity-check, value-check, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

RESOURCES = {
    "rules": (
        "/rules",
        "ruleId",
        ("list", "show", "create", "update", "delete", "set-threshold", "enable", "disable", "history"),
    ),
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


def _number(text: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"threshold must be a number, not {text!r}") from None
    return int(value) if value.is_integer() else value


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.api.client import ApiCallError, ApiClient, bearer_for

    base, _id_name, _verbs = RESOURCES[args.resource]
    need = {"list": 0, "create": 1, "update": 2, "set-threshold": 2}.get(args.action, 1)
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
        elif args.action == "show":
            out = client.call("GET", f"{base}/{args.args[0]}")
        elif args.action == "history":
            out = client.call("GET", f"{base}/{args.args[0]}/history")
        elif args.action in ("set-threshold", "enable", "disable"):
            rule = client.call("GET", f"{base}/{args.args[0]}")
            if args.action == "set-threshold":
                rule["conditions"]["threshold"] = _number(args.args[1])
            else:
                rule["enabled"] = args.action == "enable"
            out = client.call("PUT", f"{base}/{args.args[0]}", rule)
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
