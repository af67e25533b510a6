"""The local stack, started once per session from the real sam/template.yaml, as a child process.

Tests talk to it over HTTP only (plus read-only checks of the emulated AWS, e.g. that a refused
event never reached the Kinesis stream). Tokens come from the real `guardian token` command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests

from anomaly_guardian.local.process import StackProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    log = tmp_path_factory.mktemp("local-stack") / "stack.log"
    stack = StackProcess(log, port=0, log_level="WARNING", template=ROOT / "sam" / "template.yaml")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def token_for():
    cache: dict[str, str] = {}

    def mint(tenant: str) -> str:
        if tenant not in cache:
            out = subprocess.run(
                [sys.executable, "-m", "anomaly_guardian.cli", "token", "--tenant", tenant],
                capture_output=True,
                text=True,
                check=True,
            )
            cache[tenant] = out.stdout.strip()
        return cache[tenant]

    return mint


@pytest.fixture(scope="session")
def api(local_stack, token_for):
    """`api(method, path, tenant=..., **requests kwargs)` -> response; tenant=None sends no token."""
    session = requests.Session()

    def call(method: str, path: str, tenant: str | None = "acme", **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if tenant is not None:
            headers.setdefault("Authorization", f"Bearer {token_for(tenant)}")
        return session.request(method, local_stack.api + path, headers=headers, timeout=30, **kwargs)

    return call


@pytest.fixture(scope="session")
def stream_reader(local_stack):
    """Every record currently in the events stream (all shards, from the start), decoded."""
    import json

    kinesis = boto3.client(
        "kinesis",
        endpoint_url=local_stack.aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stream = next(iter(local_stack.info["streams"]))

    def read() -> list[dict]:
        out = []
        for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
            it = kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while it:
                resp = kinesis.get_records(ShardIterator=it, Limit=1000)
                out.extend(json.loads(r["Data"]) for r in resp["Records"])
                if not resp["Records"]:
                    break
                it = resp["NextShardIterator"]
        return out

    return read


def pytest_collection_modifyitems(session, config, items):
    """The template-coverage check reads what the other tests exercised: it runs last."""
    items.sort(key=lambda item: item.fspath.basename == "test_zz_template_coverage.py")
