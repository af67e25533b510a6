"""Authorizer decisions as IAM policies: only this API and stage, only the methods the scopes allow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anomaly_guardian.auth.tokens import Claims

# scope -> (method, resource path) pairs; "*" is API Gateway's wildcard within this API and stage.
SCOPE_ROUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "api:read": (("GET", "*"),),
    "api:write": (("POST", "*"), ("PUT", "*"), ("DELETE", "*"), ("PATCH", "*")),
    "events:write": (("POST", "events"),),
    "admin": (),  # grants no method by itself: widens what api:read/api:write see (GET /reports?scope=all)
}


@dataclass(frozen=True, slots=True)
class MethodArn:
    """arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{method}/{path...}"""

    region: str
    account: str
    api_id: str
    stage: str

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api":
            raise ValueError("methodArn is not an execute-api ARN")
        api_parts = parts[5].split("/")
        if len(api_parts) < 3 or not api_parts[0] or not api_parts[1]:
            raise ValueError("methodArn has no api id/stage")
        return cls(region=parts[3], account=parts[4], api_id=api_parts[0], stage=api_parts[1])

    def resource(self, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{self.region}:{self.account}:{self.api_id}/{self.stage}/{method}/{path}"


def allow_policy(claims: Claims, arn: MethodArn) -> dict[str, Any]:
    resources = sorted({arn.resource(m, p) for s in claims.scopes for m, p in SCOPE_ROUTES.get(s, ())})
    statement: dict[str, Any]
    if resources:
        statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resources}
    else:
        statement = {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [arn.resource("*", "*")]}
    return {
        "principalId": f"{claims.tenant}|{claims.subject}",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        # API Gateway passes these to the API as requestContext.authorizer.* (strings, numbers, booleans only).
        "context": {"tenantId": claims.tenant, "sub": claims.subject, "scopes": " ".join(claims.scopes)},
    }
