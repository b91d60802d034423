"""imageUrl and webhook targets never reach loopback, private, link-local, metadata or
multicast addresses. Every refusal happens before a packet is sent to such an address."""

from __future__ import annotations

import socket

import pytest

from billing.models import LedgerEntry
from jobs import safe_http
from jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_urls_refused(settings):
    settings.UPSCALER_ALLOW_PRIVATE_URLS = False


@pytest.fixture
def no_connects_to_private(monkeypatch):
    """Fail loudly if anything tries to connect to a refused address."""
    real = socket.socket.connect

    def guarded(sock, address):
        host = address[0]
        if host not in ("127.0.0.1", "::1") and not host.startswith("/"):
            import ipaddress

            assert ipaddress.ip_address(host).is_global, f"connected to {host}"
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/a.png", "127.0.0.1 is not public"),
        ("http://[::1]/a.png", "::1 is not public"),
        ("http://10.1.2.3/a.png", "10.1.2.3 is not public"),
        ("http://192.168.0.10/a.png", "192.168.0.10 is not public"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not public"),
        ("http://[fe80::1]/a.png", "fe80::1 is not public"),
        ("http://[::ffff:10.0.0.1]/a.png", "10.0.0.1 is not public"),
        ("http://2130706433/a.png", "127.0.0.1 is not public"),  # decimal-encoded 127.0.0.1
        ("http://0x7f.1/a.png", "127.0.0.1 is not public"),
        ("http://224.0.0.1/a.png", "224.0.0.1 is not public"),
        ("http://localhost:8000/a.png", "127.0.0.1 is not public"),
        ("http://user:pw@example.com/a.png", "credentials"),
    ],
)
def test_it_refuses_non_public_image_urls(api, account, url, why, no_connects_to_private):
    r = api.post("precise-upscale", {"input": {"imageUrl": url}})
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error.startswith("imageUrl is not allowed") and why in error, error
    account.refresh_from_db()
    assert account.balance == 100 and not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()


def test_it_refuses_hostnames_that_resolve_to_private_addresses(api, account, monkeypatch, no_connects_to_private):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "images.example.com":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 80)),
            ]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    r = api.post("precise-upscale", {"input": {"imageUrl": "http://images.example.com/a.png"}})
    assert r.status_code == 400 and "10.0.0.7 is not public" in r.json()["error"]
    account.refresh_from_db()
    assert account.balance == 100


def test_it_refuses_a_public_url_that_redirects_to_a_private_one(api, account, file_server, monkeypatch):
    # The file server on 127.0.0.1 stands in for a public host: only its address is let through.
    real_check = safe_http.check_address

    def check(address):
        if address == "127.0.0.1":
            return
        real_check(address)

    monkeypatch.setattr(safe_http, "check_address", check)
    url = file_server.redirect("/a.png", "http://169.254.169.254/latest/meta-data/iam")
    r = api.post("precise-upscale", {"input": {"imageUrl": url}})
    assert r.status_code == 400 and "169.254.169.254 is not public" in r.json()["error"]
    account.refresh_from_db()
    assert account.balance == 100


def test_it_follows_at_most_three_redirects(api, file_server, settings):
    settings.UPSCALER_ALLOW_PRIVATE_URLS = True
    for i in range(5):
        file_server.redirect(f"/r{i}", f"/r{i + 1}")
    r = api.post("precise-upscale", {"input": {"imageUrl": file_server.url + "/r0"}})
    assert r.status_code == 400 and "more than 3 redirects" in r.json()["error"]


def test_it_caps_the_download_while_reading(api, file_server, settings):
    settings.UPSCALER_ALLOW_PRIVATE_URLS = True
    settings.MAX_INPUT_BYTES = 1000
    file_server.files["/big"] = (200, {}, b"x" * 5000)
    r = api.post("precise-upscale", {"input": {"imageUrl": file_server.url + "/big"}})
    assert r.status_code == 400 and "larger than" in r.json()["error"]


def test_webhooks_to_private_addresses_are_blocked_and_recorded(api, account):
    import base64

    from django.utils import timezone

    from jobs import webhooks
    from tests import images

    r = api.post(
        "precise-upscale",
        {"webhook": "http://169.254.169.254/hook", "input": {"imageBase64": base64.b64encode(images.png()).decode()}},
    )
    assert r.status_code == 200
    job = Job.objects.get(pk=r.json()["id"])
    Job.objects.filter(pk=job.pk).update(status="FAILED", finished_at=timezone.now())
    record, _ = webhooks.deliver(job, 1)
    assert not record.succeeded and record.error.startswith("blocked: the address 169.254.169.254 is not public")
