"""The ack token: whole word, as the first or last word, with the markup (HTML or Markdown),
entities and punctuation around it; suppressed only when no letter or digit remains."""

from __future__ import annotations

import random

import pytest

from core.domain.heartbeat.ack import markup_to_text, scrub_echo, strip_ack

TOKEN = "HEARTBEAT_OK"


@pytest.mark.parametrize(
    "result",
    [
        "HEARTBEAT_OK",
        "  HEARTBEAT_OK  \n",
        "HEARTBEAT_OK.",
        "HEARTBEAT_OK!",
        "**HEARTBEAT_OK**",
        "__HEARTBEAT_OK__",
        "`HEARTBEAT_OK`",
        "> HEARTBEAT_OK",
        "— HEARTBEAT_OK —",
        '"HEARTBEAT_OK"',
        "HEARTBEAT_OK HEARTBEAT_OK",
        "...",
        "",
    ],
)
def test_nothing_but_the_token_is_suppressed(result: str) -> None:
    outcome = strip_ack(result, TOKEN)
    assert outcome.suppressed and outcome.text == ""


@pytest.mark.parametrize(
    ("result", "shown"),
    [
        ("HEARTBEAT_OK — disk at 91% on /var", "disk at 91% on /var"),
        ("Disk at 91% on /var. **HEARTBEAT_OK**", "Disk at 91% on /var."),
        ("HEARTBEAT_OK: backup failed", "backup failed"),
        ("Backup failed.\n\nHEARTBEAT_OK", "Backup failed."),
        ("Disk full.", "Disk full."),  # a short real alert is never dropped for being short
        ("HEARTBEAT_OK (but the backup is late)", "(but the backup is late)"),
    ],
)
def test_the_remainder_is_delivered_without_the_token(result: str, shown: str) -> None:
    outcome = strip_ack(result, TOKEN)
    assert not outcome.suppressed
    assert outcome.text == shown
    assert TOKEN not in outcome.text


@pytest.mark.parametrize(
    "result", ["HEARTBEAT_OKAY", "HEARTBEAT_OK_2 failed", "NOT_HEARTBEAT_OK", "xHEARTBEAT_OK"]
)
def test_only_the_whole_word_counts(result: str) -> None:
    outcome = strip_ack(result, TOKEN)
    assert not outcome.suppressed and outcome.text == result


# Every variant peers' heartbeat implementations are tested with, and the ones they got wrong:
# (model output, what the person is shown; "" = suppressed, nothing is sent).
VECTORS = [
    # the token alone, with punctuation, with Markdown
    ("HEARTBEAT_OK", ""),
    ("HEARTBEAT_OK.", ""),
    ("HEARTBEAT_OK!!", ""),
    ("**HEARTBEAT_OK**", ""),
    ("*HEARTBEAT_OK*.", ""),
    # wrapped in HTML: the markup goes with the token, no empty tag or fragment is left
    ("<b>HEARTBEAT_OK</b>", ""),
    ("<B>HEARTBEAT_OK</B>", ""),
    ("<b><i>HEARTBEAT_OK</i></b>", ""),
    ("<p>HEARTBEAT_OK</p>", ""),
    ("HEARTBEAT_OK<br>", ""),
    ("HEARTBEAT_OK<br/>", ""),
    ("<code>HEARTBEAT_OK</code>", ""),
    ("<code>HEARTBEAT_OK</code> all good", "all good"),
    ("<tg-spoiler>HEARTBEAT_OK</tg-spoiler>", ""),
    ("<!-- status --> HEARTBEAT_OK", ""),
    # entities and the no-break space (U+00A0) around it
    ("&nbsp;HEARTBEAT_OK&nbsp;", ""),
    ("&#160;HEARTBEAT_OK&#xa0;", ""),
    ("\u00a0HEARTBEAT_OK\u00a0", ""),
    ("\u200bHEARTBEAT_OK\ufeff", ""),
    # nothing but emoji or symbols left: no letter, no digit, nothing to act on
    ("HEARTBEAT_OK ✅", ""),
    ("👍 HEARTBEAT_OK", ""),
    ("HEARTBEAT_OK &#9989;", ""),
    ("HEARTBEAT_OK 👨\u200d💻", ""),
    ("HEARTBEAT_OK → ★", ""),
    # token plus a real alert, at the start and at the end
    ("HEARTBEAT_OK — disk at 91% on /var", "disk at 91% on /var"),
    ("<b>HEARTBEAT_OK</b> Disk full on /var", "Disk full on /var"),
    ("<p>HEARTBEAT_OK</p><p>Disk full on /var</p>", "Disk full on /var"),
    ("Disk full on /var. <b>HEARTBEAT_OK</b>", "Disk full on /var."),
    ("Disk full on /var&nbsp;HEARTBEAT_OK<br>", "Disk full on /var"),
    ("Disk at 91%\nHEARTBEAT_OK", "Disk at 91%"),
    ("HEARTBEAT_OK __init__ failed", "__init__ failed"),
    ("HEARTBEAT_OK ✅ but the backup is late", "✅ but the backup is late"),
    ("Disk full 🔥 HEARTBEAT_OK", "Disk full 🔥"),
    # a short real alert is never dropped for being short
    ("Disk full.", "Disk full."),
    ("HEARTBEAT_OK 5", "5"),
    ("<b>Down!</b>", "Down!"),
    # not the token: in the middle of a sentence, or inside a word
    ("All fine, HEARTBEAT_OK, but memory at 95%", "All fine, HEARTBEAT_OK, but memory at 95%"),
    ("Service said HEARTBEAT_OK then crashed", "Service said HEARTBEAT_OK then crashed"),
    ("HEARTBEAT_OKAY", "HEARTBEAT_OKAY"),
    ("<b>HEARTBEAT_OKAY</b>", "HEARTBEAT_OKAY"),
    ("NOT_HEARTBEAT_OK", "NOT_HEARTBEAT_OK"),
    # the rest of the model's markup is read as text, never left as tags
    ("<b>Disk full</b> on <code>/var</code>", "Disk full on /var"),
    (
        'Backup late, see <a href="https://ci.example/run/7">run 7</a>',
        "Backup late, see run 7 (https://ci.example/run/7)",
    ),
    ("<ul><li>disk 91%</li><li>swap 80%</li></ul>HEARTBEAT_OK", "- disk 91%\n- swap 80%"),
    ("a < b &amp; <VirtualHost *:80> is down", "a < b & <VirtualHost *:80> is down"),
    ("1<2>3, <3 love, x </> y, text <", "1<2>3, <3 love, x </> y, text <"),
]


@pytest.mark.parametrize(("result", "shown"), VECTORS)
def test_the_vectors(result: str, shown: str) -> None:
    outcome = strip_ack(result, TOKEN)
    assert outcome.text == shown
    assert outcome.suppressed == (shown == "")
    leftovers = ("<b>", "</b>", "<i>", "</i>", "<p>", "</p>", "<code>", "</code>", "&nbsp;", "br>")
    assert not any(fragment in outcome.text for fragment in leftovers)
    assert TOKEN not in outcome.text or TOKEN in shown


def test_a_custom_token() -> None:
    assert strip_ack("ALL_QUIET.", "ALL_QUIET").suppressed
    assert not strip_ack("HEARTBEAT_OK", "ALL_QUIET").suppressed


def test_echoes_of_the_prompt_and_preamble_are_removed() -> None:
    prompt = "- Check whether last night's backup job finished and its size is plausible"
    preamble = "## Heartbeat context\n- Current time: 2026-11-26 10:00 (UTC)\n- Run number: 4"
    result = f"{prompt}\n- Current time: 2026-11-26 10:00 (UTC)\nBackup is missing!"
    assert scrub_echo(result, prompt, preamble).strip() == "Backup is missing!"
    assert strip_ack(scrub_echo(f"{prompt}\nHEARTBEAT_OK", prompt, preamble), TOKEN).suppressed


def test_text_that_is_not_known_markup_is_never_changed() -> None:
    """Reading the markup loses nothing else: random text made of tag-like pieces that are not
    known formatting (stray `<`, unknown tags, bogus comments, declarations) comes out as is."""
    pieces = [*"<>/;=\"' xyz#!-_", "</y>", "<x a='1'>", "</>", "<!x>", "</ 1>", "<?pi?>", "✅"]
    pieces += ["<!DOCTYPE x>", "<![CDATA[x]]>", "<VirtualHost *:80>", "c < d", "<3", "\xa0"]
    rnd = random.Random(36)
    for _ in range(3000):
        sample = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 20)))
        assert markup_to_text(sample) == sample, sample


def test_markup_reading_never_fails() -> None:
    pieces = ["<b>", "</b>", "<br>", "&nbsp;", "&amp", "&#", "<p>", "</a>", "<a href='x'>", "<!--"]
    pieces += [*"<>/&;=\"' \nx", "-->", "<script>", "HEARTBEAT_OK", "✅"]
    rnd = random.Random(36)
    for _ in range(3000):
        sample = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 25)))
        outcome = strip_ack(sample, TOKEN)
        assert outcome.suppressed == (outcome.text == "")


# --- exactly what goes with the token, and whether it was there ---------------------------------


@pytest.mark.parametrize(
    ("result", "shown", "had"),
    [
        ("x HEARTBEAT_OK x", "x HEARTBEAT_OK x", False),  # mid-sentence: not the ack
        ("a_HEARTBEAT_OK", "a_HEARTBEAT_OK", False),
        ("x___HEARTBEAT_OK", "x___HEARTBEAT_OK", False),
        ("HEARTBEAT_OKAY disk", "HEARTBEAT_OKAY disk", False),
        ("Disk full", "Disk full", False),
        ("HEARTBEAT_OK x HEARTBEAT_OK", "x", True),
        ("HEARTBEAT_OK__ x", "x", True),
        ("x __HEARTBEAT_OK", "x", True),
        ("1 _HEARTBEAT_OK", "1", True),
        ("A, HEARTBEAT_OK", "A,", True),
        ("`HEARTBEAT_OK` backup late", "backup late", True),
        ("~~HEARTBEAT_OK~~ backup late", "backup late", True),
        ("「HEARTBEAT_OK」 disk", "disk", True),
        ("¡HEARTBEAT_OK! disk", "disk", True),
        ("✅\nHEARTBEAT_OK disk", "✅ disk", True),
        ("✅✅ HEARTBEAT_OK disk", "✅✅ disk", True),
        ("disk HEARTBEAT_OK ✅✅", "disk ✅✅", True),
        ("HEARTBEAT_OK\tdisk  full", "disk full", True),
    ],
)
def test_what_goes_with_the_token(result: str, shown: str, had: bool) -> None:
    outcome = strip_ack(result, TOKEN)
    assert (outcome.suppressed, outcome.text, outcome.had_token) == (False, shown, had)


def test_a_suppressed_result_says_whether_the_token_was_there() -> None:
    assert strip_ack("**HEARTBEAT_OK**", TOKEN).had_token
    assert not strip_ack("✅", TOKEN).had_token
    # No token configured: nothing is the ack, whatever the result says.
    outcome = strip_ack("HEARTBEAT_OK", "")
    assert (outcome.suppressed, outcome.text, outcome.had_token) == (False, "HEARTBEAT_OK", False)


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        (
            "<b>HEARTBEAT_OK</b>\nDisk <i>full</i> on <code>/var</code>",
            "HEARTBEAT_OK\nDisk full on /var",
        ),
        ('see <a href="https://x.example/a">the graph</a>', "see the graph (https://x.example/a)"),
        ('see <a href="http://x.example/a">it</a>', "see it (http://x.example/a)"),
        ('see <a href="javascript:alert(1)">it</a> now', "see it now"),
        ("see <a>it</a> now", "see it now"),
        ("a </a> b", "a  b"),
        ("Disks:<li/>sda full", "Disks:\n- sda full"),
        ('<a href="https://x.example"/>x', "x"),
        ("<!-- aside -->Load is </ high> now", "Load is </ high> now"),
        ("<b>a</b>  \n\n\n\n b \t\nc", "a\n\n b\nc"),
    ],
)
def test_markup_becomes_this_text(markup: str, text: str) -> None:
    assert markup_to_text(markup) == text


def test_an_echo_is_removed_from_forty_characters_or_a_line_of_twenty_five() -> None:
    block = "short line one\nshort line two\nshort 3333"  # every line shorter than 25
    assert len(block) == 40
    assert scrub_echo(f"{block}\nDisk full", block).strip() == "Disk full"
    line = "x" * 25
    assert scrub_echo(f"{line}\nDisk full", line).strip() == "Disk full"
    # Shorter echoes are the person's own words as likely as the prompt's: they stay.
    assert scrub_echo(f"{block[:39]}\nDisk full", block[:39]) == f"{block[:39]}\nDisk full"
    assert scrub_echo(f"{line[:24]}\nDisk full", line[:24]) == f"{line[:24]}\nDisk full"
