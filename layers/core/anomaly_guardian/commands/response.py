"""`guardian response`: operate the automated response of a tenant through the API.

  guardian response status                          the safety switches in force
  guardian response kill-switch on|off              stop (or resume) every action of the tenant
  guardian response dry-run on|off                  actions only record what they would do
  guardian response cap ACTION N                    at most N ACTIONs per hour
  guardian response incidents [--status S]          incidents, newest first
  guardian response reviews [--status PENDING]      manual reviews
  guardian response approve|reject REVIEW_ID [--note TEXT]
common: [--api URL] [--tenant T]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any
from urllib.parse import quote, urlencode

VERBS = ("status", "kill-switch", "dry-run", "cap", "incidents", "reviews", "approve", "reject")
ARITY = {"status": 0, "kill-switch": 1, "dry-run": 1, "cap": 2, "incidents": 0, "reviews": 0, "approve": 1, "reject": 1}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("response", help="kill switch, dry-run, caps, incidents and reviews through the API")
    p.add_argument("verb", choices=VERBS)
    p.add_argument("args", nargs="*")
    p.add_argument("--status", help="filter for incidents/reviews")
    p.add_argument("--note", help="reason recorded with a review decision")
    p.add_argument("--api", default=os.environ.get("GUARDIAN_API_URL"), help="API base URL (GUARDIAN_API_URL)")
    p.add_argument("--tenant", help="sign a short-lived token for this tenant (else GUARDIAN_TOKEN)")
    p.set_defaults(func=run)


def _switch(value: str) -> bool:
    if value not in ("on", "off"):
        raise ValueError(f"expected on or off, got {value!r}")
    return value == "on"


def request_for(args: argparse.Namespace) -> tuple[str, str, Any]:
    """(method, path, body) for a parsed command; raises ValueError naming a bad argument."""
    verb, a = args.verb, args.args
    if len(a) != ARITY[verb]:
        raise ValueError(f"expected {ARITY[verb]} argument(s), got {len(a)}")
    if verb == "status":
        return "GET", "/settings/response", None
    if verb == "kill-switch":
        return "PATCH", "/settings/response", {"killSwitch": _switch(a[0])}
    if verb == "dry-run":
        return "PATCH", "/settings/response", {"dryRun": _switch(a[0])}
    if verb == "cap":
        try:
            cap = int(a[1])
        except ValueError:
            raise ValueError(f"cap must be a whole number, got {a[1]!r}") from None
        return "PATCH", "/settings/response", {"actionCaps": {a[0]: cap}}
    if verb in ("incidents", "reviews"):
        query = f"?{urlencode({'status': args.status})}" if args.status else ""
        return "GET", f"/{verb}{query}", None
    body = {"decision": "approve" if verb == "approve" else "reject"} | ({"note": args.note} if args.note else {})
    return "POST", f"/reviews/{quote(a[0], safe='')}", body


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.api.client import ApiCallError, ApiClient, bearer_for

    try:
        method, path, body = request_for(args)
    except ValueError as exc:
        print(f"guardian response {args.verb}: {exc}", file=sys.stderr)
        return 2
    if not args.api:
        print("guardian response: pass --api or set GUARDIAN_API_URL", file=sys.stderr)
        return 2
    try:
        out = ApiClient(args.api, bearer_for(args.tenant)).call(method, path, body)
    except (ApiCallError, ValueError) as exc:
        print(f"guardian response {args.verb}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2))
    return 0
