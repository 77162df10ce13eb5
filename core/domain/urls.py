"""The http(s) URLs a text names: what research fetches and what the approval rule shows and
checks. One function for both, so the URLs a person approves are exactly those fetched."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# A bracketed IPv6 host (`http://[::1]:8080/x`) or any run of characters that cannot end a URL.
URL_RE = re.compile(r"https?://(?:\[[0-9A-Za-z:.%]*\]|[^\s<>\"'\[\]])+", re.IGNORECASE)
TRAILING_PUNCTUATION = ".,;:!?"


def find_urls(text: str) -> list[str]:
    """The http(s) URLs `text` names, in order, once each, without the sentence punctuation or
    the closing parenthesis around them (`(see https://x.org/a_(b)).` gives `…/a_(b)`)."""
    urls = []
    for match in URL_RE.findall(text):
        url = match
        while url and (
            url[-1] in TRAILING_PUNCTUATION or (url[-1] == ")" and url.count(")") > url.count("("))
        ):
            url = url[:-1]
        if not url.endswith("://"):
            urls.append(url)
    return list(dict.fromkeys(urls))


def url_host(url: str) -> str | None:
    """The host a URL connects to, lower case; None when it has none or does not parse."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None
