"""Outbound HTTP for client-supplied URLs (imageUrl, webhooks) that cannot reach the inside.

Every connection resolves the host itself, refuses it unless every address is public, and
connects to the address it checked (so DNS rebinding fails). IPv6 loopback, link-local and
metadata addresses, IPv6 addresses that embed a non-public IPv4 address (mapped,
compatible, NAT64, 6to4, Teredo, ISATAP) and numeric forms like http://2130706433/ are
refused the same way, before any packet is sent. Redirects are followed by hand,
re-checked, at most MAX_REDIRECTS times.

Inside `deadline(seconds)` no wait of these connections outlasts the time left: DNS,
connect, the TLS handshake and every send and read each wait at most min(their own
timeout, time left), then fail with DeadlineExceeded. A per-read timeout alone does not
bound a download: a server sending a byte every few seconds never trips it.
"""

from __future__ import annotations

import contextvars
import errno
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.ssl_ import create_urllib3_context, resolve_cert_reqs, resolve_ssl_version

MAX_REDIRECTS = 3
USER_AGENT = "upscaler-platform/1.0"


class BlockedURLError(ValueError):
    """The URL may not be fetched; the message says why."""


# IPv6 ranges whose addresses carry an IPv4 address in their last 32 bits: packets to them
# can end up at that IPv4 address (through a translator or tunnel, or the host itself).
_LOW32_EMBEDDING = [
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated): ::127.0.0.1
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT): ::ffff:0:127.0.0.1
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix: 64:ff9b::127.0.0.1
]
# Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the operator's prefix
# length, so none of it counts as public.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)  # interface identifier ::0:5efe:a.b.c.d / ::200:5efe:a.b.c.d


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, compatible, translated, NAT64,
    6to4, Teredo (server and de-obfuscated client) and ISATAP forms."""
    found = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if any(ip in net for net in _LOW32_EMBEDDING) or (int(ip) >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        found.append(low32)
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    return found


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # Python counts IPv6 site-local (fec0::/10, deprecated by RFC 3879 but still routed
    # inside some networks) as global: it is not.
    site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
    return ip.is_global and not ip.is_multicast and not site_local


def check_address(address: str) -> None:
    """Refuse an address unless it is public, and so is every IPv4 address it embeds."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if settings.UPSCALER_ALLOW_PRIVATE_URLS:
        return
    if not _is_public(ip) or ip in _LOCAL_NAT64:
        raise BlockedURLError(
            f"the address {ip} is not public (loopback, private, link-local, site-local, metadata and "
            "multicast addresses are refused)"
        )
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in embedded_ipv4(ip):
            if not _is_public(inner):
                raise BlockedURLError(
                    f"the address {ip} embeds {inner}, which is not public (IPv6 forms of "
                    "loopback, private, link-local and metadata addresses are refused)"
                )


class DeadlineExceeded(TimeoutError):
    """The overall deadline passed (to the HTTP stack, a socket timeout)."""


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("safe_http_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every socket wait of these connections within the block ends `seconds` from now at
    the latest. A nested deadline cannot extend an outer one."""
    at = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(at if outer is None else min(at, outer))
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left() -> float | None:
    """Seconds left before the current deadline; None outside one."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


def _bounded(timeout: float | None) -> tuple[float | None, bool]:
    """(the timeout cut to the time left, whether the deadline is what bounds it)."""
    left = time_left()
    if left is None:
        return timeout, False
    if left <= 0:
        raise DeadlineExceeded("the deadline passed")
    if timeout is None or left < timeout:
        return left, True
    return timeout, False


if TYPE_CHECKING:  # what the mixins below are mixed into
    _SocketBase = socket.socket
    _ConnectionBase = HTTPConnection
else:
    _SocketBase = _ConnectionBase = object


class _DeadlineMixin(_SocketBase):
    """Socket methods that wait at most min(the socket's timeout, time left). The timeout
    asked for is kept (gettimeout), the one applied to each wait is cut to the deadline."""

    _asked_timeout: float | None

    def settimeout(self, value):
        self._asked_timeout = value
        super().settimeout(value)

    def gettimeout(self):
        try:
            return self._asked_timeout
        except AttributeError:  # never set: the socket's own default
            return super().gettimeout()

    def _wait(self, method, *args, **kwargs):
        timeout, by_deadline = _bounded(self.gettimeout())
        socket.socket.settimeout(self, timeout)
        try:
            return method(*args, **kwargs)
        except TimeoutError:
            if by_deadline:
                raise DeadlineExceeded("the deadline passed") from None
            raise


class _DeadlineSocket(_DeadlineMixin, socket.socket):
    def connect(self, address):
        return self._wait(super().connect, address)

    def recv(self, *args, **kwargs):
        return self._wait(super().recv, *args, **kwargs)

    def recv_into(self, *args, **kwargs):
        return self._wait(super().recv_into, *args, **kwargs)

    def send(self, *args, **kwargs):
        return self._wait(super().send, *args, **kwargs)

    def sendall(self, *args, **kwargs):
        return self._wait(super().sendall, *args, **kwargs)


class _DeadlineSSLSocket(_DeadlineMixin, ssl.SSLSocket):
    # recv, recv_into and sendall go through read and send.
    def do_handshake(self, *args, **kwargs):
        return self._wait(super().do_handshake, *args, **kwargs)

    def read(self, *args, **kwargs):
        return self._wait(super().read, *args, **kwargs)

    def write(self, *args, **kwargs):
        return self._wait(super().write, *args, **kwargs)

    def send(self, *args, **kwargs):
        return self._wait(super().send, *args, **kwargs)


# Name lookups run here when there is a deadline, so that a slow resolver (the system's
# waits seconds per server and attempt) cannot hold the caller past it.
_resolver = ThreadPoolExecutor(max_workers=16, thread_name_prefix="safe-http-dns")


def _getaddrinfo(host: str, port: int) -> list:
    def lookup():
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)

    timeout, _ = _bounded(None)
    if timeout is None:
        return lookup()
    future = _resolver.submit(lookup)
    try:
        return future.result(timeout=timeout)
    except FutureTimeoutError:
        future.cancel()
        raise DeadlineExceeded(f"resolving {host!r} took too long") from None


def _resolve_checked(host: str, port: int) -> str:
    """Resolve `host`; every address must be public. Returns the address to connect to, so
    the connection goes to the address that was checked (a rebinding DNS answer between
    check and connect cannot redirect it)."""
    try:
        infos = _getaddrinfo(host, port)
    except socket.gaierror:
        raise BlockedURLError(f"the host {host!r} could not be resolved") from None
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        check_address(address)
    return addresses[0]


class _GuardedConnectionMixin(_ConnectionBase):
    """Connects to the address it checked, through a socket that keeps to the deadline. The
    host name stays the connection's host: the Host header, TLS SNI and the certificate
    check need the name, not the address."""

    def _new_conn(self):
        try:
            address = _resolve_checked(self._dns_host, self.port)
        except DeadlineExceeded as exc:
            raise ConnectTimeoutError(self, f"Resolving {self.host} took too long.") from exc
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = _DeadlineSocket(family, socket.SOCK_STREAM)
        try:
            for level, option, value in self.socket_options or ():
                sock.setsockopt(level, option, value)
            if isinstance(self.timeout, (int, float)):
                sock.settimeout(self.timeout)
            sock.connect((address, self.port))
            check_address(sock.getpeername()[0])  # belt and braces: the peer we actually reached
        except BlockedURLError:
            sock.close()
            raise
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
        except OSError as exc:
            sock.close()
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc
        return sock


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    def connect(self):
        if self.ssl_context is None:
            # The context urllib3 would make, whose sockets keep to the deadline too.
            context = create_urllib3_context(
                ssl_version=resolve_ssl_version(self.ssl_version),
                ssl_minimum_version=self.ssl_minimum_version,
                ssl_maximum_version=self.ssl_maximum_version,
                cert_reqs=resolve_cert_reqs(self.cert_reqs),
            )
            if not (self.ca_certs or self.ca_cert_dir or self.ca_cert_data):
                context.load_default_certs()
            context.sslsocket_class = _DeadlineSSLSocket
            self.ssl_context = context
        super().connect()


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # never route client URLs through an operator's proxy settings
    adapter = _GuardedAdapter(max_retries=0)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    return s


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedURLError("only http and https URLs are allowed")
    if not parts.hostname:
        raise BlockedURLError("the URL has no host")
    if parts.username or parts.password:
        raise BlockedURLError("URLs with credentials are not allowed")


def _unwrap(exc: BaseException, cls: type[Exception] = BlockedURLError) -> Exception | None:
    """The `cls` exception behind one that requests or urllib3 wrapped it in, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, cls):
            return seen
        for arg in getattr(seen, "args", ()):
            if isinstance(arg, cls):
                return arg
            if isinstance(arg, Exception) and arg is not seen:
                found = _unwrap(arg, cls)
                if found:
                    return found
        seen = seen.__cause__ or seen.__context__
    return None


def request(method: str, url: str, *, timeout: tuple[float, float], **kwargs) -> requests.Response:
    """One request, no redirects followed, the peer address checked; within the current
    deadline(), if any. Raises BlockedURLError."""
    check_url(url)
    with session() as s:
        try:
            return s.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            blocked = _unwrap(exc)
            if blocked:
                raise blocked from None
            raise


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception behind it: its causes and contexts, and the exceptions
    requests and urllib3 carry in their arguments."""
    found: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        seen = todo.pop()
        if any(seen is f for f in found):
            continue
        found.append(seen)
        todo.extend(arg for arg in getattr(seen, "args", ()) if isinstance(arg, BaseException))
        todo.extend(e for e in (seen.__cause__, seen.__context__) if e is not None)
    return found


def describe_failure(exc: BaseException, *, peer: str, deadline_seconds: float) -> str:
    """What went wrong with a request that got no answer, in words a customer can act on
    ("connection refused by the receiver"), never the HTTP stack's exception text."""
    chain = _chain(exc)

    def first(kind: type[BaseException]):
        return next((e for e in chain if isinstance(e, kind)), None)

    left = time_left()
    if first(DeadlineExceeded) or first(requests.Timeout) or first(TimeoutError) or (left is not None and left <= 0):
        return f"timed out after {deadline_seconds:g} s without a complete answer from {peer}"
    bad_cert = first(ssl.SSLCertVerificationError)
    if bad_cert is not None:
        reason = getattr(bad_cert, "verify_message", "") or "it could not be verified"
        return f"TLS certificate invalid: {reason}"
    tls = first(ssl.SSLError)
    if tls is not None or first(requests.exceptions.SSLError):
        reason = str(getattr(tls, "reason", None) or "handshake failure").lower().replace("_", " ")
        return f"the TLS handshake with {peer} failed ({reason})"
    if first(ConnectionRefusedError):
        return f"connection refused by {peer}"
    if first(ConnectionResetError) or first(http.client.RemoteDisconnected) or first(BrokenPipeError):
        return f"{peer} closed the connection without answering"
    if any(isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) for e in chain):
        return f"{peer} cannot be reached (no route to its address)"
    if first(requests.exceptions.ChunkedEncodingError) or first(requests.exceptions.ContentDecodingError):
        return f"the answer from {peer} was malformed or cut short"
    if first(requests.exceptions.InvalidURL) or first(requests.exceptions.InvalidSchema):
        return "the URL is not valid"
    if first(requests.ConnectionError):
        return f"could not connect to {peer}"
    return f"the request to {peer} failed"


class FetchError(ValueError):
    """The image could not be fetched; the message says why, for the client."""


def fetch(url: str, *, max_bytes: int, deadline_seconds: float) -> bytes:
    """GET a client's image URL, all of it (name lookups, connects, redirects, every read)
    within `deadline_seconds`: redirects re-checked, the size cap enforced while reading.
    Raises FetchError."""
    timeout = (settings.IMAGE_FETCH_CONNECT_TIMEOUT, settings.IMAGE_FETCH_READ_TIMEOUT)
    with deadline(deadline_seconds):
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = request("GET", url, timeout=timeout, stream=True)
            except BlockedURLError as exc:
                raise FetchError(f"imageUrl is not allowed: {exc}.") from None
            except requests.RequestException as exc:
                raise _fetch_failed(exc, deadline_seconds, reading=False) from None
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                if response.status_code != 200:
                    raise FetchError(f"imageUrl could not be fetched: the server answered HTTP {response.status_code}.")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(_too_large(max_bytes))
                body = bytearray()
                try:
                    for chunk in response.iter_content(64 * 1024):
                        body += chunk
                        if len(body) > max_bytes:
                            raise FetchError(_too_large(max_bytes))
                except requests.RequestException as exc:
                    raise _fetch_failed(exc, deadline_seconds, reading=True) from None
                return bytes(body)
    raise FetchError(f"imageUrl could not be fetched: more than {MAX_REDIRECTS} redirects.")


def _fetch_failed(exc: requests.RequestException, deadline_seconds: float, *, reading: bool) -> FetchError:
    left = time_left()
    if _unwrap(exc, DeadlineExceeded) or (left is not None and left <= 0):
        why = f"the download took too long (more than {deadline_seconds:g} seconds)"
    elif isinstance(exc, requests.Timeout):
        why = "the server did not answer in time"
    elif reading:
        why = "the download was interrupted"
    else:
        why = type(exc).__name__
    return FetchError(f"imageUrl could not be fetched: {why}.")


def _too_large(max_bytes: int) -> str:
    return f"The image is larger than {max_bytes // (1024 * 1024)} MB, the largest allowed."
