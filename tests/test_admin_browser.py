"""The operators' admin in a real browser (headless Chromium through Selenium) against the
live server: log in, read the dashboard drawn from real jobs, filter jobs, cancel one and
find its refund in the ledger, redeliver a webhook through a real Celery worker and see the
new attempt. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from billing.models import LedgerEntry
from jobs.models import Job
from tests.flows import wait_until
from tests.test_admin_actions import make_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1800",
]
PASSWORD = "pw-for-the-browser-test"


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def browser(tmp_path):
    chromium = _find("chromium", "chromium-browser", "google-chrome")
    driver_path = _find("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        chromium = None
    if not chromium or not driver_path:
        message = "headless Chromium tests need selenium, chromium and chromium-driver"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("operator", "ops@example.com", PASSWORD)


class Admin:
    """The admin as an operator sees it."""

    def __init__(self, driver, base_url: str):
        self.driver, self.base = driver, base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def login(self, user) -> None:
        from selenium.webdriver.common.by import By

        self.open("/admin/login/?next=/admin/")
        self.driver.find_element(By.NAME, "username").send_keys(user.username)
        self.driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        self.driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        self.wait_for("#site-name")
        assert "Site administration" in self.driver.title

    def wait_for(self, css: str, timeout: float = 15):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
        )

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def click_link(self, text: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.LINK_TEXT, text).click()

    def messages(self) -> str:
        return " ".join(m.text for m in self.find_all("ul.messagelist li"))

    def screenshot(self, name: str) -> Path:
        """The whole page: the window is stretched to the document's height first."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1400, min(max(height, 900), 6000))
        assert self.driver.save_screenshot(str(path))
        return path


def test_the_dashboard_draws_charts_from_real_jobs(browser, live_server, operator, account):
    # Jobs over the last day: successes an hour apart, a failure, a cancel, queued work.
    for hours in (1, 2, 2, 5, 9, 9, 9, 14, 20):
        make_job(
            account,
            Job.Status.SUCCESS,
            created_ago=timedelta(hours=hours, minutes=10),
            queue_seconds=hours,
            processing_seconds=4 + hours,
        )
    make_job(
        account,
        Job.Status.FAILED,
        created_ago=timedelta(hours=3),
        error="CUDA out of memory while upscaling. Your credits have been refunded.",
    )
    make_job(account, Job.Status.CANCELED, created_ago=timedelta(hours=6))
    make_job(account, Job.Status.IN_QUEUE, created_ago=timedelta(minutes=1))
    make_job(account, Job.Status.IN_PROGRESS, created_ago=timedelta(minutes=2))

    admin = Admin(browser, live_server.url)
    admin.login(operator)
    admin.find("#dashboard-link").click()
    chart = admin.wait_for("#chart-jobs-per-hour[data-drawn=true]")
    assert chart.get_attribute("data-total") == "13"
    bars = admin.find_all("#chart-jobs-per-hour rect.bar")
    by_status: dict[str, int] = {}
    for bar in bars:
        status = bar.get_attribute("data-series")
        by_status[status] = by_status.get(status, 0) + int(bar.get_attribute("data-value"))
    assert by_status == {"SUCCESS": 9, "FAILED": 1, "CANCELED": 1, "IN_QUEUE": 1, "IN_PROGRESS": 1}
    # 13 jobs charged 1 credit each today, 2 refunded.
    credits = admin.wait_for("#chart-credits-per-day[data-drawn=true]")
    assert credits.get_attribute("data-total") == "11"
    page = admin.find("#content-main").text
    assert "CUDA out of memory" in page
    assert "10.0%" in page  # 1 failure out of 10 ended jobs
    depths = [cell.text for cell in admin.find_all("#queue-depths .queue-depth")]
    assert len(depths) == 3 and all(d.isdigit() or d == "unavailable" for d in depths)
    admin.screenshot("admin-dashboard.png")


def test_an_operator_filters_cancels_and_redelivers(
    browser, live_server, operator, account, celery_worker, webhook_receiver
):
    from selenium.webdriver.support.ui import Select

    queued = make_job(account, Job.Status.IN_QUEUE, cost=3, created_ago=timedelta(minutes=3))
    make_job(account, Job.Status.IN_QUEUE, cost=1, created_ago=timedelta(minutes=4))
    done = make_job(
        account, Job.Status.SUCCESS, with_files=True, webhook_url=webhook_receiver.url + "/hook", processing_seconds=7
    )
    make_job(account, Job.Status.FAILED, error="Boom. Your credits have been refunded.")

    admin = Admin(browser, live_server.url)
    admin.login(operator)
    admin.open("/admin/jobs/job/")
    admin.wait_for("#changelist-filter")
    assert len(admin.find_all("#result_list tbody tr")) == 4

    # Filter: queued jobs only.
    admin.find("#changelist-filter a[href*='status__exact=IN_QUEUE']").click()
    admin.wait_for("#changelist-filter li.selected a[href*='status__exact=IN_QUEUE']")
    rows = admin.find_all("#result_list tbody tr")
    assert len(rows) == 2, [row.text for row in rows]
    admin.screenshot("admin-jobs-filtered.png")

    # Cancel one: the action, then the refund in the ledger.
    admin.find(f"input[name=_selected_action][value='{queued.pk}']").click()
    Select(admin.find("select[name=action]")).select_by_value("cancel_with_refund")
    admin.find("button[name=index]").click()
    admin.wait_for("ul.messagelist")
    assert "Canceled and refunded 1 job." in admin.messages()
    queued.refresh_from_db()
    assert queued.status == "CANCELED"

    admin.open(f"/admin/billing/account/{account.pk}/change/")
    ledger_rows = admin.wait_for("#ledger-group").text
    assert "Job refund" in ledger_rows and "canceled" in ledger_rows
    refund = LedgerEntry.objects.get(job=queued, kind="refund")
    assert refund.amount == 3
    admin.find("#account-ledger").click()
    admin.wait_for("#result_list")
    assert "Job refund" in admin.find("#result_list").text

    # Redeliver a webhook: the worker posts to the receiver, the job page shows the attempt.
    admin.open(f"/admin/jobs/job/{done.pk}/change/")
    admin.wait_for("#thumbnail-output")
    assert admin.find("#webhook_deliveries-group").text.count("/hook") == 0
    admin.find("#job-redeliver").click()
    admin.wait_for("ul.messagelist")
    assert "Queued a webhook redelivery for 1 job." in admin.messages()
    [call] = webhook_receiver.wait_for(1, timeout=60)
    assert str(done.pk) in call["headers"]["webhook-id"]
    wait_until(done.webhook_deliveries.exists, 30, "the delivery to be recorded")
    admin.open(f"/admin/jobs/job/{done.pk}/change/")
    deliveries = admin.wait_for("#webhook_deliveries-group").text
    assert "/hook" in deliveries and "200" in deliveries
    # The thumbnails loaded (a broken image has naturalWidth 0).
    for which in ("input", "output"):
        width = browser.execute_script(
            "return document.getElementById(arguments[0]).naturalWidth", f"thumbnail-{which}"
        )
        assert width > 0, which
    admin.screenshot("admin-job.png")
