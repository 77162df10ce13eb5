"""Checks over what a chat was sent: internals (tracebacks, exception class paths) belong in
the log, never in a message a person reads."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tests.support.botapi import SentMessage

INTERNALS = re.compile(
    r"Traceback \(most recent call last\)"
    r'|File "[^"]+", line \d+'
    r"|\b(?:[a-z_][a-z0-9_]*\.)+[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\b"
)


def internals_in(messages: Iterable[SentMessage]) -> list[str]:
    """The texts (and captions) that show a traceback or an exception's class path."""
    return [
        m.text
        for m in messages
        if m.text is not None and (INTERNALS.search(m.text) or INTERNALS.search(m.plain_text or ""))
    ]


def assert_no_internals(messages: Iterable[SentMessage]) -> None:
    found = internals_in(messages)
    assert not found, f"internals shown in a chat: {[t[:300] for t in found]}"
