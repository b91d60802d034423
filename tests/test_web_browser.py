"""The customers' web app in a real browser (headless Chromium through Selenium, set up as
tests/test_admin_browser.py does) against the live server and a real Celery worker: sign in,
upscale an uploaded image in the playground and watch it finish, download the result,
create and revoke an API key and see the API refuse it, redeliver a webhook and send a test
event, and find another account's job a 404. Each page is photographed at desktop and phone
widths into test-artifacts/screenshots/ for review."""

from __future__ import annotations

import base64
import io
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageDraw

from billing.models import ApiKey
from jobs.models import Job
from tests.conftest import OWNER_PASSWORD
from tests.flows import wait_until
from tests.test_admin_actions import make_job
from tests.test_admin_browser import ARTIFACTS, browser  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SCREENSHOTS = ARTIFACTS / "screenshots"
VIEWPORTS = {"desktop": (1366, 900, False), "phone": (390, 844, True)}


@pytest.fixture(autouse=True)
def plain_http_cookies(settings):
    # The live server speaks plain http; outside DEBUG and the embedded default the cookies
    # are Secure (tests/test_web_sign_in.py checks that), which a browser keeps to https.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


def sample_image(path: Path, size=(120, 90)) -> Path:
    """A small picture with edges and gradients, so the comparison shows something."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        draw.line([(0, y), (width, y)], fill=(255 - y * 2, 140 + y, 90 + y))
    draw.ellipse([18, 14, 58, 54], fill=(255, 214, 120), outline=(120, 60, 20), width=2)
    draw.polygon([(0, height), (50, 40), (95, height)], fill=(40, 110, 95))
    draw.polygon([(40, height), (95, 30), (width, 70), (width, height)], fill=(30, 80, 70))
    draw.rectangle([78, 60, 104, 84], fill=(200, 70, 60), outline=(255, 255, 255))
    draw.text((82, 66), "Hi", fill=(255, 255, 255))
    image.save(path, "PNG")
    return path


class App:
    """The web app as an owner sees it."""

    def __init__(self, driver, base_url: str):
        self.driver, self.base = driver, base_url
        self.viewport("desktop")

    def viewport(self, name: str) -> None:
        width, height, mobile = VIEWPORTS[name]
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def wait_for(self, css: str, timeout: float = 20, visible: bool = False):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        condition = ec.visibility_of_element_located if visible else ec.presence_of_element_located
        return WebDriverWait(self.driver, timeout).until(condition((By.CSS_SELECTOR, css)))

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def sign_in(self, email: str, password: str = OWNER_PASSWORD) -> None:
        self.open("/")
        self.find("input[name=username]").send_keys(email)
        self.find("input[name=password]").send_keys(password)
        self.find("#sign-in-form button[type=submit]").click()
        self.wait_for("#nav-playground[aria-current=page]")

    def accept_confirm(self) -> None:
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 5).until(ec.alert_is_present()).accept()

    def images_loaded(self, *css: str) -> bool:
        return all(
            self.driver.execute_script(
                "var i = document.querySelector(arguments[0]); return i.complete && i.naturalWidth", c
            )
            for c in css
        )

    def screenshot(self, name: str) -> None:
        """The whole page at each viewport: test-artifacts/screenshots/<name>-<viewport>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for viewport, (width, _, _) in VIEWPORTS.items():
            self.viewport(viewport)
            time.sleep(0.3)  # layout and fonts settle after the resize
            height = self.driver.execute_script(
                "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"
            )
            # The viewport as tall as the page, so what is sized to the window (the sidebar)
            # is drawn as a visitor scrolling it sees it.
            self.driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": min(height, 8000), "deviceScaleFactor": 1, "mobile": viewport == "phone"},
            )
            time.sleep(0.2)
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
            (SCREENSHOTS / f"{name}-{viewport}.png").write_bytes(base64.b64decode(shot["data"]))
        self.viewport("desktop")

    def screenshot_dark(self, name: str) -> None:
        """The page as a system in dark mode shows it (desktop width)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
        )
        try:
            width = VIEWPORTS["desktop"][0]
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": min(height, 8000), "deviceScaleFactor": 1, "mobile": False},
            )
            time.sleep(0.3)
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
            (SCREENSHOTS / f"{name}-dark-desktop.png").write_bytes(base64.b64decode(shot["data"]))
        finally:
            self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
            self.viewport("desktop")


@pytest.fixture
def app(browser, live_server):  # noqa: F811 (the imported fixture)
    return App(browser, live_server.url)


def test_an_owner_signs_in_upscales_an_image_and_downloads_it(
    app, live_server, owner, account, celery_worker, tmp_path
):
    app.open("/")
    app.wait_for("#sign-in-form")
    app.screenshot("sign-in")
    app.open("/password-reset")
    app.wait_for("#password-reset-form")
    app.screenshot("password-reset")

    app.sign_in(owner.email)
    assert "Playground" in app.driver.title
    app.screenshot("playground")

    # Upload: the server reads the header and prices it before anything is submitted.
    app.find("#image").send_keys(str(sample_image(tmp_path / "scene.png")))
    app.find("#precise-upscaleFactor").clear()
    app.find("#precise-upscaleFactor").send_keys("2")
    wait_until(lambda: "240×180" in app.find("#quote-details").text, 15, "the quote")
    assert "120×90 → 240×180" in app.find("#quote-details").text
    assert app.find("#quote-credits").text == "1"
    assert "Balance 100 credits" in app.find("#quote-details").text

    app.find("#submit").click()
    app.wait_for("#job-result")
    job = Job.objects.get(account=account)
    assert job.surface == Job.Surface.WEB and job.credit_cost == 1
    assert "/playground?job=" in app.driver.current_url

    # The progress is live; the comparison appears when the worker is done.
    app.wait_for("#job-success", timeout=180, visible=True)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error
    assert app.find("#job-status-badge").text == "Done"
    wait_until(lambda: app.images_loaded("#compare-after", "#compare-before"), 15, "the images to load")
    assert app.images_loaded("#compare-after", "#compare-before")
    assert "-F upscaleFactor=2" in app.find("#curl").text
    assert "$UPSCALER_API_KEY" in app.find("#curl").text
    app.screenshot("playground-result")
    app.screenshot_dark("playground-result")

    href = app.find("#download").get_attribute("href")
    downloaded = requests.get(href, timeout=30)
    assert downloaded.status_code == 200
    result = Image.open(io.BytesIO(downloaded.content))
    assert result.format == "PNG" and result.size == (240, 180)
    assert app.find("#balance-text").text == "99 credits"

    # The jobs list and the job's page show it, with its thumbnail.
    make_job(account, Job.Status.FAILED, error="The image could not be read. Your credits have been refunded.")
    make_job(account, Job.Status.IN_QUEUE, mode="dynamic", cost=4, created_ago=timedelta(seconds=30))
    app.find("#nav-jobs").click()
    app.wait_for("#jobs-table")
    rows = app.find_all("#jobs-table tbody tr")
    assert len(rows) == 3
    assert "Done" in rows[-1].text or "Done" in app.find("#jobs-table").text
    app.screenshot("jobs")
    app.find(f"tr[data-job='{job.id}'] a.row-link").click()
    app.wait_for("#job-details")
    assert app.images_loaded("#compare-after")
    app.screenshot("job")

    app.find("#nav-credits").click()
    chart = app.wait_for("#spend-chart[data-drawn=true]")
    assert chart.get_attribute("data-total") == "5"  # 1 + 4 charged, the failed one refunded
    assert app.find("#credit-balance").text == "95"
    app.screenshot("credits")
    app.screenshot_dark("credits")

    app.find("#sign-out").click()
    app.wait_for("#sign-in-form")


def test_an_owner_creates_and_revokes_an_api_key(app, live_server, owner, account):
    account.api_keys.all().delete()
    app.sign_in(owner.email)
    app.find("#nav-keys").click()
    app.wait_for("#empty-keys")
    app.find("#id_name").send_keys("production server")
    app.find("#create-key").click()
    raw = app.wait_for("#new-key-value").text
    assert raw.startswith("upk_")
    api = f"{live_server.url}/api/v1/account"
    assert requests.get(api, headers={"Authorization": f"Bearer {raw}"}, timeout=10).status_code == 200
    app.screenshot("keys-created")

    # Gone from the page once it is left: only the prefix stays.
    app.open("/keys")
    app.wait_for("#keys-table")
    assert raw not in app.driver.page_source and raw[:12] in app.driver.page_source
    assert "never" not in app.find("#keys-table").text  # last used just now, by the call above

    app.find("#keys-table form[data-confirm] button").click()
    app.accept_confirm()
    app.wait_for(".alert-success")
    assert "Revoked production server" in app.find(".messages").text
    refused = requests.get(api, headers={"Authorization": f"Bearer {raw}"}, timeout=10)
    assert refused.status_code == 403 and "revoked" in refused.json()["error"]
    assert not ApiKey.objects.get(account=account).is_active
    app.screenshot("keys")


def test_an_owner_redelivers_a_webhook_and_sends_a_test_event(
    app, live_server, owner, account, celery_worker, webhook_receiver
):
    job = make_job(
        account, Job.Status.SUCCESS, with_files=True, webhook_url=webhook_receiver.url + "/hook", processing_seconds=3
    )
    app.sign_in(owner.email)
    app.open(f"/jobs/{job.id}")
    app.wait_for("#deliveries")
    assert not app.find_all("#deliveries-table")
    app.find("#redeliver").click()
    # The page waits for the worker's attempt and shows it (an attempt still being sent may
    # show first, on a loaded machine: the page reloads once it is recorded).
    from selenium.common.exceptions import StaleElementReferenceException

    def delivered():
        tables = app.find_all("#deliveries-table")
        try:
            return tables and "Delivered" in tables[0].text and "200" in tables[0].text
        except StaleElementReferenceException:  # the page reloaded meanwhile
            return False

    wait_until(delivered, 60, "the redelivery's attempt on the page")
    [call] = webhook_receiver.wait_for(1)
    assert call["headers"]["webhook-id"] == f"msg_{job.id}"
    app.screenshot("job-webhook")

    app.find("#nav-webhooks").click()
    app.wait_for("#webhook-secret-masked")
    assert account.webhook_secret not in app.driver.page_source
    app.find("#reveal-secret").click()
    assert app.wait_for("#webhook-secret").text == account.webhook_secret
    app.find("#id_url").send_keys(webhook_receiver.url + "/test")
    app.find("#send-test").click()
    assert "Delivered" in app.wait_for("#test-result").text
    assert webhook_receiver.wait_for(2)[-1]["headers"]["webhook-id"].startswith("msg_test_")
    assert len(app.find_all("#recent-deliveries tbody tr")) == 2
    app.screenshot("webhooks")


def test_another_accounts_job_is_a_404(app, live_server, owner, other_account):
    theirs = make_job(other_account, Job.Status.SUCCESS)
    app.sign_in(owner.email)
    app.open(f"/jobs/{theirs.id}")
    assert "Page not found" in app.wait_for("h1").text
    assert str(theirs.id) not in app.driver.page_source
    app.open(f"/jobs/{theirs.id}/status.json")
    assert "Page not found" in app.driver.page_source


def test_the_sign_up_page(app, live_server, settings):
    settings.SIGNUP_OPEN = True
    settings.SIGNUP_CREDITS = 25
    app.open("/signup")
    app.wait_for("#sign-up-form")
    app.screenshot("sign-up")
    app.find("#id_account").send_keys("Northwind Studio")
    app.find("#id_email").send_keys("ana@northwind.example")
    app.find("#id_password").send_keys("a-long-and-unusual-passphrase")
    app.find("#sign-up-form button[type=submit]").click()
    app.wait_for("#nav-playground[aria-current=page]")
    assert "25 credits" in app.find("#balance-text").text


def test_a_queued_jobs_page_shows_its_place_in_line_and_moves_on_without_a_reload(app, owner, account):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from jobs import lifecycle

    queued = [make_job(account, Job.Status.IN_QUEUE, output=(64, 48)) for _ in range(3)]
    app.sign_in(owner.email)
    app.open(f"/jobs/{queued[2].id}")

    def says(text: str) -> None:
        WebDriverWait(app.driver, 30).until(ec.text_to_be_present_in_element((By.ID, "progress-text"), text))

    says("3rd in line, about ")
    app.screenshot("job-in-line")
    # The first job starts and ends: the page follows by itself, the same page load.
    marker = app.driver.execute_script("return window.performance.timeOrigin")
    first = lifecycle.claim_next(worker="test:1")
    assert first is not None and first.pk == queued[0].pk
    assert lifecycle.succeed(first, image_name="a.png", compressed_name="a.jpg", engine="precise/test")
    says("2nd in line, about ")
    assert app.driver.execute_script("return window.performance.timeOrigin") == marker
