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
