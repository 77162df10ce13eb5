"""Splitting Telegram HTML into ≤ 4096-unit messages: at paragraph, then line, then word
boundaries; tags closed at a cut and reopened after it; never inside a tag or an entity."""

from __future__ import annotations

import pytest

from activities.telegram.parts import MAX_PARTS, OVERFLOW_NOTE, plan_parts
from core.domain.render import esc, split_message
from tests.support.botapi import parse_html, utf16_len


def visible(part: str) -> str:
    plain, _ = parse_html(part)  # raises on HTML Telegram would reject
    return plain


def squash(text: str) -> str:
    return "".join(text.split())


def test_a_20000_character_output_splits_into_valid_parts() -> None:
    lines = [f'{i:05d} <tag> & "quoted" output line of a long command' for i in range(420)]
    text = "<b>Output</b>\n<pre>" + esc("\n".join(lines)) + "</pre>"
    assert len(visible(text)) > 20_000
    parts = split_message(text)
    assert len(parts) == 6
    for part in parts:
        assert utf16_len(visible(part)) <= 4096
        assert part.count("<pre>") == part.count("</pre>") == 1  # reopened and closed
    assert squash("".join(visible(p) for p in parts)) == squash(visible(text))
    # Cuts fall on line boundaries: every part but the first starts with a line number.
    assert all(visible(p)[:5].isdigit() for p in parts[1:])


def test_paragraphs_are_preferred_to_lines_and_lines_to_words() -> None:
    para = "word " * 300
    text = "\n\n".join([para.strip()] * 6)
    parts = split_message(text, limit=4096)
    assert all(p.strip().startswith("word") and p.strip().endswith("word") for p in parts)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert squash("".join(parts)) == squash(text)


def test_no_cut_inside_an_entity_or_a_tag() -> None:
    text = '<a href="https://example.com/a?b=1&amp;c=2">' + "&amp;" * 5000 + "</a>"
    parts = split_message(text, limit=1000)
    for part in parts:
        plain = visible(part)
        assert set(plain) == {"&"} and len(plain) <= 1000
        assert part.startswith('<a href="https://example.com/a?b=1&amp;c=2">')
        assert part.endswith("</a>")
    assert sum(len(visible(p)) for p in parts) == 5000


def test_nested_tags_and_astral_characters() -> None:
    text = "<b>bold <i>" + "😀" * 3000 + "</i> end</b>"
    parts = split_message(text)
    assert len(parts) == 2
    for part in parts:
        assert utf16_len(visible(part)) <= 4096  # emoji count 2 units each
    assert parts[1].startswith("<b><i>")
    assert parts[0].endswith("</i></b>")


def test_short_text_is_untouched() -> None:
    assert split_message("<b>hi</b> &amp; bye") == ["<b>hi</b> &amp; bye"]


@pytest.mark.parametrize("size", [100, 4096 * MAX_PARTS - 500])
def test_plan_keeps_up_to_max_parts_in_the_chat(size: int) -> None:
    parts, document = plan_parts("x " * (size // 2))
    assert document is None and len(parts) <= MAX_PARTS


def test_plan_sends_a_very_long_text_as_a_document() -> None:
    text = "<pre>" + esc("line & more\n" * 4000) + "</pre>"
    parts, document = plan_parts(text)
    assert len(parts) == 1 and parts[0].endswith(OVERFLOW_NOTE)
    assert utf16_len(visible(parts[0])) <= 4096
    assert document is not None and document.startswith("line & more")
