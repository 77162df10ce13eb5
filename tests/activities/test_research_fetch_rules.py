"""The research fetch's rules with a fake resolver and a fake transport (no network): the
refusal wording for each kind of non-public address, the port and socket type every lookup
asks for, a lookup that never answers, each hop pinned to its checked address, redirects
recorded, the body cut at `max_bytes`, and the client's settings (no proxies from the
environment, no redirects followed by httpx, certificates checked, no pooled connections)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from ipaddress import ip_address
from typing import Any

import httpx
import pytest

from activities.research_fetch import (
    AddressGuard,
    RefusedURL,
    UnresolvedHost,
    _pinned,
    fetch_public,
    refusal_reason,
    research_client,
)

PUBLIC = "93.184.216.34"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("224.0.0.1", "a multicast address"),
        ("4000::1", "a reserved address"),  # IPv6 space not yet allocated
        ("100.64.0.1", "not a public address"),  # shared address space (carrier-grade NAT)
        ("169.254.1.1", "a link-local address"),
        ("169.254.169.254", "a link-local address (cloud metadata)"),
        ("fd00:ec2::254", "a private address (cloud metadata)"),
        ("10.0.0.1", "a private address"),
    ],
)
def test_each_kind_of_address_is_refused_in_its_own_words(address: str, reason: str) -> None:
    assert refusal_reason(ip_address(address)) == reason


class FakeResolver:
    """Stands in for the event loop's `getaddrinfo`: records each lookup, answers `answers`."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[tuple[str, object, dict[str, Any]]] = []

    async def __call__(self, host: str, port: object, **kw: Any) -> list[Any]:
        self.lookups.append((host, port, kw))
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in self.answers[host]]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, list[str]]], FakeResolver]:
    def install(answers: dict[str, list[str]]) -> FakeResolver:
        fake = FakeResolver(answers)
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake)
        return fake

    return install


@pytest.mark.parametrize(
    ("url", "port"),
    [("http://example.test/", 80), ("https://example.test/", 443), ("http://example.test:81/", 81)],
)
async def test_a_lookup_asks_for_the_urls_port_and_stream_sockets(
    resolver: Callable[[dict[str, list[str]]], FakeResolver], url: str, port: int
) -> None:
    fake = resolver({"example.test": [PUBLIC]})
    assert await AddressGuard().checked_address(httpx.URL(url)) == ip_address(PUBLIC)
    assert fake.lookups == [("example.test", port, {"type": socket.SOCK_STREAM})]


async def test_unresolvable_hosts_are_named(
    resolver: Callable[[dict[str, list[str]]], FakeResolver], monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver({"empty.test": []})
    with pytest.raises(UnresolvedHost, match=r"^could not resolve nowhere\.test$"):
        await AddressGuard().resolve("nowhere.test", 80)
    with pytest.raises(UnresolvedHost, match=r"^could not resolve empty\.test$"):
        await AddressGuard().resolve("empty.test", 80)

    async def never(*args: object, **kw: object) -> list[Any]:
        await asyncio.Event().wait()
        return []

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", never)
    guard = AddressGuard(resolve_timeout=0.05)
    with pytest.raises(UnresolvedHost, match=r"^could not resolve slow\.test: no answer in time$"):
        await asyncio.wait_for(guard.resolve("slow.test", 80), 10)


def test_allowing_private_networks_lifts_the_address_check() -> None:
    loopback = ip_address("127.0.0.1")
    assert AddressGuard(allow_private=True).refusal(loopback, 80) is None
    assert AddressGuard().refusal(loopback, 80) == "a loopback address"


def test_a_hop_is_pinned_with_its_original_name() -> None:
    url, address = httpx.URL("https://example.test:8443/a?b=1"), ip_address(PUBLIC)
    assert _pinned(url, address) == (
        httpx.URL(f"https://{PUBLIC}:8443/a?b=1"),
        {"Host": "example.test:8443"},
        {"sni_hostname": "example.test"},
    )
    plain = _pinned(httpx.URL("http://example.test/"), address)
    assert plain == (httpx.URL(f"http://{PUBLIC}/"), {"Host": "example.test"}, {})


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        ("ftp://example.test/x", RefusedURL, "ftp URLs are not fetched"),
        ("//example.test/x", RefusedURL, "scheme-less URLs are not fetched"),
        ("http:///x", httpx.InvalidURL, "the URL has no host"),
        ("http://example.test:0/", httpx.InvalidURL, "port 0 is out of range"),
        ("http://example.test:65536/", httpx.InvalidURL, "port 65536 is out of range"),
    ],
)
async def test_urls_that_are_not_fetched_say_why(
    url: str, error: type[Exception], message: str
) -> None:
    async with _client(lambda request: httpx.Response(200)) as client:
        with pytest.raises(error) as caught:
            await fetch_public(client, AddressGuard(allow_private=True), url, max_bytes=10)
    assert str(caught.value) == message


@pytest.mark.parametrize("port", [1, 65535])
async def test_the_edge_ports_are_fetched(port: int) -> None:
    async with _client(lambda request: httpx.Response(200, content=b"ok")) as client:
        url = f"http://example.test:{port}/"
        fetched = await fetch_public(client, AddressGuard(allow_private=True), url, max_bytes=10)
    assert fetched.url == url and fetched.body == b"ok"


async def test_redirects_are_recorded_and_the_body_is_read_with_its_headers(
    resolver: Callable[[dict[str, list[str]]], FakeResolver],
) -> None:
    resolver({"a.test": [PUBLIC], "b.test": [PUBLIC]})
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers["host"] == "a.test":
            return httpx.Response(302, headers={"location": "https://b.test/next"})
        headers = {"content-type": "text/plain; charset=iso-8859-1"}
        return httpx.Response(200, headers=headers, content=b"caf\xe9")

    async with _client(handler) as client:
        fetched = await fetch_public(client, AddressGuard(), "http://a.test/", max_bytes=10)
    assert fetched.redirects == ["https://b.test/next"] and fetched.url == "https://b.test/next"
    assert (fetched.status, fetched.body, fetched.truncated) == (200, b"caf\xe9", False)
    assert fetched.content_type == "text/plain; charset=iso-8859-1"
    assert fetched.encoding == "iso-8859-1"
    assert [str(r.url) for r in seen] == [f"http://{PUBLIC}/", f"https://{PUBLIC}/next"]
    assert seen[1].extensions["sni_hostname"] == "b.test"


async def test_a_response_without_a_content_type_has_an_empty_one() -> None:
    async with _client(lambda request: httpx.Response(200, content=b"x")) as client:
        guard = AddressGuard(allow_private=True)
        fetched = await fetch_public(client, guard, "http://example.test/", max_bytes=10)
    assert fetched.content_type == "" and fetched.body == b"x"


async def test_the_body_is_cut_after_max_bytes_and_said_so() -> None:
    guard = AddressGuard(allow_private=True)
    parts: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_chunks(*parts))

    async with _client(handler) as client:
        parts[:] = [b"12345", b"6"]
        cut = await fetch_public(client, guard, "http://example.test/", max_bytes=5)
        assert (cut.body, cut.truncated) == (b"12345", True)
        parts[:] = [b"123", b"45"]
        whole = await fetch_public(client, guard, "http://example.test/", max_bytes=5)
        assert (whole.body, whole.truncated) == (b"12345", False)


async def test_the_client_checks_certificates_and_ignores_the_environment() -> None:
    client = research_client(3.5)
    try:
        assert client.timeout == httpx.Timeout(3.5)
        assert client.follow_redirects is False
        assert client.trust_env is False
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert pool._max_keepalive_connections == 0
        assert pool._ssl_context.verify_mode == ssl.CERT_REQUIRED
    finally:
        await client.aclose()
