"""The ack token: whole word, at the start or end, markup and punctuation around it stripped;
suppressed only when nothing meaningful remains; never shown to a person."""

from __future__ import annotations

import pytest

from core.heartbeat_ack import scrub_echo, strip_ack

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
        ("All fine, HEARTBEAT_OK, but memory at 95%", "All fine, but memory at 95%"),
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


def test_a_custom_token() -> None:
    assert strip_ack("ALL_QUIET.", "ALL_QUIET").suppressed
    assert not strip_ack("HEARTBEAT_OK", "ALL_QUIET").suppressed


def test_echoes_of_the_prompt_and_preamble_are_removed() -> None:
    prompt = "- Check whether last night's backup job finished and its size is plausible"
    preamble = "## Heartbeat context\n- Current time: 2026-11-26 10:00 (UTC)\n- Run number: 4"
    result = f"{prompt}\n- Current time: 2026-11-26 10:00 (UTC)\nBackup is missing!"
    assert scrub_echo(result, prompt, preamble).strip() == "Backup is missing!"
    assert strip_ack(scrub_echo(f"{prompt}\nHEARTBEAT_OK", prompt, preamble), TOKEN).suppressed
