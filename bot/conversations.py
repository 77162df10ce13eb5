"""A small per-chat memory for the LLM intake: the last few turns and the job ids they named.

Kept in the database (table `conversation_turns`), so a restart does not lose the thread of a
clarifying question. Deliberately small: job state is never taken from here, only from Temporal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select

from core.io.db import Database
from core.io.tables import ConversationTurn

KEEP_TURNS = 6  # what the model sees
STORE_TURNS = 20  # what a chat keeps in the table
MAX_TURN_CHARS = 2000


@dataclass(frozen=True)
class Turn:
    role: str  # user | assistant
    content: str
    job_ids: tuple[str, ...] = ()


class ConversationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def recent(self, chat_id: int, limit: int = KEEP_TURNS) -> list[Turn]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(ConversationTurn)
                .where(ConversationTurn.chat_id == chat_id)
                .order_by(ConversationTurn.id.desc())
                .limit(limit)
            )
            turns = [
                Turn(row.role, row.content, tuple(j for j in row.job_ids.split(",") if j))
                for row in rows.all()
            ]
        return list(reversed(turns))

    async def add(self, chat_id: int, role: str, content: str, job_ids: Sequence[str] = ()) -> None:
        ids = ",".join(dict.fromkeys(job_ids))[:500]
        async with self.db.session() as session:
            session.add(
                ConversationTurn(
                    chat_id=chat_id,
                    role=role,
                    content=content[:MAX_TURN_CHARS],
                    job_ids=ids,
                    at=datetime.now(UTC),
                )
            )
        await self._trim(chat_id)

    async def _trim(self, chat_id: int) -> None:
        async with self.db.session() as session:
            keep = (
                select(ConversationTurn.id)
                .where(ConversationTurn.chat_id == chat_id)
                .order_by(ConversationTurn.id.desc())
                .limit(STORE_TURNS)
            )
            await session.execute(
                delete(ConversationTurn).where(
                    ConversationTurn.chat_id == chat_id, ConversationTurn.id.not_in(keep)
                )
            )

    async def clear(self, chat_id: int) -> None:
        async with self.db.session() as session:
            await session.execute(
                delete(ConversationTurn).where(ConversationTurn.chat_id == chat_id)
            )
