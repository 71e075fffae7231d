"""Helpers for the browser tests of the web app (test_web_app.py): Playwright driving Debian's
Chromium against the real `strata serve`, which serves the app at `/`."""

import gzip
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("STRATA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
BUDGET_FILE = ARTIFACTS / "web-budget.json"

VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
}

# Generous: the first start of a debug build on a 2-core machine is slow.
TIMEOUT_MS = 15_000


def now_ms():
    return int(time.time() * 1000)


def http_json(method, url, body=None, headers=None, timeout=30):
    """(status, parsed JSON or None) of a request, for any status."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read().decode()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text) if text else None
        except ValueError:
            return e.code, text


def http_raw(url, timeout=30):
    """(status, content type, body bytes) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def post_telemetry(strata, token, payload):
    """Sends telemetry as a device with the HTTP device API (a real HTTP client)."""
    status, body = http_json("POST", f"{strata.http}/api/v1/{token}/telemetry", payload)
    assert status == 200, (status, body)
    return body


def new_context(browser, viewport, **extra):
    opts = dict(VIEWPORTS[viewport])
    # The service worker is tested on its own (test_pwa); elsewhere it would only cache.
    opts.setdefault("service_workers", "block")
    opts.update(extra)
    ctx = browser.new_context(**opts)
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


def watch_errors(page):
    """Collects uncaught page errors and Content-Security-Policy violations (the server sends
    a strict CSP with the app), to assert there were none."""
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and "Content Security Policy" in m.text
            and errors.append(m.text))
    return errors


def sign_in(page, strata, username, password):
    page.goto(strata.http + "/")
    page.get_by_test_id("signin-username").fill(username)
    page.get_by_test_id("signin-password").fill(password)
    page.get_by_test_id("signin-submit").click()
    page.get_by_test_id("current-user").wait_for(state="attached")


def open_nav(page, viewport, name):
    """Follows a top navigation link; on the phone the menu is opened first."""
    link = page.get_by_test_id(f"nav-{name}")
    if viewport == "phone" and not link.is_visible():
        page.get_by_test_id("nav-toggle").click()
    link.click()


def assert_no_horizontal_overflow(page, width=360):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide at a {width} px viewport"


def snap(page, viewport, name):
    """Saves a screenshot (a test artifact) and, on the phone, checks for horizontal overflow."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(150)  # let charts finish their frame
    page.screenshot(path=str(SCREENSHOTS / f"{viewport}-{name}.png"), full_page=True)
    if viewport == "phone":
        assert_no_horizontal_overflow(page, 360)


def wait_live(page):
    """Waits until the app's WebSocket to /api/ws is open."""
    page.locator('[data-testid="live-status"][data-state="open"]').wait_for(state="attached")


def data_points(page, testid, nth=0):
    value = page.get_by_test_id(testid).nth(nth).get_attribute("data-points")
    return int(value or 0)


def wait_points(page, testid, at_least, timeout_ms=TIMEOUT_MS):
    page.wait_for_function(
        """([id, n]) => [...document.querySelectorAll(`[data-testid="${id}"]`)]
              .some((el) => Number(el.dataset.points || 0) >= n)""",
        arg=[testid, at_least], timeout=timeout_ms)


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, 9))


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return round(s[lo] + (s[hi] - s[lo]) * (k - lo), 3)


def record_budget(section, figures):
    """Merges figures into artifacts/web-budget.json under `section`."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    doc = {}
    if BUDGET_FILE.exists():
        try:
            doc = json.loads(BUDGET_FILE.read_text())
        except ValueError:
            doc = {}
    doc[section] = figures
    BUDGET_FILE.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
