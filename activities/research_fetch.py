"""Fetching a URL for research: the public web only, unless the owner allows private networks.

Every hop of a fetch (the first request and each redirect, followed here by hand up to a small
limit) resolves its host, refuses it when any address it resolves to is not public (loopback,
private, link-local, multicast, unspecified, reserved — IPv4 and IPv6, IPv4 inside IPv6 too),
and then connects to exactly the address it checked: the URL's host is replaced by that address,
while the `Host` header and the TLS server name (so certificate checks) keep the original name.
A second DNS answer (rebinding) is therefore never asked for.

Classification uses the standard library's `ipaddress` module. Host spellings such as
`2130706433`, `0x7f.1` or `127.1` need no special parsing: the system resolver turns them into
the address they mean, and that address is what is classified.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

import httpx

IPAddress = IPv4Address | IPv6Address

MAX_REDIRECTS = 5
ALLOW_SETTING = "RESEARCH_ALLOW_PRIVATE_NETWORKS"

# IPv6 prefixes that carry an IPv4 address in their last 32 bits and route to it.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Cloud metadata services: named, since that is what reaching them usually means.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class RefusedURL(Exception):
    """A URL research will not fetch; the message says why, in words for the notes."""


class UnresolvedHost(Exception):
    """A host name the resolver has no address for (or did not answer for in time)."""


def refusal_reason(address: IPAddress) -> str | None:
    """Why `address` is not on the public internet, or None when it is."""
    if isinstance(address, IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:  # the IPv4 address is where a connection would go
            inner = refusal_reason(embedded)
            return None if inner is None else f"{inner} inside an IPv6 address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address" + (" (cloud metadata)" if address in _METADATA else "")
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address" + (" (cloud metadata)" if address in _METADATA else "")
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


@dataclass
class AddressGuard:
    """Decides which addresses research may connect to. `allow_private` lifts every check."""

    allow_private: bool = False
    resolve_timeout: float = 10.0

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.resolve_timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise UnresolvedHost(f"could not resolve {host}: no answer in time") from exc
        except (OSError, UnicodeError) as exc:
            raise UnresolvedHost(f"could not resolve {host}") from exc
        addresses: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]))
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise UnresolvedHost(f"could not resolve {host}")
        return addresses

    def refusal(self, address: IPAddress, port: int) -> str | None:
        """Why research may not connect to `address`:`port`, or None when it may."""
        return None if self.allow_private else refusal_reason(address)

    async def checked_address(self, url: httpx.URL) -> IPAddress | None:
        """The address to connect to for `url` (None: connect by name, nothing is checked).

        Every address the host resolves to must pass: a name that points at a public and a
        private address at once is refused, whichever one a connection would have picked."""
        if self.allow_private:
            return None
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await self.resolve(url.host, port)
        for address in addresses:
            reason = self.refusal(address, port)
            if reason is not None:
                shown = url.host if url.host == str(address) else f"{url.host} ({address})"
                raise RefusedURL(f"{shown} is {reason}; set {ALLOW_SETTING}=true to allow")
        return addresses[0]


@dataclass
class Fetched:
    url: str  # the URL finally read (after redirects)
    status: int
    content_type: str
    encoding: str | None
    body: bytes
    truncated: bool
    redirects: list[str] = field(default_factory=list)


def _pinned(url: httpx.URL, address: IPAddress) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """`url` aimed at `address`, with the Host header and TLS server name of the original."""
    headers = {"Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return url.copy_with(host=str(address)), headers, extensions


async def fetch_public(
    client: httpx.AsyncClient,
    guard: AddressGuard,
    url: str,
    *,
    max_bytes: int,
    max_redirects: int = MAX_REDIRECTS,
) -> Fetched:
    """GET `url`, following redirects by hand and checking every hop with `guard`.

    Raises RefusedURL (a hop the guard refuses, a non-http(s) redirect, too many redirects),
    UnresolvedHost, httpx.InvalidURL / ValueError / UnicodeError (a malformed URL) or
    httpx.HTTPError."""
    current = httpx.URL(url)
    redirects: list[str] = []
    while True:
        if current.scheme not in ("http", "https"):
            raise RefusedURL(f"{current.scheme or 'scheme-less'} URLs are not fetched")
        if not current.host:
            raise httpx.InvalidURL("the URL has no host")
        if current.port is not None and not 0 < current.port < 65536:
            raise httpx.InvalidURL(f"port {current.port} is out of range")
        try:
            address = await guard.checked_address(current)
        except (RefusedURL, UnresolvedHost) as exc:
            if redirects:
                raise type(exc)(f"redirected to {current}, and {exc}") from exc
            raise
        target = current
        headers: dict[str, str] = {}
        extensions: dict[str, str] = {}
        if address is not None:
            target, headers, extensions = _pinned(current, address)
        async with client.stream("GET", target, headers=headers, extensions=extensions) as resp:
            if resp.is_redirect:
                if len(redirects) >= max_redirects:
                    raise RefusedURL(f"more than {max_redirects} redirects")
                current = current.join(resp.headers["location"])
                redirects.append(str(current))
                continue
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    break
            return Fetched(
                url=str(current),
                status=resp.status_code,
                content_type=resp.headers.get("content-type", ""),
                encoding=resp.encoding,
                body=bytes(body[:max_bytes]),
                truncated=len(body) > max_bytes,
                redirects=redirects,
            )


def research_client(timeout: float, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The client research fetches with: redirects are followed by `fetch_public`; proxy
    settings from the environment are ignored (a proxy would connect where it likes); and no
    connection is kept for reuse, because the pool knows a pinned connection by its address
    only and would hand a TLS session verified for one name to a request for another."""
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        verify=verify,
        limits=httpx.Limits(max_keepalive_connections=0),
    )
