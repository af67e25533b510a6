"""AWS glue of the model lifecycle (anomaly_guardian.ml.lifecycle): the models bucket, the SageMaker
model registry (describe / list / approve), and the state-change event for emulations."""

from __future__ import annotations

import json
from typing import Any

from anomaly_guardian.adapters.ml_artifacts import _client
from anomaly_guardian.ml.lifecycle import StoredObject


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "404", "NotFound")


class S3ArtifactStore:
    """Objects of the models bucket, written SSE-KMS (`kms_key_id`, else the bucket's default key)."""

    def __init__(self, bucket: str, kms_key_id: str | None = None, client: Any = None):
        self.bucket, self.kms_key_id = bucket, kms_key_id
        self._s3 = client

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = _client("s3")
        return self._s3

    def get(self, key: str) -> StoredObject | None:
        try:
            resp = self.s3.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _missing(exc):
                return None
            raise
        return StoredObject(resp["Body"].read(), dict(resp.get("Metadata") or {}), resp.get("ETag"))

    def head_etag(self, key: str) -> str | None:
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key).get("ETag")
        except Exception as exc:
            if _missing(exc):
                return None
            raise

    def put(self, key: str, data: bytes, metadata: dict[str, str]) -> str:
        extra: dict[str, Any] = {"ServerSideEncryption": "aws:kms"}
        if self.kms_key_id:
            extra["SSEKMSKeyId"] = self.kms_key_id
        resp = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, Metadata=metadata, **extra)
        return str(resp.get("ETag", ""))

    def read_uri(self, uri: str, max_bytes: int) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        head = self.s3.head_object(Bucket=bucket, Key=key)
        if int(head.get("ContentLength", 0)) > max_bytes:
            from anomaly_guardian.ml.lifecycle import PromotionRefused

            raise PromotionRefused(f"{uri} is {head['ContentLength']} bytes, over the {max_bytes} byte limit")
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()


class SageMakerRegistry:
    def __init__(self, client: Any = None):
        self._sm = client

    @property
    def sm(self) -> Any:
        if self._sm is None:
            self._sm = _client("sagemaker")
        return self._sm

    def describe(self, package_arn: str) -> dict[str, Any]:
        return self.sm.describe_model_package(ModelPackageName=package_arn)

    def packages(self, group: str, status: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
        """Newest first."""
        kwargs: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": limit,
        }
        if status:
            kwargs["ModelApprovalStatus"] = status
        return list(self.sm.list_model_packages(**kwargs).get("ModelPackageSummaryList", []))

    def approve(self, package_arn: str, description: str) -> dict[str, Any]:
        self.sm.update_model_package(
            ModelPackageArn=package_arn, ModelApprovalStatus="Approved", ApprovalDescription=description[:1024]
        )
        return self.describe(package_arn)

    def pr_auc(self, desc: dict[str, Any]) -> float | None:
        """PR-AUC from the package's evaluation.json (ModelMetrics.ModelQuality.Statistics)."""
        uri = (desc.get("ModelMetrics") or {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
        if not uri or not uri.startswith("s3://"):
            return None
        bucket, _, key = uri[5:].partition("/")
        try:
            report = json.loads(_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception as exc:
            if _missing(exc):
                return None
            raise
        value = report.get("metrics", {}).get("pr_auc")
        return float(value) if value is not None else None


def publish_state_change(event: dict[str, Any], bus: str = "default") -> None:
    """Put a "SageMaker Model Package State Change" event (as SageMaker would) on `bus`: only for
    emulations (the local stack, tests), where nothing else emits it."""
    resp = _client("events").put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event.get("resources", []),
                "EventBusName": bus,
            }
        ]
    )
    if resp.get("FailedEntryCount"):
        raise RuntimeError(f"PutEvents failed: {resp['Entries']}")
