"""Model lifecycle: promote an approved model package to the artifact the detector loads, and roll back.

Flow (docs/ml.md): the pipeline registers a package as PendingManualApproval; an operator approves it
(`guardian model approve`, or SageMaker Studio); SageMaker emits "SageMaker Model Package State
Change"; the EventBridge rule of the template invokes `functions/model_promote`, which calls
`Promoter.promote`. The detector notices the new object (ETag) within `MODEL_REFRESH_SECONDS`.

Layout in the models bucket, for a live key such as `models/detector/current.npz` (everything under
the live key's name, so one IAM resource `<MODEL_KEY>*` covers the promote function's writes):
- `models/detector/current.npz`           the model the detector scores with (metadata: version, sha256,
                                          package ARN, promoted-at)
- `models/detector/current.npz.previous`  the model it replaced (what `rollback` restores; rolling back
                                          twice rolls forward again)
- `models/detector/current.npz.history/<ulid>.json`  one record per promotion, refusal and rollback (the
                                          audit trail: actor, package, versions, checksums, reason)

Idempotent: a package is promoted once (marker `MODEL_KEY.promoted/<group>/<version>`): a second event
for it reports `already_promoted` and changes nothing, because EventBridge delivers at least once and
SageMaker emits a state change for every later update of an approved package, which must not bring
back a package that was since replaced or rolled back (`guardian model promote ARN` forces it).
Promoting the artifact that is already live (same sha256) reports `unchanged`. An artifact that fails
validation (format version, feature set, arrays, a probe score) is refused with its reason recorded;
the live model is not touched.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from anomaly_guardian.ids import new_ulid
from anomaly_guardian.ml.features import FEATURES, SEQ_FEATURES, FeatureBatch
from anomaly_guardian.ml.model import ModelBundle, ModelFormatError

log = logging.getLogger(__name__)

STATE_CHANGE = "SageMaker Model Package State Change"
MAX_ARTIFACT_BYTES = 512 * 1024 * 1024
MODEL_MEMBER = "model.npz"


class PromotionRefused(ValueError):
    """The candidate cannot be promoted (not approved, wrong group, invalid artifact); nothing changed."""


@dataclass(slots=True)
class StoredObject:
    data: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    etag: str | None = None


class ArtifactStore(Protocol):
    """The models bucket (S3 in production, see adapters/model_registry.py)."""

    def get(self, key: str) -> StoredObject | None: ...

    def put(self, key: str, data: bytes, metadata: dict[str, str]) -> str: ...

    def read_uri(self, uri: str, max_bytes: int) -> bytes: ...


class Registry(Protocol):
    """The SageMaker model registry."""

    def describe(self, package_arn: str) -> dict[str, Any]: ...


@dataclass(slots=True, frozen=True)
class PackageInfo:
    arn: str
    group: str
    status: str
    model_data_url: str

    @classmethod
    def from_description(cls, desc: dict[str, Any]) -> PackageInfo:
        containers = (desc.get("InferenceSpecification") or {}).get("Containers") or []
        url = next((c.get("ModelDataUrl") for c in containers if c.get("ModelDataUrl")), "")
        return cls(
            arn=str(desc.get("ModelPackageArn", "")),
            group=str(desc.get("ModelPackageGroupName", "")),
            status=str(desc.get("ModelApprovalStatus", "")),
            model_data_url=str(url),
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def extract_model(blob: bytes) -> bytes:
    """The exported model (`model.npz`) out of a package's model data: the training job's
    `model.tar.gz` (gzip'd tar with model.npz at its root, next to code/), or a bare .npz."""
    if blob[:2] == b"PK":  # a bare .npz (zip) was registered
        return blob
    try:
        raw = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix("./")
                if name == MODEL_MEMBER and member.isfile():
                    if member.size > MAX_ARTIFACT_BYTES:
                        raise PromotionRefused(f"{MODEL_MEMBER} is {member.size} bytes, over the limit")
                    fh = tar.extractfile(member)
                    if fh is None:
                        break
                    return fh.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PromotionRefused(f"model data is neither a model.tar.gz nor a .npz: {exc}") from None
    raise PromotionRefused(f"model data has no {MODEL_MEMBER} at its root")


def validate(data: bytes) -> ModelBundle:
    """The checks a candidate passes before it may replace the live model: the detector's own loader
    (format version, feature and sequence feature names = this code's), array shapes, and a probe
    score that must be finite and within 0..1. Raises PromotionRefused with the reason."""
    try:
        bundle = ModelBundle.from_bytes(data)
    except ModelFormatError as exc:
        raise PromotionRefused(str(exc)) from None
    except Exception as exc:  # a malformed array inside a well-formed archive
        raise PromotionRefused(f"model artifact cannot be loaded: {type(exc).__name__}: {exc}") from None
    n, s = len(FEATURES), len(SEQ_FEATURES)
    shapes = {"mean": bundle.mean.shape, "std": bundle.std.shape, "medians": bundle.medians.shape}
    wrong = {k: v for k, v in shapes.items() if v != (n,)}
    if wrong or bundle.seq_mean.shape != (s,) or bundle.active.shape != (n,):
        raise PromotionRefused(f"model arrays do not match the {n} features of this code: {wrong or 'seq/active'}")
    probe = np.vstack([bundle.medians, bundle.medians + 3.0 * np.where(bundle.std > 0, bundle.std, 1.0)])
    try:
        scores = bundle.score(FeatureBatch(X=probe, seq=np.zeros((2, s)), rows=[0, 1])).score
    except Exception as exc:
        raise PromotionRefused(f"model cannot score a probe row: {type(exc).__name__}: {exc}") from None
    if scores.shape != (2,) or not np.all(np.isfinite(scores)) or scores.min() < 0 or scores.max() > 1:
        raise PromotionRefused(f"probe scores {scores.tolist()} are not finite values in 0..1")
    return bundle


def package_from_event(event: dict[str, Any]) -> tuple[str, str, str]:
    """(package ARN, group, status) of a "SageMaker Model Package State Change" event."""
    if not isinstance(event, dict) or event.get("detail-type") != STATE_CHANGE:
        raise ValueError(f"expected a {STATE_CHANGE!r} event, got detail-type {event.get('detail-type')!r}")
    detail = event.get("detail") or {}
    arn = detail.get("ModelPackageArn") or next(iter(event.get("resources") or []), None)
    if not arn:
        raise ValueError("the event names no model package (detail.ModelPackageArn)")
    return str(arn), str(detail.get("ModelPackageGroupName", "")), str(detail.get("ModelApprovalStatus", ""))


def state_change_event(desc: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """The event SageMaker publishes on the default bus when a package changes (the shape the rule
    matches); the local stack and tests publish it themselves, since the emulation does not."""
    return {
        "version": "0",
        "id": new_ulid(),
        "detail-type": STATE_CHANGE,
        "source": "aws.sagemaker",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [desc["ModelPackageArn"]],
        "detail": {
            k: desc[k]
            for k in (
                "ModelPackageGroupName",
                "ModelPackageVersion",
                "ModelPackageArn",
                "ModelApprovalStatus",
                "InferenceSpecification",
                "ModelPackageStatus",
            )
            if k in desc
        },
    }


@dataclass(slots=True)
class Promoter:
    store: ArtifactStore
    registry: Registry
    live_key: str
    package_group: str | None = None  # only packages of this group are promoted (None: any)
    clock: Any = field(default=lambda: datetime.now(UTC))

    @property
    def previous_key(self) -> str:
        return self.live_key + ".previous"

    @property
    def history_prefix(self) -> str:
        return self.live_key + ".history/"

    # -- promotion -----------------------------------------------------------------------------
    def promoted_marker(self, package_arn: str) -> str:
        return f"{self.live_key}.promoted/{package_arn.rsplit(':', 1)[-1].replace('model-package/', '')}"

    def promote(self, package_arn: str, actor: str = "eventbridge", force: bool = False) -> dict[str, Any]:
        """Make the package's model the live one. Returns the outcome record (also written to history):
        status `promoted`, `unchanged`, `already_promoted` or `refused` (with `reason`).

        A package is promoted once: SageMaker emits a state change for every later update of an
        approved package, and EventBridge may deliver an event twice, so an event for a package that
        was promoted before (then replaced, or rolled back) must not bring it back; `force` (the CLI's
        `guardian model promote ARN`) does."""
        record: dict[str, Any] = {"action": "promote", "modelPackageArn": package_arn, "actor": actor}
        marker = self.promoted_marker(package_arn)
        if not force and self.store.get(marker) is not None:
            return self._record(record | {"status": "already_promoted"}, write=False)
        try:
            pkg = PackageInfo.from_description(self.registry.describe(package_arn))
            if self.package_group and pkg.group != self.package_group:
                raise PromotionRefused(f"package belongs to group {pkg.group!r}, not {self.package_group!r}")
            if pkg.status != "Approved":
                raise PromotionRefused(f"package status is {pkg.status!r}, not Approved")
            if not pkg.model_data_url.startswith("s3://"):
                raise PromotionRefused(
                    "package has no S3 model data (InferenceSpecification.Containers[].ModelDataUrl)"
                )
            record["modelDataUrl"] = pkg.model_data_url
            candidate = extract_model(self.store.read_uri(pkg.model_data_url, MAX_ARTIFACT_BYTES))
            bundle = validate(candidate)
        except PromotionRefused as exc:
            return self._record(record | {"status": "refused", "reason": str(exc)})
        digest = sha256(candidate)
        record |= {"modelVersion": bundle.version, "sha256": digest}
        live = self.store.get(self.live_key)
        if live is not None and (live.metadata.get("sha256") or sha256(live.data)) == digest:
            self.store.put(marker, json.dumps(record).encode(), {"sha256": digest})
            return self._record(record | {"status": "unchanged"}, write=False)
        if live is not None:
            self.store.put(self.previous_key, live.data, live.metadata)
            record["previousVersion"] = live.metadata.get("model-version") or _version_of(live.data)
        meta = {
            "model-version": bundle.version,
            "sha256": digest,
            "model-package-arn": package_arn,
            "promoted-at": self._now(),
        }
        record["etag"] = self.store.put(self.live_key, candidate, meta)
        self.store.put(marker, json.dumps(record).encode(), {"sha256": digest})
        return self._record(record | {"status": "promoted"})

    def rollback(self, actor: str) -> dict[str, Any]:
        """Swap the live and previous models (the previous one is validated first)."""
        record: dict[str, Any] = {"action": "rollback", "actor": actor}
        previous = self.store.get(self.previous_key)
        if previous is None:
            return self._record(record | {"status": "refused", "reason": "no previous model to roll back to"})
        try:
            bundle = validate(previous.data)
        except PromotionRefused as exc:
            return self._record(record | {"status": "refused", "reason": f"previous model is invalid: {exc}"})
        live = self.store.get(self.live_key)
        if live is not None:
            self.store.put(self.previous_key, live.data, live.metadata)
            record["replacedVersion"] = live.metadata.get("model-version") or _version_of(live.data)
        meta = dict(previous.metadata) | {"model-version": bundle.version, "sha256": sha256(previous.data)}
        meta["promoted-at"] = self._now()
        record |= {"modelVersion": bundle.version, "sha256": meta["sha256"]}
        record["modelPackageArn"] = meta.get("model-package-arn")
        record["etag"] = self.store.put(self.live_key, previous.data, meta)
        return self._record(record | {"status": "rolled_back"})

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"liveKey": self.live_key, "previousKey": self.previous_key}
        for name, key in (("live", self.live_key), ("previous", self.previous_key)):
            obj = self.store.get(key)
            out[name] = None if obj is None else {"etag": obj.etag, **obj.metadata}
        return out

    # -- helpers -------------------------------------------------------------------------------
    def _now(self) -> str:
        return self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _record(self, record: dict[str, Any], write: bool = True) -> dict[str, Any]:
        record["at"] = self._now()
        level = logging.WARNING if record["status"] == "refused" else logging.INFO
        log.log(level, "model %s: %s", record["action"], record["status"], extra={"lifecycle": record})
        if write:
            key = f"{self.history_prefix}{new_ulid()}.json"
            self.store.put(key, json.dumps(record, sort_keys=True).encode(), {"status": record["status"]})
            record["historyKey"] = key
        return record


def _version_of(data: bytes) -> str | None:
    try:
        return ModelBundle.from_bytes(data).version
    except Exception:
        return None


def handle_state_change(event: dict[str, Any], promoter: Promoter) -> dict[str, Any]:
    """functions/model_promote: one EventBridge event -> promote the package if it is Approved.
    The registry is asked again (the event may be stale: approved, then rejected a second later)."""
    arn, group, status = package_from_event(event)
    if status and status != "Approved":
        return {"status": "ignored", "modelPackageArn": arn, "reason": f"approval status {status}"}
    if group and promoter.package_group and group != promoter.package_group:
        return {"status": "ignored", "modelPackageArn": arn, "reason": f"group {group}"}
    return promoter.promote(arn, actor=f"eventbridge:{event.get('id', '?')}")
