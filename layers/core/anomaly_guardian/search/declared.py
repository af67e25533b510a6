"""Every OpenSearch object the project owns, declared in one place (`guardian opensearch sync` applies it).

To watch another API with OpenSearch Anomaly Detection, add a `UsageDetectorSpec` to `USAGE_DETECTORS`:
its name, the CloudTrail `eventName` (and optionally `eventSource`) it counts, the feature (a count of
calls, or the sum of a numeric field such as `guardian.count`, instances asked for), and up to two
high-cardinality category fields (one model per value: per function, per account and region). A
monitor on its results (grade/confidence trigger, SNS channel) and its dashboard panels follow.

Objects are identified by name; every managed object's name starts with `MANAGED_PREFIX`, so the sync
deletes what is no longer declared without touching anything it did not create. `build(context)`
returns the declarations for one deployment (`SyncContext`: index prefixes, retention, SNS topic and
the role it publishes with, the backend roles of the indexer, the analysts and each tenant).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MANAGED_PREFIX = "guardian-"
MANAGED_BY = "anomaly-guardian"
AD_RESULT_INDEX = ".opendistro-anomaly-results*"


@dataclass(frozen=True)
class UsageDetectorSpec:
    name: str  # detector name without the prefix
    description: str
    event_name: str
    event_source: str | None = None
    feature: str = "calls"
    aggregation: str = "value_count"  # value_count of eventID, or sum of `field`
    field: str = "eventID"
    category_fields: tuple[str, ...] = ()
    interval_minutes: int = 10
    window_delay_minutes: int = 1
    # Monitor trigger: an anomaly of at least this grade with at least this confidence.
    min_grade: float = 0.7
    min_confidence: float = 0.7
    severity: str = "1"  # alerting severity 1 (highest) .. 5
    dashboard: str = "ec2"


# The sample's three detectors, high-cardinality by design (one model per category value).
USAGE_DETECTORS: tuple[UsageDetectorSpec, ...] = (
    UsageDetectorSpec(
        name="ec2-runinstances",
        description="EC2 instances launched (RunInstances maxCount summed) per account and region",
        event_name="RunInstances",
        event_source="ec2.amazonaws.com",
        feature="instances",
        aggregation="sum",
        field="guardian.count",
        category_fields=("recipientAccountId", "awsRegion"),
        dashboard="ec2",
    ),
    UsageDetectorSpec(
        name="ebs-createvolume",
        description="EBS CreateVolume calls per account and region",
        event_name="CreateVolume",
        event_source="ec2.amazonaws.com",
        category_fields=("recipientAccountId", "awsRegion"),
        dashboard="ebs",
    ),
    UsageDetectorSpec(
        name="lambda-invoke",
        description="Lambda Invoke calls per function (data events)",
        event_name="Invoke",
        event_source="lambda.amazonaws.com",
        category_fields=("guardian.resource",),
        interval_minutes=5,
        dashboard="lambda",
    ),
)


@dataclass
class SyncContext:
    anomalies_prefix: str = "anomalies"
    trail_prefix: str = "cloudtrail"
    trail_retention_days: int = 90
    anomalies_retention_days: int = 400
    sns_topic_arn: str | None = None  # the alerting channel; no channel (and no monitor actions) without it
    sns_role_arn: str | None = None  # the role OpenSearch assumes to publish to the topic
    indexer_backend_roles: list[str] = field(default_factory=list)  # IAM role ARNs of the writers
    analyst_backend_roles: list[str] = field(default_factory=list)  # read-only, every tenant
    tenant_backend_roles: dict[str, list[str]] = field(default_factory=dict)  # tenant -> its analysts' roles
    dashboards_url: str | None = None  # for the links in alert messages

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncContext:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown sync context field(s): {', '.join(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class Declared:
    kind: str  # index_template | ism_policy | channel | detector | monitor | saved_object | role | role_mapping
    name: str
    body: dict[str, Any]
    depends_on: tuple[str, ...] = ()  # "detector:<name>" resolved to its id at sync time


def managed(name: str) -> str:
    return name if name.startswith(MANAGED_PREFIX) else f"{MANAGED_PREFIX}{name}"


# ----------------------------------------------------------------------------- indices
def trail_mappings() -> dict[str, Any]:
    """CloudTrail records as `search.trail.trail_document` writes them (dynamic off: no mapping explosion)."""
    kw = {"type": "keyword"}
    return {
        "dynamic": False,
        "properties": {
            "eventTime": {"type": "date"},
            "eventID": kw,
            "eventSource": kw,
            "eventName": kw,
            "eventType": kw,
            "awsRegion": kw,
            "recipientAccountId": kw,
            "sourceIPAddress": kw,
            "userAgent": {"type": "keyword", "ignore_above": 512},
            "errorCode": kw,
            "errorMessage": {"type": "text"},
            "readOnly": {"type": "boolean"},
            "managementEvent": {"type": "boolean"},
            "userIdentity": {
                "properties": {
                    "type": kw,
                    "arn": kw,
                    "accountId": kw,
                    "accessKeyId": kw,
                    "principalId": kw,
                    "invokedBy": kw,
                    "sessionIssuer": kw,
                }
            },
            "guardian": {
                "properties": {
                    "api": kw,
                    "count": {"type": "integer"},
                    "resource": kw,
                    "instanceFamily": kw,
                    "gpu": {"type": "boolean"},
                    "sensitive": {"type": "boolean"},
                }
            },
            "requestParameters": {"type": "object", "enabled": False},
            "responseElements": {"type": "object", "enabled": False},
            "resources": {"type": "object", "enabled": False},
        },
    }


def _template(pattern: str, mappings: dict[str, Any], priority: int) -> dict[str, Any]:
    """A composable index template; retention comes from the ISM policy's `ism_template` (same pattern)."""
    return {
        "index_patterns": [pattern],
        "priority": priority,
        "template": {
            "settings": {"index": {"number_of_shards": "1", "number_of_replicas": "1"}},
            "mappings": mappings,
        },
        "_meta": {"managed_by": MANAGED_BY},
    }


def _retention_policy(description: str, pattern: str, days: int) -> dict[str, Any]:
    return {
        "policy": {
            "description": f"{description} (managed by {MANAGED_BY})",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [],
                    "transitions": [{"state_name": "delete", "conditions": {"min_index_age": f"{days}d"}}],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [{"index_patterns": [pattern], "priority": 100}],
        }
    }


# ----------------------------------------------------------------------------- detection
def detector_body(spec: UsageDetectorSpec, ctx: SyncContext) -> dict[str, Any]:
    term: list[dict[str, Any]] = [{"term": {"eventName": spec.event_name}}]
    if spec.event_source:
        term.append({"term": {"eventSource": spec.event_source}})
    agg = {spec.aggregation: {"field": spec.field}}
    body: dict[str, Any] = {
        "name": managed(spec.name),
        "description": f"{spec.description} (managed by {MANAGED_BY})",
        "time_field": "eventTime",
        "indices": [f"{ctx.trail_prefix}-*"],
        "feature_attributes": [
            {"feature_name": spec.feature, "feature_enabled": True, "aggregation_query": {spec.feature: agg}}
        ],
        "filter_query": {"bool": {"filter": term}},
        "detection_interval": {"period": {"interval": spec.interval_minutes, "unit": "Minutes"}},
        "window_delay": {"period": {"interval": spec.window_delay_minutes, "unit": "Minutes"}},
    }
    if spec.category_fields:
        body["category_field"] = list(spec.category_fields)
    return body


def monitor_body(spec: UsageDetectorSpec, ctx: SyncContext, detector_id: str = "@detector:%s@") -> dict[str, Any]:
    """A query-level monitor on the detector's results: fires on grade >= g with confidence >= c."""
    if "%s" in detector_id:
        detector_id = detector_id % managed(spec.name)
    interval = spec.interval_minutes
    query = {
        "size": 5,
        "sort": [{"anomaly_grade": {"order": "desc"}}],
        "query": {
            "bool": {
                "filter": [
                    {"term": {"detector_id": detector_id}},
                    {
                        "range": {
                            "execution_end_time": {
                                "gte": f"{{{{period_end}}}}||-{2 * interval}m",
                                "format": "epoch_millis",
                            }
                        }
                    },
                    {"range": {"anomaly_grade": {"gte": spec.min_grade}}},
                    {"range": {"confidence": {"gte": spec.min_confidence}}},
                ]
            }
        },
    }
    dashboard = (
        f"{ctx.dashboards_url}/app/dashboards#/view/{managed(spec.dashboard + '-usage')}" if ctx.dashboards_url else ""
    )
    message = (
        f"OpenSearch Anomaly Detection: {spec.description}.\n"
        "{{#ctx.results.0.hits.hits}}- grade {{_source.anomaly_grade}}, confidence {{_source.confidence}}, "
        "entity {{_source.entity}}, {{_source.data_start_time}}..{{_source.data_end_time}}\n"
        "{{/ctx.results.0.hits.hits}}" + (f"Dashboard: {dashboard}\n" if dashboard else "")
    )
    trigger: dict[str, Any] = {
        "query_level_trigger": {
            "name": f"grade>={spec.min_grade} confidence>={spec.min_confidence}",
            "severity": spec.severity,
            "condition": {"script": {"source": "ctx.results[0].hits.total.value > 0", "lang": "painless"}},
            "actions": [],
        }
    }
    if ctx.sns_topic_arn:
        trigger["query_level_trigger"]["actions"] = [
            {
                "name": "notify-sns",
                "destination_id": managed("sns-alerts"),
                "subject_template": {"source": f"[anomaly-guardian] usage anomaly: {spec.name}", "lang": "mustache"},
                "message_template": {"source": message, "lang": "mustache"},
                "throttle_enabled": True,
                "throttle": {"value": 60, "unit": "MINUTES"},
            }
        ]
    return {
        "type": "monitor",
        "monitor_type": "query_level_monitor",
        "name": managed(f"{spec.name}-anomalies"),
        "enabled": True,
        "schedule": {"period": {"interval": interval, "unit": "MINUTES"}},
        "inputs": [{"search": {"indices": [AD_RESULT_INDEX], "query": query}}],
        "triggers": [trigger],
    }


# ----------------------------------------------------------------------------- dashboards
def _vis(vid: str, title: str, index_pattern: str, vis_state: dict[str, Any], query: str = "") -> Declared:
    return Declared(
        "saved_object",
        f"visualization/{vid}",
        {
            "attributes": {
                "title": title,
                "visState": json.dumps({"title": title, **vis_state}, sort_keys=True),
                "uiStateJSON": "{}",
                "description": f"managed by {MANAGED_BY}",
                "kibanaSavedObjectMeta": {
                    "searchSourceJSON": json.dumps(
                        {
                            "query": {"query": query, "language": "kuery"},
                            "filter": [],
                            "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
                        },
                        sort_keys=True,
                    )
                },
            },
            "references": [
                {"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": index_pattern}
            ],
        },
    )


def _histogram(metric: dict[str, Any], split_field: str) -> dict[str, Any]:
    return {
        "type": "histogram",
        "params": {"type": "histogram", "addLegend": True, "legendPosition": "right"},
        "aggs": [
            {
                "id": "1",
                "enabled": True,
                "type": metric["type"],
                "schema": "metric",
                "params": metric.get("params", {}),
            },
            {
                "id": "2",
                "enabled": True,
                "type": "date_histogram",
                "schema": "segment",
                "params": {"field": "eventTime", "interval": "auto"},
            },
            {
                "id": "3",
                "enabled": True,
                "type": "terms",
                "schema": "group",
                "params": {"field": split_field, "size": 10, "order": "desc", "orderBy": "1"},
            },
        ],
    }


def _dashboard(did: str, title: str, panels: list[str]) -> Declared:
    panels_json = [
        {
            "panelIndex": str(i + 1),
            "gridData": {"x": (i % 2) * 24, "y": (i // 2) * 15, "w": 24, "h": 15, "i": str(i + 1)},
            "version": "2.11.0",
            "panelRefName": f"panel_{i}",
        }
        for i in range(len(panels))
    ]
    return Declared(
        "saved_object",
        f"dashboard/{did}",
        {
            "attributes": {
                "title": title,
                "description": f"managed by {MANAGED_BY}",
                "panelsJSON": json.dumps(panels_json, sort_keys=True),
                "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}, sort_keys=True),
                "timeRestore": True,
                "timeFrom": "now-24h",
                "timeTo": "now",
                "kibanaSavedObjectMeta": {
                    "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
                },
            },
            "references": [{"name": f"panel_{i}", "type": "visualization", "id": p} for i, p in enumerate(panels)],
        },
    )


def saved_objects(ctx: SyncContext) -> list[Declared]:
    trail_ip, anomalies_ip = managed("cloudtrail-index-pattern"), managed("anomalies-index-pattern")
    out = [
        Declared(
            "saved_object",
            f"index-pattern/{trail_ip}",
            {"attributes": {"title": f"{ctx.trail_prefix}-*", "timeFieldName": "eventTime"}, "references": []},
        ),
        Declared(
            "saved_object",
            f"index-pattern/{anomalies_ip}",
            {"attributes": {"title": f"{ctx.anomalies_prefix}-*", "timeFieldName": "detectedAt"}, "references": []},
        ),
    ]
    count = {"type": "count"}
    instances = {"type": "sum", "params": {"field": "guardian.count"}}
    panels = {
        "ec2": [
            (
                "ec2-instances-by-region",
                "EC2 instances launched by region",
                instances,
                "awsRegion",
                "eventName:RunInstances",
            ),
            (
                "ec2-instances-by-family",
                "EC2 instances launched by family",
                instances,
                "guardian.instanceFamily",
                "eventName:RunInstances",
            ),
            (
                "ec2-launches-by-principal",
                "RunInstances by principal",
                count,
                "userIdentity.arn",
                "eventName:RunInstances",
            ),
        ],
        "ebs": [
            ("ebs-volumes-by-region", "CreateVolume by region", count, "awsRegion", "eventName:CreateVolume"),
            (
                "ebs-volumes-by-principal",
                "CreateVolume by principal",
                count,
                "userIdentity.arn",
                "eventName:CreateVolume",
            ),
        ],
        "lambda": [
            (
                "lambda-invokes-by-function",
                "Lambda invocations by function",
                count,
                "guardian.resource",
                "eventName:Invoke",
            ),
            (
                "lambda-errors-by-function",
                "Lambda invoke errors by function",
                count,
                "guardian.resource",
                "eventName:Invoke and errorCode:*",
            ),
        ],
    }
    for board, items in panels.items():
        ids = []
        for vid, title, metric, split, query in items:
            ids.append(managed(vid))
            out.append(_vis(managed(vid), title, trail_ip, _histogram(metric, split), query))
        out.append(_dashboard(managed(f"{board}-usage"), f"Anomaly Guardian: {board.upper()} usage", ids))
    out.append(
        Declared(
            "saved_object",
            f"search/{managed('anomalies-explorer')}",
            {
                "attributes": {
                    "title": "Anomaly Guardian: anomalies explorer",
                    "description": f"managed by {MANAGED_BY}",
                    "columns": ["severity", "anomalyType", "anomalyScore", "userId", "description", "tenantId"],
                    "sort": [["detectedAt", "desc"]],
                    "kibanaSavedObjectMeta": {
                        "searchSourceJSON": json.dumps(
                            {
                                "query": {"query": "", "language": "kuery"},
                                "filter": [],
                                "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
                            },
                            sort_keys=True,
                        )
                    },
                },
                "references": [
                    {
                        "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
                        "type": "index-pattern",
                        "id": anomalies_ip,
                    }
                ],
            },
        )
    )
    return out


# ----------------------------------------------------------------------------- security
def roles(ctx: SyncContext) -> list[Declared]:
    write = [
        "indices:data/write/bulk*",
        "indices:data/write/index",
        "indices:data/write/delete",
        "indices:admin/create",
        "indices:admin/mapping/put",
    ]
    read = ["read", "indices:admin/mappings/get", "indices:data/read/search*"]
    out = [
        Declared(
            "role",
            managed("indexer"),
            {
                "description": f"search indexer and usage ingest: write anomalies and trail indexes ({MANAGED_BY})",
                "cluster_permissions": [
                    "cluster_composite_ops",
                    "indices:admin/index_template/get",
                    "indices:admin/index_template/put",  # the search indexer ensures its template on first write
                ],
                "index_permissions": [
                    {"index_patterns": [f"{ctx.anomalies_prefix}-*", f"{ctx.trail_prefix}-*"], "allowed_actions": write}
                ],
                "tenant_permissions": [],
            },
        ),
        Declared(
            "role",
            managed("analyst-readonly"),
            {
                "description": f"read-only analysts: trail, anomalies, detector results, dashboards ({MANAGED_BY})",
                "cluster_permissions": [
                    "cluster_composite_ops_ro",
                    "cluster:admin/opendistro/ad/detector/info",
                    "cluster:admin/opendistro/ad/detector/search",
                    "cluster:admin/opendistro/ad/result/search",
                    "cluster:admin/opendistro/alerting/alerts/get",
                    "cluster:admin/opendistro/alerting/monitor/get",
                    "cluster:admin/opendistro/alerting/monitor/search",
                ],
                "index_permissions": [
                    {
                        "index_patterns": [f"{ctx.anomalies_prefix}-*", f"{ctx.trail_prefix}-*", AD_RESULT_INDEX],
                        "allowed_actions": read,
                    }
                ],
                "tenant_permissions": [{"tenant_patterns": ["global_tenant"], "allowed_actions": ["kibana_all_read"]}],
            },
        ),
    ]
    for tenant in sorted(ctx.tenant_backend_roles):
        out.append(
            Declared(
                "role",
                managed(f"tenant-{tenant}"),
                {
                    "description": f"tenant {tenant}: its own anomalies only (document-level security, {MANAGED_BY})",
                    "cluster_permissions": ["cluster_composite_ops_ro"],
                    "index_permissions": [
                        {
                            "index_patterns": [f"{ctx.anomalies_prefix}-*"],
                            "dls": json.dumps({"term": {"tenantId": tenant}}, separators=(",", ":")),
                            "allowed_actions": read,
                        }
                    ],
                    "tenant_permissions": [],
                },
            )
        )
    return out


def role_mappings(ctx: SyncContext) -> list[Declared]:
    out = [
        Declared(
            "role_mapping",
            managed("indexer"),
            {"backend_roles": sorted(ctx.indexer_backend_roles), "hosts": [], "users": []},
        ),
        Declared(
            "role_mapping",
            managed("analyst-readonly"),
            {"backend_roles": sorted(ctx.analyst_backend_roles), "hosts": [], "users": []},
        ),
    ]
    for tenant, backend in sorted(ctx.tenant_backend_roles.items()):
        out.append(
            Declared(
                "role_mapping",
                managed(f"tenant-{tenant}"),
                {"backend_roles": sorted(backend), "hosts": [], "users": []},
            )
        )
    return out


# ----------------------------------------------------------------------------- all of it
def build(ctx: SyncContext | None = None, detectors: tuple[UsageDetectorSpec, ...] = USAGE_DETECTORS) -> list[Declared]:
    """The declarations in the order they are applied (deletes of undeclared objects run in reverse)."""
    ctx = ctx or SyncContext()
    trail_policy, anomalies_policy = managed("cloudtrail-retention"), managed("anomalies-retention")
    out = [
        Declared(
            "ism_policy",
            trail_policy,
            _retention_policy(
                f"CloudTrail daily indexes: delete after {ctx.trail_retention_days} days",
                f"{ctx.trail_prefix}-*",
                ctx.trail_retention_days,
            ),
        ),
        Declared(
            "ism_policy",
            anomalies_policy,
            _retention_policy(
                f"Anomaly indexes: delete after {ctx.anomalies_retention_days} days",
                f"{ctx.anomalies_prefix}-*",
                ctx.anomalies_retention_days,
            ),
        ),
        Declared("index_template", managed("cloudtrail"), _template(f"{ctx.trail_prefix}-*", trail_mappings(), 200)),
    ]
    from anomaly_guardian.search.documents import index_template as anomalies_template

    anomalies = anomalies_template(ctx.anomalies_prefix)
    out.append(
        Declared(
            "index_template",
            managed("anomalies"),
            _template(anomalies["index_patterns"][0], anomalies["template"]["mappings"], 200),
        )
    )
    if ctx.sns_topic_arn:
        sns: dict[str, Any] = {"topic_arn": ctx.sns_topic_arn}
        if ctx.sns_role_arn:
            sns["role_arn"] = ctx.sns_role_arn
        out.append(
            Declared(
                "channel",
                managed("sns-alerts"),
                {
                    "config_id": managed("sns-alerts"),
                    "config": {
                        "name": managed("sns-alerts"),
                        "description": f"usage alerts to SNS ({MANAGED_BY})",
                        "config_type": "sns",
                        "is_enabled": True,
                        "sns": sns,
                    },
                },
            )
        )
    for spec in detectors:
        out.append(Declared("detector", managed(spec.name), detector_body(spec, ctx)))
    for spec in detectors:
        deps = (f"detector:{managed(spec.name)}",) + (
            (f"channel:{managed('sns-alerts')}",) if ctx.sns_topic_arn else ()
        )
        out.append(Declared("monitor", managed(f"{spec.name}-anomalies"), monitor_body(spec, ctx), deps))
    out += saved_objects(ctx)
    out += roles(ctx)
    out += role_mappings(ctx)
    return out
