"""Prompt templates in the database: each belongs to the chat that saved it, shared ones are
offered to every chat, and migration 0005 turns the templates saved before owners existed into
shared ones (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from core.io.db import Database
from core.io.heartbeat.store import HeartbeatStore
from core.io.schema_upgrade import alembic_config
from core.io.store import utcnow
from core.io.tables import SHARED_TEMPLATES

A, B = 4101, -1004102


async def test_a_chat_sees_its_own_and_the_shared_templates_only(database: Database) -> None:
    store = HeartbeatStore(database)
    await store.put_template("daily", "A's daily", chat_id=A)
    await store.put_template("a-only", "A's other", chat_id=A)
    await store.put_template("daily", "B's daily", chat_id=B)
    await store.put_template("fleet", "everyone", chat_id=SHARED_TEMPLATES)

    assert await store.get_template("daily", chat_id=A) == "A's daily"
    assert await store.get_template("daily", chat_id=B) == "B's daily"
    assert await store.get_template("a-only", chat_id=B) is None
    assert await store.get_template("fleet", chat_id=B) == "everyone"
    assert await store.template_ids(A) == ["a-only", "daily", "fleet"]
    assert await store.template_ids(B) == ["daily", "fleet"]

    await store.put_template("daily", "A's daily, edited", chat_id=A)  # an upsert, per chat
    assert await store.get_template("daily", chat_id=A) == "A's daily, edited"
    assert await store.get_template("daily", chat_id=B) == "B's daily"

    assert await store.share_template("a-only", from_chat=A)
    assert await store.get_template("a-only", chat_id=B) == "A's other"
    assert not await store.share_template("missing", from_chat=A)
    assert await store.delete_template("a-only", chat_id=SHARED_TEMPLATES)
    assert await store.get_template("a-only", chat_id=B) is None
    assert await store.get_template("a-only", chat_id=A) == "A's other"  # A keeps its own
    owners = [(r.chat_id, r.id) for r in await store.all_templates()]
    assert owners[0] == (SHARED_TEMPLATES, "fleet") and (A, "a-only") in owners


async def test_templates_saved_before_owners_existed_become_shared(database: Database) -> None:
    config = alembic_config(database.url)
    await asyncio.to_thread(command.downgrade, config, "0004")
    async with database.session() as session:
        await session.execute(
            text("INSERT INTO heartbeat_templates (id, body, updated_at) VALUES (:i, :b, :u)"),
            {"i": "legacy", "b": "an old template", "u": utcnow()},
        )
    await database.migrate()
    store = HeartbeatStore(database)
    assert await store.get_template("legacy", chat_id=A) == "an old template"
    assert [(r.chat_id, r.id) for r in await store.all_templates()] == [
        (SHARED_TEMPLATES, "legacy")
    ]

    # Down again: the old schema has no owner, so only shared templates survive it.
    await store.put_template("mine", "A's own", chat_id=A)
    await asyncio.to_thread(command.downgrade, config, "0004")
    async with database.session() as session:
        ids = (await session.execute(text("SELECT id FROM heartbeat_templates"))).scalars()
        assert list(ids) == ["legacy"]
    await database.migrate()
