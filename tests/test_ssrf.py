"""imageUrl and webhook targets never reach loopback, private, link-local, metadata or
multicast addresses, nor IPv6 addresses that embed one. Every refusal happens before a
packet is sent: during the refused cases every connection attempt made through Python's
socket module is recorded and refused, and a real listener on the URL's port must have
accepted nothing."""

from __future__ import annotations

import base64
import errno
import socket

import pytest
from django.utils import timezone

from billing.models import LedgerEntry
from jobs import safe_http, webhooks
from jobs.models import Job
from tests import images

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_urls_refused(settings):
    settings.UPSCALER_ALLOW_PRIVATE_URLS = False
    # Counters in the database (whose driver does not use Python sockets) rather than Redis:
    # the request path then opens no Python socket of its own, so any attempt is the fetch's.
    settings.COUNTER_STORE = "database"


class Connections:
    """Every connect made through Python's socket module; only `allowed` addresses go through."""

    def __init__(self):
        self.attempts: list[tuple] = []
        self.allowed: set[str] = set()

    def permits(self, address) -> bool:
        if isinstance(address, (str, bytes)):  # a Unix socket
            return True
        if address[0] in self.allowed:
            return True
        self.attempts.append(address)
        return False


@pytest.fixture
def connections(monkeypatch):
    """Refuse and record every connection attempt: the test asserts there was none."""
    record = Connections()
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create = socket.create_connection

    def connect(sock, address):
        if not record.permits(address):
            raise ConnectionRefusedError(errno.ECONNREFUSED, f"test: no connection to {address}")
        return real_connect(sock, address)

    def connect_ex(sock, address):
        if not record.permits(address):
            return errno.ECONNREFUSED
        return real_connect_ex(sock, address)

    def create_connection(address, *args, **kwargs):
        if not record.permits(address):
            raise ConnectionRefusedError(errno.ECONNREFUSED, f"test: no connection to {address}")
        return real_create(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return record


class Listener:
    """A real TCP listener on loopback: a connection that reached it waits in its backlog."""

    def __init__(self):
        self.sockets = []
        v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        v4.bind(("127.0.0.1", 0))
        self.port = v4.getsockname()[1]
        self.sockets.append(v4)
        if socket.has_ipv6:
            v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            try:
                v6.bind(("::1", self.port))
                self.sockets.append(v6)
            except OSError:  # no IPv6 loopback here, or the port is taken on it
                v6.close()
        for sock in self.sockets:
            sock.listen(16)
            sock.setblocking(False)

    def accepted(self) -> int:
        count = 0
        for sock in self.sockets:
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
        return count

    def close(self):
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def nothing_connects(connections, listener):
    """For refused cases: no attempt at all, and nothing reached loopback on the URL's port."""
    yield listener.port
    assert connections.attempts == [], f"connections were attempted: {connections.attempts}"
    assert listener.accepted() == 0, "a connection reached the loopback listener"


# Hosts (with the listener's port) and a fragment of the refusal. IPv6 forms that embed an
# IPv4 address name the embedded address.
REFUSED_HOSTS = [
    ("127.0.0.1", "127.0.0.1 is not public"),
    ("[::1]", "::1 is not public"),
    ("10.1.2.3", "10.1.2.3 is not public"),
    ("192.168.0.10", "192.168.0.10 is not public"),
    ("169.254.169.254", "169.254.169.254 is not public"),
    ("[fe80::1]", "fe80::1 is not public"),
    ("[fec0::1]", "fec0::1 is not public"),  # IPv6 site-local (fec0::/10), deprecated but routable
    ("[::ffff:10.0.0.1]", "10.0.0.1 is not public"),
    ("[::ffff:127.0.0.1]", "127.0.0.1 is not public"),
    ("2130706433", "127.0.0.1 is not public"),  # decimal-encoded 127.0.0.1
    ("0x7f.1", "127.0.0.1 is not public"),
    ("224.0.0.1", "224.0.0.1 is not public"),
    ("localhost", "is not public"),
]
# IPv6 spellings that carry an IPv4 address.
EMBEDDING_HOSTS = [
    ("[::127.0.0.1]", "127.0.0.1, which is not public"),  # IPv4-compatible (::/96)
    ("[::10.0.0.1]", "10.0.0.1, which is not public"),
    ("[2002:7f00:1::]", "127.0.0.1, which is not public"),  # 6to4 (2002::/16)
    ("[2002:a9fe:a9fe::1]", "169.254.169.254, which is not public"),
    ("[64:ff9b::7f00:1]", "127.0.0.1, which is not public"),  # NAT64 (64:ff9b::/96)
    ("[64:ff9b::a9fe:a9fe]", "169.254.169.254, which is not public"),
    ("[64:ff9b:1::7f00:1]", "is not public"),  # local-use NAT64 (64:ff9b:1::/48)
    ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "is not public"),  # Teredo, client 127.0.0.1
    ("[::ffff:0:7f00:1]", "127.0.0.1, which is not public"),  # IPv4-translated (::ffff:0:0:0/96)
    ("[2a00:1450::5efe:7f00:1]", "127.0.0.1, which is not public"),  # ISATAP interface id
]


@pytest.mark.parametrize(("host", "why"), REFUSED_HOSTS + EMBEDDING_HOSTS)
def test_it_refuses_non_public_image_urls(api, account, host, why, nothing_connects):
    url = f"http://{host}:{nothing_connects}/a.png"
    r = api.post("precise-upscale", {"input": {"imageUrl": url}})
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error.startswith("imageUrl is not allowed") and why in error, error
    account.refresh_from_db()
    assert account.balance == 100 and not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()


def test_it_refuses_urls_with_credentials(api, account, nothing_connects):
    r = api.post("precise-upscale", {"input": {"imageUrl": f"http://user:pw@example.com:{nothing_connects}/a.png"}})
    assert r.status_code == 400 and "credentials" in r.json()["error"]


@pytest.fixture
def finished_job(api):
    r = api.post(
        "precise-upscale",
        {"webhook": "https://example.com/hook", "input": {"imageBase64": base64.b64encode(images.png()).decode()}},
    )
    assert r.status_code == 200, r.content
    job = Job.objects.get(pk=r.json()["id"])
    Job.objects.filter(pk=job.pk).update(status="FAILED", finished_at=timezone.now())
    return job


@pytest.mark.parametrize(("host", "why"), REFUSED_HOSTS + EMBEDDING_HOSTS)
def test_webhooks_to_non_public_addresses_are_blocked_and_recorded(finished_job, host, why, nothing_connects):
    Job.objects.filter(pk=finished_job.pk).update(webhook_url=f"http://{host}:{nothing_connects}/hook")
    record, _ = webhooks.deliver(Job.objects.get(pk=finished_job.pk), 1)
    assert not record.succeeded and record.status_code is None
    assert record.error.startswith("not sent: the address") and why in record.error, record.error


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("64:ff9b::5db8:d822", True),  # NAT64 of the public 93.184.216.34
        ("2002:5db8:d822::1", True),  # 6to4 of the public 93.184.216.34
        ("::127.0.0.1", False),
        ("2002:7f00:1::", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b:1::5db8:d822", False),  # local use, whatever it embeds
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),
        ("100.64.0.1", False),  # CGNAT
        ("fec0::1", False),  # site-local
        ("feff:ffff::1", False),  # the top of fec0::/10
        ("::ffff:169.254.169.254", False),
    ],
)
def test_check_address_follows_embedded_ipv4(address, public):
    if public:
        safe_http.check_address(address)
    else:
        with pytest.raises(safe_http.BlockedURLError):
            safe_http.check_address(address)


def test_it_refuses_hostnames_that_resolve_to_private_addresses(api, account, monkeypatch, nothing_connects):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "images.example.com":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 80)),
            ]
        if host == "v6.example.com":
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("64:ff9b::7f00:1", 80, 0, 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    r = api.post("precise-upscale", {"input": {"imageUrl": "http://images.example.com/a.png"}})
    assert r.status_code == 400 and "10.0.0.7 is not public" in r.json()["error"]
    r = api.post("precise-upscale", {"input": {"imageUrl": "http://v6.example.com/a.png"}})
    assert r.status_code == 400 and "embeds 127.0.0.1" in r.json()["error"], r.json()
    account.refresh_from_db()
    assert account.balance == 100


def test_it_refuses_a_public_url_that_redirects_to_a_private_one(api, account, file_server, monkeypatch, connections):
    # The file server on 127.0.0.1 stands in for a public host: only its address is let through.
    real_check = safe_http.check_address

    def check(address):
        if address == "127.0.0.1":
            return
        real_check(address)

    monkeypatch.setattr(safe_http, "check_address", check)
    connections.allowed.add("127.0.0.1")
    url = file_server.redirect("/a.png", "http://169.254.169.254/latest/meta-data/iam")
    r = api.post("precise-upscale", {"input": {"imageUrl": url}})
    assert r.status_code == 400 and "169.254.169.254 is not public" in r.json()["error"]
    assert connections.attempts == []  # the redirect target was never tried
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


def test_the_guard_itself_sees_connections(connections, listener):
    """The checks above can fail: a plain connection to loopback is recorded and refused."""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", listener.port), timeout=2)
    sock = socket.socket()
    try:
        assert sock.connect_ex(("127.0.0.1", listener.port)) == errno.ECONNREFUSED
    finally:
        sock.close()
    assert [a[0] for a in connections.attempts] == ["127.0.0.1", "127.0.0.1"]
    assert listener.accepted() == 0
    # ...and without the guard the listener does see a connection.
    connections.allowed.add("127.0.0.1")
    with socket.create_connection(("127.0.0.1", listener.port), timeout=2):
        pass
    assert listener.accepted() == 1
