"""Workspaces under the data dir: a folder per chat (`chat-<id>`), a folder per job inside it
(`chat-<id>/job-<short>`); nothing may escape either.

Containment compares real paths (symlinks resolved, then whole path components), never string
prefixes: `job-abc123-other` is not inside `job-abc123`, and a symlink out is where it points.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path

from core.errors import Refusal

_PART_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}$")
MAX_READ_BYTES = 1_000_000
MAX_UPLOAD_NAME_BYTES = 200
# Control characters, and characters that shells or other systems trip on, in a file name.
_UNSAFE_NAME_CHARS_RE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


class WorkspaceError(Refusal, ValueError):
    """A path that is not allowed (escape attempt, bad name) or a file that cannot be used."""


def workspace_dir(root: Path, folder: str) -> Path:
    """The folder `folder` (`chat-1` or `chat-1/job-abc`) under `root`, created if missing. It
    must be a real folder: a symlink anywhere below `root` is refused, so a command that plants
    `chat-1/job-next -> ../chat-2/…` cannot make a later job of its chat work in another's."""
    parts = folder.split("/")
    if len(parts) > 2 or not all(_PART_RE.match(part) for part in parts):
        raise WorkspaceError(f"workspace name {folder!r} is not a plain folder name")
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    path = root.joinpath(*parts)
    if path.resolve() != path:
        raise WorkspaceError(f"workspace {folder!r} points outside its own folder (a symlink)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def chat_dir_of(root: Path, job_workspace: Path) -> Path:
    """The chat folder that holds a job's workspace (its first component under `root`)."""
    root = root.resolve()
    relative = job_workspace.resolve().relative_to(root)
    return root / relative.parts[0]


def is_inside(base: Path, path: Path) -> bool:
    """Whether real `path` is `base` or below it, by whole path components."""
    return path == base or base in path.parents


def resolve_inside(base: Path, relative: str) -> Path:
    """Resolve `relative` inside `base`, refusing absolute paths, `..` and symlinks out."""
    if not relative or relative.strip() == "":
        raise WorkspaceError("empty path")
    candidate = Path(relative)
    if candidate.is_absolute():
        raise WorkspaceError(f"absolute path {relative!r} is not allowed; use a workspace path")
    if ".." in candidate.parts:
        raise WorkspaceError(f"path {relative!r} leaves the workspace ('..' is not allowed)")
    base = base.resolve()
    resolved = (base / candidate).resolve()  # follows symlinks
    if not is_inside(base, resolved):
        raise WorkspaceError(f"path {relative!r} points outside the workspace")
    return resolved


def read_text(base: Path, relative: str, max_bytes: int = MAX_READ_BYTES) -> str:
    path = resolve_inside(base, relative)
    if not path.is_file():
        raise WorkspaceError(f"no file {relative!r} in the workspace")
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    text = data[:max_bytes].decode("utf-8", errors="replace")
    return text + ("\n[… truncated]" if len(data) > max_bytes else "")


def write_text(base: Path, relative: str, content: str) -> Path:
    path = resolve_inside(base, relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def list_files(base: Path, limit: int = 200) -> list[str]:
    base = base.resolve()
    files: list[str] = []
    for path in sorted(base.rglob("*")):
        if path.is_file() and not path.is_symlink():
            files.append(str(path.relative_to(base)))
            if len(files) >= limit:
                break
    return files


def upload_name(name: str | None) -> str:
    """A person's file name made safe to keep in a workspace, or a `WorkspaceError`: no name,
    a name with path parts (`/`, `\\`, `.`, `..`) or one over `MAX_UPLOAD_NAME_BYTES` are
    refused; control characters and `<>:"|?*` become `_`, and so does a leading `-` (so a
    command never reads the name as an option). A safe name comes back unchanged."""
    if name is None or not name.strip():
        raise WorkspaceError("the file has no name")
    clean = unicodedata.normalize("NFC", name.strip())
    if "/" in clean or "\\" in clean or clean in (".", ".."):
        raise WorkspaceError(f"the file name {clean!r} has path parts; a plain name is needed")
    clean = _UNSAFE_NAME_CHARS_RE.sub("_", clean)
    if clean.startswith("-"):
        clean = "_" + clean[1:]
    if len(clean.encode("utf-8")) > MAX_UPLOAD_NAME_BYTES:
        raise WorkspaceError(
            f"the file name is too long ({len(clean.encode('utf-8'))} bytes; "
            f"at most {MAX_UPLOAD_NAME_BYTES})"
        )
    return clean


def put_file(base: Path, name: str, data: bytes) -> Path:
    """Write `data` as the file `name` (see `upload_name`) directly in the workspace `base`,
    whole or not at all: a temporary file beside it, then a rename. A name taken by a folder or
    a symlink is refused (a command could have planted one pointing out)."""
    name = upload_name(name)
    base = base.resolve()
    target = base / name
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise WorkspaceError(f"{name!r} is taken by a folder or a link in the workspace")
    handle, temporary = tempfile.mkstemp(dir=base, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def file_under(root: Path, path: str) -> Path:
    """The real file that `path` (relative to `root`, or absolute) names, when it is inside
    `root` — symlinks resolved, whole path components compared; else a `WorkspaceError`."""
    if not path.strip():
        raise WorkspaceError("empty path")
    root = root.resolve()
    candidate = Path(path.strip()).expanduser()
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not is_inside(root, resolved):
        raise WorkspaceError(f"{path} is outside {root}")
    if not resolved.is_file():
        raise WorkspaceError(f"there is no file {path} in {root}")
    return resolved
