"""Workspaces under the data dir: a folder per chat (`chat-<id>`), a folder per job inside it
(`chat-<id>/job-<short>`). This module is the one place that opens anything in them.

A command runs with its chat's folder writable, so any file or folder in it may be a link the
command planted, or be swapped for one between a check and a use. The operator runs
unsandboxed; a path it resolves (or merely checks, then opens) in such a folder could take it
anywhere on the host. So nothing here opens a workspace file by path: a `Workspace` holds the
folder open (a directory handle, fd) and every read, write and listing walks beneath that handle
one component at a time with `O_NOFOLLOW`, so a link anywhere in a path is refused, never
followed, whenever it was planted. A write never goes through an existing file either: the new
content goes into a fresh file created exclusively beside it, which is then renamed over the
name (a hardlink or a file swapped in is replaced, not written). A read opens only regular files
(a FIFO or a device is refused without blocking).

The workspaces root and the folders above it are the operator's own: the root is opened as a
path (it may be a link an administrator made); below it nothing is followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core.domain.errors import Refusal

_PART_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}$")
MAX_READ_BYTES = 1_000_000
MAX_UPLOAD_NAME_BYTES = 200
MAX_LIST_DEPTH = 16
MAX_LIST_VISITS = 10_000  # entries looked at by one listing, files and folders alike
# Characters that shells or other systems trip on, in a file name (control and format characters
# are found by their Unicode category, see `upload_name`).
_UNSAFE_NAME_CHARS = frozenset('<>:"|?*')
# Control (Cc), format (Cf: bidirectional overrides and isolates, zero-width characters),
# surrogate (Cs, a lone half of a pair) characters and the line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# O_NONBLOCK: a FIFO planted under a file's name opens at once (and is then refused) instead of
# waiting for a writer; it changes nothing for a regular file.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | _CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
_LINK_ERRNOS = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)


class WorkspaceError(Refusal, ValueError):
    """A path that is not allowed (escape attempt, link, bad name) or a file that cannot be
    used."""


class FileMissing(WorkspaceError):
    """The path names nothing in the workspace (yet)."""


def _path_parts(relative: str) -> list[str]:
    """The components of a path inside a workspace; absolute paths and `..` are refused."""
    if not relative or not relative.strip():
        raise WorkspaceError("empty path")
    if "\x00" in relative:
        raise WorkspaceError(f"path {relative!r} has a NUL character")
    candidate = PurePosixPath(relative)
    if candidate.is_absolute():
        raise WorkspaceError(f"absolute path {relative!r} is not allowed; use a workspace path")
    if ".." in candidate.parts:
        raise WorkspaceError(f"path {relative!r} leaves the workspace ('..' is not allowed)")
    parts = [part for part in candidate.parts if part != "."]
    if not parts:
        raise WorkspaceError(f"path {relative!r} names the workspace itself, not a file in it")
    return parts


def _link_refusal(relative: str, part: str) -> WorkspaceError:
    return WorkspaceError(
        f"{relative!r} goes through {part!r}, a link or not a folder; links in a workspace are "
        "never followed"
    )


def _open_dir_at(dir_fd: int, name: str, *, create: bool, shown: str) -> int:
    """The folder `name` directly beneath `dir_fd`, opened without following a link (created
    first when `create` and missing)."""
    for _ in range(2):
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            if not create:
                raise FileMissing(f"there is no folder {shown!r} in the workspace") from None
            with contextlib.suppress(FileExistsError):  # made meanwhile: opened (or refused) next
                os.mkdir(name, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in _LINK_ERRNOS:
                raise _link_refusal(shown, name) from None
            raise WorkspaceError(f"cannot open {shown!r}: {exc.strerror}") from None
    raise WorkspaceError(f"cannot open {shown!r}: it keeps changing")


def _walk(dir_fd: int, parts: list[str], *, create: bool, shown: str) -> int:
    """A new fd for the folder `parts` beneath `dir_fd` (a duplicate of it for no parts)."""
    current = os.dup(dir_fd)
    try:
        for part in parts:
            following = _open_dir_at(current, part, create=create, shown=shown)
            os.close(current)
            current = following
    except BaseException:
        os.close(current)
        raise
    return current


def _open_regular(dir_fd: int, name: str, shown: str) -> int:
    """A regular file directly beneath `dir_fd`, opened for reading without following a link."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise FileMissing(f"no file {shown!r} in the workspace") from None
    except OSError as exc:
        if exc.errno in _LINK_ERRNOS:
            raise _link_refusal(shown, name) from None
        raise WorkspaceError(f"cannot read {shown!r}: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise WorkspaceError(f"{shown!r} is {kind}; only regular files are read")
    return fd


def _read_fd(fd: int, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    left = max_bytes
    while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _replace_at(dir_fd: int, name: str, data: bytes, shown: str) -> None:
    """`data` as the file `name` beneath `dir_fd`, whole or not at all: written into a fresh
    file created exclusively (never an existing one, never through a link), then renamed over
    `name` (a link, hardlink or file there is replaced, not written through)."""
    temporary = f".{name[:40]}.{secrets.token_hex(6)}.tmp"
    fd = os.open(temporary, _CREATE_FLAGS, 0o666, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=dir_fd)
        if isinstance(exc, IsADirectoryError | NotADirectoryError):
            raise WorkspaceError(f"{shown!r} is taken by a folder in the workspace") from None
        if isinstance(exc, OSError):
            raise WorkspaceError(f"cannot write {shown!r}: {exc.strerror}") from None
        raise


class Workspace:
    """One workspace folder held open; every operation happens beneath its handle.

    `path` is where the folder is, for what must be named by path: a child process's working
    folder, the sandbox's bind, a plugin. The operator never opens a file through it."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        self.path = path

    @classmethod
    def open(cls, root: Path, folder: str, *, create: bool = True) -> Workspace:
        """The folder `folder` (`chat-1` or `chat-1/job-abc`) under the workspaces `root`,
        created when missing (unless `create` is false). Each part must be a real folder: a
        link is refused, so a command that plants `chat-1/job-next -> ../chat-2/…` cannot make
        a later job of its chat work in another's."""
        parts = folder.split("/")
        if len(parts) > 2 or not all(_PART_RE.match(part) for part in parts):
            raise WorkspaceError(f"workspace name {folder!r} is not a plain folder name")
        root = Path(root).resolve()
        root.mkdir(parents=True, exist_ok=True)
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        try:
            fd = _walk(root_fd, parts, create=create, shown=folder)
        finally:
            os.close(root_fd)
        return cls(fd, root.joinpath(*parts))

    @property
    def fd(self) -> int:
        if self._fd < 0:
            raise ValueError("the workspace is closed")
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a handle nobody closed is not leaked
        with contextlib.suppress(Exception):
            self.close()

    # --- folders -----------------------------------------------------------------------------
    def open_dir(self, relative: str, *, create: bool = False) -> Workspace:
        """A folder inside this one, held open the same way (close it, or use `with`)."""
        parts = _path_parts(relative)
        fd = _walk(self.fd, parts, create=create, shown=relative)
        return Workspace(fd, self.path.joinpath(*parts))

    def ensure_dir(self, relative: str) -> None:
        """The folder `relative` exists inside this one (made when missing, links refused)."""
        self.open_dir(relative, create=True).close()

    @contextlib.contextmanager
    def _parent(self, relative: str, *, create: bool) -> Iterator[tuple[int, str]]:
        """(fd of the folder holding `relative`'s last component, that component)."""
        parts = _path_parts(relative)
        parent = _walk(self.fd, parts[:-1], create=create, shown=relative)
        try:
            yield parent, parts[-1]
        finally:
            os.close(parent)

    # --- reading -----------------------------------------------------------------------------
    def read_bytes(self, relative: str, max_bytes: int = MAX_READ_BYTES) -> bytes:
        """At most `max_bytes + 1` bytes of the regular file `relative` (one more than asked,
        so a caller can tell that it was cut); `FileMissing` when there is none."""
        with self._parent(relative, create=False) as (parent, name):
            fd = _open_regular(parent, name, relative)
        try:
            return _read_fd(fd, max_bytes + 1)
        finally:
            os.close(fd)

    def file_size(self, relative: str) -> int:
        """The size of the regular file `relative`; `FileMissing` when there is none."""
        with self._parent(relative, create=False) as (parent, name):
            fd = _open_regular(parent, name, relative)
        try:
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def read_text(self, relative: str, max_bytes: int = MAX_READ_BYTES) -> str:
        """The file as UTF-8 text, cut after `max_bytes` with a marker saying so."""
        data = self.read_bytes(relative, max_bytes)
        text = data[:max_bytes].decode("utf-8", errors="replace")
        return text + ("\n[… truncated]" if len(data) > max_bytes else "")

    def list_files(self, limit: int = 200) -> list[str]:
        """Regular files below this folder (relative paths, sorted by path components); links
        are neither listed nor followed."""
        files: list[str] = []
        visits = 0

        def walk(fd: int, prefix: str, depth: int) -> None:
            nonlocal visits
            with os.scandir(fd) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
            for entry in entries:
                visits += 1
                if len(files) >= limit or visits > MAX_LIST_VISITS:
                    return
                if entry.is_file(follow_symlinks=False):
                    files.append(prefix + entry.name)
                elif entry.is_dir(follow_symlinks=False) and depth < MAX_LIST_DEPTH:
                    try:
                        sub = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                    except OSError:  # swapped for a link or removed meanwhile: not listed
                        continue
                    try:
                        walk(sub, f"{prefix}{entry.name}/", depth + 1)
                    finally:
                        os.close(sub)

        walk(self.fd, "", 0)
        return files

    # --- writing -----------------------------------------------------------------------------
    def write_bytes(self, relative: str, data: bytes) -> Path:
        """`data` as the file `relative` (its folders made as needed), whole or not at all,
        never through a link or an existing file. Returns where it is, for telling."""
        with self._parent(relative, create=True) as (parent, name):
            _replace_at(parent, name, data, relative)
        return self.path.joinpath(*_path_parts(relative))

    def write_text(self, relative: str, content: str) -> Path:
        return self.write_bytes(relative, content.encode("utf-8"))

    def open_log_for_write(self, name: str) -> BinaryIO:
        """A fresh file `name` directly in this folder, open for streaming writes: created
        exclusively under a temporary name and renamed over whatever `name` was (a link or a
        file a command left there is replaced, never written through)."""
        parts = _path_parts(name)
        if len(parts) != 1:
            raise WorkspaceError(f"a log is named by a plain file name, not {name!r}")
        temporary = f".{name[:40]}.{secrets.token_hex(6)}.tmp"
        fd = os.open(temporary, _CREATE_FLAGS, 0o666, dir_fd=self.fd)
        try:
            os.rename(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=self.fd)
            raise WorkspaceError(f"cannot create the log {name!r}: {exc.strerror}") from None
        return os.fdopen(fd, "wb")


def workspace_dir(root: Path, folder: str) -> Path:
    """Where the workspace `folder` is under `root`, made (through `Workspace.open`, so no link
    is followed) when missing: a path for a child process or a plugin. The operator's own reads
    and writes go through a `Workspace`."""
    with Workspace.open(root, folder) as workspace:
        return workspace.path


def chat_folder_of(folder: str) -> str:
    """The chat folder (`chat-1`) of a workspace name (`chat-1` or `chat-1/job-abc`)."""
    return folder.split("/", 1)[0]


def upload_name(name: str | None) -> str:
    """A person's file name made safe to keep in a workspace, or a `WorkspaceError`: no name,
    a name with path parts (`/`, `\\`, `.`, `..`) or one over `MAX_UPLOAD_NAME_BYTES` are
    refused. Control and format characters (`_UNSAFE_CATEGORIES`: bidirectional overrides and
    isolates that make `evil\\u202etxt.sh` show as `evilhs.txt`, zero-width characters),
    `<>:"|?*` and a leading `-` become `_` (so a name shows as what it is, and a
    command never reads it as an option). A safe name comes back unchanged."""
    if name is None or not name.strip():
        raise WorkspaceError("the file has no name")
    clean = unicodedata.normalize("NFC", name.strip())
    if "/" in clean or "\\" in clean or clean in (".", ".."):
        raise WorkspaceError(f"the file name {clean!r} has path parts; a plain name is needed")
    clean = "".join(
        "_" if ch in _UNSAFE_NAME_CHARS or unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch
        for ch in clean
    )
    if clean.startswith("-"):
        clean = "_" + clean[1:]
    if len(clean.encode("utf-8")) > MAX_UPLOAD_NAME_BYTES:
        raise WorkspaceError(
            f"the file name is too long ({len(clean.encode('utf-8'))} bytes; "
            f"at most {MAX_UPLOAD_NAME_BYTES})"
        )
    return clean


def put_file(root: Path, folder: str, name: str, data: bytes) -> Path:
    """Write `data` as the file `name` (see `upload_name`) directly in the workspace `folder`
    under `root`, whole or not at all and never through a link or an existing file."""
    name = upload_name(name)
    with Workspace.open(root, folder) as workspace:
        return workspace.write_bytes(name, data)


def _under(root: Path, path: str) -> str:
    """`path` (relative to `root`, or absolute and lexically inside it) relative to `root`."""
    if not path.strip():
        raise WorkspaceError("empty path")
    candidate = Path(path.strip()).expanduser()
    if not candidate.is_absolute():
        return str(candidate)
    for base in (root, root.resolve()):
        with contextlib.suppress(ValueError):
            return str(candidate.relative_to(base))
    raise WorkspaceError(f"{path} is outside {root}")


class _FileUnder:
    """A path under one of the operator's own folders (the data folder), given by a person:
    relative to it, or absolute and lexically inside it."""

    def __init__(self, root: Path, path: str) -> None:
        relative = _under(root, path)
        try:
            self.relative = "/".join(_path_parts(relative))
        except WorkspaceError as exc:
            raise WorkspaceError(f"{path} is outside {root} ({exc})") from None
        self.root = Path(root)

    def folder(self) -> Workspace:
        fd = os.open(self.root.resolve(), os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        return Workspace(fd, self.root)


def file_size_under(root: Path, path: str) -> int:
    """The size of the regular file `path` under the operator's folder `root` (see
    `read_file_under`)."""
    under = _FileUnder(root, path)
    with under.folder() as folder:
        return folder.file_size(under.relative)


def read_file_under(root: Path, path: str, max_bytes: int) -> bytes:
    """At most `max_bytes + 1` bytes of the regular file `path` under the operator's folder
    `root` (relative to it, or absolute): opened beneath `root` without following any link, so
    a link planted in a workspace below it cannot point the read elsewhere."""
    under = _FileUnder(root, path)
    with under.folder() as folder:
        return folder.read_bytes(under.relative, max_bytes)
