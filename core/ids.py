"""Readable identifiers: `job-<short>` for jobs, `jobsched-<short>` for recurring jobs."""

from __future__ import annotations

import secrets

_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


def short_id(length: int = 6) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_job_id() -> str:
    return f"job-{short_id()}"


def new_schedule_id() -> str:
    return f"jobsched-{short_id()}"


def normalize_job_id(text: str) -> str:
    """Accept `job-abc123`, `abc123` or `#job-abc123` from a person."""
    text = text.strip().lstrip("#").lower()
    return text if text.startswith(("job-", "jobsched-")) else f"job-{text}"
