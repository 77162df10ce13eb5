"""Readable identifiers: `job-<short>` for jobs, `jobsched-<short>` for recurring jobs, and the
workspace folder names derived from them."""

from __future__ import annotations

import hashlib
import re
import secrets

_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


def short_id(length: int = 6) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_job_id() -> str:
    return f"job-{short_id()}"


def request_job_id(request_key: str, nth: int = 0) -> str:
    """The id of the `nth` job one chat message asks for: `job-` and eight characters hashed
    from the message's `request_key`, so a message handled twice (Telegram sends it again when
    the bot stopped before confirming it) names the same job, and the second start is a no-op."""
    digest = hashlib.sha256(f"{request_key}#{nth}".encode()).digest()
    return "job-" + "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:8])


def new_schedule_id() -> str:
    return f"jobsched-{short_id()}"


def normalize_job_id(text: str) -> str:
    """Accept `job-abc123`, `abc123` or `#job-abc123` from a person (ids are case-sensitive:
    scheduled runs end in a timestamp like `…-2026-11-25T09:00:00Z`)."""
    text = text.strip().lstrip("#")
    if text.lower().startswith(("job-", "jobsched-")):
        return text[:4].lower() + text[4:] if text.lower().startswith("job-") else text
    return f"job-{text.lower()}"


def chat_folder(chat_id: int) -> str:
    """A chat's folder under the workspaces root (`chat-123`, groups `chat-n100123`); every job
    of the chat, whichever forum topic asked for it, has its workspace inside."""
    return f"chat-{'n' if chat_id < 0 else ''}{abs(chat_id)}"


def workspace_name(chat_id: int, job_id: str) -> str:
    """The job's workspace folder, relative to the workspaces root: `chat-<id>/<job id made
    filesystem-safe>`. Grouping per chat lets the sandbox give a command its own chat only."""
    return f"{chat_folder(chat_id)}/{re.sub(r'[^a-z0-9_-]', '-', job_id.lower())[:80]}"
