"""The schema is brought to head by a short-lived child process, and only when it is not at
head: a long-lived process never keeps Alembic and the migration scripts in its memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from core.io.db import HEAD_REVISION
from core.io.schema_upgrade import alembic_config

ROOT = Path(__file__).resolve().parents[2]

# Migrate a fresh database, then again (at head: one query), and say what got imported.
SCRIPT = """
import asyncio, sys
from core.io.db import Database
db = Database(sys.argv[1])
asyncio.run(db.migrate())
asyncio.run(db.migrate())
print(asyncio.run(db.schema_revision()))
print(sorted({m.split(".")[0] for m in sys.modules} & {"alembic", "mako"}))
"""


def test_head_revision_is_alembics_head(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head == HEAD_REVISION, "a new migration bumps core.io.db.HEAD_REVISION"


def test_a_process_that_migrated_holds_no_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    revision, imported = done.stdout.splitlines()
    assert revision == HEAD_REVISION
    assert imported == "[]", imported
