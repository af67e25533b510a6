"""The public REST API: one APIGatewayRestResolver (api/app.py) with one Router per domain.

To add a domain, write `api/<name>.py` exposing `router = Router()` and add its name below: that is
the whole change (api/app.py mounts every module listed here, and docs/openapi.json follows from it).
"""

ROUTER_MODULES: tuple[str, ...] = (
    "anomalies",
    "feedback",
    "rules",
    "webhooks",
    "subjects",
    "incidents",
    "reviews",
    "enforcement",
    "response_settings",
    "reports",
    "alert_actions",
    "detectors",
)
