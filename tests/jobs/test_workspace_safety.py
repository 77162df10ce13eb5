"""Workspace paths cannot escape the job's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.ids import workspace_name
from core.workspace import (
    WorkspaceError,
    list_files,
    read_text,
    resolve_inside,
    workspace_dir,
    write_text,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return workspace_dir(tmp_path / "workspaces", "job-abc123")


@pytest.mark.parametrize(
    "path",
    ["../other/secret.txt", "a/../../x", "/etc/passwd", "", "   ", "sub/../../job-other/notes.md"],
)
def test_escapes_are_refused(ws: Path, path: str) -> None:
    with pytest.raises(WorkspaceError):
        resolve_inside(ws, path)
    with pytest.raises(WorkspaceError):
        write_text(ws, path, "x")


def test_symlink_out_is_refused(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (ws / "link.txt").symlink_to(outside)
    (ws / "dirlink").symlink_to(tmp_path)
    with pytest.raises(WorkspaceError, match="outside"):
        read_text(ws, "link.txt")
    with pytest.raises(WorkspaceError, match="outside"):
        write_text(ws, "dirlink/new.txt", "x")
    assert not (tmp_path / "new.txt").exists()
    assert "link.txt" not in list_files(ws)


def test_inside_paths_work(ws: Path) -> None:
    write_text(ws, "notes/a.md", "hello")
    assert read_text(ws, "notes/a.md") == "hello"
    assert read_text(ws, "./notes/a.md") == "hello"
    assert list_files(ws) == ["notes/a.md"]


def test_workspace_folder_names_are_plain(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError):
        workspace_dir(tmp_path, "../up")
    with pytest.raises(WorkspaceError):
        workspace_dir(tmp_path, "a/b")
    assert workspace_name("job-abc123-2026-11-25T09:00:00Z") == "job-abc123-2026-11-25t09-00-00z"
