"""The webhook SSRF guard lives in `anomaly_guardian.url_guard` (one guard for registration and delivery);
this module keeps the API's import path."""

from __future__ import annotations

from anomaly_guardian.url_guard import Resolver as Resolver
from anomaly_guardian.url_guard import UnsafeUrl as UnsafeUrl
from anomaly_guardian.url_guard import check_webhook_url as check_webhook_url
from anomaly_guardian.url_guard import system_resolver as system_resolver
from anomaly_guardian.url_guard import unsafe_reason as unsafe_reason
