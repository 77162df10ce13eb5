"""The research address classifier and URL finder, as tables: which addresses count as the public
internet, and which URLs a goal names."""

from __future__ import annotations

import ipaddress

import pytest

from activities.research import find_urls
from activities.research_fetch import refusal_reason

REFUSED = [
    # IPv4
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "private"),  # "this network"
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local address (cloud metadata)"),
    ("169.254.1.1", "link-local"),
    ("100.64.0.1", "not a public address"),  # shared address space (carrier-grade NAT)
    ("192.0.0.1", "private"),  # IETF protocol assignments
    ("192.0.2.1", "private"),  # documentation
    ("198.18.0.1", "private"),  # benchmarking
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "private"),  # reserved for future use
    ("255.255.255.255", "private"),  # broadcast
    # IPv6
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fd00:ec2::254", "private address (cloud metadata)"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "private"),  # documentation
    ("::7f00:1", "reserved"),  # IPv4-compatible (deprecated)
    # IPv4 carried inside IPv6
    ("::ffff:127.0.0.1", "loopback address inside an IPv6 address"),
    ("::ffff:10.0.0.1", "private address inside an IPv6 address"),
    ("::ffff:169.254.169.254", "link-local address (cloud metadata) inside an IPv6 address"),
    ("2002:7f00:1::", "loopback address inside an IPv6 address"),  # 6to4
    ("2002:a9fe:a9fe::", "link-local address (cloud metadata) inside an IPv6 address"),
    ("64:ff9b::7f00:1", "loopback address inside an IPv6 address"),  # NAT64
]

PUBLIC = [
    "93.184.215.14",
    "1.1.1.1",
    "8.8.8.8",
    "172.32.0.1",  # just outside 172.16/12
    "100.128.0.1",  # just outside 100.64/10
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "2002:808:808::",  # 6to4 of a public address
    "64:ff9b::808:808",  # NAT64 of a public address
]


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_non_public_addresses_are_refused_with_a_reason(text: str, reason: str) -> None:
    got = refusal_reason(ipaddress.ip_address(text))
    assert got is not None and reason in got, (text, got)


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_pass(text: str) -> None:
    assert refusal_reason(ipaddress.ip_address(text)) is None


URLS = [
    ("see http://[::1]:8080/x now", ["http://[::1]:8080/x"]),
    ("http://[2001:db8::1]/a?b=c", ["http://[2001:db8::1]/a?b=c"]),
    ("read https://example.com/page.", ["https://example.com/page"]),
    ("(see https://en.wikipedia.org/wiki/Go_(game)).", ["https://en.wikipedia.org/wiki/Go_(game)"]),
    ("[docs](https://docs.example.org/x)", ["https://docs.example.org/x"]),
    ("a http://2130706433/ and http://0x7f.1/", ["http://2130706433/", "http://0x7f.1/"]),
    ("twice http://a.example/ http://a.example/", ["http://a.example/"]),
    ("bad port http://example.com:99999/x", ["http://example.com:99999/x"]),
    ('quoted "https://q.example/p" done', ["https://q.example/p"]),
    ("nothing after https:// here", []),
    ("no url at all, notes.txt", []),
]


@pytest.mark.parametrize(("goal", "urls"), URLS)
def test_urls_found_in_a_goal(goal: str, urls: list[str]) -> None:
    assert find_urls(goal) == urls
