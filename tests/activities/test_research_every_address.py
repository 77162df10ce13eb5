"""A host name may resolve to several addresses; a connection could go to any of them. Every
one must be public, or the URL is refused — a public first answer does not vouch for a
loopback second one. The resolver is replaced by a fixed answer (no DNS, no network)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import httpx
import pytest

from activities.research_fetch import AddressGuard, IPAddress, RefusedURL, fetch_public

PUBLIC = ipaddress.ip_address("93.184.215.14")
PUBLIC_V6 = ipaddress.ip_address("2606:4700:4700::1111")
LOOPBACK = ipaddress.ip_address("127.0.0.1")
METADATA = ipaddress.ip_address("169.254.169.254")


@dataclass
class FixedAnswers(AddressGuard):
    """The guard with a resolver that answers from a table."""

    answers: dict[str, list[IPAddress]] = field(default_factory=dict)

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        return self.answers[host]


@pytest.mark.parametrize(
    ("addresses", "named"),
    [
        ([PUBLIC, LOOPBACK], "127.0.0.1"),
        ([PUBLIC, PUBLIC_V6, METADATA], "169.254.169.254"),
        ([LOOPBACK, PUBLIC], "127.0.0.1"),
    ],
)
async def test_a_name_with_any_address_inside_is_refused(
    addresses: list[IPAddress], named: str
) -> None:
    guard = FixedAnswers(answers={"mixed.example": addresses})
    with pytest.raises(RefusedURL, match=f"mixed.example \\({named}\\) is a"):
        await guard.checked_address(httpx.URL("https://mixed.example/page"))


async def test_a_name_with_only_public_addresses_is_pinned_to_the_first() -> None:
    guard = FixedAnswers(answers={"public.example": [PUBLIC, PUBLIC_V6]})
    assert await guard.checked_address(httpx.URL("http://public.example/")) == PUBLIC


async def test_nothing_is_requested_from_a_refused_name() -> None:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, text="should not be read")

    guard = FixedAnswers(answers={"mixed.example": [PUBLIC, LOOPBACK]})
    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        with pytest.raises(RefusedURL):
            await fetch_public(client, guard, "http://mixed.example/", max_bytes=100)
        # The same client fetches a public-only name: the request goes to the checked address.
        guard.answers["public.example"] = [PUBLIC]
        fetched = await fetch_public(client, guard, "http://public.example/x", max_bytes=100)
    assert [str(r.url) for r in requests] == ["http://93.184.215.14/x"]
    assert requests[0].headers["host"] == "public.example"
    assert fetched.body == b"should not be read" and fetched.url == "http://public.example/x"
