"""DynamoDB capacity units from the requests and responses themselves (moto reports items, not units).

`CapacityMeter().install(session)` hooks botocore's before-call/after-call events of every DynamoDB
client the session creates and prices each call the way DynamoDB bills on-demand/provisioned capacity:

- reads: 4 KB per unit, strongly consistent = 1 RCU, eventually consistent = 0.5; GetItem/BatchGetItem
  per requested key (a missing key still costs the minimum unit); Query/Scan on the summed size of the
  items returned (at least one unit); TransactGetItems x2;
- writes: 1 KB per unit on the item's size (UpdateItem: the stored item after the update, read back with an
  unmetered client; DeleteItem: 1); BatchWriteItem per item; TransactWriteItems x2 per item.

Item size = attribute name bytes + value bytes (strings UTF-8, numbers ~1 byte per 2 digits + 1, binary
raw, 3 bytes of overhead per map/list plus 1 per element), DynamoDB's documented rule, approximated.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

READ_KB, WRITE_KB = 4096, 1024


def value_size(v: dict[str, Any]) -> int:
    ((kind, x),) = v.items()
    if kind == "S":
        return len(x.encode())
    if kind == "N":
        return (len(x.lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(x) * 3 // 4  # base64 in the wire format
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: e}) for e in x)
    if kind == "L":
        return 3 + sum(1 + value_size(e) for e in x)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in x.items())
    return len(json.dumps(x))


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(k.encode()) + value_size(v) for k, v in (item or {}).items())


class CapacityMeter:
    def __init__(self) -> None:
        self.rcu = 0.0
        self.wcu = 0.0
        self.calls: Counter = Counter()
        self.items_written = 0
        self.wcu_by_table: Counter = Counter()
        self._peek: Any = None

    def reset(self) -> None:
        self.rcu = self.wcu = 0.0
        self.calls.clear()
        self.wcu_by_table.clear()
        self.items_written = 0

    def install(self, session: Any, peek_client: Any) -> None:
        """`session`: the botocore session the code under test creates its clients from (before it does);
        `peek_client`: a DynamoDB client of another session (reads items back, unmetered)."""
        self._peek = peek_client
        session.register("before-call.dynamodb", self._before)
        session.register("after-call.dynamodb", self._after)

    def _before(self, model, params, context, **_):
        body = params.get("body") or b"{}"
        context["meter_request"] = json.loads(body) if body else {}

    def _stored(self, table: str, key: dict) -> dict | None:
        return self._peek.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def _after(self, http_response, parsed, model, context, **_):
        op, req = model.name, context.get("meter_request", {})
        self.calls[op] += 1
        if op == "GetItem":
            self.rcu += self._r(item_size(parsed.get("Item")), req.get("ConsistentRead"))
        elif op == "BatchGetItem":
            found = parsed.get("Responses", {})
            for table, spec in req.get("RequestItems", {}).items():
                sizes = [item_size(i) for i in found.get(table, [])]
                unprocessed = len(parsed.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
                missing = max(0, len(spec.get("Keys", [])) - len(sizes) - unprocessed)
                self.rcu += sum(self._r(s, spec.get("ConsistentRead")) for s in sizes)
                self.rcu += missing * self._r(0, spec.get("ConsistentRead"))
        elif op in ("Query", "Scan"):
            total = sum(item_size(i) for i in parsed.get("Items", []))
            self.rcu += self._r(total, req.get("ConsistentRead"))
        elif op == "TransactGetItems":
            for entry in req.get("TransactItems", []):
                g = entry["Get"]
                self.rcu += 2 * self._r(item_size(self._stored(g["TableName"], g["Key"])), True)
        elif op == "PutItem":
            self._w(item_size(req.get("Item")), table=req.get("TableName", ""))
        elif op == "UpdateItem":
            self._w(item_size(self._stored(req["TableName"], req["Key"])), table=req["TableName"])
        elif op == "DeleteItem":
            self._w(0, table=req.get("TableName", ""))
        elif op == "BatchWriteItem":
            for table, entries in req.get("RequestItems", {}).items():
                for e in entries:
                    self._w(item_size(e["PutRequest"]["Item"]) if "PutRequest" in e else 0, table=table)
        elif op == "TransactWriteItems" and "Error" not in parsed:
            for entry in req.get("TransactItems", []):
                ((kind, spec),) = entry.items()
                if kind == "Put":
                    self._w(item_size(spec["Item"]), 2, spec["TableName"])
                elif kind == "Update":
                    self._w(item_size(self._stored(spec["TableName"], spec["Key"])), 2, spec["TableName"])
                else:  # Delete, ConditionCheck
                    self._w(0, 2, spec.get("TableName", ""))

    @staticmethod
    def _r(size: int, consistent: bool | None) -> float:
        units = max(1, math.ceil(size / READ_KB))
        return float(units) if consistent else units / 2

    def _w(self, size: int, factor: int = 1, table: str = "") -> None:
        units = factor * max(1, math.ceil(size / WRITE_KB))
        self.wcu += units
        self.wcu_by_table[table] += units
        self.items_written += 1
