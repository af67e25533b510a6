"""The one place that builds each Lambda function's collaborators (its ports) from its settings.

A handler does `service = wiring.ingest_service()` at module level (cold start): the settings model
validates the environment first (a bad variable fails here, named), then the adapters are built from
the validated values. Only `settings` reads `os.environ` and only this module (and the handlers) call
`<Settings>.from_env()`; nothing else constructs adapters for a function
(tests/unit/layer/test_environment_reads.py enforces the first two, tooling excepted). Tests build the
same objects with fakes by passing a settings object or the ports directly to the service constructors;
the API routers take theirs through Powertools `Depends()` (see `anomaly_guardian.api.deps`), which tests
override with `app.dependency_overrides`. See docs/CONTRIBUTING.md, "Wiring a function".
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from anomaly_guardian.settings import (
    ApiSettings,
    AuthorizerSettings,
    CorrelatorSettings,
    CostAnomaliesSettings,
    DetectorSettings,
    DriftMonitorSettings,
    IngestSettings,
    ModelPromoteSettings,
    ReportsSettings,
    ResponseSettings,
    SearchIndexerSettings,
    UsageIngestSettings,
    follow_local_endpoint,
)

log = logging.getLogger(__name__)
follow_local_endpoint()  # sam local invoke: every SDK client follows the local stack's endpoint

if TYPE_CHECKING:
    from anomaly_guardian.adapters.secrets import SecretBox
    from anomaly_guardian.api.deps import Services
    from anomaly_guardian.auth.tokens import TokenSettings
    from anomaly_guardian.cost.service import CostPorts
    from anomaly_guardian.detection.batch import BatchDetector
    from anomaly_guardian.detection.model_env import ModelConfig
    from anomaly_guardian.ingest.service import IngestService
    from anomaly_guardian.ml.drift import DriftMonitor
    from anomaly_guardian.ml.lifecycle import Promoter
    from anomaly_guardian.reports.service import ReportPorts
    from anomaly_guardian.response.ports import Ports
    from anomaly_guardian.search.indexer import SearchIndexer
    from anomaly_guardian.usage.service import UsageIngest


def ingest_service(settings: IngestSettings | None = None) -> IngestService:
    from anomaly_guardian.adapters.blocklist import DynamoDBBlockList
    from anomaly_guardian.adapters.dynamodb import best_effort_client, interactive_client, warm_clients
    from anomaly_guardian.adapters.ingest_receipts import DynamoDBIngestReceipts
    from anomaly_guardian.adapters.keys import pseudonymiser_from_param
    from anomaly_guardian.adapters.kinesis import KinesisSink
    from anomaly_guardian.ingest.service import IngestService

    s = settings or IngestSettings.from_env()
    # Fast-failing clients: a stalled AWS endpoint becomes a 503 within the function's 10 s.
    ddb = interactive_client("dynamodb")
    service = IngestService(
        KinesisSink(s.events_stream_name, kinesis=interactive_client("kinesis")),
        DynamoDBBlockList(s.blocklist_table, ddb=ddb),
        pseudonymiser_from_param(s.pseudonym_key_param, s.pseudonym_key),
        receipts=DynamoDBIngestReceipts(
            s.idempotency_table, ddb=ddb, write_ddb=best_effort_client("dynamodb"), ttl_hours=s.dedupe_ttl_hours
        ),
        receipt_ttl_hours=s.dedupe_ttl_hours,
    )
    warm_clients()  # built on first use, unless this init runs ahead of traffic
    return service


def usage_ingest_service(settings: UsageIngestSettings | None = None) -> UsageIngest:
    from anomaly_guardian.adapters.kinesis import KinesisSink
    from anomaly_guardian.usage.service import UsageIngest

    s = settings or UsageIngestSettings.from_env()
    search = None
    if s.opensearch_endpoint:
        from anomaly_guardian.adapters.opensearch import OpenSearchClient

        search = OpenSearchClient(s.opensearch_endpoint)
    return UsageIngest(
        KinesisSink(s.events_stream_name), s.usage_tenant_id, search=search, trail_prefix=s.trail_index_prefix
    )


def cost_ports(settings: CostAnomaliesSettings | None = None) -> tuple[CostPorts, CostAnomaliesSettings]:
    """functions/cost_anomalies: Cost Explorer, the cursor/markers, the anomalies table, the response queue."""
    from anomaly_guardian.adapters.anomalies import AnomalyRepository
    from anomaly_guardian.adapters.config_repo import ConfigRepository, config_provider
    from anomaly_guardian.adapters.cost_explorer import CostExplorer
    from anomaly_guardian.adapters.cost_state import CostStateRepository
    from anomaly_guardian.adapters.queues import Queue
    from anomaly_guardian.cost.service import CostPorts
    from anomaly_guardian.response.dispatch import dispatch

    s = settings or CostAnomaliesSettings.from_env()
    queue = Queue(s.response_queue_url) if s.response_queue_url else None
    ports = CostPorts(
        explorer=CostExplorer(monitor_arn=s.cost_monitor_arn),
        state=CostStateRepository(s.config_table),
        anomalies=AnomalyRepository(s.anomalies_table, retention_days=s.anomaly_retention_days),
        dispatch=lambda anomalies: dispatch(anomalies, queue=queue) if queue is not None else 0,
        config_for=config_provider(ConfigRepository(s.config_table)),
    )
    return ports, s


def model_promoter(settings: ModelPromoteSettings | None = None) -> Promoter:
    """functions/model_promote: the models bucket (SSE-KMS) and the SageMaker model registry."""
    from anomaly_guardian.adapters.model_registry import S3ArtifactStore, SageMakerRegistry
    from anomaly_guardian.ml.lifecycle import Promoter

    s = settings or ModelPromoteSettings.from_env()
    return Promoter(
        S3ArtifactStore(s.model_bucket, s.model_kms_key_id),
        SageMakerRegistry(),
        s.model_key,
        package_group=s.model_package_group,
    )


def report_ports(
    settings: ReportsSettings | None = None,
    emit: Callable[[str, dict[str, Any]], None] | None = None,
    capacity: bool = True,
) -> ReportPorts:
    """functions/reports and the API's /reports router. `capacity`: the monthly admin report's CloudWatch
    and Cost Explorer readers (the scheduled function's; the API's role does not read them)."""
    from anomaly_guardian.adapters.anomalies import AnomalyRepository
    from anomaly_guardian.adapters.capacity import CapacityReader
    from anomaly_guardian.adapters.cost_explorer import SystemCost
    from anomaly_guardian.adapters.counters import TenantCounters
    from anomaly_guardian.adapters.reports_store import ReportStore
    from anomaly_guardian.adapters.sns import AlertTopic
    from anomaly_guardian.reports.service import ReportPorts

    s = settings or ReportsSettings.from_env()
    return ReportPorts(
        anomalies=AnomalyRepository(s.anomalies_table, retention_days=s.anomaly_retention_days),
        counters=TenantCounters(s.audit_table),
        store=ReportStore(s.reports_bucket, kms_key_id=s.reports_kms_key_id or ""),
        alerts=AlertTopic(s.alerts_topic_arn) if s.alerts_topic_arn else None,
        emit=emit,
        capacity=CapacityReader([s.events_stream_name or ""], s.capacity_tables) if capacity else None,
        system_cost=SystemCost(s.cost_tags) if capacity and s.cost_tags else None,
    )


def search_indexer(settings: SearchIndexerSettings | None = None) -> SearchIndexer:
    from anomaly_guardian.adapters.opensearch import OpenSearchClient
    from anomaly_guardian.search.indexer import SearchIndexer

    s = settings or SearchIndexerSettings.from_env()
    return SearchIndexer(OpenSearchClient(s.opensearch_endpoint), prefix=s.opensearch_index_prefix)


def response_ports(settings: ResponseSettings | None = None) -> Ports:
    """actions, correlator, block_expiry, webhook_dispatcher."""
    from anomaly_guardian.adapters.anomalies import AnomalyRepository
    from anomaly_guardian.adapters.audit import AuditLog
    from anomaly_guardian.adapters.blocklist_admin import BlockListAdmin
    from anomaly_guardian.adapters.config_repo import ConfigRepository
    from anomaly_guardian.adapters.events import EventBus
    from anomaly_guardian.adapters.incidents import IncidentRepository
    from anomaly_guardian.adapters.queues import Queue
    from anomaly_guardian.adapters.sns import AlertTopic
    from anomaly_guardian.adapters.stepfunctions import Workflows
    from anomaly_guardian.adapters.waf import WafIpSet
    from anomaly_guardian.response.ports import Ports

    s = settings or ResponseSettings.from_env()
    has_waf = bool(s.waf_ip_set_id and s.waf_ip_set_name)
    return Ports(
        config=ConfigRepository(s.config_table),
        audit=AuditLog(s.audit_table),
        blocks=BlockListAdmin(s.blocklist_table),
        incidents=IncidentRepository(s.incidents_table),
        anomalies=AnomalyRepository(s.anomalies_table, retention_days=s.anomaly_retention_days),
        workflows=Workflows(s.remediation_state_machine_arn) if s.remediation_state_machine_arn else None,
        waf=WafIpSet(s.waf_ip_set_name, s.waf_ip_set_id, s.waf_scope) if has_waf else None,
        alerts=AlertTopic(s.alerts_topic_arn) if s.alerts_topic_arn else None,
        webhook_queue=Queue(s.webhook_queue_url) if s.webhook_queue_url else None,
        webhook_dlq=Queue(s.webhook_dlq_url) if s.webhook_dlq_url else None,
        bus=EventBus(s.event_bus_name) if s.event_bus_name else None,
        alert_links=_alert_links(s),
        global_dry_run=s.response_dry_run,
        allow_loopback=s.webhook_allow_loopback,
    )


def webhook_dispatcher(settings: ResponseSettings | None = None) -> tuple[Ports, SecretBox]:
    """functions/webhook_dispatcher: the response ports and the box that decrypts webhook secrets."""
    from anomaly_guardian.adapters.secrets import secret_box

    s = settings or ResponseSettings.from_env()
    return response_ports(s), secret_box(s.secrets_kms_key_id, s.environment, s.secret_key)


def correlator(settings: CorrelatorSettings | None = None) -> tuple[Ports, int]:
    """functions/correlator: the response ports and the correlation window (seconds)."""
    s = settings or CorrelatorSettings.from_env()
    return response_ports(s), s.correlation_window_seconds


def token_verifier(
    settings: AuthorizerSettings | None = None, on_missing_key: Callable[[str], None] | None = None
) -> TokenSettings:
    """functions/authorizer: what tokens are accepted. Without an HS256 key (`SigningKeyUnavailable`),
    HS256 tokens are refused (fail closed) and RS256 ones still verify when an issuer key is configured;
    `on_missing_key` receives the reason (the handler logs it)."""
    from anomaly_guardian.auth.keys import SigningKeyUnavailable, load_signing_key
    from anomaly_guardian.auth.tokens import TokenSettings

    s = settings or AuthorizerSettings.from_env()
    try:
        key: bytes | None = load_signing_key(settings=s)
    except SigningKeyUnavailable as exc:
        if on_missing_key is not None:
            on_missing_key(str(exc))
        key = None
    return TokenSettings.from_settings(s, key)


def _alert_links(s: ResponseSettings):
    """Usage alerts' links; the signing key is read on first use (one SSM read per container)."""
    from anomaly_guardian.auth.action_links import link_key
    from anomaly_guardian.usage.alerts import LinkSettings

    api_url = s.alert_links_api_url
    if not api_url and s.alert_links_api_url_param:
        param = s.alert_links_api_url_param

        def api_url() -> str:
            from aws_lambda_powertools.utilities import parameters

            return str(parameters.get_parameter(param, max_age=3600))

    return LinkSettings(
        api_url=api_url,
        dashboards_url=s.opensearch_dashboards_url,
        key=(lambda: link_key(_key_or(s.action_link_key, signing_key))) if api_url else None,
        ttl_hours=s.alert_link_ttl_hours,
    )


def signing_key() -> bytes:
    """The token signing key (TOKEN_SIGNING_KEY_PARAM, else GUARDIAN_TOKEN_KEY, else the development key
    locally) for the keys derived from it: page tokens and alert links. Read on first need, one SSM read
    per container (Powertools caches the SSM read for 5 minutes)."""
    from anomaly_guardian.auth.keys import load_signing_key

    return load_signing_key(settings=AuthorizerSettings.from_env())


def _key_or(explicit: str | None, signing: Callable[[], bytes]) -> bytes:
    """The base of a derived MAC key: its explicit variable when set, else the signing key (read only then)."""
    return explicit.encode() if explicit else signing()


def api_services(settings: ApiSettings | None = None) -> Services:
    """functions/api: what the routers receive through `Depends(current_services)`."""
    from anomaly_guardian.adapters.anomalies import AnomalyRepository, pagination_key
    from anomaly_guardian.adapters.audit import AuditLog
    from anomaly_guardian.adapters.blocklist_admin import BlockListAdmin
    from anomaly_guardian.adapters.config_repo import ConfigRepository
    from anomaly_guardian.adapters.counters import TenantCounters
    from anomaly_guardian.adapters.dynamodb import interactive_client
    from anomaly_guardian.adapters.incidents import IncidentRepository
    from anomaly_guardian.adapters.keys import pseudonymiser_from_param
    from anomaly_guardian.adapters.queues import Queue
    from anomaly_guardian.adapters.secrets import secret_box
    from anomaly_guardian.adapters.state_store import DynamoDBStateStore
    from anomaly_guardian.adapters.stepfunctions import Workflows
    from anomaly_guardian.api.deps import Services
    from anomaly_guardian.auth.action_links import link_key

    s = settings or ApiSettings.from_env()
    ddb = interactive_client("dynamodb")  # fails fast: a stalled AWS endpoint is a 503 with Retry-After
    anomalies = AnomalyRepository(
        s.anomalies_table,
        ddb=ddb,
        retention_days=s.anomaly_retention_days,
        token_key=lambda: pagination_key(_key_or(s.pagination_key, signing_key)),  # read on the first page token
    )
    state = DynamoDBStateStore(s.state_table, ddb=ddb)
    pseudonymiser = pseudonymiser_from_param(s.pseudonym_key_param, s.pseudonym_key)  # as ingest, the detector
    return Services(
        config=ConfigRepository(s.config_table, ddb=ddb),
        anomalies=anomalies,
        secrets=secret_box(s.secrets_kms_key_id, s.environment, s.secret_key),
        state=state,
        pseudonymiser=pseudonymiser,
        audit=AuditLog(s.audit_table, ddb=ddb),
        blocklist=BlockListAdmin(s.blocklist_table, ddb=ddb),
        eraser=subject_eraser(s, anomalies, state, pseudonymiser),
        counters=TenantCounters(s.audit_table, ddb=ddb),
        incidents=IncidentRepository(s.incidents_table) if s.incidents_table else None,
        workflows=Workflows(s.remediation_state_machine_arn or ""),
        webhook_queue=Queue(s.webhook_queue_url) if s.webhook_queue_url else None,
        reports=api_report_ports(s) if s.reports_bucket else None,
        suppression_days=s.suppression_days,
        global_dry_run=s.response_dry_run,
        allow_webhook_loopback=s.webhook_allow_loopback,
        link_key=functools.cache(lambda: link_key(_key_or(s.action_link_key, signing_key))),  # one read per container
    )


def api_report_ports(s: ApiSettings) -> ReportPorts:
    """The API's /reports: the same ports as functions/reports, from the API function's settings."""
    return report_ports(
        # the capacity fields stay unset: the API's role does not read CloudWatch or Cost Explorer
        ReportsSettings.model_validate(
            {
                "ENVIRONMENT": s.environment,
                "ANOMALIES_TABLE": s.anomalies_table,
                "ANOMALY_RETENTION_DAYS": s.anomaly_retention_days,
                "AUDIT_TABLE": s.audit_table,
                "REPORTS_BUCKET": s.reports_bucket,
                "REPORTS_KMS_KEY_ID": s.reports_kms_key_id,
                "ALERTS_TOPIC_ARN": s.alerts_topic_arn,
            }
        ),
        capacity=False,
    )


def subject_eraser(s: ApiSettings, anomalies: Any, state: Any, pseudonymiser: Any) -> Any:
    """DELETE /subjects: every table partition, marker and object store the person can be in."""
    from anomaly_guardian.adapters.erasure_stores import MarkerEraser, ObjectEraser, PartitionEraser
    from anomaly_guardian.erasure.service import ErasurePorts, SubjectEraser

    tables = {"config": s.config_table, "blocklist": s.blocklist_table, "audit": s.audit_table}
    if s.incidents_table:
        tables["incidents"] = s.incidents_table
    buckets = {"archive": s.archive_bucket, "models": s.model_bucket, "reports": s.reports_bucket}
    return SubjectEraser(
        ErasurePorts(
            anomalies=anomalies,
            state=state,
            pseudonymiser=pseudonymiser,
            partitions={name: PartitionEraser(table) for name, table in tables.items()},
            markers=MarkerEraser(s.idempotency_table) if s.idempotency_table else None,
            objects={name: ObjectEraser(bucket) for name, bucket in buckets.items() if bucket},
        )
    )


def detector(logger: Any = None, settings: DetectorSettings | None = None) -> BatchDetector:
    """functions/detector: DynamoDB state/anomalies/dedupe, SQS DLQ, the default detectors with each
    tenant's built-in rule settings (thresholds, on/off; cached 30 s, one batched read per Kinesis batch),
    the tenant rules and analyst suppressions of the Config table (`CONFIG_TABLE`), enhanced-monitoring
    flags of the BlockList table (`BLOCKLIST_TABLE`), per-tenant hourly counters, the model (S3 artifacts
    port) and the response hand-off (`response.dispatch`, a no-op without `RESPONSE_QUEUE_URL`)."""
    from anomaly_guardian.adapters.anomalies import AnomalyRepository
    from anomaly_guardian.adapters.counters import TenantCounters
    from anomaly_guardian.adapters.idempotency import DynamoDBEventDedupe
    from anomaly_guardian.adapters.keys import pseudonymiser_from_param
    from anomaly_guardian.adapters.ml_artifacts import S3ModelArtifacts
    from anomaly_guardian.adapters.queues import Queue
    from anomaly_guardian.adapters.sqs import SqsDeadLetterQueue
    from anomaly_guardian.adapters.state_store import DynamoDBStateStore
    from anomaly_guardian.detection.batch import BatchDetector
    from anomaly_guardian.detection.pipeline import DetectionPipeline
    from anomaly_guardian.detection.registry import build_detectors
    from anomaly_guardian.detection.suppression import SuppressionPolicy
    from anomaly_guardian.response.dispatch import dispatch

    s = settings or DetectorSettings.from_env()
    rules = suppressions = sensitivity = config_for = None
    if s.config_table:
        from anomaly_guardian.adapters.config_repo import ConfigRepository, config_provider, rule_provider
        from anomaly_guardian.adapters.feedback_loop import SuppressionLookup

        config_repo = ConfigRepository(s.config_table)
        rules = rule_provider(config_repo)
        config_for = config_provider(config_repo, logger=logger)
        suppressions = SuppressionLookup(config_repo, ttl_seconds=s.feedback_cache_seconds, logger=logger)
    if s.blocklist_table:
        from anomaly_guardian.adapters.blocklist import DynamoDBBlockList
        from anomaly_guardian.adapters.feedback_loop import MonitoringLookup

        flags = DynamoDBBlockList(s.blocklist_table)
        sensitivity = MonitoringLookup(flags, ttl_seconds=s.feedback_cache_seconds, logger=logger).factors
    pseudonymiser = pseudonymiser_from_param(s.pseudonym_key_param, s.pseudonym_key)
    queue = Queue(s.response_queue_url) if s.response_queue_url else None
    from anomaly_guardian.adapters.calibration import DynamoDBCalibration

    artifacts = S3ModelArtifacts(sample_kms_key_id=s.feature_sample_kms_key_id)
    model = model_config(s)
    calibration = DynamoDBCalibration(s.state_table, logger=logger)  # per container: its cache outlives batches
    from anomaly_guardian.adapters.dynamodb import warm_clients

    warm_clients(("dynamodb", "sqs"))  # the adapters build their clients on first use, unless init is ahead of traffic
    return BatchDetector(
        lambda store: DetectionPipeline(
            store,
            config_for=config_for,
            detectors=build_detectors(rule_provider=rules, model_artifacts=artifacts, model=model),
            pseudonymiser=pseudonymiser,
            sensitivity=sensitivity,
            calibration=calibration,
        ),
        DynamoDBStateStore(s.state_table),
        AnomalyRepository(s.anomalies_table, retention_days=s.anomaly_retention_days),
        DynamoDBEventDedupe(s.idempotency_table, ttl_hours=s.dedupe_ttl_hours),
        SqsDeadLetterQueue(s.detector_dlq_url),
        on_anomalies=[lambda _tenant, anomalies, events: dispatch(anomalies, events, queue)],
        logger=logger,
        suppressions=suppressions,
        suppression_policy=SuppressionPolicy(max_score=s.suppression_max_score),
        counters=TenantCounters(s.audit_table),
    )


def model_config(s: DetectorSettings) -> ModelConfig:
    """The detector's model detector settings (detection.model.ModelConfig)."""
    from anomaly_guardian.detection.model_env import ModelConfig

    return ModelConfig(
        switch=s.ml_detector,
        path=s.model_path,
        bucket=s.model_bucket,
        key=s.model_key,
        refresh_seconds=s.model_refresh_seconds,
        endpoint_name=s.model_endpoint_name,
        endpoint_timeout_ms=s.model_endpoint_timeout_ms,
        endpoint_failures=s.model_endpoint_failures,
        endpoint_cooldown_s=s.model_endpoint_cooldown_s,
        sample_bucket=s.feature_sample_bucket,
        sample_rate=s.feature_sample_rate,
        metric_windows=s.ml_metric_windows,
    )


def drift_monitor(settings: DriftMonitorSettings | None = None) -> DriftMonitor:
    """functions/drift_monitor: the served model and feature samples in S3, analysts' feedback from the
    Anomalies table, retraining requested as an EventBridge event (the rule starts the pipeline)."""
    from anomaly_guardian.adapters import ml_artifacts as s3
    from anomaly_guardian.adapters.anomalies import AnomalyRepository
    from anomaly_guardian.ml.drift import RETRAIN_SOURCE, DriftMonitor, DriftSettings
    from anomaly_guardian.ml.model import ModelBundle
    from anomaly_guardian.ml.trainingset import collect_feedback, to_jsonl

    s = settings or DriftMonitorSettings.from_env()
    sample_bucket = s.feature_sample_bucket or s.model_bucket
    training_uri = s.training_data_uri or f"s3://{s.model_bucket}/training/"
    tenants = s.tenants
    registry = s3.PipelineStarter(s.retrain_pipeline_name or "")  # champion lookups; the rule starts the pipeline

    def load_bundle() -> ModelBundle | None:
        # Read on every check (daily), not cached per container: promotions and rollbacks replace
        # MODEL_KEY, and drift must be measured against the model live now (its samples' prefix too).
        data = s3.read_s3_bytes_if_present(s.model_bucket, s.model_key)
        return None if data is None else ModelBundle.from_bytes(data)

    def load_samples(bundle: ModelBundle, hours: int) -> Any:
        return s3.load_recent_samples(sample_bucket, f"features/{bundle.version}/", hours)

    def feedback(since: datetime, until: datetime) -> list[dict[str, Any]]:
        if not tenants:
            log.warning("TRAINING_TENANTS is empty: no analyst feedback is exported")
            return []
        if not s.anomalies_table:
            log.warning("ANOMALIES_TABLE is unset: no analyst feedback is exported")
            return []
        return collect_feedback(AnomalyRepository(s.anomalies_table), tenants, since, until)

    def write_feedback(rows: list[dict[str, Any]]) -> str:
        bucket, _, prefix = training_uri[5:].partition("/")
        key = f"{prefix.rstrip('/')}/feedback.jsonl".lstrip("/")
        s3.write_s3_bytes(bucket, key, to_jsonl(rows), s.training_data_kms_key_id)
        return f"s3://{bucket}/{key}"

    def champion() -> float | None:
        return registry.champion_pr_auc(s.model_package_group) if s.model_package_group else None

    def request(detail_type: str, detail: dict[str, Any]) -> str:
        return s3.publish_event(
            s.event_bus_name or "", RETRAIN_SOURCE, detail_type, detail | {"pipeline": s.retrain_pipeline_name}
        )

    drift = DriftSettings(
        psi_threshold=s.psi_threshold,
        min_rows=s.min_sample_rows,
        window_hours=s.drift_window_hours,
        retrain_on_drift=s.retrain_on_drift,
    )
    return DriftMonitor(
        load_bundle, load_samples, feedback, write_feedback, request if s.event_bus_name else None, champion, drift
    )
