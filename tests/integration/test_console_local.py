"""The analyst console (functions/console, built by `make console`) in a real headless browser (Debian's
chromium driven by selenium) against the local stack, which serves it at /console/ on the API's origin.

Signed in with `/console/#token=...` (the fragment never reaches the server, and is stripped), it shows the
stream's anomalies; an analyst opens one and marks it false positive, approves a held transaction (the
review's task token resumes the remediation workflow: the hold is confirmed and the anomaly records the
decision) and changes a rule's threshold. Each is checked through the API, not only on the page.
Screenshots go to build/artifacts/console/ (gitignored; CI uploads them)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from local_helpers import wait_for

from anomaly_guardian.scenario.generator import generate

ROOT = Path(__file__).resolve().parents[2]
TENANT = "console-it"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("CONSOLE_ARTIFACTS", ROOT / "build" / "artifacts" / "console"))
HELD_EVENT = "console-big-1"


@pytest.fixture(scope="module")
def console_built():
    if not (ROOT / "build" / "console" / "index.html").is_file():
        pytest.fail("build/console is missing: run `make console` (make test builds it first)")


@pytest.fixture(scope="module")
def streamed(local_stack, api, console_built):
    """A demo-like labelled stream plus one large transaction (held for review), through POST /events."""
    events = generate(1500, seed=11).events
    events.append(
        {
            "eventId": HELD_EVENT,
            "userId": "console-rich-user",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "eventType": "transaction",
            "transactionAmount": 9500,
        }
    )
    for start in range(0, len(events), 500):
        resp = api("POST", "/events", tenant=TENANT, json={"events": events[start : start + 500]})
        assert resp.status_code in (202, 403), resp.text

    def held_review():
        reviews = api("GET", "/reviews?status=PENDING&limit=100", tenant=TENANT).json()["reviews"]
        return next((r for r in reviews if r.get("heldEventId") == HELD_EVENT), None)

    review = wait_for(held_review, timeout=180, interval=1.0)
    assert review, "the 9,500 transaction never opened a review"
    wait_for(lambda: local_stack.stats().get("kinesis_caught_up"), timeout=120, interval=1.0)
    anomalies = api("GET", "/anomalies?limit=50", tenant=TENANT).json()["anomalies"]
    assert len(anomalies) >= 10
    return {"review": review, "anomalies": anomalies}


@pytest.fixture(scope="module")
def browser(console_built):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail(f"{CHROMIUM} / {CHROMEDRIVER} missing: run `make browser-deps` (Debian chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def loaded(driver, view: str, timeout: float = 30):
    """Wait until the view rendered (the app marks it data-loaded) and return its element."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, f'.view[data-view="{view}"][data-loaded="true"]'))
    )


def wait_css(driver, css: str, timeout: float = 30, visible: bool = True):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    cond = ec.visibility_of_element_located if visible else ec.presence_of_element_located
    return WebDriverWait(driver, timeout).until(cond((By.CSS_SELECTOR, css)))


def go(driver, base: str, route: str, view: str):
    driver.get(f"{base}#/{route}")
    return loaded(driver, view)


@pytest.fixture(scope="module")
def signed_in(local_stack, browser, token_for, streamed):
    base = f"{local_stack.api}/console/"
    token = token_for(TENANT)
    browser.get(f"{base}#token={token}")
    loaded(browser, "overview")
    return base


def test_the_console_is_served_on_the_api_origin_with_security_headers(local_stack, console_built):
    resp = requests.get(f"{local_stack.api}/console/", timeout=10)
    assert resp.status_code == 200 and "Anomaly Guardian console" in resp.text
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(f"{local_stack.api}/console/config.json", timeout=10).json() == {"apiUrl": ""}
    assert requests.get(f"{local_stack.api}/console/assets/nope.js", timeout=10).status_code == 404
    assert requests.get(f"{local_stack.api}/console/..%2f..%2fpyproject.toml", timeout=10).status_code == 404


def test_sign_in_by_fragment_keeps_the_token_out_of_the_url_and_local_storage(browser, signed_in, token_for):
    assert "token=" not in browser.current_url and browser.current_url.endswith("#/overview")
    assert browser.execute_script("return sessionStorage.getItem('guardian.token')") == token_for(TENANT)
    assert browser.execute_script("return localStorage.length") == 0
    assert TENANT in wait_css(browser, "#tenant").text
    view = loaded(browser, "overview")
    assert view.find_elements("css selector", ".gauge .big") and view.find_elements("css selector", "svg rect.bar")
    shot(browser, "01-overview")


def test_the_demo_anomalies_are_listed_and_one_is_marked_false_positive(browser, signed_in, streamed, api):
    view = go(browser, signed_in, "anomalies?live=0", "anomalies")
    rows = view.find_elements("css selector", "tr[data-anomaly-id]")
    listed = {r.get_attribute("data-anomaly-id") for r in rows}
    assert listed == {a["anomalyId"] for a in streamed["anomalies"]}  # the API's first page, as the API has it
    shot(browser, "02-anomalies")
    target = next(a for a in streamed["anomalies"] if a["originalEvent"].get("eventId") != HELD_EVENT)
    view.find_element("css selector", f'tr[data-anomaly-id="{target["anomalyId"]}"] a.open').click()
    detail = loaded(browser, "anomalies")
    assert target["description"] in detail.find_element("css selector", "h1").text
    assert detail.find_elements("css selector", ".explain .feature") and detail.find_elements(
        "css selector", "pre.json"
    )
    shot(browser, "03-anomaly-detail")
    detail.find_element("css selector", "#mark-fp").click()
    wait_for(lambda: "saved" in browser.find_element("css selector", "#verdict").text, timeout=20)
    stored = api("GET", f"/anomalies/{target['anomalyId']}", tenant=TENANT).json()
    assert stored["feedback"]["label"] == "false_positive"


def test_a_held_transaction_is_approved_and_the_workflow_resumes(browser, signed_in, streamed, api):
    review = streamed["review"]
    view = go(browser, signed_in, "reviews", "reviews")
    row = view.find_element("css selector", f'tr[data-review-id="{review["reviewId"]}"]')
    assert "9,500.00" in row.text
    row.find_element("css selector", "button.approve").click()
    nxt = wait_css(browser, ".decide .next")
    assert "What happens next" in nxt.text and HELD_EVENT in nxt.text
    shot(browser, "04-review-confirm")
    browser.find_element("css selector", ".decide button.confirm").click()
    wait_css(browser, ".decide .done")
    shot(browser, "05-review-approved")
    assert api("GET", f"/reviews/{review['reviewId']}", tenant=TENANT).json()["status"] == "APPROVED"

    seen = {}

    def resumed():  # only the resumed execution (apply_review, record) writes the decision onto the anomaly
        seen["hold"] = api("GET", f"/enforcement/holds/{HELD_EVENT}", tenant=TENANT).json()
        seen["actions"] = api("GET", f"/anomalies/{review['anomalyId']}", tenant=TENANT).json()["actionsPerformed"]
        return any(a.get("type") == "manual_review" and a.get("status") == "approved" for a in seen["actions"])

    assert wait_for(resumed, timeout=60, interval=1.0), seen


def test_a_rule_threshold_is_changed(browser, signed_in, api):
    before = next(r for r in api("GET", "/rules", tenant=TENANT).json()["rules"] if r["ruleId"] == "velocity-check")
    new = before["conditions"]["threshold"] + 50
    view = go(browser, signed_in, "rules", "rules")
    row = view.find_element("css selector", 'tr[data-rule-id="velocity-check"]')
    box = row.find_element("css selector", "input.threshold")
    box.clear()
    box.send_keys(str(int(new)))
    row.find_element("css selector", "button.save-threshold").click()
    wait_for(lambda: "Saved" in row.find_element("css selector", ".rule-out").text, timeout=20)
    shot(browser, "06-rules")
    after = next(r for r in api("GET", "/rules", tenant=TENANT).json()["rules"] if r["ruleId"] == "velocity-check")
    assert after["conditions"]["threshold"] == new and after["version"] == before["version"] + 1


def test_keyboard_and_phone_width(browser, signed_in):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    go(browser, signed_in, "incidents", "incidents")
    browser.refresh()
    loaded(browser, "incidents")
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.execute_script("return document.activeElement.className") == "skip"
    ActionChains(browser).send_keys(Keys.ENTER).perform()  # the skip link moves focus to the content
    assert browser.execute_script("return document.activeElement.id") == "main"
    browser.set_window_size(390, 900)
    try:
        go(browser, signed_in, "anomalies?live=0", "anomalies")
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        shot(browser, "07-phone-anomalies")
        assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"
    finally:
        browser.set_window_size(1280, 1000)


def test_a_refused_token_shows_sign_in_with_what_to_do(browser, signed_in):
    browser.get(f"{signed_in}#token=not-a-valid-token")
    form = wait_css(browser, "form.signin")
    assert "did not accept your token" in form.text and "guardian token" in form.text
    assert browser.execute_script("return sessionStorage.getItem('guardian.token')") is None
    shot(browser, "08-signin-refused")
