"""The deterministic router on a table of phrasings: each known phrasing maps to one command;
anything else maps to nothing (the operator answers with the help text, never a guess)."""

from __future__ import annotations

import pytest

from bot.router import EXAMPLE_PHRASES, Route, route

TABLE = [
    ("what is running", Route("running")),
    ("What is running?", Route("running")),
    ("what's running right now?", Route("running")),
    ("which jobs are running", Route("running")),
    ("anything running?", Route("running")),
    ("running jobs", Route("running")),
    ("running?", Route("running")),
    ("what failed today", Route("failed", "today")),
    ("What failed today?", Route("failed", "today")),
    ("what failed", Route("failed", "today")),
    ("what failed yesterday?", Route("failed", "yesterday")),
    ("which jobs failed this week", Route("failed", "week")),
    ("show me failed jobs", Route("failed", "today")),
    ("what finished yesterday", Route("done", "yesterday")),
    ("what completed today?", Route("done", "today")),
    ("what's done this week", Route("done", "week")),
    ("finished jobs yesterday", Route("done", "yesterday")),
    ("status of job-abc123", Route("job", "job-abc123")),
    ("Status of #job-abc123?", Route("job", "job-abc123")),
    ("what is the status of job-xyz789", Route("job", "job-xyz789")),
    ("how is job-abc123 doing?", Route("job", "job-abc123")),
    ("cancel job-abc123", Route("cancel", "job-abc123")),
    ("please stop job-abc123", Route("cancel", "job-abc123")),
    ("retry job-abc123", Route("retry", "job-abc123")),
    ("re-run job-abc123", Route("retry", "job-abc123")),
    ("research the history of the GIL", Route("research", "the history of the GIL")),
    ("Research what does README.md say?", Route("research", "what does README.md say")),
    ("run df -h", Route("exec", "df -h")),
    ("Run ls -la .", Route("exec", "ls -la .")),
    ("execute uptime", Route("exec", "uptime")),
]

NOT_ROUTED = [
    "",
    "   ",
    "hello",
    "thanks!",
    "can you make me a sandwich",
    "what is love",
    "cancel everything",
    "status",
    "retry",
    "what failed last year",
    "delete job-abc123",
]


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_known_phrasings_map_to_commands(text: str, expected: Route) -> None:
    assert route(text) == expected


@pytest.mark.parametrize("text", NOT_ROUTED)
def test_anything_else_is_not_guessed(text: str) -> None:
    assert route(text) is None


@pytest.mark.parametrize("phrase,command", EXAMPLE_PHRASES)
def test_phrases_shown_in_help_route_to_their_command(phrase: str, command: str) -> None:
    routed = route(phrase)
    assert routed is not None and routed.command == command
