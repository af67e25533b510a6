"""The routers take their collaborators through Powertools `Depends()`: a test overrides the dependency
(`app.dependency_overrides`) instead of patching modules or building AWS clients."""

from __future__ import annotations

import json
from pathlib import Path

from anomaly_guardian.api.app import create_app
from anomaly_guardian.api.deps import Services, current_services
from anomaly_guardian.privacy import Pseudonymiser

EVENTS = Path(__file__).resolve().parents[2] / "events"


class Recorder:
    """A fake for every port the erasure route touches: records the calls, deletes `n` items each."""

    def __init__(self, n: int = 2) -> None:
        self.calls: list[tuple] = []
        self.n = n

    def user_anomalies(self, tenant, pseudonym):
        self.calls.append(("anomalies.user_anomalies", tenant, pseudonym))
        return []

    def delete_user(self, tenant, pseudonym):
        self.calls.append(("anomalies.delete_user", tenant, pseudonym))
        return self.n

    def delete_prefix(self, key):
        self.calls.append(("state.delete_prefix", key))
        return 1

    def erase_user(self, tenant, pseudonym):
        self.calls.append(("blocklist.erase_user", tenant, pseudonym))
        return self.n

    def erase_user_suppressions(self, tenant, pseudonym):
        self.calls.append(("config.erase_user_suppressions", tenant, pseudonym))
        return 0

    def record(self, tenant, record):
        self.calls.append(("audit.record", tenant, record["action"], record["subject"]))


def test_erasure_runs_on_the_overridden_services_and_the_token_tenant(lambda_context):
    fake = Recorder()
    pseudonymiser = Pseudonymiser(b"k" * 32)
    services = Services(
        config=fake, anomalies=fake, secrets=None, state=fake, pseudonymiser=pseudonymiser, audit=fake,
        blocklist=fake, detectors=lambda: [],
    )  # fmt: skip
    app = create_app()
    app.dependency_overrides[current_services] = lambda: services
    event = json.loads((EVENTS / "apigw_delete_subject.json").read_text())
    event["requestContext"]["authorizer"]["tenantId"] = "globex"
    resp = app.resolve(event, lambda_context)
    body = json.loads(resp["body"])
    assert resp["statusCode"] == 200, body
    user = event["pathParameters"]["userId"]
    pseudonym = pseudonymiser.user("globex", user)
    assert body["userPseudonym"] == pseudonym and body["anomaliesDeleted"] == 2
    assert ("anomalies.delete_user", "globex", pseudonym) in fake.calls
    assert [c[:3] for c in fake.calls if c[0] == "audit.record"] == [("audit.record", "globex", "subject.erase")]
    assert all(user not in str(call) for call in fake.calls)  # only the pseudonym reaches these ports
    assert all(pseudonym not in str(call) for call in fake.calls if call[0] == "audit.record")  # a receipt only


def test_without_a_tenant_in_the_identity_the_dependency_refuses(lambda_context):
    app = create_app()
    app.dependency_overrides[current_services] = lambda: (_ for _ in ()).throw(AssertionError("not reached"))
    event = json.loads((EVENTS / "apigw_delete_subject.json").read_text())
    event["requestContext"].pop("authorizer", None)
    resp = app.resolve(event, lambda_context)
    assert resp["statusCode"] == 401


class FakeIncidents:
    def __init__(self, incidents):
        self.incidents = incidents

    def list(self, tenant, *, status=None, severity=None, limit=50, next_token=None):
        return [i for i in self.incidents if i.tenantId == tenant], None


class FakeBlocks:
    def get(self, tenant, sk):
        return (
            {"expiresAt": 4_000_000_000, "status": "HELD", "heldAt": "t"}
            if (tenant, sk) == ("acme", "HOLD#txn-000981")
            else None
        )


def routed(fixture, lambda_context, services, **changes):
    app = create_app()
    app.dependency_overrides[current_services] = lambda: services
    event = json.loads((EVENTS / f"{fixture}.json").read_text())
    for key, value in changes.items():
        event[key] = value
    resp = app.resolve(event, lambda_context)
    return resp["statusCode"], json.loads(resp["body"]) if resp.get("body") else None


def test_incidents_holds_and_settings_come_from_the_overridden_services(lambda_context):
    from anomaly_guardian.response.correlation import Incident

    incident = Incident(incidentId="01JEXAMPLE0000000000000001", tenantId="acme", severity="HIGH")
    other = Incident(incidentId="01JEXAMPLE0000000000000002", tenantId="globex", severity="HIGH")
    services = Services(
        config=Recorder(), anomalies=Recorder(), secrets=None, state=Recorder(), pseudonymiser=Pseudonymiser(b"k"),
        incidents=FakeIncidents([incident, other]), blocklist=FakeBlocks(), global_dry_run=True,
    )  # fmt: skip
    services.config.get_settings = lambda tenant: {}

    status, body = routed("apigw_get_incidents", lambda_context, services)
    assert status == 200 and [i["incidentId"] for i in body["incidents"]] == [incident.incidentId]

    status, body = routed("apigw_get_enforcement_hold", lambda_context, services)
    assert status == 200 and body["status"] == "HELD"

    status, body = routed("apigw_get_response_settings", lambda_context, services)
    assert status == 200 and body["globalDryRun"] is True


def test_a_port_the_settings_leave_unset_names_its_variable(lambda_context, caplog):
    services = Services(config=None, anomalies=None, secrets=None, state=None, pseudonymiser=Pseudonymiser(b"k"))
    status, _ = routed("apigw_get_incidents", lambda_context, services)
    assert status == 500 and "set INCIDENTS_TABLE on the API function" in caplog.text


def test_no_router_reads_the_environment_or_fetches_its_own_services():
    """Deliberately calling `current_services()` or reading `os.environ` in a router makes this fail."""
    import ast

    api = Path(__file__).resolve().parents[3] / "layers/core/anomaly_guardian/api"
    offenders = []
    for path in sorted(api.glob("*.py")):
        if path.name in ("deps.py", "client.py"):  # the dependency itself; the CLI's HTTP client (tooling)
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                offenders.append(f"{path.name}:{node.lineno} os.{node.attr}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("current_services", "services_from_env"):
                offenders.append(f"{path.name}:{node.lineno} {node.func.id}()")
    assert offenders == []
