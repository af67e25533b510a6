"""The reports bucket (`REPORTS_BUCKET`, Terraform's `s3/reports-bucket`: SSE-KMS, versioned, public access
blocked, lifecycle): `reports/{tenant}/{period}/{date}.json` and `.html`. The admin roll-up is tenant `_all`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from anomaly_guardian.adapters.dynamodb import boto3_client, client
from anomaly_guardian.settings import process_environment

PREFIX = "reports"
PRESIGN_SECONDS = 3600


class ReportNotFound(LookupError):
    pass


def report_key(tenant: str, report_id: str, ext: str) -> str:
    period, day = report_id.split("-", 1)
    return f"{PREFIX}/{tenant}/{period}/{day}.{ext}"


class ReportStore:
    def __init__(self, bucket: str, s3: Any = None, kms_key_id: str | None = None):
        self.bucket = bucket
        self._s3 = s3
        self.kms_key_id = kms_key_id or None

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = client("s3")
        return self._s3

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        extra: dict[str, Any] = {}
        if self.kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **extra)

    def put(self, tenant: str, report: Mapping[str, Any], html: str) -> dict[str, str]:
        rid = str(report["reportId"])
        json_key, html_key = report_key(tenant, rid, "json"), report_key(tenant, rid, "html")
        self._put(html_key, html.encode(), "text/html; charset=utf-8")
        self._put(json_key, json.dumps(report, separators=(",", ":"), default=str).encode(), "application/json")
        return {"json": json_key, "html": html_key}

    def get(self, tenant: str, report_id: str) -> dict[str, Any]:
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=report_key(tenant, report_id, "json"))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise ReportNotFound(report_id) from None
            raise
        return json.loads(obj["Body"].read())

    def html(self, tenant: str, report_id: str) -> str:
        obj = self.s3.get_object(Bucket=self.bucket, Key=report_key(tenant, report_id, "html"))
        return obj["Body"].read().decode()

    def list(self, tenant: str, period: str | None = None) -> list[dict[str, Any]]:
        prefix = f"{PREFIX}/{tenant}/" + (f"{period}/" if period else "")
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            resp = self.s3.list_objects_v2(**kwargs)
            for obj in resp.get("Contents", []):
                key = obj["Key"]
                if not key.endswith(".json"):
                    continue
                _, _, per, name = key.split("/", 3)
                out.append(
                    {
                        "reportId": f"{per}-{name[:-5]}",
                        "period": per,
                        "date": name[:-5],
                        "lastModified": obj["LastModified"].isoformat(),
                    }
                )
            if not resp.get("IsTruncated"):
                break
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]
        return sorted(out, key=lambda r: (r["date"], r["period"]), reverse=True)

    @property
    def signer(self) -> Any:
        """SigV4 presigning (SSE-KMS objects refuse SigV2 URLs)."""
        if getattr(self, "_signer", None) is None:
            self._signer = boto3_client("s3", signature_version="s3v4")  # the process's region and endpoint
        return self._signer

    def links(self, tenant: str, report_id: str) -> dict[str, str]:
        html_key, json_key = report_key(tenant, report_id, "html"), report_key(tenant, report_id, "json")
        region = process_environment().region
        return {
            "htmlUrl": self.signer.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": html_key}, ExpiresIn=PRESIGN_SECONDS
            ),
            "consoleUrl": f"https://{region}.console.aws.amazon.com/s3/object/{self.bucket}?prefix={quote(html_key)}",
            "s3Html": f"s3://{self.bucket}/{html_key}",
            "s3Json": f"s3://{self.bucket}/{json_key}",
        }
