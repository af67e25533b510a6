"""Tenant from identity only: Given an API Gateway requestContext, Then the tenant or a 401."""

import pytest

from anomaly_guardian.api.deps import actor_of, tenant_of
from anomaly_guardian.api.errors import ApiError


@pytest.mark.parametrize(
    ("authorizer", "tenant"),
    [
        ({"tenantId": "acme", "sub": "cli:acme"}, "acme"),  # our Lambda authorizer
        ({"claims": {"custom:tenantId": "globex", "sub": "u-1"}}, "globex"),  # native Cognito authorizer
    ],
)
def test_tenant_comes_from_the_authorizer_context(authorizer, tenant):
    event = {"requestContext": {"authorizer": authorizer}, "queryStringParameters": {"tenantId": "evil"}}
    assert tenant_of(event) == tenant
    assert actor_of(event) in ("cli:acme", "u-1")


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"requestContext": {}},
        {"requestContext": {"authorizer": {}}, "body": '{"tenantId": "acme"}', "headers": {"X-Tenant-Id": "acme"}},
        {"requestContext": {"authorizer": {"tenantId": "acme#T#globex"}}},
        {"requestContext": {"authorizer": {"tenantId": ""}}},
        {"requestContext": {"authorizer": {"tenantId": ["acme"]}}},
    ],
)
def test_no_valid_tenant_in_identity_is_401(event):
    with pytest.raises(ApiError) as err:
        tenant_of(event)
    assert (err.value.status, err.value.code) == (401, "UNAUTHORIZED")
