"""Downloading imageUrl: HTTPS by host name, the overall deadline, the caps on downloads in
flight. Against real servers on 127.0.0.1 (UPSCALER_ALLOW_PRIVATE_URLS is on in tests)."""

from __future__ import annotations

import socket

import pytest
import requests.adapters

from tests import images
from tests.servers import FileServer, make_certificate

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
