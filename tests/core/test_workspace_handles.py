"""`core.io.workspace.Workspace`: everything beneath the folder's handle, no link followed at any
component, whenever it was planted; writes replace, never write through; only regular files
are read, and a FIFO does not hang the reader."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.io.workspace import FileMissing, Workspace, WorkspaceError

ROOT_FOLDER = "chat-1/job-a"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host file and a host folder, standing for anything outside the workspaces."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "passwd").write_text("root:x:0:0\n")
    return host


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.open(tmp_path / "workspaces", ROOT_FOLDER) as workspace:
        yield workspace


def test_a_link_as_the_last_component_is_neither_read_nor_written_through(
    ws: Workspace, outside: Path
) -> None:
    (ws.path / "report.md").symlink_to(outside / "passwd")
    (ws.path / "dangling.md").symlink_to(outside / "new-file")
    for name in ("report.md", "dangling.md"):
        with pytest.raises(WorkspaceError, match="never followed"):
            ws.read_text(name)
        with pytest.raises(WorkspaceError, match="never followed"):
            ws.file_size(name)
    ws.write_text("report.md", "mine")  # replaces the link itself
    ws.write_text("dangling.md", "mine")
    assert (outside / "passwd").read_text() == "root:x:0:0\n"
    assert not (outside / "new-file").exists()
    assert not (ws.path / "report.md").is_symlink() and ws.read_text("report.md") == "mine"
    assert not (ws.path / "dangling.md").is_symlink()


def test_a_link_as_an_intermediate_folder_is_refused(ws: Workspace, outside: Path) -> None:
    (ws.path / "notes").symlink_to(outside)
    with pytest.raises(WorkspaceError, match="'notes', a link"):
        ws.read_text("notes/passwd")
    with pytest.raises(WorkspaceError, match="never followed"):
        ws.write_text("notes/planted.txt", "x")
    with pytest.raises(WorkspaceError, match="never followed"):
        ws.open_dir("notes")
    with pytest.raises(WorkspaceError, match="never followed"):
        ws.ensure_dir("notes/sub")
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]


def test_a_folder_swapped_for_a_link_between_two_calls(ws: Workspace, outside: Path) -> None:
    ws.write_text("out/notes.md", "first")
    assert ws.read_text("out/notes.md") == "first"
    (ws.path / "out" / "notes.md").unlink()
    (ws.path / "out").rmdir()
    (ws.path / "out").symlink_to(outside)
    with pytest.raises(WorkspaceError, match="never followed"):
        ws.write_text("out/notes.md", "second")
    with pytest.raises(WorkspaceError, match="never followed"):
        ws.read_text("out/passwd")
    assert not (outside / "notes.md").exists()


def test_the_held_folder_stays_itself_when_its_path_is_swapped(
    tmp_path: Path, outside: Path
) -> None:
    """Once open, the workspace is its handle: renaming the folder away and planting a link
    under its name moves nothing the operator writes."""
    root = tmp_path / "workspaces"
    with Workspace.open(root, "chat-1/job-b") as workspace:
        (root / "chat-1" / "job-b").rename(root / "chat-1" / "job-moved")
        (root / "chat-1" / "job-b").symlink_to(outside)
        workspace.write_text("report.md", "report")
        log = workspace.open_log_for_write("step1-output.log")
        with log:
            log.write(b"output")
    assert (root / "chat-1" / "job-moved" / "report.md").read_text() == "report"
    assert (root / "chat-1" / "job-moved" / "step1-output.log").read_bytes() == b"output"
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]
    with pytest.raises(WorkspaceError, match="never followed"):
        Workspace.open(root, "chat-1/job-b")


@pytest.mark.parametrize(
    "path", ["..", "../job-b/x", "a/../../x", "/etc/passwd", "", "  ", ".", "./", "a\x00b"]
)
def test_dot_dot_absolute_and_empty_paths_are_refused(ws: Workspace, path: str) -> None:
    for call in (ws.read_text, ws.file_size, ws.ensure_dir, ws.open_dir):
        with pytest.raises(WorkspaceError):
            call(path)
    with pytest.raises(WorkspaceError):
        ws.write_text(path, "x")
    with pytest.raises(WorkspaceError):
        ws.open_log_for_write(path)


def test_a_hardlink_or_an_existing_file_is_replaced_not_written_through(
    ws: Workspace, outside: Path
) -> None:
    os.link(outside / "passwd", ws.path / "notes.md")
    ws.write_text("notes.md", "mine")
    assert (outside / "passwd").read_text() == "root:x:0:0\n"
    assert ws.read_text("notes.md") == "mine"
    os.link(outside / "passwd", ws.path / "step1-output.log")
    with ws.open_log_for_write("step1-output.log") as log:
        log.write(b"output")
    assert (outside / "passwd").read_text() == "root:x:0:0\n"
    assert (ws.path / "step1-output.log").read_bytes() == b"output"
    assert os.stat(ws.path / "step1-output.log").st_nlink == 1


def test_a_log_replaces_a_link_left_by_an_earlier_attempt(ws: Workspace, outside: Path) -> None:
    (ws.path / "step1-output.log").symlink_to(outside / "passwd")
    with ws.open_log_for_write("step1-output.log") as log:
        log.write(b"second attempt")
    assert (outside / "passwd").read_text() == "root:x:0:0\n"
    assert (ws.path / "step1-output.log").read_bytes() == b"second attempt"
    (ws.path / "step2-output.log").mkdir()
    with pytest.raises(WorkspaceError, match="cannot create the log"):
        ws.open_log_for_write("step2-output.log")
    with pytest.raises(WorkspaceError, match="plain file name"):
        ws.open_log_for_write("sub/step1-output.log")
    assert sorted(p.name for p in ws.path.iterdir()) == ["step1-output.log", "step2-output.log"]


def test_a_fifo_is_refused_without_hanging(ws: Workspace) -> None:
    os.mkfifo(ws.path / "pipe")
    with pytest.raises(WorkspaceError, match="not a regular file"):
        ws.read_text("pipe")  # with no writer, a plain open would wait forever
    with pytest.raises(WorkspaceError, match="not a regular file"):
        ws.file_size("pipe")
    assert ws.list_files() == []


def test_a_folder_or_a_device_is_not_read(ws: Workspace) -> None:
    ws.ensure_dir("sub")
    with pytest.raises(WorkspaceError, match="is a folder"):
        ws.read_text("sub")
    with pytest.raises(WorkspaceError, match="taken by a folder"):
        ws.write_text("sub", "x")
    if os.geteuid() == 0:
        os.mknod(ws.path / "null", 0o600 | 0o020000, os.makedev(1, 3))  # a char device
        with pytest.raises(WorkspaceError, match="not a regular file"):
            ws.read_bytes("null")


def test_missing_files_and_folders_say_so(ws: Workspace) -> None:
    with pytest.raises(FileMissing, match=r"no file 'none\.md'"):
        ws.read_text("none.md")
    with pytest.raises(FileMissing, match=r"no folder 'nowhere/x\.md'"):
        ws.read_text("nowhere/x.md")
    assert not (ws.path / "nowhere").exists()  # reading creates nothing
    with pytest.raises(FileMissing):
        Workspace.open(ws.path.parent.parent, "chat-9/job-z", create=False)


def test_reads_are_capped_and_writes_are_whole(ws: Workspace) -> None:
    ws.write_bytes("big.bin", b"x" * 100)
    assert ws.read_bytes("big.bin", 10) == b"x" * 11  # one more than asked: cut, and it says
    assert ws.read_text("big.bin", 10) == "x" * 10 + "\n[… truncated]"
    assert ws.file_size("big.bin") == 100
    assert sorted(p.name for p in ws.path.iterdir()) == ["big.bin"]  # no temporary left


def test_listing_follows_no_link_and_is_bounded(ws: Workspace, outside: Path) -> None:
    ws.write_text("b.txt", "b")
    ws.write_text("a/c.txt", "c")
    ws.write_text("a.txt", "a")
    (ws.path / "link.txt").symlink_to(outside / "passwd")
    (ws.path / "hostdir").symlink_to(outside)
    os.mkfifo(ws.path / "pipe")
    assert ws.list_files() == ["a/c.txt", "a.txt", "b.txt"]
    assert ws.list_files(limit=2) == ["a/c.txt", "a.txt"]


def test_a_closed_workspace_refuses_to_work(tmp_path: Path) -> None:
    workspace = Workspace.open(tmp_path, "chat-1")
    workspace.close()
    workspace.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        workspace.read_text("x")
