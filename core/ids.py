"""Readable identifiers: `job-<short>` for jobs, `jobsched-<short>` for recurring jobs."""

from __future__ import annotations

import re
import secrets

_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


def short_id(length: int = 6) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_job_id() -> str:
    return f"job-{short_id()}"


def new_schedule_id() -> str:
    return f"jobsched-{short_id()}"


def normalize_job_id(text: str) -> str:
    """Accept `job-abc123`, `abc123` or `#job-abc123` from a person (ids are case-sensitive:
    scheduled runs end in a timestamp like `…-2026-11-25T09:00:00Z`)."""
    text = text.strip().lstrip("#")
    if text.lower().startswith(("job-", "jobsched-")):
        return text[:4].lower() + text[4:] if text.lower().startswith("job-") else text
    return f"job-{text.lower()}"


def workspace_name(job_id: str) -> str:
    """The job's workspace folder: its id made filesystem-safe."""
    return re.sub(r"[^a-z0-9_-]", "-", job_id.lower())[:80]
