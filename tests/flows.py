"""A client of the public API over real HTTP, as an Upsampler client would use it."""

from __future__ import annotations

import io
import time

import requests
from PIL import Image


class Client:
    def __init__(self, base_url: str, key: str):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def submit(self, path: str, body: dict) -> requests.Response:
        return self.session.post(f"{self.base}/{path}", json=body, timeout=60)

    def status(self, job_id: str) -> dict:
        while True:
            r = self.session.get(f"{self.base}/status/{job_id}", timeout=30)
            if r.status_code != 429:
                break
            time.sleep(int(r.headers["Retry-After"]))  # what a well-behaved client does
        assert r.status_code == 200, r.text
        return r.json()

    def wait(self, job_id: str, timeout: float = 240) -> tuple[dict, list[int]]:
        """Poll until the job ends; returns the final payload and the progress values seen."""
        seen: list[int] = []
        self.polls: list[tuple[float, str, int]] = []  # (seconds, status, progress), for failure messages
        started = time.monotonic()

        def ended():
            body = self.status(job_id)
            self.polls.append((round(time.monotonic() - started, 1), body["status"], body.get("progress", 100)))
            if body["status"] in ("SUCCESS", "FAILED", "CANCELED"):
                return body
            seen.append(body.get("progress", 0))
            return None

        body = wait_until(ended, timeout, f"job {job_id} to end", interval=0.3, context=lambda: str(self.polls[-5:]))
        return body, seen


def download_image(url: str) -> tuple[Image.Image, bytes]:
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, (url, r.status_code, r.text[:200])
    image = Image.open(io.BytesIO(r.content))
    image.load()
    return image, r.content


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1, context=None):
    """The one polling helper of the tests: the predicate's first truthy value, polled every
    `interval` seconds until `timeout` seconds have passed (an AssertionError then, naming
    `what`, with `context()`'s text, e.g. a log's tail). A test waits for the event it needs
    with it, never for "long enough"; the timeout only bounds a failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}" + (f"\n{context()}" if context else "")
            )
        time.sleep(interval)


def sign_in_form(session: requests.Session, base_url: str, path: str = "/") -> str:
    """GET a sign-in page (for its CSRF cookie); the token to post with it."""
    r = session.get(base_url + path, timeout=30)
    assert r.status_code == 200, r.text[:500]
    return session.cookies["csrftoken"]


def post_sign_in(
    session: requests.Session, base_url: str, email: str, password: str, path: str = "/", token: str = "", **extra
) -> requests.Response:
    """Post a sign-in form as a browser would (the web app's `/`, or the admin's login)."""
    token = token or sign_in_form(session, base_url, path)
    return session.post(
        base_url + path,
        data={"username": email, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": base_url + path, **extra},
        allow_redirects=False,
        timeout=60,
    )
