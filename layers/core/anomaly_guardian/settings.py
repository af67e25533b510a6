"""What each Lambda function reads from its environment: one pydantic model per function, validated once
at cold start (`<Model>.from_env()` in `anomaly_guardian.wiring`), so a missing or mistyped variable fails
the first invocation with a message naming the variable instead of a KeyError on the first request that
happens to need it.

Field names are the Python names; each field's alias is the environment variable (see docs/internals.md
for what each one means and sam/template.yaml for where it is set). This module is pure: no boto3, no I/O.
Add a variable: add a field to the function's model (required unless the code has a real default),
read it from the settings object in `wiring.py`, never from `os.environ` in the logic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# Environments without AWS behind them (the local stack, the test suite): local keys, no OpenSearch.
LOCAL_ENVIRONMENTS = frozenset({"", "local", "test"})


@dataclass(frozen=True)
class ProcessEnvironment:
    """What the platform sets for every process (the Lambda runtime, SAM, the local stack, the tests):
    the AWS SDK's region and endpoint and Powertools' names. Not a function's configuration, so it has no
    settings model: the boto3 client factories (adapters.dynamodb) and the metrics fallback read it here."""

    region: str
    endpoint_url: str | None
    metrics_namespace: str
    service_name: str
    # Lambda's AWS_LAMBDA_INITIALIZATION_TYPE: on-demand, provisioned-concurrency or snap-start.
    initialization_type: str = "on-demand"


def process_environment(environ: Mapping[str, str] | None = None) -> ProcessEnvironment:
    env = os.environ if environ is None else environ
    return ProcessEnvironment(
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        endpoint_url=env.get("AWS_ENDPOINT_URL") or None,  # set only for the local stack (moto on loopback)
        metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE") or "AnomalyGuardian",
        service_name=env.get("POWERTOOLS_SERVICE_NAME") or "anomaly-guardian",
        initialization_type=env.get("AWS_LAMBDA_INITIALIZATION_TYPE") or "on-demand",
    )


def follow_local_endpoint(environ: MutableMapping[str, str] | None = None) -> None:
    """`sam local invoke` only passes variables the template declares: LOCAL_AWS_ENDPOINT_URL (empty when
    deployed) carries the local stack's endpoint into the container, and every boto3 client (Powertools'
    too) follows AWS_ENDPOINT_URL. Called once when `wiring` is imported (every handler imports it first)."""
    env = os.environ if environ is None else environ
    if env.get("LOCAL_AWS_ENDPOINT_URL"):
        env.setdefault("AWS_ENDPOINT_URL", env["LOCAL_AWS_ENDPOINT_URL"])


def _loopback_only_locally(settings: Any) -> None:
    """The webhook loopback switch disables part of the SSRF guard: refused outside the local stack."""
    if settings.webhook_allow_loopback and settings.environment not in LOCAL_ENVIRONMENTS:
        raise ValueError("GUARDIAN_WEBHOOK_ALLOW_LOOPBACK: only on the local stack and in tests")


class SettingsError(ValueError):
    """A function's environment does not validate; the message names every bad variable."""


class FunctionSettings(BaseModel):
    # defer_build: a function builds the validator of its own model only (at `from_env`), not of all twelve
    # at import (about 40 ms of every cold start, issue 16).
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    environment: str = Field("dev", alias="ENVIRONMENT")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        # An empty variable is treated as unset (CloudFormation writes "" for an optional parameter).
        present = {k: v for k, v in env.items() if v != ""}
        try:
            return cls.model_validate(present)
        except ValidationError as exc:
            raise SettingsError(f"{cls.__name__}: {describe(cls, exc)}") from None


def describe(model: type[BaseModel], exc: ValidationError) -> str:
    """`EVENTS_STREAM_NAME: Field required; DEDUPE_TTL_HOURS: Input should be a valid integer`."""
    aliases = {name: (field.alias or name) for name, field in model.model_fields.items()}
    aliases |= {alias: alias for alias in list(aliases.values())}  # errors are located by alias
    parts = []
    for error in exc.errors():
        loc = error.get("loc") or ("?",)
        name = str(loc[0]) if loc else ""
        msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{aliases[name]}: {msg}" if name in aliases else msg)
    return "; ".join(parts)


def _json_object(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc.msg})") from None
    return value


class IngestSettings(FunctionSettings):
    """functions/ingest: POST /events -> Kinesis, block-list check, pseudonymised lookups."""

    events_stream_name: str = Field(alias="EVENTS_STREAM_NAME", min_length=1)
    blocklist_table: str = Field(alias="BLOCKLIST_TABLE", min_length=1)
    pseudonym_key_param: str | None = Field(None, alias="PSEUDONYM_KEY_PARAM")
    pseudonym_key: str | None = Field(None, alias="GUARDIAN_PSEUDONYM_KEY", repr=False)  # local key, no param
    # IAM principal ARN (or account id) -> tenant, for SigV4 callers of POST /events.
    iam_tenant_map: dict[str, str] = Field(default_factory=dict, alias="IAM_TENANT_MAP")
    # What was accepted under each eventId (`_ingest#` receipts), kept as long as the detector's dedupe.
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    dedupe_ttl_hours: int = Field(168, alias="DEDUPE_TTL_HOURS", ge=1)

    _map = field_validator("iam_tenant_map", mode="before")(_json_object)


class UsageIngestSettings(FunctionSettings):
    """functions/usage_ingest: CloudTrail via CloudWatch Logs -> Kinesis, all under one tenant."""

    events_stream_name: str = Field(alias="EVENTS_STREAM_NAME", min_length=1)
    usage_tenant_id: str = Field(alias="USAGE_TENANT_ID", min_length=1)
    # The trail's daily OpenSearch indexes (search, dashboards, Anomaly Detection); empty: not indexed.
    opensearch_endpoint: str = Field("", alias="OPENSEARCH_ENDPOINT")
    trail_index_prefix: str = Field("cloudtrail", alias="TRAIL_INDEX_PREFIX", pattern=r"^[a-z][a-z0-9-]{0,40}$")


class CostAnomaliesSettings(FunctionSettings):
    """functions/cost_anomalies: Cost Explorer GetAnomalies -> cost anomalies of the account's tenant."""

    usage_tenant_id: str = Field(alias="USAGE_TENANT_ID", min_length=1)
    config_table: str = Field(alias="CONFIG_TABLE", min_length=1)
    anomalies_table: str = Field(alias="ANOMALIES_TABLE", min_length=1)
    anomaly_retention_days: int | None = Field(None, alias="ANOMALY_RETENTION_DAYS", gt=0)  # stored TTL
    response_queue_url: str | None = Field(None, alias="RESPONSE_QUEUE_URL")
    cost_lookback_days: int = Field(7, alias="COST_LOOKBACK_DAYS", ge=1, le=90)
    cost_monitor_arn: str | None = Field(None, alias="COST_MONITOR_ARN")


class ModelPromoteSettings(FunctionSettings):
    """functions/model_promote: approved model package -> the artifact the detector loads."""

    model_bucket: str = Field(alias="MODEL_BUCKET", min_length=1)
    model_key: str = Field(alias="MODEL_KEY", min_length=1)
    # Only packages of this group are promoted (the rule filters on it too); None: any group.
    model_package_group: str | None = Field(None, alias="MODEL_PACKAGE_GROUP")
    model_kms_key_id: str | None = Field(None, alias="MODEL_KMS_KEY_ID")


class ReportsSettings(FunctionSettings):
    """functions/reports (and the API's /reports): anomalies, counters, the reports bucket, the alerts topic."""

    anomalies_table: str = Field(alias="ANOMALIES_TABLE", min_length=1)
    anomaly_retention_days: int | None = Field(None, alias="ANOMALY_RETENTION_DAYS", gt=0)  # stored TTL
    audit_table: str = Field(alias="AUDIT_TABLE", min_length=1)
    reports_bucket: str = Field(alias="REPORTS_BUCKET", min_length=1)
    reports_kms_key_id: str | None = Field(None, alias="REPORTS_KMS_KEY_ID")
    alerts_topic_arn: str | None = Field(None, alias="ALERTS_TOPIC_ARN")
    # Monthly capacity planning reads these resources (unset ones are left out); docs/reports.md.
    events_stream_name: str | None = Field(None, alias="EVENTS_STREAM_NAME")
    state_table: str | None = Field(None, alias="STATE_TABLE")
    config_table: str | None = Field(None, alias="CONFIG_TABLE")
    incidents_table: str | None = Field(None, alias="INCIDENTS_TABLE")
    blocklist_table: str | None = Field(None, alias="BLOCKLIST_TABLE")
    idempotency_table: str | None = Field(None, alias="IDEMPOTENCY_TABLE")
    # "project=anomaly-guardian,environment=dev": the stack's cost allocation tags (the system's own cost).
    system_cost_tags: str | None = Field(None, alias="SYSTEM_COST_TAGS")

    @property
    def capacity_tables(self) -> list[str]:
        names = (
            self.state_table,
            self.anomalies_table,
            self.config_table,
            self.incidents_table,
            self.audit_table,
            self.blocklist_table,
            self.idempotency_table,
        )
        return [n for n in dict.fromkeys(names) if n]

    @property
    def cost_tags(self) -> dict[str, str]:
        pairs = [p.split("=", 1) for p in (self.system_cost_tags or "").split(",") if p.strip()]
        return {k.strip(): v.strip() for k, v in pairs}

    @field_validator("system_cost_tags")
    @classmethod
    def _tags_are_pairs(cls, value: str | None) -> str | None:
        if value and any("=" not in p or not p.split("=", 1)[0].strip() for p in value.split(",") if p.strip()):
            raise ValueError("expected key=value pairs separated by commas")
        return value


class SearchIndexerSettings(FunctionSettings):
    """functions/search_indexer: Anomalies table stream -> OpenSearch."""

    # Empty only on the local stack (no OpenSearch there: every request fails and is retried).
    opensearch_endpoint: str = Field("", alias="OPENSEARCH_ENDPOINT")
    opensearch_index_prefix: str = Field("anomalies", alias="OPENSEARCH_INDEX_PREFIX", min_length=1)

    @model_validator(mode="after")
    def _endpoint_outside_local(self) -> Self:
        if not self.opensearch_endpoint and self.environment not in LOCAL_ENVIRONMENTS:
            raise ValueError("OPENSEARCH_ENDPOINT: required outside the local stack")
        return self


class ResponseSettings(FunctionSettings):
    """functions/actions, correlator, block_expiry, webhook_dispatcher: the response side's ports.

    The optional ports are None when their variable is unset; the actions that need them then fail
    with a message naming the variable (response.ports)."""

    config_table: str = Field(alias="CONFIG_TABLE", min_length=1)
    audit_table: str = Field(alias="AUDIT_TABLE", min_length=1)
    blocklist_table: str = Field(alias="BLOCKLIST_TABLE", min_length=1)
    incidents_table: str = Field(alias="INCIDENTS_TABLE", min_length=1)
    anomalies_table: str = Field(alias="ANOMALIES_TABLE", min_length=1)
    anomaly_retention_days: int | None = Field(None, alias="ANOMALY_RETENTION_DAYS", gt=0)  # stored TTL
    remediation_state_machine_arn: str | None = Field(None, alias="REMEDIATION_STATE_MACHINE_ARN")
    waf_ip_set_id: str | None = Field(None, alias="WAF_IP_SET_ID")
    waf_ip_set_name: str | None = Field(None, alias="WAF_IP_SET_NAME")
    waf_scope: Literal["REGIONAL", "CLOUDFRONT"] = Field("REGIONAL", alias="WAF_SCOPE")
    alerts_topic_arn: str | None = Field(None, alias="ALERTS_TOPIC_ARN")
    webhook_queue_url: str | None = Field(None, alias="WEBHOOK_QUEUE_URL")
    webhook_dlq_url: str | None = Field(None, alias="WEBHOOK_DLQ_URL")
    event_bus_name: str | None = Field(None, alias="EVENT_BUS_NAME")
    # Usage alerts: where the signed one-click links point (the API's base URL) and the Dashboards link.
    alert_links_api_url: str | None = Field(None, alias="ALERT_LINKS_API_URL")
    alert_links_api_url_param: str | None = Field(None, alias="ALERT_LINKS_API_URL_PARAM")  # SSM name of it
    opensearch_dashboards_url: str | None = Field(None, alias="OPENSEARCH_DASHBOARDS_URL")
    alert_link_ttl_hours: float = Field(72, alias="ALERT_LINK_TTL_HOURS", gt=0, le=24 * 14)
    # The action-link MAC key; unset: derived from the token signing key (auth.action_links.link_key).
    action_link_key: str | None = Field(None, alias="GUARDIAN_ACTION_LINK_KEY", repr=False)
    # Webhook secrets (webhook_dispatcher decrypts them): KMS outside the local stack, else a local key.
    secrets_kms_key_id: str | None = Field(None, alias="SECRETS_KMS_KEY_ID")
    secret_key: str | None = Field(None, alias="GUARDIAN_SECRET_KEY", repr=False)
    # Local stack and tests only: webhooks may target http(s)://127.0.0.1 (url_guard).
    webhook_allow_loopback: bool = Field(False, alias="GUARDIAN_WEBHOOK_ALLOW_LOOPBACK")
    response_dry_run: bool = Field(False, alias="RESPONSE_DRY_RUN")  # forces dry-run for every tenant

    @model_validator(mode="after")
    def _loopback_locally(self) -> Self:
        _loopback_only_locally(self)
        return self


class CorrelatorSettings(ResponseSettings):
    """functions/correlator: the response ports, and how far apart anomalies may be to join one incident."""

    correlation_window_seconds: int = Field(30 * 60, alias="CORRELATION_WINDOW_SECONDS", gt=0, le=7 * 24 * 3600)


class AuthorizerSettings(FunctionSettings):
    """functions/authorizer (also `guardian token` and the API client): how bearer tokens are verified.

    The HS256 key comes from `TOKEN_SIGNING_KEY_PARAM` (SSM SecureString) or `GUARDIAN_TOKEN_KEY`; with
    neither, only an unset/local ENVIRONMENT falls back to the development key (auth.keys)."""

    environment: str = Field("", alias="ENVIRONMENT")  # unset means the local stack here (auth.keys)
    token_signing_key_param: str | None = Field(None, alias="TOKEN_SIGNING_KEY_PARAM")
    token_key: str | None = Field(None, alias="GUARDIAN_TOKEN_KEY", repr=False)  # a secret: never in reprs
    jwks_url: str | None = Field(None, alias="GUARDIAN_TOKEN_JWKS_URL")
    public_key: str | None = Field(None, alias="GUARDIAN_TOKEN_PUBLIC_KEY", repr=False)
    issuer: str = Field("anomaly-guardian", alias="GUARDIAN_TOKEN_ISSUER", min_length=1)  # tokens.DEFAULT_ISSUER
    audience: str = Field("anomaly-guardian-api", alias="GUARDIAN_TOKEN_AUDIENCE", min_length=1)
    # The RS256 issuer (the console's Cognito user pool): its iss/aud (ours when unset), tenant and groups claims.
    external_issuer: str | None = Field(None, alias="GUARDIAN_TOKEN_EXTERNAL_ISSUER")
    external_audience: str | None = Field(None, alias="GUARDIAN_TOKEN_EXTERNAL_AUDIENCE")
    tenant_claim: str = Field("custom:tenantId", alias="GUARDIAN_TOKEN_TENANT_CLAIM", min_length=1)
    groups_claim: str = Field("cognito:groups", alias="GUARDIAN_TOKEN_GROUPS_CLAIM", min_length=1)

    @field_validator("jwks_url")
    @classmethod
    def _jwks_is_a_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class ApiSettings(FunctionSettings):
    """functions/api: the REST API's repositories, secret box, state store and pseudonymiser."""

    state_table: str = Field(alias="STATE_TABLE", min_length=1)
    anomalies_table: str = Field(alias="ANOMALIES_TABLE", min_length=1)
    config_table: str = Field(alias="CONFIG_TABLE", min_length=1)
    audit_table: str = Field(alias="AUDIT_TABLE", min_length=1)
    blocklist_table: str = Field(alias="BLOCKLIST_TABLE", min_length=1)
    pseudonym_key_param: str | None = Field(None, alias="PSEUDONYM_KEY_PARAM")
    pseudonym_key: str | None = Field(None, alias="GUARDIAN_PSEUDONYM_KEY", repr=False)  # local key, no param
    # KMS key for webhook secrets; required outside the local stack (adapters.secrets says so too).
    secrets_kms_key_id: str | None = Field(None, alias="SECRETS_KMS_KEY_ID")
    secret_key: str | None = Field(None, alias="GUARDIAN_SECRET_KEY", repr=False)  # the local stack's box key
    # Page tokens' and action links' MAC keys; unset: derived from the token signing key.
    pagination_key: str | None = Field(None, alias="GUARDIAN_PAGINATION_KEY", repr=False)
    action_link_key: str | None = Field(None, alias="GUARDIAN_ACTION_LINK_KEY", repr=False)
    # Local stack and tests only: webhooks may be registered at http(s)://127.0.0.1 (url_guard).
    webhook_allow_loopback: bool = Field(False, alias="GUARDIAN_WEBHOOK_ALLOW_LOOPBACK")
    anomaly_retention_days: int | None = Field(None, alias="ANOMALY_RETENTION_DAYS", gt=0)
    # Erasure (DELETE /subjects) also reaches these; unset ones are skipped (unit tests).
    incidents_table: str | None = Field(None, alias="INCIDENTS_TABLE")
    idempotency_table: str | None = Field(None, alias="IDEMPOTENCY_TABLE")
    archive_bucket: str | None = Field(None, alias="ARCHIVE_BUCKET")
    model_bucket: str | None = Field(None, alias="MODEL_BUCKET")
    reports_bucket: str | None = Field(None, alias="REPORTS_BUCKET")  # reports list top anomalies' users
    reports_kms_key_id: str | None = Field(None, alias="REPORTS_KMS_KEY_ID")  # /reports writes with it
    alerts_topic_arn: str | None = Field(None, alias="ALERTS_TOPIC_ARN")  # POST /reports publishes a summary
    remediation_state_machine_arn: str | None = Field(None, alias="REMEDIATION_STATE_MACHINE_ARN")  # reviews
    webhook_queue_url: str | None = Field(None, alias="WEBHOOK_QUEUE_URL")  # incident.resolved notifications
    suppression_days: int = Field(30, alias="SUPPRESSION_DAYS", ge=1)  # a false_positive silences its pattern
    response_dry_run: bool = Field(False, alias="RESPONSE_DRY_RUN")  # shown by GET /settings/response
    # The deployed console's origin (CloudFront): the only origin answered with CORS headers; unset locally,
    # where the console is served by the API's own origin.
    console_origin: str | None = Field(None, alias="CONSOLE_ORIGIN", pattern=r"^https?://[^/\s]+$")

    @model_validator(mode="after")
    def _kms_outside_local(self) -> Self:
        if not self.secrets_kms_key_id and self.environment not in LOCAL_ENVIRONMENTS:
            raise ValueError("SECRETS_KMS_KEY_ID: required outside the local stack")
        _loopback_only_locally(self)
        return self


class DetectorSettings(FunctionSettings):
    """functions/detector: Kinesis -> detectors -> Anomalies table, response queue, poison DLQ."""

    state_table: str = Field(alias="STATE_TABLE", min_length=1)
    anomalies_table: str = Field(alias="ANOMALIES_TABLE", min_length=1)
    anomaly_retention_days: int | None = Field(None, alias="ANOMALY_RETENTION_DAYS", gt=0)  # stored TTL
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    audit_table: str = Field(alias="AUDIT_TABLE", min_length=1)  # per-tenant hourly counters (reports)
    dedupe_ttl_hours: int = Field(168, alias="DEDUPE_TTL_HOURS", ge=1)  # keep >= the stream's retention
    # Without these the detector runs without tenant rules/suppressions, or without monitoring flags.
    config_table: str | None = Field(None, alias="CONFIG_TABLE")
    blocklist_table: str | None = Field(None, alias="BLOCKLIST_TABLE")
    detector_dlq_url: str | None = Field(None, alias="DETECTOR_DLQ_URL")
    response_queue_url: str | None = Field(None, alias="RESPONSE_QUEUE_URL")  # unset: no response hand-off
    pseudonym_key_param: str | None = Field(None, alias="PSEUDONYM_KEY_PARAM")
    pseudonym_key: str | None = Field(None, alias="GUARDIAN_PSEUDONYM_KEY", repr=False)  # local key, no param
    # How long suppressions and monitoring flags are cached per container.
    feedback_cache_seconds: float = Field(30.0, alias="FEEDBACK_CACHE_SECONDS", ge=0)
    # The model detector (detection.model.ModelConfig, built in wiring.detector).
    ml_detector: str = Field("auto", alias="ML_DETECTOR")  # auto (on when a model is set) | on | off
    model_path: str | None = Field(None, alias="MODEL_PATH")  # a local model file (tests, local runs)
    model_bucket: str | None = Field(None, alias="MODEL_BUCKET")
    model_key: str | None = Field(None, alias="MODEL_KEY")
    model_refresh_seconds: float = Field(60.0, alias="MODEL_REFRESH_SECONDS", ge=0)  # ETag check interval
    model_endpoint_name: str | None = Field(None, alias="MODEL_ENDPOINT_NAME")  # SageMaker; unset: in-process
    model_endpoint_timeout_ms: float = Field(300.0, alias="MODEL_ENDPOINT_TIMEOUT_MS", gt=0)
    model_endpoint_failures: int = Field(3, alias="MODEL_ENDPOINT_FAILURES", ge=1)  # before the breaker opens
    model_endpoint_cooldown_s: float = Field(30.0, alias="MODEL_ENDPOINT_COOLDOWN_S", ge=0)
    feature_sample_bucket: str | None = Field(None, alias="FEATURE_SAMPLE_BUCKET")  # drift samples; unset: none
    feature_sample_rate: float = Field(0.05, alias="FEATURE_SAMPLE_RATE", ge=0, le=1)
    feature_sample_kms_key_id: str | None = Field(None, alias="FEATURE_SAMPLE_KMS_KEY_ID")
    ml_metric_windows: bool = Field(False, alias="ML_METRIC_WINDOWS")

    @field_validator("ml_detector", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        value = str(value).strip().lower()
        if value not in ("auto", "on", "off"):
            raise ValueError(f"must be auto, on or off, got {value!r}")
        return value

    suppression_max_score: float = Field(0.9, alias="SUPPRESSION_MAX_SCORE", ge=0, le=1)


class DriftMonitorSettings(FunctionSettings):
    """functions/drift_monitor: PSI of live features against the served model, retraining triggers."""

    model_bucket: str = Field(alias="MODEL_BUCKET", min_length=1)
    model_key: str = Field(alias="MODEL_KEY", min_length=1)
    feature_sample_bucket: str | None = Field(None, alias="FEATURE_SAMPLE_BUCKET")  # default: MODEL_BUCKET
    training_data_uri: str | None = Field(None, alias="TRAINING_DATA_URI", pattern=r"^s3://")
    training_data_kms_key_id: str | None = Field(None, alias="TRAINING_DATA_KMS_KEY_ID")
    training_tenants: str = Field("", alias="TRAINING_TENANTS")  # comma-separated
    retrain_pipeline_name: str | None = Field(None, alias="RETRAIN_PIPELINE_NAME")
    model_package_group: str | None = Field(None, alias="MODEL_PACKAGE_GROUP")
    anomalies_table: str | None = Field(None, alias="ANOMALIES_TABLE")
    anomaly_retention_days: int | None = Field(None, alias="ANOMALY_RETENTION_DAYS", gt=0)  # stored TTL
    event_bus_name: str | None = Field(None, alias="EVENT_BUS_NAME")  # unset: retraining is only logged
    psi_threshold: float = Field(0.25, alias="PSI_THRESHOLD", gt=0)
    min_sample_rows: int = Field(500, alias="MIN_SAMPLE_ROWS", ge=1)
    drift_window_hours: int = Field(24, alias="DRIFT_WINDOW_HOURS", ge=1)
    retrain_on_drift: bool = Field(True, alias="RETRAIN_ON_DRIFT")

    @property
    def tenants(self) -> list[str]:
        return [t.strip() for t in self.training_tenants.split(",") if t.strip()]
