"""Downloading imageUrl: HTTPS by host name, the overall deadline, the caps on downloads in
flight. Against real servers on 127.0.0.1 (UPSCALER_ALLOW_PRIVATE_URLS is on in tests)."""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time

import pytest
import requests.adapters

from jobs import safe_http, submission
from jobs.models import Job
from jobs.submission import fetch_slot
from tests import images
from tests.servers import FileServer, TrickleServer, make_certificate

pytestmark = pytest.mark.django_db

HOST = "images.test"


@pytest.fixture
def resolve_to_loopback(monkeypatch):
    """HOST resolves to 127.0.0.1, as a public name resolves to its server."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        return real("127.0.0.1" if host == HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def https_images(tmp_path, monkeypatch, resolve_to_loopback):
    """An HTTPS image host for HOST, with a certificate the fetch trusts."""
    cert, key = make_certificate(tmp_path, HOST)
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(cert))
    with FileServer(tls=(cert, key)) as server:
        yield server


def test_it_fetches_https_urls_by_host_name(api, https_images):
    """The connection goes to the checked address, but TLS (SNI, the certificate check) and
    the Host header use the host name."""
    https_images.add("/a.png", images.png(), "image/png")
    r = api.post("precise-upscale", {"input": {"imageUrl": f"https://{HOST}:{https_images.port}/a.png"}})
    assert r.status_code == 200, r.content
    assert https_images.hosts == [f"{HOST}:{https_images.port}"]


def test_it_refuses_a_certificate_for_another_name(api, tmp_path, monkeypatch, resolve_to_loopback):
    cert, key = make_certificate(tmp_path, "other.test")
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(cert))
    with FileServer(tls=(cert, key)) as server:
        server.add("/a.png", images.png(), "image/png")
        r = api.post("precise-upscale", {"input": {"imageUrl": f"https://{HOST}:{server.port}/a.png"}})
    assert r.status_code == 400 and "SSLError" in r.json()["error"], r.content


# --- The deadline: every download ends by it, whatever the server does ----------------------

DEADLINE = 1.0
SLACK = 1.0  # scheduling on a loaded machine; the per-read timeout (20 s) is far larger


def fetch_within_deadline(url: str) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(safe_http.FetchError) as failure:
        safe_http.fetch(url, max_bytes=10**6, deadline_seconds=DEADLINE)
    return str(failure.value), time.monotonic() - started


@pytest.mark.parametrize("mode", ["body", "head"])
def test_a_trickling_server_is_cut_off_at_the_deadline(mode):
    with TrickleServer(mode, interval=0.2) as server:
        error, elapsed = fetch_within_deadline(server.url())
        assert "took too long" in error, error
        assert DEADLINE - 0.05 <= elapsed < DEADLINE + SLACK
        assert server.accepted == 1 and server.wait_until_idle(5), "the connection was left open"


@pytest.mark.parametrize("mode", ["body", "silent"])
def test_the_deadline_holds_over_tls_too(mode, tmp_path, monkeypatch, resolve_to_loopback):
    """A trickling TLS body, and a server that never answers the handshake."""
    cert, key = make_certificate(tmp_path, HOST)
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(cert))
    with TrickleServer(mode, interval=0.2, tls=(cert, key) if mode == "body" else None) as server:
        url = server.url(host=HOST).replace("http://", "https://")
        error, elapsed = fetch_within_deadline(url)
        assert "took too long" in error, error
        assert elapsed < DEADLINE + SLACK


def test_one_deadline_covers_every_redirect():
    with TrickleServer("redirect", interval=0.4) as server:
        # Each answer alone is quick; four of them take longer than the deadline.
        assert safe_http.fetch(server.url("/r0"), max_bytes=100, deadline_seconds=10) == b"ok"
        error, elapsed = fetch_within_deadline(server.url("/r0"))
        assert "took too long" in error and elapsed < DEADLINE + SLACK


def test_a_slow_name_lookup_ends_at_the_deadline(monkeypatch):
    release = threading.Event()
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):
        if host == "slow.test":
            release.wait(30)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    try:
        error, elapsed = fetch_within_deadline("http://slow.test/a.png")
    finally:
        release.set()
    assert "took too long" in error and elapsed < DEADLINE + SLACK


def test_a_submit_to_a_slow_server_fails_by_the_deadline_and_charges_nothing(api, account, settings):
    settings.IMAGE_FETCH_DEADLINE_SECONDS = DEADLINE
    with TrickleServer("body", interval=0.2) as server:
        started = time.monotonic()
        r = api.post("precise-upscale", {"input": {"imageUrl": server.url()}})
        elapsed = time.monotonic() - started
    assert r.status_code == 400 and "took too long" in r.json()["error"], r.content
    assert elapsed < DEADLINE + SLACK
    account.refresh_from_db()
    assert account.balance == 100 and not Job.objects.exists()


# --- Downloads in flight: per account (shared by every web process) and per process ---------


def test_it_caps_downloads_in_flight_per_account(api, account, other_account, file_server, settings):
    settings.IMAGE_FETCH_MAX_IN_FLIGHT_PER_ACCOUNT = 2
    url = file_server.add("/a.png", images.png(), "image/png")
    with fetch_slot(account), fetch_slot(account):  # two downloads of this account in flight
        r = api.post("precise-upscale", {"input": {"imageUrl": url}})
        assert r.status_code == 429, r.content
        assert int(r["Retry-After"]) >= 1
        assert "already has 2 image downloads in progress" in r.json()["error"]
        # Images sent in the request need no download; other accounts have their own slots.
        data = base64.b64encode(images.png()).decode()
        assert api.post("precise-upscale", {"input": {"imageBase64": data}}).status_code == 200
        other = api.as_key(other_account.raw_key)
        assert other.post("precise-upscale", {"input": {"imageUrl": url}}).status_code == 200
    assert api.post("precise-upscale", {"input": {"imageUrl": url}}).status_code == 200
    account.refresh_from_db()
    assert account.balance == 98  # the two that were queued, not the refused one


def test_it_caps_downloads_in_flight_per_process(api, other_account, file_server, settings):
    settings.IMAGE_FETCH_MAX_IN_FLIGHT_PER_PROCESS = 1
    url = file_server.add("/a.png", images.png(), "image/png")
    with fetch_slot(other_account):
        r = api.post("precise-upscale", {"input": {"imageUrl": url}})
        assert r.status_code == 429 and "as many images as it can at once" in r.json()["error"], r.content
    assert api.post("precise-upscale", {"input": {"imageUrl": url}}).status_code == 200


def test_every_download_gives_its_slot_back(api, file_server, settings):
    settings.IMAGE_FETCH_MAX_IN_FLIGHT_PER_ACCOUNT = 1
    settings.IMAGE_FETCH_MAX_IN_FLIGHT_PER_PROCESS = 1
    settings.MAX_INPUT_BYTES = 1000
    file_server.files["/big"] = (200, {}, b"x" * 5000)
    file_server.add("/small.png", images.png(), "image/png")
    for path in ["/missing", "/big", "/small.png", "/small.png"]:
        r = api.post("precise-upscale", {"input": {"imageUrl": file_server.url + path}})
        assert r.status_code in (200, 400), (path, r.content)
    assert submission.process_fetches.count == 0


def test_an_unreachable_counter_store_does_not_stop_downloads(api, file_server, settings, caplog):
    settings.COUNTER_STORE = "redis"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    url = file_server.add("/a.png", images.png(), "image/png")
    with caplog.at_level(logging.WARNING):
        assert api.post("precise-upscale", {"input": {"imageUrl": url}}).status_code == 200
    assert "downloading without the per-account cap" in caplog.text
