"""A person's file in a job's workspace: its name made safe, written whole, never through a
link; a console path only from under the data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.workspace import WorkspaceError, file_under, put_file, upload_name


@pytest.mark.parametrize("name", ["notes.txt", "my notes.txt", "Q3 (final).csv", "данные.txt"])
def test_a_plain_name_is_kept(name: str) -> None:
    assert upload_name(name) == name


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("-rf", "_rf"),
        ("a\x00b\nc.txt", "a_b_c.txt"),
        ('what?"*.txt', "what___.txt"),
        ("  padded.txt  ", "padded.txt"),
    ],
)
def test_an_unsafe_character_becomes_an_underscore(name: str, safe: str) -> None:
    assert upload_name(name) == safe
    assert upload_name(safe) == safe


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (None, "has no name"),
        ("   ", "has no name"),
        ("../passwd", "path parts"),
        ("dir/notes.txt", "path parts"),
        ("dir\\notes.txt", "path parts"),
        ("..", "path parts"),
        (".", "path parts"),
        ("x" * 201, "too long"),
    ],
)
def test_a_name_that_cannot_be_used_is_refused(name: str | None, reason: str) -> None:
    with pytest.raises(WorkspaceError, match=reason):
        upload_name(name)


def test_put_file_writes_the_whole_file_and_replaces_an_older_one(tmp_path: Path) -> None:
    assert put_file(tmp_path, "notes.txt", b"first") == (tmp_path / "notes.txt").resolve()
    put_file(tmp_path, "notes.txt", b"second")
    assert (tmp_path / "notes.txt").read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no temporary left


def test_put_file_never_writes_through_a_link_or_over_a_folder(tmp_path: Path) -> None:
    workspace, outside = tmp_path / "ws", tmp_path / "outside.txt"
    workspace.mkdir()
    outside.write_bytes(b"keep")
    (workspace / "notes.txt").symlink_to(outside)
    (workspace / "folder").mkdir()
    for name in ("notes.txt", "folder"):
        with pytest.raises(WorkspaceError, match="taken by a folder or a link"):
            put_file(workspace, name, b"overwritten?")
    assert outside.read_bytes() == b"keep"
    with pytest.raises(WorkspaceError, match="path parts"):
        put_file(workspace, "../outside.txt", b"x")


def test_file_under_takes_only_files_inside_the_folder(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    (data / "inbox").mkdir(parents=True)
    elsewhere.mkdir()
    (data / "inbox" / "notes.txt").write_text("in")
    (elsewhere / "secret.txt").write_text("out")
    (data / "inbox" / "link.txt").symlink_to(elsewhere / "secret.txt")

    assert file_under(data, "inbox/notes.txt") == (data / "inbox" / "notes.txt").resolve()
    assert file_under(data, str(data / "inbox" / "notes.txt")).read_text() == "in"
    for path in ("../elsewhere/secret.txt", str(elsewhere / "secret.txt"), "inbox/link.txt"):
        with pytest.raises(WorkspaceError, match="is outside"):
            file_under(data, path)
    for path in ("inbox/missing.txt", "inbox", " "):
        with pytest.raises(WorkspaceError):
            file_under(data, path)
