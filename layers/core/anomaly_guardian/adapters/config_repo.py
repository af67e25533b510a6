"""The Config table: rules, webhooks and tenant settings (docs/internals.md).

Keys: pk `T#{tenant}`, sk `RULE#{ruleId}` | `WEBHOOK#{webhookId}` | `SETTINGS` |
`SUPPRESS#{anomalyType}#{entity}` (analyst false_positive verdicts; `expiresAt` + TTL `ttl`) |
`BUILTIN#{builtinId}` (a tenant's setting of a built-in detector: threshold, enabled, version) and
`BUILTINV#{builtinId}#{version:08d}` (one item per change: who, when, old -> new; written in the same
transaction as the setting, conditional on the version the caller read). Every read is a
GetItem or a Query on the tenant's partition (begins_with on sk): no Scan, and no call can reach
another tenant's partition because the tenant is part of every key. Updates and deletes are
conditional on the item existing (and for rules, not being soft-deleted), so a guessed id of
another tenant's rule is simply "not found".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from anomaly_guardian.adapters.dynamodb import (
    batch_get,
    client,
    from_item,
    report_unreadable,
    to_attr,
    to_item,
    unreadable_response,
)
from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.builtin import BUILTIN_IDS, Override, effective_config
from anomaly_guardian.detection.rules import MAX_RULE_TTL_SECONDS, CachedRuleProvider, Rule, RuleSpec
from anomaly_guardian.detection.suppression import SK_PREFIX as SUPPRESS
from anomaly_guardian.detection.suppression import Pattern, suppression_sk
from anomaly_guardian.ids import new_ulid

RULE = "RULE#"
WEBHOOK = "WEBHOOK#"
SETTINGS = "SETTINGS"
BUILTIN = "BUILTIN#"
BUILTIN_HISTORY = "BUILTINV#"
_KEY_ATTRS = ("pk", "sk", "kind", "deleted", "deletedAt")
_SETTING_FIELDS = ("kind", "threshold", "enabled", "version", "updatedAt", "updatedBy")


class ConfigNotFound(KeyError):
    """No such item for this tenant (never says whether it exists for another tenant)."""


class VersionConflict(Exception):
    """The caller's `version` is not the stored one (someone changed the item since it was read)."""

    def __init__(self, current: int):
        super().__init__(current)
        self.current = current


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ConfigRepository:
    def __init__(self, table: str, ddb: Any | None = None):
        self.table = table
        self._ddb = ddb

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def _query(self, tenant: str, prefix: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": tenant_pk(tenant)}, ":p": {"S": prefix}},
            "ConsistentRead": True,
        }
        while True:
            try:
                resp = self.ddb.query(**kwargs)
                items = resp.get("Items", [])
            except unreadable_response():  # an item in this page cannot be parsed: read the page item by item
                resp = self.ddb.query(**kwargs, ProjectionExpression="pk, sk")
                items = [i for i in (self._get_raw(k) for k in resp.get("Items", [])) if i is not None]
            for raw in items:
                try:
                    yield from_item(raw)
                except ValueError as exc:
                    report_unreadable(self.table, {"pk": raw.get("pk"), "sk": raw.get("sk")}, exc)
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _get_raw(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return self.ddb.get_item(TableName=self.table, Key=dict(key), ConsistentRead=True).get("Item")
        except unreadable_response() as exc:
            report_unreadable(self.table, key, exc)
            return None

    def _get(self, tenant: str, sk: str) -> dict[str, Any] | None:
        resp = self.ddb.get_item(
            TableName=self.table, Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": sk}}, ConsistentRead=True
        )
        return from_item(resp["Item"]) if "Item" in resp else None

    # ---- rules -------------------------------------------------------------------------------

    @staticmethod
    def _rule(item: Mapping[str, Any]) -> Rule:
        return Rule.model_validate({k: v for k, v in item.items() if k not in _KEY_ATTRS})

    def create_rule(self, tenant: str, spec: RuleSpec) -> Rule:
        now = _now()
        rule = Rule(**spec.model_dump(), ruleId=new_ulid(), createdAt=now, updatedAt=now, version=1)
        item = {"pk": tenant_pk(tenant), "sk": RULE + rule.ruleId, "kind": "rule", **rule.model_dump(mode="json")}
        self.ddb.put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        return rule

    def list_rules(self, tenant: str, include_deleted: bool = False) -> list[Rule]:
        """A stored rule that no longer validates is skipped and reported, never a failure of every read."""
        out = []
        for item in self._query(tenant, RULE):
            if not include_deleted and item.get("deleted"):
                continue
            try:
                out.append(self._rule(item))
            except ValidationError as exc:
                report_unreadable(self.table, {"pk": item.get("pk"), "sk": item.get("sk")}, exc)
        return out

    def enabled_rules(self, tenant: str) -> list[Rule]:
        """The detector's loader: enabled, not deleted rules of one tenant."""
        return [r for r in self.list_rules(tenant) if r.enabled]

    def get_rule(self, tenant: str, rule_id: str) -> Rule:
        try:
            item = self._get(tenant, RULE + rule_id)
        except unreadable_response() as exc:
            report_unreadable(self.table, {"pk": tenant_pk(tenant), "sk": RULE + rule_id}, exc)
            item = None
        if item is None or item.get("deleted"):
            raise ConfigNotFound(rule_id)
        try:
            return self._rule(item)
        except ValidationError as exc:
            report_unreadable(self.table, {"pk": tenant_pk(tenant), "sk": RULE + rule_id}, exc)
            raise ConfigNotFound(rule_id) from None

    def replace_rule(self, tenant: str, rule_id: str, spec: RuleSpec) -> Rule:
        body = spec.model_dump(mode="json")
        names = {f"#{k}": k for k in body} | {"#updatedAt": "updatedAt", "#version": "version", "#deleted": "deleted"}
        values = {f":{k}": to_attr(v) for k, v in body.items()} | {":now": {"S": _now()}, ":one": {"N": "1"}}
        assignments = ", ".join(f"#{k} = :{k}" for k in body)
        try:
            resp = self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": RULE + rule_id}},
                UpdateExpression=f"SET {assignments}, #updatedAt = :now ADD #version :one",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#deleted)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            raise ConfigNotFound(rule_id) from None
        return self._rule(from_item(resp["Attributes"]))

    def replace_rule_checked(self, tenant: str, rule_id: str, spec: RuleSpec, expected_version: int | None) -> Rule:
        """`replace_rule`, but only while the stored version is `expected_version` (None: unconditional)."""
        if expected_version is None:
            return self.replace_rule(tenant, rule_id, spec)
        current = self.get_rule(tenant, rule_id)
        if current.version != expected_version:
            raise VersionConflict(current.version)
        body = spec.model_dump(mode="json")
        names = {f"#{k}": k for k in body} | {"#updatedAt": "updatedAt", "#version": "version", "#deleted": "deleted"}
        values = {f":{k}": to_attr(v) for k, v in body.items()} | {
            ":now": {"S": _now()},
            ":one": {"N": "1"},
            ":v": {"N": str(expected_version)},
        }
        assignments = ", ".join(f"#{k} = :{k}" for k in body)
        try:
            resp = self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": RULE + rule_id}},
                UpdateExpression=f"SET {assignments}, #updatedAt = :now ADD #version :one",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#deleted) AND #version = :v",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            raise VersionConflict(self.get_rule(tenant, rule_id).version) from None
        return self._rule(from_item(resp["Attributes"]))

    # ---- built-in detector settings ------------------------------------------------------------

    def builtin_overrides(self, tenant: str) -> dict[str, Override]:
        return self.builtin_overrides_many([tenant]).get(tenant, {})

    def builtin_overrides_many(
        self, tenants: Collection[str], consistent: bool = True
    ) -> dict[str, dict[str, Override]]:
        """Every stored built-in setting of these tenants: one BatchGetItem (100 keys per call) for all."""
        keys = [
            {"pk": {"S": tenant_pk(t)}, "sk": {"S": BUILTIN + rid}} for t in sorted(set(tenants)) for rid in BUILTIN_IDS
        ]
        out: dict[str, dict[str, Override]] = {t: {} for t in tenants}
        if not keys:
            return out
        for raw in batch_get(self.ddb, self.table, keys, consistent=consistent):
            item = from_item(raw)
            tenant = str(item["pk"])[2:]
            out.setdefault(tenant, {})[str(item["sk"])[len(BUILTIN) :]] = Override.model_validate(item)
        return out

    def put_builtin(
        self,
        tenant: str,
        rule_id: str,
        *,
        threshold: float,
        enabled: bool,
        expected_version: int,
        actor: str,
        old: Mapping[str, Any],
    ) -> Override:
        """Store a tenant's setting of one built-in rule as version `expected_version + 1`, with its history
        item, in one transaction conditional on the stored version (absent counts as version 1)."""
        now = _now()
        new_version = expected_version + 1
        setting = {
            "pk": tenant_pk(tenant),
            "sk": BUILTIN + rule_id,
            "kind": "builtin",
            "threshold": threshold,
            "enabled": enabled,
            "version": new_version,
            "updatedAt": now,
            "updatedBy": actor,
        }
        history = {
            "pk": tenant_pk(tenant),
            "sk": f"{BUILTIN_HISTORY}{rule_id}#{new_version:08d}",
            "kind": "builtin-history",
            "ruleId": rule_id,
            "version": new_version,
            "at": now,
            "by": actor,
            "old": dict(old),
            "new": {"threshold": threshold, "enabled": enabled},
        }
        # Absent counts as version 1, so the first change is conditional on no item (or a version-1 one).
        expected = "attribute_not_exists(pk) OR #version = :v" if expected_version == 1 else "#version = :v"
        condition = {
            "ConditionExpression": expected,
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
        }
        try:
            self.ddb.transact_write_items(
                TransactItems=[
                    # An update, not a put: the item's other attributes (the alert budget) stay.
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": {"S": setting["pk"]}, "sk": {"S": setting["sk"]}},
                            "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in _SETTING_FIELDS),
                            **condition,
                            "ExpressionAttributeNames": {f"#{k}": k for k in _SETTING_FIELDS},
                            "ExpressionAttributeValues": {f":{k}": to_attr(setting[k]) for k in _SETTING_FIELDS}
                            | {":v": {"N": str(expected_version)}},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(history),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except self.ddb.exceptions.TransactionCanceledException:
            raise VersionConflict(self.builtin_overrides(tenant).get(rule_id, Override()).version) from None
        return self.builtin_overrides(tenant).get(rule_id) or Override.model_validate(setting)

    def put_budget(
        self, tenant: str, rule_id: str, *, alert_budget: float | None, score_floor: float | None, actor: str
    ) -> Override:
        """Set (or with None, clear) the alert budget and its calibrated score floor on a built-in rule's item.
        Leaves the threshold, switch and version alone (the budget is not a threshold change)."""
        key = {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": BUILTIN + rule_id}}
        names = {
            "#b": "alertBudget",
            "#f": "scoreFloor",
            "#k": "kind",
            "#at": "budgetUpdatedAt",
            "#by": "budgetUpdatedBy",
            "#v": "version",
            "#e": "enabled",
        }
        values = {":k": {"S": "builtin"}, ":at": {"S": _now()}, ":by": {"S": actor}, ":one": {"N": "1"}}
        values[":t"] = {"BOOL": True}
        # A first budget creates the item as the defaults at version 1 (what an absent item means).
        common = "SET #k = :k, #at = :at, #by = :by, #v = if_not_exists(#v, :one), #e = if_not_exists(#e, :t)"
        if alert_budget is None:
            expr = common + " REMOVE #b, #f"
        else:
            values[":b"] = to_attr(float(alert_budget))
            expr = common + ", #b = :b"
            if score_floor is None:
                expr += " REMOVE #f"
            else:
                expr += ", #f = :f"
                values[":f"] = to_attr(float(score_floor))
        self.ddb.update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression=expr,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return self.builtin_overrides(tenant).get(rule_id) or Override()

    def builtin_history(self, tenant: str, rule_id: str) -> list[dict[str, Any]]:
        """Every change of one built-in rule for this tenant, oldest first."""
        return [
            {k: v for k, v in i.items() if k not in (*_KEY_ATTRS, "kind")}
            for i in self._query(tenant, f"{BUILTIN_HISTORY}{rule_id}#")
        ]

    def delete_rule(self, tenant: str, rule_id: str) -> None:
        """Soft delete: the rule stops matching at once but stays for audit (`deleted`, `deletedAt`)."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": RULE + rule_id}},
                UpdateExpression="SET #deleted = :t, #deletedAt = :now, #enabled = :f ADD #version :one",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#deleted)",
                ExpressionAttributeNames={
                    "#deleted": "deleted",
                    "#deletedAt": "deletedAt",
                    "#enabled": "enabled",
                    "#version": "version",
                },
                ExpressionAttributeValues={
                    ":t": {"BOOL": True},
                    ":f": {"BOOL": False},
                    ":now": {"S": _now()},
                    ":one": {"N": "1"},
                },
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            raise ConfigNotFound(rule_id) from None

    # ---- webhooks ----------------------------------------------------------------------------

    def create_webhook(self, tenant: str, webhook: Mapping[str, Any]) -> dict[str, Any]:
        """`webhook` holds `webhookId` and the already-encrypted `secretCiphertext` (never plaintext)."""
        item = {"pk": tenant_pk(tenant), "sk": WEBHOOK + webhook["webhookId"], "kind": "webhook", **webhook}
        self.ddb.put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        return dict(webhook)

    def list_webhooks(self, tenant: str) -> list[dict[str, Any]]:
        """Stored webhooks including `secretCiphertext` (the dispatcher decrypts; the API strips it)."""
        return [{k: v for k, v in i.items() if k not in _KEY_ATTRS} for i in self._query(tenant, WEBHOOK)]

    def get_webhook(self, tenant: str, webhook_id: str) -> dict[str, Any]:
        item = self._get(tenant, WEBHOOK + webhook_id)
        if item is None:
            raise ConfigNotFound(webhook_id)
        return {k: v for k, v in item.items() if k not in _KEY_ATTRS}

    def delete_webhook(self, tenant: str, webhook_id: str) -> None:
        """Hard delete: the encrypted secret goes with it."""
        try:
            self.ddb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": WEBHOOK + webhook_id}},
                ConditionExpression="attribute_exists(pk)",
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            raise ConfigNotFound(webhook_id) from None

    # ---- tenant settings (kill switch, dry-run, ...) --------------------------------------------

    def get_settings(self, tenant: str) -> dict[str, Any]:
        item = self._get(tenant, SETTINGS) or {}
        return {k: v for k, v in item.items() if k not in _KEY_ATTRS}

    def put_settings(self, tenant: str, settings: Mapping[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in settings.items() if k not in _KEY_ATTRS} | {"updatedAt": _now()}
        self.ddb.put_item(
            TableName=self.table, Item=to_item({"pk": tenant_pk(tenant), "sk": SETTINGS, "kind": "settings", **body})
        )
        return body

    # ---- suppressions (analyst feedback) -----------------------------------------------------------

    def put_suppression(self, tenant: str, pattern: Pattern, expires_at: int, attrs: Mapping[str, Any]) -> dict:
        """Create or replace the suppression of one (anomalyType, entity) pattern until `expires_at`."""
        body = dict(attrs) | {
            "anomalyType": pattern[0],
            "entity": pattern[1],
            "expiresAt": int(expires_at),
            "ttl": int(expires_at),
            "createdAt": _now(),
        }
        item = {"pk": tenant_pk(tenant), "sk": suppression_sk(pattern), "kind": "suppression", **body}
        self.ddb.put_item(TableName=self.table, Item=to_item(item))
        return {k: v for k, v in body.items() if k != "ttl"}

    def delete_suppression(self, tenant: str, pattern: Pattern) -> bool:
        """Lift a suppression; False when there was none."""
        resp = self.ddb.delete_item(
            TableName=self.table,
            Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": suppression_sk(pattern)}},
            ReturnValues="ALL_OLD",
        )
        return "Attributes" in resp

    def list_suppressions(self, tenant: str) -> list[dict[str, Any]]:
        return [{k: v for k, v in i.items() if k not in (*_KEY_ATTRS, "ttl")} for i in self._query(tenant, SUPPRESS)]

    def erase_user_suppressions(self, tenant: str, user_pseudonym: str) -> int:
        """GDPR erasure: delete the suppressions naming this user (their entity is the pseudonym)."""
        names = [
            i["sk"] for i in self._query(tenant, SUPPRESS) if str(i.get("entity", "")).split("|")[-1] == user_pseudonym
        ]
        for sk in names:
            self.ddb.delete_item(TableName=self.table, Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": sk}})
        return len(names)

    def suppression_expiries(self, tenant: str, patterns: Collection[Pattern]) -> dict[Pattern, int]:
        """The detector's read: one BatchGetItem (100 keys per call) for the batch's patterns ->
        {pattern: expiresAt} of the ones stored (the caller drops expired ones)."""
        if not patterns:
            return {}
        pk = {"S": tenant_pk(tenant)}
        keys = [{"pk": pk, "sk": {"S": suppression_sk(p)}} for p in sorted(patterns)]
        items = batch_get(self.ddb, self.table, keys, projection="anomalyType, entity, expiresAt", consistent=False)
        out = {}
        for raw in items:
            item = from_item(raw)
            out[(str(item["anomalyType"]), str(item["entity"]))] = int(item.get("expiresAt") or 0)
        return out


class TenantConfigProvider:
    """tenant -> its effective `DetectionConfig` (defaults + built-in rule settings), cached per tenant for
    `ttl_seconds` (<= 60 s, so a `PUT /rules/velocity-check` applies within a minute). `prefetch(tenants)`
    refreshes every stale tenant of a batch in one BatchGetItem; a failed read keeps the last known
    config (or the defaults) and is retried after `retry_seconds`, so a Config-table hiccup never stops
    detection."""

    def __init__(
        self,
        loader: Callable[[Collection[str]], Mapping[str, Mapping[str, Override]]],
        ttl_seconds: float = 30.0,
        *,
        base: DetectionConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        retry_seconds: float = 5.0,
        logger: Any = None,
    ):
        if not 0 < ttl_seconds <= MAX_RULE_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be in (0, {MAX_RULE_TTL_SECONDS}] so settings apply within a minute")
        self._loader = loader
        self._ttl = ttl_seconds
        self._base = base or DetectionConfig()
        self._clock = clock
        self._retry = retry_seconds
        self._logger = logger
        self._cache: dict[str, tuple[float, DetectionConfig]] = {}
        self._lock = threading.Lock()
        self.loads = 0  # loader calls (tests and metrics)

    def prefetch(self, tenants: Collection[str]) -> None:
        now = self._clock()
        stale = sorted({t for t in tenants if (hit := self._cache.get(t)) is None or now - hit[0] >= self._ttl})
        if not stale:
            return
        self.loads += 1
        try:
            found = self._loader(stale)
        except Exception as exc:  # fail open: last known settings (or defaults), retried soon
            if self._logger:
                self._logger.warning(
                    "tenant detection settings unreadable; using the last known ones",
                    extra={"tenants": len(stale), "error": type(exc).__name__},
                )
            with self._lock:
                for t in stale:
                    config = self._cache[t][1] if t in self._cache else self._base
                    self._cache[t] = (now - self._ttl + self._retry, config)
            return
        with self._lock:
            for t in stale:
                self._cache[t] = (now, effective_config(found.get(t) or {}, self._base))

    def __call__(self, tenant: str) -> DetectionConfig:
        self.prefetch([tenant])
        return self._cache[tenant][1]


def config_provider(repo: ConfigRepository, ttl_seconds: float = 30.0, logger: Any = None) -> TenantConfigProvider:
    """Each tenant's effective DetectionConfig (defaults + its built-in rule settings), cached (at most
    `ttl_seconds` stale): the detector's `DetectionPipeline(config_for=...)` and the cost check's threshold."""
    return TenantConfigProvider(
        lambda tenants: repo.builtin_overrides_many(tenants, consistent=False), ttl_seconds, logger=logger
    )


def rule_provider(repo: ConfigRepository, ttl_seconds: float = 30.0) -> CachedRuleProvider:
    """What the detector Lambda passes to `build_detectors(rule_provider=...)`: cached Config-table rules."""
    return CachedRuleProvider(repo.enabled_rules, ttl_seconds=ttl_seconds)
