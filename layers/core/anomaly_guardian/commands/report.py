"""`guardian report daily|weekly|monthly [--date D]`: generate a report now through `POST /reports`.

    guardian report daily --date 2026-11-20 --tenant acme [--api URL] [--all] [--html FILE]

The report (JSON and HTML) is written to the reports bucket by the API, exactly as the schedule does;
the command prints the report JSON (with `links`) and, with `--html`, saves the HTML page it links to.
`--all` asks for the admin roll-up over every tenant (the token needs the `admin` scope; with `--tenant`
one is signed with it). `guardian report list` lists the tenant's reports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="generate (or list) daily/weekly/monthly reports through the API")
    p.add_argument("period", choices=("daily", "weekly", "monthly", "list"))
    p.add_argument("--date", help="the day the period ends on (YYYY-MM-DD; default: the last closed period)")
    p.add_argument("--api", default=os.environ.get("GUARDIAN_API_URL"), help="API base URL (GUARDIAN_API_URL)")
    p.add_argument("--tenant", help="sign a short-lived token for this tenant (else GUARDIAN_TOKEN)")
    p.add_argument("--all", action="store_true", help="the admin roll-up over every tenant (admin scope)")
    p.add_argument("--html", metavar="FILE", help="also save the HTML page here")
    p.set_defaults(func=run)


def _token(tenant: str | None, admin: bool) -> str:
    from anomaly_guardian.api.client import bearer_for

    if not admin or os.environ.get("GUARDIAN_TOKEN") or not tenant:
        return bearer_for(tenant)
    from anomaly_guardian.auth.keys import load_signing_key
    from anomaly_guardian.auth.tokens import TokenSettings, sign_token
    from anomaly_guardian.settings import AuthorizerSettings

    key = load_signing_key(settings=AuthorizerSettings.from_env())
    settings = TokenSettings.from_settings(AuthorizerSettings.from_env(), key)
    return sign_token(
        key,
        tenant,
        scopes=("api:read", "api:write", "admin"),
        ttl_seconds=300,
        issuer=settings.issuer,
        audience=settings.audience,
    )


def run(args: argparse.Namespace) -> int:
    from anomaly_guardian.api.client import ApiCallError, ApiClient

    if not args.api:
        print("guardian report: pass --api or set GUARDIAN_API_URL", file=sys.stderr)
        return 2
    scope = "all" if args.all else "tenant"
    try:
        client = ApiClient(args.api, _token(args.tenant, args.all))
        if args.period == "list":
            out = client.call("GET", f"/reports?scope={scope}")
        else:
            body = {"period": args.period, "scope": scope} | ({"date": args.date} if args.date else {})
            out = client.call("POST", "/reports", body)
            if args.html:
                with urllib.request.urlopen(out["links"]["htmlUrl"], timeout=30) as resp:  # noqa: S310 (presigned)
                    page = resp.read()
                with open(args.html, "wb") as fh:
                    fh.write(page)
    except ApiCallError as exc:
        print(f"guardian report {args.period}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError, KeyError) as exc:
        print(f"guardian report {args.period}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2))
    return 0
