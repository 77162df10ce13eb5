"""Repetition detection: the last three results, pairwise difflib ratio ≥ threshold; an empty or
suppressed result breaks the chain."""

from __future__ import annotations

from core.domain.heartbeat.repetition import (
    REPETITION_ALERT,
    is_repeating,
    repetition_preamble,
    similarity,
)

SAME = "Disk usage is 71%; all services up."


def test_three_near_identical_results_repeat() -> None:
    near = [SAME, "Disk usage is 72%; all services up.", "Disk usage is 71%; all services up!"]
    assert is_repeating(near, 0.8)


def test_two_are_not_enough() -> None:
    assert not is_repeating([SAME, SAME], 0.8)


def test_only_the_last_three_count() -> None:
    assert is_repeating(["something else entirely", SAME, SAME, SAME], 0.8)
    assert not is_repeating([SAME, SAME, SAME, "something else entirely"], 0.8)


def test_a_suppressed_or_empty_result_breaks_the_chain() -> None:
    assert not is_repeating([SAME, None, SAME], 0.8)
    assert not is_repeating([SAME, "", SAME], 0.8)


def test_the_threshold_is_inclusive() -> None:
    a, b = "abcdefghij", "abcdefghXY"
    ratio = similarity(a, b)
    assert is_repeating([a, b, a], ratio)
    assert not is_repeating([a, b, a], ratio + 0.01)


def test_the_preamble_names_the_repeated_results() -> None:
    text = repetition_preamble([SAME, SAME, SAME])
    assert text.startswith(REPETITION_ALERT) and text.count(SAME) == 3
