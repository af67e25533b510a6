"""WAF IP set adapter on emulated AWS: LockToken read-modify-write, retry on WAFOptimisticLockException
(a concurrent writer changed the set between GetIPSet and UpdateIPSet), one address family per set."""

from __future__ import annotations

import pytest
from response_harness import response_aws  # noqa: F401

from anomaly_guardian.adapters.waf import WafIpSet, as_cidr


@pytest.fixture
def ip_set(response_aws):  # noqa: F811
    return WafIpSet("guardian-blocked", response_aws.env["WAF_IP_SET_ID"], sleep=lambda _s: None)


def test_concurrent_writer_causes_a_lock_conflict_that_is_retried_without_losing_either_write(ip_set, response_aws):  # noqa: F811
    waf = ip_set.waf
    real_update = waf.update_ip_set
    calls = {"n": 0}

    def racing_update(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            # another Lambda adds an address with the same lock token first: ours is now stale
            fresh = waf.get_ip_set(Name=kwargs["Name"], Id=kwargs["Id"], Scope=kwargs["Scope"])
            real_update(
                Name=kwargs["Name"],
                Id=kwargs["Id"],
                Scope=kwargs["Scope"],
                Addresses=[*fresh["IPSet"]["Addresses"], "93.184.216.200/32"],
                LockToken=fresh["LockToken"],
            )
        return real_update(**kwargs)

    waf.update_ip_set = racing_update
    try:
        assert ip_set.add(["93.184.216.34"]) is True
    finally:
        waf.update_ip_set = real_update
    assert calls["n"] == 2  # first attempt refused (stale LockToken), second succeeded
    assert {"93.184.216.34/32", "93.184.216.200/32"} <= response_aws.waf_addresses()


def test_add_and_remove_are_idempotent_and_family_aware(ip_set, response_aws):  # noqa: F811
    assert ip_set.add(["93.184.216.34"]) is True
    assert ip_set.add(["93.184.216.34"]) is False  # already there: no UpdateIPSet
    assert ip_set.add(["2001:db8::1"]) is False  # IPv4 set: IPv6 stays in the block list only
    assert ip_set.remove(["93.184.216.34"]) is True
    assert "93.184.216.34/32" not in response_aws.waf_addresses()


def test_bad_address_is_a_named_error():
    with pytest.raises(ValueError, match="not an IP address"):
        as_cidr("not-an-ip")
    assert as_cidr("2001:db8::1") == "2001:db8::1/128"
