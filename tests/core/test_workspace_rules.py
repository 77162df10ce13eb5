"""What a workspace says when it refuses (the words a person reads in the chat), and the edges of
its reads and listings: the path each refusal names, a `.` component, the listing's depth and
visit bounds, text cut exactly at its limit, and the chat folder of a workspace name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.io import workspace as workspace_module
from core.io.workspace import (
    FileMissing,
    Workspace,
    WorkspaceError,
    chat_folder_of,
    file_size_under,
    read_file_under,
)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.open(tmp_path / "workspaces", "chat-1/job-a") as workspace:
        yield workspace


def _refusal(call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(WorkspaceError) as caught:
        call(*args)
    return str(caught.value)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "empty path"),
        ("   ", "empty path"),
        ("a\x00b", "path 'a\\x00b' has a NUL character"),
        ("/etc/passwd", "absolute path '/etc/passwd' is not allowed; use a workspace path"),
        ("a/../x", "path 'a/../x' leaves the workspace ('..' is not allowed)"),
        ("./.", "path './.' names the workspace itself, not a file in it"),
    ],
)
def test_a_refused_path_says_why(ws: Workspace, path: str, message: str) -> None:
    assert _refusal(ws.read_text, path) == message


def test_a_dot_component_is_skipped(ws: Workspace) -> None:
    ws.write_text("./sub/./x.txt", "x")
    assert ws.read_text("sub/x.txt") == "x"
    assert (ws.path / "sub" / "x.txt").read_text() == "x"


def test_links_are_refused_in_words_naming_the_path_and_the_link(
    ws: Workspace, tmp_path: Path
) -> None:
    (ws.path / "dir").symlink_to(tmp_path)
    (ws.path / "file").symlink_to(tmp_path / "x")
    assert _refusal(ws.read_text, "dir/x") == (
        "'dir/x' goes through 'dir', a link or not a folder; links in a workspace are never "
        "followed"
    )
    assert _refusal(ws.read_text, "file") == (
        "'file' goes through 'file', a link or not a folder; links in a workspace are never "
        "followed"
    )
    assert _refusal(ws.open_dir, "dir") == (
        "'dir' goes through 'dir', a link or not a folder; links in a workspace are never followed"
    )


def test_missing_folders_and_non_regular_files_say_so(ws: Workspace) -> None:
    with pytest.raises(FileMissing) as caught:
        ws.open_dir("a/b")
    assert str(caught.value) == "there is no folder 'a/b' in the workspace"
    ws.ensure_dir("sub")
    assert _refusal(ws.read_text, "sub") == "'sub' is a folder; only regular files are read"
    os.mkfifo(ws.path / "pipe")
    assert (
        _refusal(ws.file_size, "pipe")
        == "'pipe' is not a regular file; only regular files are read"
    )


def test_unreadable_entries_say_what_the_system_said(ws: Workspace) -> None:
    ws.write_text("x.txt", "x")
    with pytest.raises(WorkspaceError) as caught:
        ws.open_dir("x.txt/y")  # a file where a folder is needed: ENOTDIR is a link refusal
    assert "goes through 'x.txt'" in str(caught.value)
    long = "n" * 300  # longer than a name may be
    assert _refusal(ws.read_text, long) == f"cannot read {long!r}: File name too long"
    assert _refusal(ws.open_dir, long) == f"cannot open {long!r}: File name too long"


def test_a_folder_made_meanwhile_is_opened(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mkdir = os.mkdir

    def racing_mkdir(name: str, *args: object, dir_fd: int | None = None) -> None:
        real_mkdir(name, dir_fd=dir_fd)  # someone else made it first
        real_mkdir(name, dir_fd=dir_fd)  # raises FileExistsError, as in the race

    monkeypatch.setattr(workspace_module.os, "mkdir", racing_mkdir)
    with ws.open_dir("made", create=True) as made:
        assert made.path == ws.path / "made"
    assert (ws.path / "made").is_dir()


def test_opened_folders_are_where_they_say(ws: Workspace) -> None:
    ws.ensure_dir("a/b")
    with ws.open_dir("a/b") as inner:
        inner.write_text("x.txt", "x")
        assert inner.path == ws.path / "a" / "b"
    assert (ws.path / "a" / "b" / "x.txt").read_text() == "x"


def test_text_is_cut_exactly_at_its_limit(ws: Workspace) -> None:
    ws.write_text("t.txt", "abcde")
    assert ws.read_text("t.txt", 5) == "abcde"
    assert ws.read_text("t.txt", 4) == "abcd\n[… truncated]"
    ws.write_bytes("bad.txt", b"a\xffb")
    assert ws.read_text("bad.txt") == "a\ufffdb"
    assert ws.read_bytes("t.txt", 2) == b"abc"
    assert ws.read_bytes("t.txt") == b"abcde"


def test_large_files_are_read_whole(ws: Workspace) -> None:
    data = os.urandom(3 << 20)
    ws.write_bytes("big.bin", data)
    assert ws.read_bytes("big.bin", len(data)) == data
    assert ws.file_size("big.bin") == len(data)


def test_listing_depth_and_visits_are_bounded(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace_module, "MAX_LIST_DEPTH", 2)
    ws.write_text("a/b/c/deep.txt", "x")
    ws.write_text("a/b/mid.txt", "x")
    ws.write_text("top.txt", "x")
    assert ws.list_files() == ["a/b/mid.txt", "top.txt"]
    monkeypatch.setattr(workspace_module, "MAX_LIST_VISITS", 4)  # a, b, c, mid.txt
    assert ws.list_files() == ["a/b/mid.txt"]
    assert ws.list_files(limit=0) == []


def test_the_chat_folder_of_a_workspace_name() -> None:
    assert chat_folder_of("chat-1/job-abc") == "chat-1"
    assert chat_folder_of("chat-1") == "chat-1"


def test_files_under_the_data_folder(tmp_path: Path) -> None:
    with Workspace.open(tmp_path, "chat-2") as ws:
        ws.write_text("x.txt", "hello")
    assert read_file_under(tmp_path, "chat-2/x.txt", 3) == b"hell"
    assert read_file_under(tmp_path, f"{tmp_path}/chat-2/x.txt", 10) == b"hello"
    assert file_size_under(tmp_path, " chat-2/x.txt ") == 5
    with pytest.raises(WorkspaceError) as caught:
        read_file_under(tmp_path, "/etc/passwd", 10)
    assert str(caught.value) == f"/etc/passwd is outside {tmp_path}"
    with pytest.raises(WorkspaceError) as caught:
        read_file_under(tmp_path, "../x", 10)
    assert str(caught.value) == (
        f"../x is outside {tmp_path} (path '../x' leaves the workspace ('..' is not allowed))"
    )
    with pytest.raises(WorkspaceError) as caught:
        read_file_under(tmp_path, "  ", 10)
    assert str(caught.value) == "empty path"
