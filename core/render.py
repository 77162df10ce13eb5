"""Pure text rendering for chat messages (Telegram HTML). Deterministic: workflows use it too."""

from __future__ import annotations

import html

TELEGRAM_MAX_CHARS = 4096  # counted in UTF-16 code units

STATE_ICONS = {
    "queued": "🕓",
    "running": "▶️",
    "retrying": "🔁",
    "needs_attention": "⚠️",
    "completed": "✅",
    "failed": "❌",
    "cancelled": "⏹",
}


def esc(text: object) -> str:
    """Escape for Telegram HTML: only & < > matter."""
    return html.escape(str(text), quote=False)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def truncate_utf16(text: str, limit: int, marker: str = "…") -> str:
    if utf16_len(text) <= limit:
        return text
    budget = limit - utf16_len(marker)
    out: list[str] = []
    used = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > budget:
            break
        out.append(ch)
        used += width
    return "".join(out) + marker


def tail_text(text: str, limit: int) -> str:
    """The last `limit` UTF-16 units of `text`, cut at a line start where possible."""
    if utf16_len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    if 0 <= newline < len(cut) // 3:
        cut = cut[newline + 1 :]
    while utf16_len(cut) > limit:
        cut = cut[1:]
    return cut


def split_message(text: str, limit: int = TELEGRAM_MAX_CHARS) -> list[str]:
    """Split plain (already escaped) text into chunks ≤ limit, at paragraph, then line, then
    word boundaries; never inside an HTML entity like `&amp;`."""
    chunks: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        window = truncate_utf16(rest, limit, marker="")
        cut = -1
        for sep in ("\n\n", "\n", " "):
            idx = window.rfind(sep)
            if idx > len(window) // 4:
                cut = idx + len(sep)
                break
        if cut <= 0:
            cut = len(window)
            amp = window.rfind("&", max(0, cut - 8))
            if amp != -1 and ";" not in window[amp:cut]:
                cut = amp or cut
        chunks.append(rest[:cut].rstrip("\n") or rest[:cut])
        rest = rest[cut:]
    if rest.strip():
        chunks.append(rest)
    return chunks or [""]
