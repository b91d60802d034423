"""Per-key rate limits are shared by every web process (Redis): two gunicorn processes
count against the same window."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from billing.models import ApiKey
from tests.conftest import answers, gunicorn_command, worker_env
from tests.flows import wait_until
from tests.ports import free_port

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_web_processes(live_server, broker, tmp_path):
    env = worker_env(live_server.url, RATE_LIMIT_STATUS_PER_MINUTE="12")
    procs, urls = [], []
    for i in range(2):
        port = free_port()
        log = open(tmp_path / f"web{i}.log", "wb")
        procs.append(
            subprocess.Popen(
                gunicorn_command(port, "--workers=1"),
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        wait_until(lambda url=url: answers(url + "/api/v1/schema"), 60, f"{url} to answer", interval=0.3)
    yield urls
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def in_one_window(two_web_processes, account) -> list[requests.Response]:
    """14 requests, alternating between the processes, all counted in one minute window: the
    window each answer was counted in is read from its X-RateLimit-Reset; if the run crossed
    into the next window it is run again with a fresh key (fresh counters), which cannot
    cross again within a minute. No waiting for a window's start, whatever the machine's load."""
    for _ in range(2):
        _, key = ApiKey.issue(account)
        headers = {"Authorization": f"Bearer {key}"}
        answers, window_ends = [], set()
        for i in range(14):
            r = requests.get(f"{two_web_processes[i % 2]}/api/v1/account", headers=headers, timeout=10)
            answers.append(r)
            if "X-RateLimit-Reset" in r.headers:  # the answers under the limit
                window_ends.add(round((time.time() + int(r.headers["X-RateLimit-Reset"])) / 60))
        if len(window_ends) == 1:
            return answers
    raise AssertionError("two window crossings within one minute")


def test_it_limits_across_two_web_processes(two_web_processes, account):
    answers = in_one_window(two_web_processes, account)
    codes = [r.status_code for r in answers]
    assert codes == [200] * 12 + [429] * 2, codes
    assert answers[0].headers["X-RateLimit-Limit"] == "12"
    assert answers[0].headers["X-RateLimit-Remaining"] == "11"
    assert answers[11].headers["X-RateLimit-Remaining"] == "0"
    limited = answers[12]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["status"] == "FAILED" and "at most 12 status requests per minute" in limited.json()["error"]


@pytest.mark.django_db
def test_submits_have_their_own_limit(api, account, settings):
    settings.RATE_LIMITS = {"submit": [(2, 60)], "status": [(100, 60)]}
    assert api.get("account").status_code == 200
    for _ in range(2):
        api.post("precise-upscale", {"input": {}})
    r = api.post("precise-upscale", {"input": {}})
    assert r.status_code == 429 and r["Retry-After"]
    assert api.get("account").status_code == 200
