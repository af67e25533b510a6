"""GET/POST /alert-actions/{token}: the signed one-click links of a usage alert (no sign-in).

The token (auth.action_links) names the tenant, the anomaly and the action, signed and expiring: it is
the caller's identity for this one action, so the route is outside the authorizer (`Auth: NONE`). GET
shows a confirmation page with one button (mail scanners and link previews fetch GET links; they must
not act); the button POSTs back to the same URL, which applies it:
- `false_positive`: the anomaly's feedback becomes false_positive (submittedBy `alert-link`) and its
  pattern is suppressed for `SUPPRESSION_DAYS`, exactly as POST /anomalies/{id}/feedback does;
- `snooze`: the pattern is suppressed for the link's N hours (the anomaly's verdict is untouched).
Both are idempotent and audited. Invalid, altered or expired links get a 400 page saying which.
"""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from anomaly_guardian.api.deps import Services, ServicesDep, record_audit, require
from anomaly_guardian.auth.action_links import ActionClaims, InvalidActionLink, verify
from anomaly_guardian.detection.suppression import NEVER_SUPPRESSED, pattern_of

router = Router()
ACTOR = "alert-link"


def _page(status: int, title: str, body: str, form: str = "") -> Response:
    doc = (
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=robots content=noindex>"
        "<meta name=referrer content=no-referrer><title>Anomaly Guardian</title>"
        "<body style='font-family:system-ui;max-width:40em;margin:3em auto'>"
        f"<h1>{html.escape(title)}</h1><p>{body}</p>{form}</body></html>"
    )
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=doc,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"},
    )


def _claims(token: str, svc: Services) -> ActionClaims | Response:
    try:
        return verify(require(svc.link_key, "alert links", "GUARDIAN_ACTION_LINK_KEY")(), token)
    except InvalidActionLink as exc:
        return _page(HTTPStatus.BAD_REQUEST, "Link not valid", html.escape(str(exc)))


def _describe(c: ActionClaims) -> str:
    return "mark it a false positive" if c.op == "false_positive" else f"snooze its pattern for {c.hours} hours"


@router.get("/alert-actions/<token>", include_in_schema=False)
def confirm_alert_action(token: str, svc: ServicesDep):
    c = _claims(token, svc)
    if isinstance(c, Response):
        return c
    anomaly = svc.anomalies.get(c.tenant, c.anomaly_id)
    if anomaly is None:
        return _page(HTTPStatus.NOT_FOUND, "Anomaly not found", "It may have expired or been erased.")
    text = f"{html.escape(str(anomaly.get('severity')))} {html.escape(str(anomaly.get('description', '')))}"
    form = (
        "<form method=post><button type=submit style='font-size:1.2em;padding:.4em 1em'>"
        f"Confirm: {html.escape(_describe(c))}</button></form>"
    )
    return _page(HTTPStatus.OK, f"{_describe(c).capitalize()}?", text, form)


@router.post("/alert-actions/<token>", include_in_schema=False)
def apply_alert_action(token: str, svc: ServicesDep):
    c = _claims(token, svc)
    if isinstance(c, Response):
        return c
    anomaly = svc.anomalies.get(c.tenant, c.anomaly_id)
    if anomaly is None:
        return _page(HTTPStatus.NOT_FOUND, "Anomaly not found", "It may have expired or been erased.")
    pattern = pattern_of(anomaly)
    if pattern is None or pattern[0] in NEVER_SUPPRESSED:
        return _page(HTTPStatus.CONFLICT, "Nothing to suppress", "This anomaly names no pattern that can be silenced.")
    now = int(time.time())
    if c.op == "false_positive":
        feedback = {
            "label": "false_positive",
            "note": "marked from the alert's one-click link",
            "submittedBy": ACTOR,
            "submittedAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        svc.anomalies.set_feedback(c.tenant, c.anomaly_id, feedback)
        expires = now + svc.suppression_days * 86400
    else:
        expires = now + int(c.hours or 1) * 3600
    svc.config.put_suppression(c.tenant, pattern, expires, {"anomalyId": c.anomaly_id, "createdBy": ACTOR})
    raw = router.current_event.raw_event
    record_audit(
        svc,
        raw,
        c.tenant,
        f"alert_link.{c.op}",
        c.anomaly_id,
        pattern=f"{pattern[0]}#{pattern[1]}",
        expiresAt=expires,
        actor=ACTOR,
    )
    until = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _page(
        HTTPStatus.OK, "Done", f"{html.escape(pattern[0])} anomalies of this pattern are silenced until {until}."
    )
