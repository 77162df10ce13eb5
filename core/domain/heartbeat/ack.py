"""The ack token (`HEARTBEAT_OK`): a result that says "nothing to report" is not delivered.

Rules (decisions 023 and 036):

- The model's markup is read first: HTML formatting tags (`<b>`, `<code>`, `<p>`, `<br>`, …)
  are removed (block tags become line breaks, a link keeps its address) and entities are decoded
  (`&nbsp;` is a no-break space). So a token wrapped in markup goes with its markup, and no
  empty tag or tag fragment is ever left behind. Text that is not one of those tags (`a < b`,
  `<VirtualHost *:80>`) is kept as written.
- The token counts only as a whole word (`HEARTBEAT_OKAY` is not the token), as the first or the
  last word of the result. The whitespace, punctuation and Markdown around it (`**HEARTBEAT_OK**`,
  `HEARTBEAT_OK.`, `— HEARTBEAT_OK —`) go with it; sentence punctuation of the neighbouring text
  stays. A token in the middle of a sentence is not the ack: the sentence is delivered as written.
- "Nothing left" means no letter and no digit (Unicode categories L* and N*): whitespace,
  punctuation, symbols and emoji (`HEARTBEAT_OK ✅`) alone are suppressed. Anything with a word
  in it is delivered without the token — a short real alert is never dropped for being short.
"""

from __future__ import annotations

import html
import re
import string
import unicodedata
from html.parser import HTMLParser
from typing import ClassVar

from pydantic import BaseModel

# Characters that may wrap the token and go with it: ASCII punctuation and Markdown symbols,
# typographic quotes and dashes, every Unicode punctuation character, whitespace (no-break
# space included) and the invisible spaces a model sometimes emits.
_EDGE_CHARS = set(string.punctuation) | set("–—…·•“”‘’«»") | {"\u200b", "\u2060", "\ufeff"}


class AckResult(BaseModel):
    suppressed: bool
    text: str  # what may be shown ("" when suppressed)
    had_token: bool = False


# --- the model's markup ------------------------------------------------------------------------


class _MarkupReader(HTMLParser):
    """Finds where the known formatting tags are. The stdlib parser does the tokenising (quoted
    attributes, `<` that opens no tag, unclosed tags); the text between tags is taken from the
    input itself, so nothing the parser does not recognise as a known tag is ever lost."""

    INLINE: ClassVar[frozenset[str]] = frozenset(
        "b strong i em u ins s strike del code span tg-spoiler tg-emoji font small big mark "
        "sub sup kbd samp tt q cite abbr var".split()
    )
    BLOCK: ClassVar[frozenset[str]] = frozenset(
        "br p div ul ol tr table thead tbody h1 h2 h3 h4 h5 h6 blockquote pre hr section "
        "article header footer".split()
    )

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        # (start offset, replacement or None for "the input text from here on")
        self.marks: list[tuple[int, str | None]] = []
        self._links: list[str] = []

    def _here(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], closing: bool) -> None:
        if tag == "li":
            self.marks.append((self._here(), "" if closing else "\n- "))
        elif tag == "a":
            if closing:
                href = self._links.pop() if self._links else ""
                self.marks.append((self._here(), f" ({href})" if href else ""))
            else:
                href = dict(attrs).get("href") or ""
                self._links.append(href if href.startswith(("http://", "https://")) else "")
                self.marks.append((self._here(), ""))
        elif tag in self.BLOCK:
            self.marks.append((self._here(), "\n"))
        elif tag in self.INLINE:
            self.marks.append((self._here(), ""))
        else:
            self.marks.append((self._here(), None))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, closing=False)

    def handle_endtag(self, tag: str) -> None:
        self._tag(tag, [], closing=True)

    def handle_data(self, data: str) -> None:
        self.marks.append((self._here(), None))

    def handle_comment(self, data: str) -> None:
        # A real comment is the model's aside; a "bogus comment" (`</ …>`, `<!x …>`) is text.
        here = self._here()
        self.marks.append((here, "" if self.text.startswith("<!--", here) else None))

    def plain(self) -> str:
        self.feed(self.text)
        self.close()
        bounds = [start for start, _ in self.marks] + [len(self.text)]
        out = [html.unescape(self.text[: bounds[0]])]
        for (start, replacement), end in zip(self.marks, bounds[1:], strict=True):
            out.append(html.unescape(self.text[start:end]) if replacement is None else replacement)
        return "".join(out)


def markup_to_text(text: str) -> str:
    """The model's HTML formatting as plain text: known tags removed (block tags and list items
    start a new line, a link keeps its address), entities decoded, blank runs shortened."""
    if "<" not in text and "&" not in text:
        return text
    plain = _MarkupReader(text).plain()
    plain = re.sub(r"[ \t]+\n", "\n", plain)
    return re.sub(r"\n{3,}", "\n\n", plain)


# --- the token ---------------------------------------------------------------------------------


def _is_edge(ch: str) -> bool:
    return ch.isspace() or ch in _EDGE_CHARS or unicodedata.category(ch).startswith("P")


def _is_word(ch: str) -> bool:
    """A letter or a digit: Unicode categories L* and N*."""
    return unicodedata.category(ch)[0] in "LN"


def meaningful(text: str) -> bool:
    """Whether anything but whitespace, punctuation, symbols and emoji is left."""
    return any(_is_word(ch) for ch in text)


def _word_char(ch: str) -> bool:
    return _is_word(ch) or ch == "_"


def _kept(chars: str) -> str:
    """What stays of the text between an edge of the result and the token: symbols and emoji
    (the wrapping markup and punctuation go with the token)."""
    return "".join(ch for ch in chars if not _is_edge(ch))


def _join(left: str, right: str) -> str:
    return f"{left} {right}" if left and right else left + right


def _wrapping_after(text: str, k: int) -> int:
    """Where the token's wrapping ends, reading right from `k`: whitespace, and runs of
    punctuation that stand alone (`**`, `.`, ` — `). A run touching the next word belongs to
    that word (`(but …)`, `__init__`) and stays."""
    while True:
        j = k
        while j < len(text) and _is_edge(text[j]) and not text[j].isspace():
            j += 1
        if j > k and j < len(text) and _word_char(text[j]):
            return k
        while j < len(text) and text[j].isspace():
            j += 1
        if j == k:
            return k
        k = j


def _wrapping_before(text: str, k: int) -> int:
    """The same, reading left from `k`: sentence punctuation of the text before (`full.`,
    `91%`) stays."""
    while True:
        j = k
        while j > 0 and _is_edge(text[j - 1]) and not text[j - 1].isspace():
            j -= 1
        if j < k and j > 0 and _word_char(text[j - 1]):
            return k
        while j > 0 and text[j - 1].isspace():
            j -= 1
        if j == k:
            return k
        k = j


def _strip_leading(text: str, token: str) -> tuple[str, bool]:
    i = 0
    while i < len(text) and not text.startswith(token, i) and not _is_word(text[i]):
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
    return _join(_kept(text[:i]), text[_wrapping_after(text, after) :]), True


def _strip_trailing(text: str, token: str) -> tuple[str, bool]:
    end = len(text)
    while end > 0 and not text.endswith(token, 0, end) and not _is_word(text[end - 1]):
        end -= 1
    if not text.endswith(token, 0, end):
        return text, False
    start = end - len(token)
    j = start
    while j > 0 and text[j - 1] == "_":
        j -= 1
    if j > 0 and _word_char(text[j - 1]):
        return text, False
    return _join(text[: _wrapping_before(text, start)], _kept(text[end:])), True


def strip_ack(result: str, token: str) -> AckResult:
    text = markup_to_text(result)
    found_start = found_end = False
    if token:
        text, found_start = _strip_leading(text, token)
        text, found_end = _strip_trailing(text, token)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    had = found_start or found_end
    if not meaningful(text):
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
