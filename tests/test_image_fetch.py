"""Downloading imageUrl: HTTPS by host name, and one deadline for the whole download.
Against real servers on 127.0.0.1 (UPSCALER_ALLOW_PRIVATE_URLS is on in tests)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests.adapters

from jobs import safe_http
from jobs.models import Job
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
