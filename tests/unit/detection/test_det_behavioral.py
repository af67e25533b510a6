"""Behavioral: automation signatures, machine-regular timing, new device/agent (weak), once per session."""

from __future__ import annotations

import random

from anomaly_guardian.detection.behavioral import BehavioralDetector, automation_signature

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def session(sid, start, gaps, ua=CHROME, device="phone", pages=None, user="alice"):
    rows, t = [], start
    for i, gap in enumerate(gaps):
        t += gap
        page = pages[i] if pages else f"/p/{i % 3}"
        rows.append(
            (t, {"userId": user, "sessionId": sid, "userAgent": ua, "deviceId": device, "metadata": {"page": page}})
        )
    return rows


def test_given_automation_user_agents_when_classified_then_recognised():
    assert automation_signature("python-requests/2.32.3") == "python-requests"
    assert automation_signature("Mozilla/5.0 ... HeadlessChrome/131.0") == "headless"
    assert automation_signature("curl/8.5.0") == "curl/"
    assert automation_signature(CHROME) is None


def test_given_headless_browser_pageviews_when_detected_then_one_behavioral_anomaly(harness):
    h = harness([BehavioralDetector()])
    found = h.feed(session("s1", 0, [5.0] * 4, ua="Mozilla/5.0 HeadlessChrome/131.0"))
    assert len(found) == 1
    assert found[0].anomalyType == "behavioral"
    assert found[0].explanation[0].feature == "automation_user_agent"


def test_given_an_api_client_with_python_requests_when_detected_then_quiet(harness):
    h = harness([BehavioralDetector()])
    rows = [
        (i * 2.0, {"eventType": "api_request", "userAgent": "acme-sdk/1.0 python-requests/2.32"}) for i in range(30)
    ]
    assert h.feed(rows) == []


def test_given_a_spoofed_browser_ticking_every_3_seconds_when_crawling_then_fires_on_timing(harness):
    rng = random.Random(3)
    h = harness([BehavioralDetector()])
    gaps = [3.0 * rng.uniform(0.93, 1.07) for _ in range(20)]
    found = h.feed(session("bot", 0, gaps, pages=[f"/products/{i}" for i in range(20)], user="bot1"))
    assert len(found) == 1
    assert any(x.feature == "interval_cv" for x in found[0].explanation)


def test_given_a_person_browsing_when_detected_then_quiet(harness):
    rng = random.Random(5)
    h = harness([BehavioralDetector()])
    gaps = [rng.lognormvariate(3.2, 0.9) for _ in range(25)]
    assert h.feed(session("human", 0, gaps)) == []


def test_given_a_dashboard_tab_refreshing_every_minute_when_detected_then_quiet(harness):
    h = harness([BehavioralDetector()])
    assert h.feed(session("tab", 0, [60.0] * 30, pages=["/dashboard"] * 30)) == []


def test_given_history_when_a_new_phone_and_browser_appear_then_weak_signal_stays_below_threshold(harness):
    h = harness([BehavioralDetector()])
    h.feed(session("s1", 0, [30.0] * 8))
    assert h.feed(session("s2", 5000, [30.0, 45.0, 20.0], ua=FIREFOX, device="new-phone")) == []


def test_given_history_when_new_device_with_bot_timing_then_combined_score_fires(harness):
    h = harness([BehavioralDetector()])
    h.feed(session("s1", 0, [30.0] * 8))
    found = h.feed(
        session("s2", 5000, [2.0] * 12, ua=FIREFOX, device="new-phone", pages=[f"/x/{i}" for i in range(12)])
    )
    assert len(found) == 1
    features = {x.feature for x in found[0].explanation}
    assert {"new_device", "interval_cv"} <= features


def test_given_a_tenant_of_regular_readers_when_calibrated_then_their_sessions_stop_firing_and_scripts_still_do(
    harness,
):
    import random as _random

    from anomaly_guardian.detection.behavioral import BehavioralDetector
    from anomaly_guardian.detection.calibration import InMemoryCalibration, histogram

    rng = _random.Random(5)

    def session(h, sid, start, gaps):
        t, evs = start, []
        for i, g in enumerate(gaps):
            t += g
            evs.append(
                h.event(
                    t, userId=f"u{sid}", sessionId=f"s{sid}", eventType="pageview", metadata={"page": f"/p/{sid}/{i}"}
                )
            )
        return evs

    # A reader whose 10 gaps have CV ~0.15 (regular, but a person: the seed cut-off 0.2 flags it)
    reader_gaps = [25 * (1 + 0.15 * g) for g in (1, -1, 0.5, -0.5, 1, -1, 0.8, -0.8, 0.2, -0.2)]
    script_gaps = [5.0 * rng.uniform(0.97, 1.03) for _ in range(10)]

    def run(calibration):
        h = harness([BehavioralDetector()])
        h.pipeline.calibration = calibration
        a = h.run(session(h, 1, 0.0, reader_gaps))
        b = h.run(session(h, 2, 10_000.0, script_gaps))
        return len(a), len(b)

    # Uncalibrated (a new tenant): the reader is flagged
    assert run(InMemoryCalibration()) == (1, 1)
    # A tenant whose sessions have a median CV of 0.3 (1,000 of them): the reader passes, the script does not
    cal = InMemoryCalibration()
    cal.add("t1", "session_cv", histogram([0.3 * rng.lognormvariate(0, 0.3) for _ in range(1000)]))
    assert run(cal) == (0, 1)
