"""A person's file in a job's workspace: its name made safe, written whole, never through a
link; a console path only from under the data folder, never through a link."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from core.io.workspace import (
    WorkspaceError,
    file_size_under,
    put_file,
    read_file_under,
    upload_name,
)


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
        # A right-to-left override shows `evil\u202etxt.sh` as "evilhs.txt".
        ("evil\u202etxt.sh", "evil_txt.sh"),
        ("a\u202ab\u202bc\u202cd\u202de.txt", "a_b_c_d_e.txt"),
        ("a\u2066b\u2067c\u2068d\u2069.txt", "a_b_c_d_.txt"),
        ("zero\u200bwidth\u200c\u200d\u200e\u200f.txt", "zero_width____.txt"),
        ("\ufeffbom\u2060.txt", "_bom_.txt"),
        ("c1\x85\x9b.txt", "c1__.txt"),
        ("line\u2028para\u2029.txt", "line_para_.txt"),
    ],
)
def test_an_unsafe_character_becomes_an_underscore(name: str, safe: str) -> None:
    assert upload_name(name) == safe
    assert upload_name(safe) == safe


def test_no_control_or_format_character_survives() -> None:
    """Every code point, in slices under the length limit."""
    every = "".join(chr(code) for code in range(0x30000) if not 0xD800 <= code <= 0xDFFF)
    kept = ""
    for start in range(0, len(every), 20):
        kept += upload_name("x" + every[start : start + 20].replace("/", "").replace("\\", ""))
    assert not [ch for ch in kept if unicodedata.category(ch) in ("Cc", "Cf")]


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
    folder = tmp_path / "chat-1" / "job-a"
    assert (
        put_file(tmp_path, "chat-1/job-a", "notes.txt", b"first")
        == (folder / "notes.txt").resolve()
    )
    put_file(tmp_path, "chat-1/job-a", "notes.txt", b"second")
    assert (folder / "notes.txt").read_bytes() == b"second"
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # no temporary left


def test_put_file_never_writes_through_a_link_or_over_a_folder(tmp_path: Path) -> None:
    folder, outside = tmp_path / "chat-1" / "job-a", tmp_path / "outside.txt"
    folder.mkdir(parents=True)
    outside.write_bytes(b"keep")
    (folder / "notes.txt").symlink_to(outside)
    (folder / "taken").mkdir()
    put_file(tmp_path, "chat-1/job-a", "notes.txt", b"mine")  # the link is replaced
    assert outside.read_bytes() == b"keep"
    assert not (folder / "notes.txt").is_symlink()
    assert (folder / "notes.txt").read_bytes() == b"mine"
    with pytest.raises(WorkspaceError, match="taken by a folder"):
        put_file(tmp_path, "chat-1/job-a", "taken", b"overwritten?")
    with pytest.raises(WorkspaceError, match="path parts"):
        put_file(tmp_path, "chat-1/job-a", "../outside.txt", b"x")
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "taken"]


def test_files_under_the_data_folder_only_and_never_through_a_link(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    (data / "inbox").mkdir(parents=True)
    elsewhere.mkdir()
    (data / "inbox" / "notes.txt").write_text("in")
    (elsewhere / "secret.txt").write_text("out")
    (data / "inbox" / "link.txt").symlink_to(elsewhere / "secret.txt")
    (data / "inbox" / "inner.txt").symlink_to(data / "inbox" / "notes.txt")  # inside, still
    (data / "linked").symlink_to(data / "inbox")

    assert read_file_under(data, "inbox/notes.txt", 100) == b"in"
    assert read_file_under(data, str(data / "inbox" / "notes.txt"), 100) == b"in"
    assert file_size_under(data, "inbox/notes.txt") == 2
    for path in ("../elsewhere/secret.txt", str(elsewhere / "secret.txt")):
        with pytest.raises(WorkspaceError, match="is outside"):
            read_file_under(data, path, 100)
    for path in ("inbox/link.txt", "inbox/inner.txt", "linked/notes.txt"):
        with pytest.raises(WorkspaceError, match="never followed"):
            read_file_under(data, path, 100)
        with pytest.raises(WorkspaceError, match="never followed"):
            file_size_under(data, path)
    for path in ("inbox/missing.txt", "inbox", " "):
        with pytest.raises(WorkspaceError):
            read_file_under(data, path, 100)
