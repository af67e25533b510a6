"""The Config table: rules, webhooks and tenant settings (docs/internals.md).

Keys: pk `T#{tenant}`, sk `RULE#{ruleId}` | `WEBHOOK#{webhookId}` | `SETTINGS` |
`SUPPRESS#{anomalyType}#{entity}` (analyst false_positive verdicts; `expiresAt` + TTL `ttl`). Every read is a
GetItem or a Query on the tenant's partition (begins_with on sk): no Scan, and no call can reach
another tenant's partition because the tenant is part of every key. Updates and deletes are
conditional on the item existing (and for rules, not being soft-deleted), so a guessed id of
another tenant's rule is simply "not found".
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from anomaly_guardian.adapters.dynamodb import batch_get, client, from_item, to_attr, to_item
from anomaly_guardian.detection.rules import CachedRuleProvider, Rule, RuleSpec
from anomaly_guardian.detection.suppression import SK_PREFIX as SUPPRESS
from anomaly_guardian.detection.suppression import Pattern, suppression_sk
from anomaly_guardian.ids import new_ulid

RULE = "RULE#"
WEBHOOK = "WEBHOOK#"
SETTINGS = "SETTINGS"
_KEY_ATTRS = ("pk", "sk", "kind", "deleted", "deletedAt")


class ConfigNotFound(KeyError):
    """No such item for this tenant (never says whether it exists for another tenant)."""


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ConfigRepository:
    def __init__(self, table: str | None = None, ddb: Any | None = None):
        self.table = table or os.environ["CONFIG_TABLE"]
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
            resp = self.ddb.query(**kwargs)
            for raw in resp.get("Items", []):
                yield from_item(raw)
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

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
        return [self._rule(i) for i in self._query(tenant, RULE) if include_deleted or not i.get("deleted")]

    def enabled_rules(self, tenant: str) -> list[Rule]:
        """The detector's loader: enabled, not deleted rules of one tenant."""
        return [r for r in self.list_rules(tenant) if r.enabled]

    def get_rule(self, tenant: str, rule_id: str) -> Rule:
        item = self._get(tenant, RULE + rule_id)
        if item is None or item.get("deleted"):
            raise ConfigNotFound(rule_id)
        return self._rule(item)

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


def rule_provider_from_env(ttl_seconds: float = 30.0) -> CachedRuleProvider:
    """What the detector Lambda passes to `build_detectors(rule_provider=...)`: cached Config-table rules."""
    return CachedRuleProvider(ConfigRepository().enabled_rules, ttl_seconds=ttl_seconds)
