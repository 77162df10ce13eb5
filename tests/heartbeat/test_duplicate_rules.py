"""Duplicate alerts, as pure rules: what counts as "the same alert" (decision 036) and which
results of one run are kept."""

from __future__ import annotations

import hashlib

from core.domain.heartbeat.duplicates import DUPLICATE_WINDOW, fingerprint, first_of_each, normalise


def test_normalising_folds_case_compat_forms_and_whitespace_only() -> None:
    assert normalise("  Disk\u00a0FULL\n\ton  /var  ") == "disk full on /var"
    assert normalise("ﬁle Ⅻ") == "file xii"  # NFKC: ligature and roman numeral
    assert normalise("Straße") == "strasse"  # case folding, not just lower()
    assert normalise("") == ""
    assert normalise("disk full.") != normalise("disk full")


def test_a_fingerprint_is_the_sha256_of_the_normalised_text() -> None:
    expected = hashlib.sha256(b"disk full on /var").hexdigest()
    assert fingerprint("  Disk FULL on /var ") == expected
    assert len(expected) == 64
    assert fingerprint("disk full on /var 2") != expected


def test_first_of_each_keeps_the_first_occurrence_in_order() -> None:
    texts = ["B alert", "a alert", "b  ALERT", "c", "A alert", "c"]
    assert first_of_each(texts) == ["B alert", "a alert", "c"]
    assert first_of_each([]) == []


def test_the_window_is_a_day() -> None:
    assert DUPLICATE_WINDOW.total_seconds() == 24 * 3600
