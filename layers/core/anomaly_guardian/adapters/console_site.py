"""Publishing the console build to its bucket (terraform/modules/console) and refreshing the distribution.

The files go under console/ (the distribution serves them at /console/, as the local gateway does).
`make deploy` runs it after the SAM stack (`guardian console publish --env ENV`): everything it needs is in
the SSM contract (/anomaly-guardian/<env>/console/*, cognito/*) and the API URL the stack writes
(/anomaly-guardian-app/<env>/api-url). Hashed assets are cached for a year, index.html is revalidated,
config.json is never cached; objects of an older build are removed, the bucket's versioning keeps them.
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anomaly_guardian.adapters.dynamodb import client

PREFIX = "console/"  # served at /console/ as on the local stack (Vite base /console/; terraform paths.js)
CONFIG = "config.json"
IMMUTABLE = "public, max-age=31536000, immutable"  # Vite names assets by content hash
REVALIDATE = "no-cache"
NEVER = "no-store"


class ContractMissing(LookupError):
    """A parameter the publish needs is not in SSM (Terraform or SAM not deployed yet)."""


@dataclass(frozen=True)
class ConsoleTarget:
    bucket: str
    distribution_id: str
    console_url: str
    api_url: str
    cognito_domain: str
    client_id: str

    def config(self) -> dict[str, Any]:
        """What the console reads at start (functions/console/src/api.ts ConsoleConfig)."""
        return {
            "apiUrl": self.api_url,
            "cognito": {"domain": self.cognito_domain, "clientId": self.client_id, "redirectUri": self.console_url},
        }


def read_target(env: str, ssm: Any | None = None) -> ConsoleTarget:
    ssm = ssm or client("ssm")

    def get(name: str) -> str:
        try:
            return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except ssm.exceptions.ParameterNotFound:
            raise ContractMissing(
                f"SSM parameter {name} is missing: deploy Terraform and the SAM stack first"
            ) from None

    contract = f"/anomaly-guardian/{env}"
    return ConsoleTarget(
        bucket=get(f"{contract}/console/bucket"),
        distribution_id=get(f"{contract}/console/distribution-id"),
        console_url=get(f"{contract}/console/url"),
        api_url=get(f"/anomaly-guardian-app/{env}/api-url"),
        cognito_domain=get(f"{contract}/cognito/domain"),
        client_id=get(f"{contract}/cognito/client-id"),
    )


def _content_type(path: Path) -> str:
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{ctype}; charset=utf-8" if ctype.startswith("text/") or ctype == "application/javascript" else ctype


def _cache_control(key: str) -> str:
    return IMMUTABLE if key.startswith(f"{PREFIX}assets/") else REVALIDATE


@dataclass
class Published:
    uploaded: list[str]
    removed: list[str]
    invalidation_id: str


def publish(
    build: Path,
    target: ConsoleTarget,
    *,
    s3: Any | None = None,
    cloudfront: Any | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> Published:
    """Upload `build` (never a config.json from it: the deployed one is written here), then invalidate."""
    index = build / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"{index} is missing: run make console first")
    s3 = s3 or client("s3")
    cloudfront = cloudfront or client("cloudfront")
    files = {PREFIX + p.relative_to(build).as_posix(): p for p in sorted(build.rglob("*")) if p.is_file()}
    files.pop(PREFIX + CONFIG, None)
    # index.html last: it names the assets, which must be there before any browser asks for them.
    order = sorted(files, key=lambda k: (k == f"{PREFIX}index.html", k))
    for key in order:
        s3.put_object(
            Bucket=target.bucket,
            Key=key,
            Body=files[key].read_bytes(),
            ContentType=_content_type(files[key]),
            CacheControl=_cache_control(key),
        )
        log(f"uploaded s3://{target.bucket}/{key}")
    s3.put_object(
        Bucket=target.bucket,
        Key=PREFIX + CONFIG,
        Body=json.dumps(target.config(), indent=2).encode(),
        ContentType="application/json",
        CacheControl=NEVER,
    )
    keep = set(files) | {PREFIX + CONFIG}
    stale = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target.bucket)
        for obj in page.get("Contents", [])
        if obj["Key"] not in keep
    ]
    for start in range(0, len(stale), 1000):
        chunk = stale[start : start + 1000]
        s3.delete_objects(Bucket=target.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
    for key in stale:
        log(f"removed s3://{target.bucket}/{key} (older build)")
    invalidation = cloudfront.create_invalidation(
        DistributionId=target.distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"guardian-{time.time_ns()}"},
    )["Invalidation"]["Id"]
    log(f"invalidated distribution {target.distribution_id} ({invalidation})")
    return Published(uploaded=[*order, PREFIX + CONFIG], removed=stale, invalidation_id=invalidation)
