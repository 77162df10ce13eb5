"""Files a person gives a job. In Telegram: a document sent with the command as its caption, or
a command sent as a reply to a message that carries a document. In the console: `--attach
PATH` right after the command name, PATH a file under the data folder. The file goes into the
new job's workspace under its own (sanitised) name before the job's first step runs.

Everything that can be checked from the message is checked before anything starts
(`checked`): a file name without path parts, the size limit (`UPLOAD_MAX_BYTES`), a console
path inside the data folder. The bytes are fetched as the job starts (`place`, after its card
is posted): a Telegram document through the transport's `Fetcher`, a console file by copying.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.types import Attachment
from core.domain.jobs.planner import PlanError
from core.domain.render import esc, visible_literal
from core.io.settings import Settings
from core.io.workspace import (
    WorkspaceError,
    file_size_under,
    put_file,
    read_file_under,
    upload_name,
)

# The commands that start a job and so can take a file.
FILE_COMMANDS = ("exec", "research", "dispatch")

# A transport's way to get a document's bytes (raises UploadError with a clear reason).
Fetcher = Callable[[Attachment], Awaitable[bytes]]

_ATTACH_OPTION_RE = re.compile(r"--attach(?:=|\s|$)")
_ATTACH_RE = re.compile(r"""--attach(?:=|\s+)(?:"(?P<dq>[^"]+)"|'(?P<sq>[^']+)'|(?P<bare>\S+))""")

HOW_TO_GIVE_A_FILE = (
    "Send the file with the command as its caption — for example "
    "<code>/research summarize notes.txt</code> or <code>/exec wc -l notes.txt</code> — "
    "or reply to the file with the command."
)
HELP_TEXT = (
    "Files: send a document with <code>/exec</code>, <code>/research</code> or "
    "<code>/dispatch</code> as its caption, or reply to a document with the command; in the "
    "console, <code>/exec --attach inbox/notes.txt wc -l notes.txt</code> takes a file under "
    "the data folder. The file is put in the job's workspace under its own name first."
)


class UploadError(PlanError):
    """A file that cannot go into a job; the message (plain text) is shown to the person."""


@dataclass(frozen=True)
class Upload:
    """An attachment that passed the checks, and the name it gets in the workspace."""

    name: str
    attachment: Attachment


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def starts_with_attach(args: str) -> bool:
    return _ATTACH_OPTION_RE.match(args) is not None


def parse_attach(args: str) -> tuple[list[str], str]:
    """The `--attach PATH` options at the start of a command's arguments (repeatable; a path
    with spaces in quotes) and the arguments after them. Only the start counts, so a word of
    the command itself is never taken for one."""
    paths: list[str] = []
    rest = args.strip()
    while starts_with_attach(rest):
        match = _ATTACH_RE.match(rest)
        if match is None:
            raise UploadError(
                "--attach needs a path under the data folder, for example "
                "/exec --attach inbox/notes.txt wc -l notes.txt"
            )
        paths.append(match.group("dq") or match.group("sq") or match.group("bare"))
        rest = rest[match.end() :].strip()
    return paths, rest


def console_attachments(paths: Sequence[str]) -> list[Attachment]:
    return [Attachment(file_name=Path(path).name, local_path=path) for path in paths]


def checked(attachments: Sequence[Attachment], settings: Settings) -> list[Upload]:
    """The attachments as uploads, or an UploadError naming what is wrong and what to do."""
    uploads: list[Upload] = []
    limit = settings.upload_max_bytes
    for attachment in attachments:
        size = attachment.size
        if attachment.local_path is not None:
            try:
                size = file_size_under(settings.data_path, attachment.local_path)
            except WorkspaceError:
                raise UploadError(
                    f"{attachment.local_path} is not a file under the data folder "
                    f"{settings.data_path}; only files there can be attached. Nothing was "
                    f"started. Copy the file to {settings.data_path / 'inbox'} and use "
                    f"--attach inbox/{Path(attachment.local_path).name}"
                ) from None
        try:
            name = upload_name(attachment.file_name)
        except WorkspaceError as exc:
            hint = (
                "Send it as a file (attach → File) so it keeps its name."
                if attachment.file_name is None
                else "Rename the file to a plain name and send it again."
            )
            raise UploadError(
                f"That file cannot be used: {exc}. Nothing was started. {hint}"
            ) from None
        if size is not None and size > limit:
            raise UploadError(
                f"{name} is too large ({size_text(size)}; the limit is {size_text(limit)}, "
                "UPLOAD_MAX_BYTES). Nothing was started. Send a smaller file, or split it."
            )
        if any(upload.name == name for upload in uploads):
            raise UploadError(f"Two files are named {name}. Nothing was started.")
        uploads.append(Upload(name=name, attachment=attachment))
    return uploads


def card_line(uploads: Sequence[Upload]) -> str:
    """An approval request's line about the files the job was given (a job card shows them
    itself, from the main step's `files` parameter)."""
    names = ", ".join(f"<code>{esc(visible_literal(upload.name))}</code>" for upload in uploads)
    return f"📎 files: {names}"


def no_command_reply_text(attachments: Sequence[Attachment]) -> str:
    """The answer to a file with no command: what to do."""
    names = ", ".join(esc(a.file_name or "a file") for a in attachments)
    return f"📎 I got {names} but no command for it, so nothing was started. {HOW_TO_GIVE_A_FILE}"


async def _bytes_of(upload: Upload, settings: Settings, fetch: Fetcher | None) -> bytes:
    attachment = upload.attachment
    if attachment.local_path is not None:
        # Checked again: the file may have changed since the message was read. The read opens
        # it beneath the data folder without following a link (so none planted in a workspace
        # can point it elsewhere), and takes no more than the limit (plus one byte, to tell).
        checked([attachment], settings)
        try:
            return await asyncio.to_thread(
                read_file_under,
                settings.data_path,
                attachment.local_path,
                settings.upload_max_bytes,
            )
        except WorkspaceError as exc:
            raise UploadError(f"{upload.name} could not be read: {exc}") from None
    if fetch is None:
        raise UploadError(f"{upload.name} cannot be fetched here (no transport to get it from)")
    return await fetch(attachment)


async def place(
    uploads: Sequence[Upload], settings: Settings, folder: str, fetch: Fetcher | None
) -> list[Path]:
    """Put each upload into the job's workspace `folder` (`chat-1/job-abc`, under the
    workspaces root); an UploadError says why one could not be."""
    placed: list[Path] = []
    for upload in uploads:
        data = await _bytes_of(upload, settings, fetch)
        if len(data) > settings.upload_max_bytes:
            raise UploadError(
                f"{upload.name} is too large ({size_text(len(data))}; the limit is "
                f"{size_text(settings.upload_max_bytes)}, UPLOAD_MAX_BYTES)"
            )
        try:
            placed.append(
                await asyncio.to_thread(
                    put_file, settings.workspaces_dir, folder, upload.name, data
                )
            )
        except WorkspaceError as exc:
            raise UploadError(f"{upload.name} could not be put in the workspace: {exc}") from None
    return placed
