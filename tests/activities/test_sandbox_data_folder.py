"""Closing the data folder to the commands' user must not touch what the operator's own process
holds open: closing any ordinary descriptor of a file drops every POSIX lock the process holds on
it, so a chmod through an opened file would silently release SQLite's locks on the operator's own
database (seen as "disk I/O error" and worse)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from activities.sandbox import prepare_data_dir

OTHER_WRITER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=0.2)
try:
    db.execute("INSERT INTO t VALUES (2)")
    db.commit()
    print("wrote")
except sqlite3.OperationalError as exc:
    print("refused:", exc)
"""


def test_closing_the_data_folder_keeps_this_process_database_locks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = data / "hbo.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE t (x INTEGER)")
    setup.commit()
    setup.close()
    path.chmod(0o644)  # readable by others: the folder closing will change it

    held = sqlite3.connect(path, isolation_level=None)
    held.execute("BEGIN EXCLUSIVE")  # this process holds the database's write lock
    held.execute("INSERT INTO t VALUES (1)")
    changed = prepare_data_dir(data, data / "workspaces")
    assert any("hbo.db" in line for line in changed), changed
    assert path.stat().st_mode & 0o077 == 0

    other = subprocess.run(
        [sys.executable, "-c", OTHER_WRITER, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert other.stdout.startswith("refused: database is locked"), other.stdout
    held.execute("COMMIT")
    held.close()
