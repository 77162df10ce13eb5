"""The deterministic intake: common plain-English phrasings mapped onto commands.

Used when no LLM is configured (and as the fallback when the LLM is unreachable). It recognises
a fixed table of phrasings and nothing else: anything it does not know gets the help text, never
a guess. `route` is a pure function, so the table is tested without any server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_JOB = r"#?((?:job|jobsched)-[a-z0-9][a-z0-9-]*)"
_WINDOW = r"(?:\s+(today|yesterday|this week|last week|week|in the last week))?"
_ASK = (
    r"(?:what(?:'s| is| are| has| have)?|which(?: jobs?)?(?: are| is| have| has)?"
    r"|show(?: me)?|list|any(?:thing)?|tell me)"
)


@dataclass(frozen=True)
class Route:
    command: str  # a registered command name (without the slash)
    args: str = ""


def _window(word: str | None) -> str:
    if not word:
        return "today"
    return "week" if "week" in word else word


def _status_word(words: str) -> str:
    return rf"^(?:{_ASK}\s+)?(?:(?:the|my)\s+)?(?:jobs?\s+)?(?:(?:that|have|has|are|is)\s+)?{words}"


# (pattern, command, how to build the args from the match). Matched against the whole message
# with surrounding punctuation removed, case-insensitively; arguments keep their original case.
_TABLE: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(
            _status_word(r"(?:still\s+|currently\s+)?running(?:\s+jobs?)?(?:\s+(?:right\s+)?now)?$")
        ),
        "running",
        "",
    ),
    (re.compile(r"^(?:running|open|active)\s+jobs$"), "running", ""),
    (
        re.compile(
            _status_word(r"(?:failed|broke|went wrong|errored)(?:\s+jobs?)?") + _WINDOW + "$"
        ),
        "failed",
        "window",
    ),
    (re.compile(r"^failed\s+jobs" + _WINDOW + "$"), "failed", "window"),
    (
        re.compile(
            _status_word(r"(?:finished|completed|done|succeeded)(?:\s+jobs?)?") + _WINDOW + "$"
        ),
        "done",
        "window",
    ),
    (re.compile(r"^(?:finished|completed|done)\s+jobs" + _WINDOW + "$"), "done", "window"),
    (
        re.compile(
            r"^(?:(?:what(?:'s| is) the\s+)?(?:status|state|progress)\s+(?:of\s+|for\s+)?"
            rf"(?:job\s+)?){_JOB}$"
        ),
        "job",
        "1",
    ),
    (
        re.compile(
            r"^(?:how(?:'s| is)|what about|show(?: me)?)\s+"
            rf"(?:job\s+)?{_JOB}(?:\s+(?:doing|going))?$"
        ),
        "job",
        "1",
    ),
    (re.compile(rf"^(?:please\s+)?(?:cancel|stop|abort|kill)\s+(?:job\s+)?{_JOB}$"), "cancel", "1"),
    (
        re.compile(rf"^(?:please\s+)?(?:retry|re-?run|try again)\s+(?:job\s+)?{_JOB}$"),
        "retry",
        "1",
    ),
    (
        re.compile(r"^(?:please\s+)?(?:research|look into|look up|find out about)\s+(.+)$", re.S),
        "research",
        "1",
    ),
    (re.compile(r"^(?:please\s+)?(?:run|exec|execute)\s+(.+)$", re.S), "exec", "1"),
]

# Phrasings shown in /help as "plain words that work without an LLM"; each is tested to route
# to the command next to it, so the help never promises what the table does not do.
EXAMPLE_PHRASES: list[tuple[str, str]] = [
    ("what is running?", "running"),
    ("what failed today?", "failed"),
    ("what finished this week?", "done"),
    ("status of job-abc123", "job"),
    ("cancel job-abc123", "cancel"),
    ("retry job-abc123", "retry"),
    ("research notes.txt", "research"),
    ("run df -h", "exec"),
]

_TRIM = " \t\n?!.,;"


def route(text: str) -> Route | None:
    """The command a message means, or None when it is not one of the known phrasings."""
    raw = text.strip()
    cleaned = re.sub(r"\s+", " ", raw.strip(_TRIM)).lower()
    if not cleaned:
        return None
    for pattern, command, build in _TABLE:
        match = pattern.match(cleaned)
        if not match:
            continue
        if build == "":
            return Route(command)
        if build == "window":
            return Route(command, _window(match.group(1)))
        if command == "exec":
            # The command keeps its case and its punctuation (`run ls .` lists `.`).
            original = pattern.match(raw.lower())
            if original is None:
                return None
            return Route(command, raw[original.start(1) : original.end(1)].strip())
        if command == "research":
            original = pattern.match(raw.lower())
            if original is None:
                return None
            return Route(command, raw[original.start(1) : original.end(1)].strip().rstrip("?"))
        return Route(command, match.group(1))
    return None
