"""Pure text rendering for chat messages (Telegram HTML). Deterministic: workflows use it too."""

from __future__ import annotations

import html
import json
import re
import unicodedata

from core.domain.messages import Button

TELEGRAM_MAX_CHARS = 4096  # counted in UTF-16 code units

STATE_ICONS = {
    "queued": "🕓",
    "awaiting_approval": "✋",
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


# Characters a reader cannot see or that reorder what they see: controls (C0, DEL, C1), format
# characters (bidi overrides and isolates, zero-width joiners and spaces, the BOM: all of
# category Cf), line and paragraph separators, spaces other than U+0020, private-use, unassigned
# and surrogate code points.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cn", "Cs"})
NEWLINE_MARK = "⏎"


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: str, *, newline: str | None = NEWLINE_MARK) -> str:
    """`text` with every character a reader could not see, or that changes how the rest reads,
    written as a `\\u202e`-style escape. Newlines become `newline` (a visible ⏎ by default, so
    untrusted text cannot make lines of its own); `newline=None` escapes them as `\\u000a`.
    The one rendering of untrusted text in approval requests, job cards, /job and the console."""
    out: list[str] = []
    for ch in text:
        if ch == " ":
            out.append(ch)
        elif ch == "\n" and newline is not None:
            out.append(newline)
        elif unicodedata.category(ch) in _HIDDEN_CATEGORIES:
            out.append(_escaped(ch))
        else:
            out.append(ch)
    return "".join(out)


def visible_literal(text: str) -> str:
    """One string, unambiguously: a JSON string literal (quotes and backslashes escaped, so an
    escape in the output can only come from an escaped character), with every character
    `visible` escapes escaped as well."""
    return visible(json.dumps(text, ensure_ascii=False), newline=None)


def visible_list(items: list[str]) -> str:
    """A list of strings (an argv) as a JSON-like list of `visible_literal`s."""
    return "[" + ", ".join(visible_literal(item) for item in items) + "]"


_TAG = re.compile(r"<[^>]+>")


def html_to_plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


# A button's data is `action:target`; in the console it is shown as the command that does the
# same. Actions that are not also a command's name are mapped here.
CONSOLE_BUTTON_COMMANDS = {"hb": "heartbeat infer"}


def button_command(data: str) -> str:
    """The chat command a button stands for. Only the FIRST colon separates the action: the
    target keeps its own (scheduled runs' ids end in a time such as `…T02:04:00Z`)."""
    action, _, target = data.partition(":")
    name = CONSOLE_BUTTON_COMMANDS.get(action, action)
    return f"/{name} {target}" if target else f"/{name}"


def console_text(text: str, buttons: list[Button]) -> str:
    """A message as the console shows it: plain text, each button as the command it stands for."""
    body = html_to_plain(text)
    if buttons:
        body += "\n  " + "  ".join(f"[{b.label}: {button_command(b.data)}]" for b in buttons)
    return body


def elapsed(seconds: float) -> str:
    """A span of time as a person reads it: "45 s", "12 min", "3 h 20 min", "4 days"."""
    whole = max(int(seconds), 0)
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min"
    if whole < 172800:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} days"


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


# One unit of Telegram HTML: a tag, an entity, or a single character. A split happens only
# between atoms, so it never lands inside a tag (`<a href=…>`) or an entity (`&amp;`).
_ATOM = re.compile(r"<[^<>]*>|&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});|[\s\S]")
_TAG_NAME = re.compile(r"^</?\s*([a-zA-Z][a-zA-Z0-9-]*)")
_VOID_TAGS = frozenset({"br"})


def _atom_width(atom: str) -> int:
    """Visible UTF-16 units (Telegram counts the text after entity parsing)."""
    if atom.startswith("<") and atom.endswith(">") and len(atom) > 1:
        return 0
    if atom.startswith("&") and len(atom) > 1:
        return 1
    return utf16_len(atom)


def split_message(text: str, limit: int = TELEGRAM_MAX_CHARS) -> list[str]:
    """Split Telegram HTML into parts of at most `limit` visible UTF-16 units.

    Cuts prefer a paragraph break, then a line break, then a space, and fall back to a hard cut
    between characters; never inside a tag or an entity. Tags open at a cut are closed at the
    end of the part and reopened (same attributes) at the start of the next one, so every part
    is valid HTML on its own."""
    atoms = _ATOM.findall(text)
    if sum(_atom_width(a) for a in atoms) <= limit:
        return [text]
    parts: list[str] = []
    stack: list[tuple[str, str]] = []  # (tag name, raw opening tag)
    start = 0
    while start < len(atoms):
        prefix = "".join(raw for _, raw in stack)
        cut, cut_stack, end_stack = _find_cut(atoms, start, list(stack), limit)
        body = "".join(atoms[start:cut])
        closing = "".join(f"</{name}>" for name, _ in reversed(cut_stack))
        part = (prefix + body).rstrip("\n ") if cut < len(atoms) else prefix + body
        if _visible(part):
            parts.append(part + (closing if cut < len(atoms) else ""))
        start = cut
        stack = cut_stack if cut < len(atoms) else end_stack
        # The next part starts at the next visible text, not with the separator we cut at.
        while start < len(atoms) and atoms[start] in ("\n", " "):
            start += 1
    return parts or [""]


def _visible(part: str) -> bool:
    return any(_atom_width(a) and not a.isspace() for a in _ATOM.findall(part))


def _apply_tag(atom: str, stack: list[tuple[str, str]]) -> None:
    match = _TAG_NAME.match(atom)
    if not match:
        return
    name = match.group(1).lower()
    if name in _VOID_TAGS or atom.endswith("/>"):
        return
    if atom.startswith("</"):
        for index in range(len(stack) - 1, -1, -1):
            if stack[index][0] == name:
                del stack[index:]
                break
    else:
        stack.append((name, atom))


def _find_cut(
    atoms: list[str], start: int, stack: list[tuple[str, str]], limit: int
) -> tuple[int, list[tuple[str, str]], list[tuple[str, str]]]:
    """(end index of this part, tags open there, tags open at the end of the text)."""
    used = 0
    best: dict[str, tuple[int, list[tuple[str, str]]]] = {}
    index = start
    while index < len(atoms):
        atom = atoms[index]
        width = _atom_width(atom)
        if used + width > limit and index > start:
            break
        used += width
        if width == 0:
            _apply_tag(atom, stack)
        index += 1
        if used > limit // 4:
            previous = atoms[index - 2] if index - 2 >= start else ""
            if atom == "\n" and previous == "\n":
                best["paragraph"] = (index, list(stack))
            elif atom == "\n":
                best["line"] = (index, list(stack))
            elif atom == " ":
                best["word"] = (index, list(stack))
    else:
        return len(atoms), list(stack), list(stack)
    for kind in ("paragraph", "line", "word"):
        if kind in best:
            return best[kind][0], best[kind][1], []
    return index, list(stack), []
