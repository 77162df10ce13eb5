"""Helpers for the execution sandbox tests: bubblewrap or a clear skip (a failure under CI), a
folder the commands' unprivileged user can reach, a command line free of shell quoting."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.sandbox import RunAs, probe

NOBODY = RunAs(65534, 65534)


def run_as_here() -> RunAs | None:
    """The user a command runs as with the default settings: nobody when the tests run as root."""
    return NOBODY if os.geteuid() == 0 else None


def bwrap_or_skip() -> str:
    """bubblewrap's path when it can start here (as the commands' user); under CI=true its
    absence fails the test, elsewhere it skips saying how to install it."""
    bwrap = shutil.which("bwrap")
    problem = probe(bwrap, run_as_here()) if bwrap else "bwrap is not installed"
    if problem or bwrap is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires bubblewrap: {problem} (.ci/run installs it)")
        pytest.skip(
            f"bubblewrap cannot start here: {problem}; "
            "install bubblewrap: apt-get install bubblewrap"
        )
    return bwrap


def python_command(code: str) -> str:
    """A `/exec` command line running `code` with python3, free of shell quoting."""
    return f"python3 -c \"exec(bytes.fromhex('{code.encode().hex()}').decode())\""


def reachable_folder() -> Iterator[Path]:
    """A fresh folder whose path the commands' user may pass through (pytest's own temporary
    folders sit below a 0700 folder of root's): the data folder of a sandbox test."""
    folder = Path(tempfile.mkdtemp(prefix="hbo-sandbox-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
