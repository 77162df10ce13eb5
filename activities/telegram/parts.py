"""How a chat message is cut into Bot API calls: up to `MAX_PARTS` messages of at most 4096
visible characters; past that, the first part with a note and the full text as a document."""

from __future__ import annotations

from collections.abc import Callable

from core.domain.render import TELEGRAM_MAX_CHARS, html_to_plain, split_message, utf16_len

# Told the number of items of one message delivered so far (parts, then documents), after each;
# a retry resumes after them.
OnSent = Callable[[int], None]

# Past this many parts a message is better read as a file: the chat gets the first part and the
# full text as a document.
MAX_PARTS = 5
OVERFLOW_NOTE = "\n\n<i>… too long for a chat; the full text is attached as a file.</i>"
OVERFLOW_FILENAME = "full-text.txt"


def plan_parts(text: str) -> tuple[list[str], str | None]:
    """(message parts, full plain text to attach as a document or None)."""
    parts = split_message(text)
    if len(parts) <= MAX_PARTS:
        return parts, None
    head = split_message(text, TELEGRAM_MAX_CHARS - utf16_len(OVERFLOW_NOTE))[0]
    return [head + OVERFLOW_NOTE], html_to_plain(text)
