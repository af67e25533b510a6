"""Capacity planning for the monthly report: the stack's stream, tables and Lambda concurrency against
their limits over a period, from CloudWatch (GetMetricData, 5-minute sums) and the resources' own
descriptions (DescribeStreamSummary, DescribeTable, DescribeLimits, Lambda GetAccountSettings).

Peaks are the busiest 5-minute average per second, not the busiest second (CloudWatch keeps 1-minute
data for 15 days only; a month needs 5-minute data): a short burst above it is hidden, which is why the
throttle counts are reported beside each utilisation. A section whose reader fails says why and the
others are still reported (a capacity figure must never cost the whole monthly report).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from anomaly_guardian.adapters.dynamodb import client

PERIOD_S = 300
# Kinesis write limits per shard (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html).
SHARD_RECORDS_PER_S = 1000
SHARD_BYTES_PER_S = 1024 * 1024
WARN_UTILISATION = 0.8  # a resource above this share of its limit at its peak gets a warning
_FAILURES = (ClientError, BotoCoreError, NotImplementedError, KeyError)


def why(exc: BaseException) -> str:
    """The first line of an error, short (an emulation's 404 page is not a reason)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _peak_per_second(sums: list[float], digits: int = 3) -> float:
    """The busiest PERIOD_S bucket of a Sum series as a per-second rate."""
    return round(max(sums, default=0.0) / PERIOD_S, digits)


def _ratio(value: float | None, limit: float | None) -> float | None:
    return None if value is None or not limit else round(value / limit, 4)


class CapacityReader:
    def __init__(
        self,
        stream_names: Sequence[str] = (),
        table_names: Sequence[str] = (),
        cloudwatch: Any = None,
        kinesis: Any = None,
        dynamodb: Any = None,
        lambda_client: Any = None,
    ):
        self.streams = [s for s in stream_names if s]
        self.tables = [t for t in table_names if t]
        self.cloudwatch = cloudwatch or client("cloudwatch")
        self.kinesis = kinesis or client("kinesis")
        self.dynamodb = dynamodb or client("dynamodb")
        self.lambda_client = lambda_client or client("lambda")

    # ------------------------------------------------------------------------------------- CloudWatch
    def _series(self, queries: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, list[float]]:
        """{query id: values} for up to 500 metric queries, across GetMetricData pages."""
        out: dict[str, list[float]] = {q["Id"]: [] for q in queries}
        for i in range(0, len(queries), 500):
            kwargs: dict[str, Any] = {"MetricDataQueries": queries[i : i + 500], "StartTime": start, "EndTime": end}
            while True:
                resp = self.cloudwatch.get_metric_data(**kwargs)
                for r in resp.get("MetricDataResults", []):
                    out.setdefault(r["Id"], []).extend(float(v) for v in r.get("Values", []))
                token = resp.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        return out

    @staticmethod
    def _query(qid: str, namespace: str, metric: str, dims: dict[str, str], stat: str) -> dict[str, Any]:
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                },
                "Period": PERIOD_S,
                "Stat": stat,
            },
            "ReturnData": True,
        }

    # ----------------------------------------------------------------------------------------- streams
    def _stream(self, name: str, i: int, start: datetime, end: datetime) -> dict[str, Any]:
        summary = self.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        shards = int(summary.get("OpenShardCount", 0))
        dims = {"StreamName": name}
        s = self._series(
            [
                self._query(f"s{i}r", "AWS/Kinesis", "IncomingRecords", dims, "Sum"),
                self._query(f"s{i}b", "AWS/Kinesis", "IncomingBytes", dims, "Sum"),
                self._query(f"s{i}t", "AWS/Kinesis", "WriteProvisionedThroughputExceeded", dims, "Sum"),
            ],
            start,
            end,
        )
        peak_records = _peak_per_second(s[f"s{i}r"])
        peak_bytes = _peak_per_second(s[f"s{i}b"], 1)
        records_limit, bytes_limit = shards * SHARD_RECORDS_PER_S, shards * SHARD_BYTES_PER_S
        return {
            "name": name,
            "mode": (summary.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED"),
            "openShards": shards,
            "incomingRecords": int(sum(s[f"s{i}r"])),
            "incomingBytes": int(sum(s[f"s{i}b"])),
            "peakRecordsPerSecond": peak_records,
            "peakBytesPerSecond": peak_bytes,
            "recordsLimitPerSecond": records_limit,
            "bytesLimitPerSecond": bytes_limit,
            "utilisation": max(_ratio(peak_records, records_limit) or 0.0, _ratio(peak_bytes, bytes_limit) or 0.0),
            "writeThrottled": int(sum(s[f"s{i}t"])),
        }

    # ------------------------------------------------------------------------------------------ tables
    def _account_table_max(self) -> tuple[float | None, float | None]:
        limits = self.dynamodb.describe_limits()
        return limits.get("TableMaxReadCapacityUnits"), limits.get("TableMaxWriteCapacityUnits")

    def _table(self, name: str, i: int, start: datetime, end: datetime, account_max: Any) -> dict[str, Any]:
        table = self.dynamodb.describe_table(TableName=name)["Table"]
        mode = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
        if mode == "PROVISIONED":
            pt = table.get("ProvisionedThroughput") or {}
            read_limit, write_limit = pt.get("ReadCapacityUnits"), pt.get("WriteCapacityUnits")
            source = "provisioned capacity"
        else:
            od = table.get("OnDemandThroughput") or {}
            read_limit = od.get("MaxReadRequestUnits") if (od.get("MaxReadRequestUnits") or -1) > 0 else None
            write_limit = od.get("MaxWriteRequestUnits") if (od.get("MaxWriteRequestUnits") or -1) > 0 else None
            source = "the table's on-demand maximum" if read_limit or write_limit else "the account's per-table maximum"
            read_limit = read_limit or account_max[0]
            write_limit = write_limit or account_max[1]
        dims = {"TableName": name}
        s = self._series(
            [
                self._query(f"t{i}r", "AWS/DynamoDB", "ConsumedReadCapacityUnits", dims, "Sum"),
                self._query(f"t{i}w", "AWS/DynamoDB", "ConsumedWriteCapacityUnits", dims, "Sum"),
                self._query(f"t{i}x", "AWS/DynamoDB", "ReadThrottleEvents", dims, "Sum"),
                self._query(f"t{i}y", "AWS/DynamoDB", "WriteThrottleEvents", dims, "Sum"),
            ],
            start,
            end,
        )
        peak_read = _peak_per_second(s[f"t{i}r"])
        peak_write = _peak_per_second(s[f"t{i}w"])
        return {
            "name": name,
            "billingMode": mode,
            "consumedReadUnits": round(sum(s[f"t{i}r"]), 1),
            "consumedWriteUnits": round(sum(s[f"t{i}w"]), 1),
            "peakReadUnitsPerSecond": peak_read,
            "peakWriteUnitsPerSecond": peak_write,
            "readLimitPerSecond": read_limit,
            "writeLimitPerSecond": write_limit,
            "limitSource": source,
            "readUtilisation": _ratio(peak_read, read_limit),
            "writeUtilisation": _ratio(peak_write, write_limit),
            "throttleEvents": int(sum(s[f"t{i}x"]) + sum(s[f"t{i}y"])),
        }

    # ------------------------------------------------------------------------------------------ lambda
    def _lambda(self, start: datetime, end: datetime) -> dict[str, Any]:
        limit = self.lambda_client.get_account_settings()["AccountLimit"]
        s = self._series(
            [
                self._query("lc", "AWS/Lambda", "ConcurrentExecutions", {}, "Maximum"),
                self._query("lt", "AWS/Lambda", "Throttles", {}, "Sum"),
            ],
            start,
            end,
        )
        peak = max(s["lc"], default=0.0)
        account = int(limit["ConcurrentExecutions"])
        return {
            "peakConcurrentExecutions": peak,
            "accountConcurrencyLimit": account,
            "unreservedConcurrencyLimit": limit.get("UnreservedConcurrentExecutions"),
            "utilisation": _ratio(peak, account),
            "throttles": int(sum(s["lt"])),
        }

    def read(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The period's capacity figures (JSON-ready) and `warnings` for whatever peaked above 80 %."""
        errors: list[str] = []
        streams, tables = [], []
        for i, name in enumerate(self.streams):
            try:
                streams.append(self._stream(name, i, start, end))
            except _FAILURES as exc:
                errors.append(f"stream {name}: {why(exc)}")
        account_max: Any = (None, None)
        try:
            account_max = self._account_table_max()
        except _FAILURES as exc:
            errors.append(f"DynamoDB DescribeLimits: {why(exc)}")
        for i, name in enumerate(self.tables):
            try:
                tables.append(self._table(name, i, start, end, account_max))
            except _FAILURES as exc:
                errors.append(f"table {name}: {why(exc)}")
        lam: dict[str, Any] | None = None
        try:
            lam = self._lambda(start, end)
        except _FAILURES as exc:
            errors.append(f"Lambda concurrency: {why(exc)}")
        warnings = [
            f"stream {s['name']} peaked at {s['utilisation']:.0%} of its {s['openShards']} shard(s)' write limit"
            for s in streams
            if s["utilisation"] >= WARN_UTILISATION
        ]
        for t in tables:
            for side in ("read", "write"):
                u = t[f"{side}Utilisation"]
                if u is not None and u >= WARN_UTILISATION:
                    warnings.append(f"table {t['name']} peaked at {u:.0%} of its {side} limit ({t['limitSource']})")
        if lam and (lam["utilisation"] or 0) >= WARN_UTILISATION:
            warnings.append(f"Lambda concurrency peaked at {lam['utilisation']:.0%} of the account limit")
        return {
            "source": "CloudWatch GetMetricData (5-minute sums), DescribeStreamSummary, DescribeTable, "
            "DescribeLimits, Lambda GetAccountSettings",
            "periodSeconds": PERIOD_S,
            "streams": streams,
            "tables": tables,
            "lambda": lam,
            "warnings": warnings,
            "errors": errors,
        }
