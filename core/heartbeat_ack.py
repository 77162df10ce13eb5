"""The ack token (`HEARTBEAT_OK`): a result that says "nothing to report" is not delivered.

Rules (DESIGN.md §5b): the token counts only as a whole word, at the start or the end of the
result, with the markup and punctuation around it (`**HEARTBEAT_OK**`, `HEARTBEAT_OK.`)
stripped too. If nothing but whitespace/punctuation remains, the result is suppressed;
otherwise the remainder is delivered without the token. The token is never shown to a person,
so a stray one in the middle is removed as well (that alone does not suppress).
"""

from __future__ import annotations

import re
import string

from pydantic import BaseModel

# Markup and punctuation that may wrap the token: Markdown/HTML-ish symbols, quotes, dashes.
_EDGE_CHARS = set(string.punctuation) | set("–—…·•“”‘’«»")
# Punctuation that belongs to the text next to the token, not to the token's wrapping.
_OPENERS = set("([{")
_SENTENCE_END = set(".!?…)]}")


class AckResult(BaseModel):
    suppressed: bool
    text: str  # what may be shown ("" when suppressed)
    had_token: bool = False


def _is_edge(ch: str) -> bool:
    return ch.isspace() or ch in _EDGE_CHARS


def _meaningful(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _strip_leading(text: str, token: str) -> tuple[str, bool]:
    i = 0
    while i < len(text) and _is_edge(text[i]):
        i += 1
    if not text.startswith(token, i):
        return text, False
    after = i + len(token)
    # Whole word: not followed by a word character (`HEARTBEAT_OKAY`), but a run of
    # underscores closing Markdown emphasis (`__HEARTBEAT_OK__`) is markup, not a word.
    j = after
    while j < len(text) and text[j] == "_":
        j += 1
    if j < len(text) and _word_char(text[j]):
        return text, False
    k = after
    while k < len(text) and _is_edge(text[k]) and text[k] not in _OPENERS:
        k += 1
    return text[k:], True


def _strip_trailing(text: str, token: str) -> tuple[str, bool]:
    end = len(text)
    while end > 0 and _is_edge(text[end - 1]):
        end -= 1
    start = end - len(token)
    if start < 0 or text[start:end] != token:
        return text, False
    j = start
    while j > 0 and text[j - 1] == "_":
        j -= 1
    if j > 0 and _word_char(text[j - 1]):
        return text, False
    k = start
    while k > 0 and _is_edge(text[k - 1]) and text[k - 1] not in _SENTENCE_END:
        k -= 1
    return text[:k], True


def strip_ack(result: str, token: str) -> AckResult:
    if not token:
        return AckResult(suppressed=not _meaningful(result), text=result.strip())
    text, found_start = _strip_leading(result, token)
    text, found_end = _strip_trailing(text, token)
    # Never show the token: remove whole-word occurrences left in the middle too.
    middle = re.compile(rf"\s*(?<![A-Za-z0-9_]){re.escape(token)}(?![A-Za-z0-9_])[,;:]?")
    text, count = middle.subn("", text)
    had = found_start or found_end or count > 0
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    if not _meaningful(text):
        return AckResult(suppressed=True, text="", had_token=had)
    return AckResult(suppressed=False, text=text, had_token=had)


def scrub_echo(text: str, *sources: str) -> str:
    """Remove verbatim echoes of the prompt or the metadata preamble from a result: what the
    heartbeat was told is never shown to a person, only what it found."""
    for source in sources:
        block = source.strip()
        if len(block) >= 40 and block in text:
            text = text.replace(block, "")
    echoed = {
        line.strip()
        for source in sources
        for line in source.splitlines()
        if len(line.strip()) >= 25
    }
    if echoed:
        text = "\n".join(line for line in text.splitlines() if line.strip() not in echoed)
    return text
