"""`guardian subjects erase USER_ID`: GDPR erasure of one person through the API (DELETE /subjects/{userId}).

    guardian subjects erase USER_ID [--api URL] [--tenant T]

Prints the API's answer: counts per store, the `erasureId` receipt and `notCovered` (docs/privacy.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from urllib.parse import quote


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("subjects", help="erase a person's data everywhere (DELETE /subjects/{userId})")
    p.add_argument("action", choices=("erase",))
    p.add_argument("user_id", help="the person's user id as your events carry it")
    p.add_argument("--api", default=os.environ.get("GUARDIAN_API_URL"), help="API base URL (GUARDIAN_API_URL)")
    p.add_argument("--tenant", help="sign a short-lived token for this tenant (else GUARDIAN_TOKEN)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.api.client import ApiCallError, ApiClient, bearer_for

    if not args.api:
        print("guardian subjects: pass --api or set GUARDIAN_API_URL", file=sys.stderr)
        return 2
    try:
        out = ApiClient(args.api, bearer_for(args.tenant)).call("DELETE", f"/subjects/{quote(args.user_id, safe='')}")
    except ApiCallError as exc:
        print(f"guardian subjects erase: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"guardian subjects erase: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2))
    return 0
