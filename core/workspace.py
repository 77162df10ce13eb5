"""Job workspaces: one folder per job (or chat) under the data dir; nothing may escape it."""

from __future__ import annotations

import re
from pathlib import Path

_FOLDER_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}$")
MAX_READ_BYTES = 1_000_000


class WorkspaceError(ValueError):
    """A path that is not allowed (escape attempt, bad name) or a file that cannot be used."""


def workspace_dir(root: Path, folder: str) -> Path:
    if not _FOLDER_RE.match(folder):
        raise WorkspaceError(f"workspace name {folder!r} is not a plain folder name")
    path = (root / folder).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    if resolved != base and base not in resolved.parents:
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
