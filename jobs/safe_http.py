"""Outbound HTTP for client-supplied URLs (imageUrl, webhooks) that cannot reach the inside.

Every connection resolves the host itself, refuses it unless every address is public, and
connects to the address it checked (so DNS rebinding fails). IPv6 loopback, link-local and
metadata addresses, IPv6 addresses that embed a non-public IPv4 address (mapped,
compatible, NAT64, 6to4, Teredo, ISATAP) and numeric forms like http://2130706433/ are
refused the same way, before any packet is sent. Redirects are followed by hand,
re-checked, at most MAX_REDIRECTS times.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

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
    return ip.is_global and not ip.is_multicast


def check_address(address: str) -> None:
    """Refuse an address unless it is public, and so is every IPv4 address it embeds."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if settings.UPSCALER_ALLOW_PRIVATE_URLS:
        return
    if not _is_public(ip) or ip in _LOCAL_NAT64:
        raise BlockedURLError(
            f"the address {ip} is not public (loopback, private, link-local, metadata and "
            "multicast addresses are refused)"
        )
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in embedded_ipv4(ip):
            if not _is_public(inner):
                raise BlockedURLError(
                    f"the address {ip} embeds {inner}, which is not public (IPv6 forms of "
                    "loopback, private, link-local and metadata addresses are refused)"
                )


def _resolve_checked(host: str, port: int) -> str:
    """Resolve `host`; every address must be public. Returns the address to connect to, so
    the connection goes to the address that was checked (a rebinding DNS answer between
    check and connect cannot redirect it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise BlockedURLError(f"the host {host!r} could not be resolved") from None
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        check_address(address)
    return addresses[0]


class _GuardedConnectionMixin:
    """Connects to the address it checked. The host name stays the connection's host: the
    Host header, TLS SNI and the certificate check need the name, not the address."""

    def _new_conn(self):
        address = _resolve_checked(self._dns_host, self.port)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
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
    pass


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


def _unwrap(exc: Exception) -> BlockedURLError | None:
    seen = exc
    while seen is not None:
        if isinstance(seen, BlockedURLError):
            return seen
        for arg in getattr(seen, "args", ()):
            if isinstance(arg, BlockedURLError):
                return arg
            if isinstance(arg, Exception) and arg is not seen:
                found = _unwrap(arg)
                if found:
                    return found
        seen = seen.__cause__ or seen.__context__
    return None


def request(method: str, url: str, *, timeout: tuple[float, float], **kwargs) -> requests.Response:
    """One request, no redirects followed, the peer address checked. Raises BlockedURLError."""
    check_url(url)
    with session() as s:
        try:
            return s.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            blocked = _unwrap(exc)
            if blocked:
                raise blocked from None
            raise


class FetchError(ValueError):
    """The image could not be fetched; the message says why, for the client."""


def fetch(url: str, *, max_bytes: int) -> bytes:
    """GET a client's image URL: redirects re-checked, the size cap enforced while reading."""
    timeout = (settings.IMAGE_FETCH_CONNECT_TIMEOUT, settings.IMAGE_FETCH_READ_TIMEOUT)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = request("GET", url, timeout=timeout, stream=True)
        except BlockedURLError as exc:
            raise FetchError(f"imageUrl is not allowed: {exc}.") from None
        except requests.Timeout:
            raise FetchError("imageUrl could not be fetched: the server did not answer in time.") from None
        except requests.RequestException as exc:
            raise FetchError(f"imageUrl could not be fetched: {type(exc).__name__}.") from None
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
            except requests.RequestException:
                raise FetchError("imageUrl could not be fetched: the download was interrupted.") from None
            return bytes(body)
    raise FetchError(f"imageUrl could not be fetched: more than {MAX_REDIRECTS} redirects.")


def _too_large(max_bytes: int) -> str:
    return f"The image is larger than {max_bytes // (1024 * 1024)} MB, the largest allowed."
