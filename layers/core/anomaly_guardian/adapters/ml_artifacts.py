"""AWS glue of the ML part: model artifact and feature samples in S3, the SageMaker endpoint
(with a hard timeout and no SDK retries: the circuit breaker above decides), and starting the
retraining pipeline.
"""

from __future__ import annotations

import io
import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from anomaly_guardian.adapters.dynamodb import boto3_client
from anomaly_guardian.ids import new_ulid

if TYPE_CHECKING:  # NumPy and boto3 are imported where used: the detector's cold start without a model needs neither
    import numpy as np


@cache
def _client(service: str) -> Any:
    return boto3_client(service, retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=20)


def reset_clients() -> None:
    _client.cache_clear()


def read_s3_bytes(bucket: str, key: str) -> bytes:
    return _client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def read_s3_bytes_if_present(bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when there is no such key (e.g. no model promoted yet)."""
    from botocore.exceptions import ClientError

    try:
        return read_s3_bytes(bucket, key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def write_s3_bytes(bucket: str, key: str, data: bytes, kms_key_id: str | None = None) -> None:
    extra: dict[str, Any] = {"ServerSideEncryption": "aws:kms"}
    if kms_key_id:
        extra["SSEKMSKeyId"] = kms_key_id
    _client("s3").put_object(Bucket=bucket, Key=key, Body=data, **extra)


def runtime_client(timeout_s: float) -> Any:
    """sagemaker-runtime with a hard timeout and a single attempt: the circuit breaker decides retries."""
    return boto3_client(
        "sagemaker-runtime",
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )


def endpoint_invoker(endpoint: str, timeout_s: float, client: Any = None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """JSON in, JSON out through InvokeEndpoint; one attempt, bounded by `timeout_s`."""
    runtime = client or runtime_client(timeout_s)

    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        resp = runtime.invoke_endpoint(
            EndpointName=endpoint,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps(payload).encode(),
        )
        return json.loads(resp["Body"].read())

    return invoke


class S3SampleSink:
    """A random sample of scored feature rows, buffered per Lambda container and written as one .npy
    per flush under `features/<modelVersion>/YYYY/MM/DD/HH/` (derived numbers only, no ids)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "features/",
        rate: float = 0.05,
        max_rows: int = 5000,
        max_age_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        kms_key_id: str | None = None,
    ):
        self.bucket, self.prefix, self.rate, self.kms_key_id = bucket, prefix, rate, kms_key_id or None
        self.max_rows, self.max_age_s, self.clock = max_rows, max_age_s, clock
        import numpy as np

        self._rows: list[np.ndarray] = []
        self._count = 0
        self._since = clock()
        self._rng = np.random.default_rng(seed if seed is not None else random.getrandbits(32))

    def add(self, X: np.ndarray) -> None:
        import numpy as np

        keep = self._rng.random(X.shape[0]) < self.rate
        if keep.any():
            self._rows.append(np.asarray(X[keep], dtype=np.float64))  # float64: bin edges sit on data values
            self._count += int(keep.sum())
        if self._count >= self.max_rows or (self._count and self.clock() - self._since >= self.max_age_s):
            self.flush()

    def flush(self) -> str | None:
        if not self._count:
            return None
        now = datetime.fromtimestamp(self.clock(), UTC)
        key = f"{self.prefix}{now:%Y/%m/%d/%H}/{new_ulid()}.npy"
        import numpy as np

        buf = io.BytesIO()
        np.save(buf, np.vstack(self._rows), allow_pickle=False)
        write_s3_bytes(self.bucket, key, buf.getvalue(), self.kms_key_id)
        self._rows, self._count, self._since = [], 0, self.clock()
        return key


def load_recent_samples(
    bucket: str, prefix: str, hours: int, now: datetime | None = None, max_objects: int = 500
) -> np.ndarray | None:
    """Feature rows written in the last `hours` hours (listing only those hour prefixes)."""
    import numpy as np

    now = now or datetime.now(UTC)
    s3 = _client("s3")
    parts: list[np.ndarray] = []
    for h in range(hours):
        hour_prefix = f"{prefix}{now - timedelta(hours=h):%Y/%m/%d/%H}/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=hour_prefix):
            for obj in page.get("Contents", []):
                if len(parts) >= max_objects:
                    break
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                parts.append(np.load(io.BytesIO(body), allow_pickle=False))
    return np.vstack(parts).astype(np.float64) if parts else None


def latest_object_key(bucket: str, prefix: str) -> str | None:
    """Newest object under a prefix (the model version to monitor when none is configured)."""
    newest = None
    for page in _client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if newest is None or obj["LastModified"] > newest["LastModified"]:
                newest = obj
    return newest["Key"] if newest else None


def publish_event(bus: str, source: str, detail_type: str, detail: dict[str, Any]) -> str:
    """PutEvents of one event on `bus`; returns its event id (raises when EventBridge refuses it)."""
    resp = _client("events").put_events(
        Entries=[{"EventBusName": bus, "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )
    entry = resp["Entries"][0]
    if resp.get("FailedEntryCount") or "EventId" not in entry:
        raise RuntimeError(
            f"PutEvents refused the {detail_type} event: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
        )
    return str(entry["EventId"])


class PipelineStarter:
    """Starts the SageMaker retraining pipeline (StartPipelineExecution: the notebook, `make ml-pipeline`)
    and reads the champion's PR-AUC (the drift monitor)."""

    def __init__(self, pipeline_name: str, client: Any = None):
        self.pipeline_name = pipeline_name
        self._sm = client

    @property
    def sm(self) -> Any:
        if self._sm is None:
            self._sm = _client("sagemaker")
        return self._sm

    def start(self, reason: str, parameters: dict[str, str] | None = None) -> str:
        params = [{"Name": k, "Value": str(v)} for k, v in (parameters or {}).items()]
        resp = self.sm.start_pipeline_execution(
            PipelineName=self.pipeline_name,
            PipelineExecutionDisplayName=f"{reason}-{datetime.now(UTC):%Y%m%d%H%M%S}"[:82],
            PipelineExecutionDescription=f"started by Anomaly Guardian: {reason}"[:3072],
            PipelineParameters=params,
            ClientRequestToken=uuid.uuid4().hex,  # 32+ characters required
        )
        return resp["PipelineExecutionArn"]

    def champion_pr_auc(self, package_group: str) -> float | None:
        """PR-AUC of the newest Approved model package (its evaluation.json), None if there is none."""
        resp = self.sm.list_model_packages(
            ModelPackageGroupName=package_group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
        packages = resp.get("ModelPackageSummaryList", [])
        if not packages:
            return None
        desc = self.sm.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
        uri = desc.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
        if not uri or not uri.startswith("s3://"):
            return None
        bucket, _, key = uri[5:].partition("/")
        report = json.loads(read_s3_bytes(bucket, key))
        value = report.get("metrics", {}).get("pr_auc")
        return float(value) if value is not None else None


class S3ModelArtifacts:
    """The `detection.model.ModelArtifacts` port: models in S3, a SageMaker endpoint, S3 feature samples
    (written with `sample_kms_key_id`, FEATURE_SAMPLE_KMS_KEY_ID; None: the bucket's default key)."""

    def __init__(self, sample_kms_key_id: str | None = None) -> None:
        self.sample_kms_key_id = sample_kms_key_id

    def read_bytes(self, bucket: str, key: str) -> bytes:
        return read_s3_bytes(bucket, key)

    def artifact_store(self, bucket: str) -> Any:
        from anomaly_guardian.adapters.model_registry import S3ArtifactStore

        return S3ArtifactStore(bucket)

    def endpoint_invoker(self, endpoint: str, timeout_s: float) -> Callable[[dict[str, Any]], dict[str, Any]]:
        return endpoint_invoker(endpoint, timeout_s)

    def sample_sink(self, bucket: str, prefix: str, rate: float) -> S3SampleSink:
        return S3SampleSink(bucket, prefix=prefix, rate=rate, kms_key_id=self.sample_kms_key_id)
