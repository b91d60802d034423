"""The web app's and the admin's layout at 1400 px, light and dark, in headless Chromium
(issue 22, item 19): tables fit their cards (the keys' Revoke button is on screen), a
server-side refusal keeps the chosen file and names the field by its label, dates are
written one way everywhere, the admin's list tables fit the window and its log-out stays in
the admin. Screenshots go to test-artifacts/screenshots/ (layout-*.png)."""

from __future__ import annotations

import base64
import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.models import ApiKey
from jobs.models import Job, WebhookDelivery
from tests.flows import wait_until
from tests.test_admin_actions import make_job
from tests.test_admin_browser import PASSWORD, browser  # noqa: F401 (the fixture)
from tests.test_web_browser import SCREENSHOTS, App, sample_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WIDTH = 1400


@pytest.fixture(autouse=True)
def plain_http_cookies(settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


class Wide(App):
    def viewport(self, name: str = "wide") -> None:
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )

    def dark(self, on: bool) -> None:
        features = [{"name": "prefers-color-scheme", "value": "dark"}] if on else []
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": features})
        time.sleep(0.2)

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": min(height, 6000), "deviceScaleFactor": 1, "mobile": False},
        )
        time.sleep(0.2)
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        (SCREENSHOTS / f"layout-{name}.png").write_bytes(base64.b64decode(shot["data"]))
        self.viewport()

    def overflow(self, table_css: str) -> int:
        """How many pixels the table sticks out of the box that holds it (0 when it fits)."""
        return self.driver.execute_script(
            "var t = document.querySelector(arguments[0]); var box = t.parentElement;"
            "return Math.max(0, Math.ceil(t.getBoundingClientRect().right - box.getBoundingClientRect().right),"
            " box.scrollWidth - box.clientWidth);",
            table_css,
        )

    def on_screen(self, css: str) -> bool:
        """The element is drawn inside the window and inside every box that clips it."""
        return self.driver.execute_script(
            "var e = document.querySelector(arguments[0]); var r = e.getBoundingClientRect();"
            "if (r.width === 0 || r.right > window.innerWidth) return false;"
            "for (var p = e.parentElement; p; p = p.parentElement) {"
            "  var s = getComputedStyle(p); if (s.overflowX === 'visible') continue;"
            "  var b = p.getBoundingClientRect(); if (r.right > b.right + 1 || r.left < b.left - 1) return false; }"
            "return true;",
            css,
        )

    def contrast(self, css: str) -> float:
        """The WCAG contrast ratio of the element's text against the background behind it."""
        return self.driver.execute_script(
            """
            function rgb(c) { var m = c.match(/[\\d.]+/g).map(Number); return m; }
            function lum(c) { return 0.2126 * ch(c[0]) + 0.7152 * ch(c[1]) + 0.0722 * ch(c[2]); }
            function ch(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
            var e = document.querySelector(arguments[0]);
            var fg = rgb(getComputedStyle(e).color);
            var bg = null;
            for (var p = e; p; p = p.parentElement) {
              var c = rgb(getComputedStyle(p).backgroundColor);
              if (c.length < 4 || c[3] > 0.5) { bg = c; break; }
            }
            bg = bg || [255, 255, 255];
            var a = lum(fg), b = lum(bg);
            return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            """,
            css,
        )


@pytest.fixture
def app(browser, live_server):  # noqa: F811 (the imported fixture)
    return Wide(browser, live_server.url)


def test_the_keys_table_fits_its_card_light_and_dark(app, owner, account):
    # Names as people write them: with spaces, as one long identifier, short; one revoked.
    for name in ("production server in eu-west-1 (primary)", "staging_worker_for_the_nightly_batch_runs", "ci"):
        key, _ = ApiKey.issue(account, name=name)
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(hours=3))
    key.revoke()
    app.sign_in(owner.email)
    app.open("/keys")
    app.wait_for("#keys-table")
    for dark in (False, True):
        app.dark(dark)
        app.shot("keys" + ("-dark" if dark else ""))
        assert app.overflow("#keys-table") == 0
        assert app.on_screen("#keys-table form[data-confirm] button")
        assert app.contrast("#keys-table form[data-confirm] button") >= 3
    app.dark(False)


def test_a_refused_upscale_keeps_the_file_and_names_the_field_by_its_label(app, owner, tmp_path):
    app.sign_in(owner.email)
    app.open("/playground")
    app.wait_for("#image")
    app.find("#image").send_keys(str(sample_image(tmp_path / "photo.png")))
    # A factor the browser's own checks let through but the server refuses.
    app.driver.execute_script(
        "var f = document.querySelector('[name=\"precise-upscaleFactor\"]');"
        "f.removeAttribute('max'); f.removeAttribute('min'); f.value = '99';"
    )
    app.find("#playground-form button[type=submit]").click()
    app.wait_for("#form-errors", visible=True)
    error = app.find('[data-option="upscaleFactor"].has-error .error-text').text
    app.shot("playground-refused")
    assert "upscaleFactor" not in app.driver.find_element("css selector", "main").text, error
    assert error.startswith("Upscale factor must be a number from 1 to 16"), error
    # The file is still chosen (and previewed): resubmitting needs no new pick.
    wait_until(
        lambda: app.driver.execute_script("return document.querySelector('#image').files.length") == 1, 10, "the file"
    )
    assert app.driver.execute_script("return document.querySelector('#image').files[0].name") == "photo.png"
    app.driver.execute_script("document.querySelector('[name=\"precise-upscaleFactor\"]').value = '2';")
    app.find("#playground-form button[type=submit]").click()
    app.wait_for("#job-result, [data-status-url]", timeout=30)
    assert Job.objects.filter(account=owner.owner.account).count() == 1


def test_dates_are_written_one_way(app, owner, account, webhook_receiver):
    job = make_job(account, Job.Status.SUCCESS, with_files=True, webhook_url=webhook_receiver.url + "/hook")
    WebhookDelivery.objects.create(job=job, attempt=1, url=job.webhook_url, status_code=200, succeeded=True)
    ApiKey.issue(account, name="dated")
    app.sign_in(owner.email)
    seen: dict[str, list[str]] = {}
    # Any absolute date a page writes: "Dec 7", "Dec 7, 2026", "Dec 7, 14:05", "2026-12-07 14:05", ...
    absolute = re.compile(
        r"\b(?:\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?|"
        r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}(?:, \d{4})?(?:,? \d{1,2}:\d{2}(?: [AP]M)?)?)"
        r"(?: UTC)?"
    )
    for path in ("/jobs", f"/jobs/{job.id}", "/keys", "/webhooks", "/credits", f"/playground?job={job.id}"):
        app.open(path)
        app.wait_for("main")
        # Moments, not the days a chart's axis names.
        text = app.driver.execute_script(
            "var m = document.querySelector('main').cloneNode(true);"
            "m.querySelectorAll('.chart, script').forEach(function (c) { c.remove(); }); return m.innerText;"
        )
        titles = app.driver.execute_script(
            "return Array.from(document.querySelectorAll('main [title]')).map(function (e) { return e.title; })"
        )
        seen[path] = absolute.findall(text) + [m for t in titles for m in absolute.findall(t)]
    found = [s for dates in seen.values() for s in dates]
    assert len(found) >= 5, seen
    shapes = {re.sub(r"\d+", "9", re.sub(r"[A-Z][a-z]{2}", "Mon", s)) for s in found}
    assert shapes == {"Mon 9, 9, 9:9 UTC"}, seen


def test_the_admins_list_tables_fit_and_its_log_out_stays_in_the_admin(app, account):
    operator = get_user_model().objects.create_superuser("operator", "ops@example.com", PASSWORD)
    for n in range(3):
        make_job(account, Job.Status.SUCCESS, webhook_url=f"https://hooks.example.com/a/very/long/path/{n}" * 3)
    app.open("/admin/login/?next=/admin/")
    app.find("#id_username").send_keys(operator.username)
    app.find("#id_password").send_keys(PASSWORD)
    app.find("input[type=submit]").click()
    app.wait_for("#site-name")
    for path, name in (
        ("/admin/jobs/job/", "jobs"),
        ("/admin/billing/account/", "accounts"),
        ("/admin/billing/apikey/", "keys"),
        ("/admin/billing/ledgerentry/", "ledger"),
        ("/admin/jobs/batch/", "batches"),
        ("/admin/jobs/networkmodel/", "models"),
    ):
        app.open(path)
        app.wait_for("#changelist")
        app.shot(f"admin-{name}")
        overflow = app.driver.execute_script(
            "var page = document.documentElement.scrollWidth - document.documentElement.clientWidth;"
            "var t = document.querySelector('#result_list'); if (!t) return [page];"
            "var box = t.closest('.results') || t.parentElement;"
            "return [page, box.scrollWidth - box.clientWidth,"
            " Math.ceil(t.getBoundingClientRect().right - box.getBoundingClientRect().right)];"
        )
        assert max(overflow) <= 0, (path, overflow)
    app.find("#logout-form button").click()
    app.wait_for("#id_username")
    assert app.driver.current_url.endswith("/admin/login/")
