"""Intake of plain words (anything that is not a /command).

With an LLM configured (`OPENAI_API_KEY`), tool calling over the operator's skillset
(`bot/intake/llm.py`); without one — or when the model cannot be reached — the deterministic
keyword router (`bot/router.py`). Strangers never get here: the operator's gate comes first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.conversations import ConversationStore
from bot.router import route
from bot.types import Incoming, Reply
from core.llm import llm_client

from .llm import LlmIntake, LlmUnavailable

if TYPE_CHECKING:
    from bot.operator import Operator

log = logging.getLogger(__name__)

NOT_UNDERSTOOD = "I did not recognise that request, so I did nothing. Here is what I understand:"


class Intake:
    def __init__(self, op: Operator) -> None:
        self.op = op
        self.conversations = ConversationStore(op.deps.chats.db)
        client = llm_client(op.settings)
        self.llm = LlmIntake(op, client, self.conversations) if client is not None else None

    async def handle(self, msg: Incoming, text: str) -> list[Reply]:
        if self.llm is not None:
            try:
                return await self.llm.handle(msg, text)
            except LlmUnavailable as exc:
                log.warning(
                    "chat %s: LLM unavailable (%s); using the keyword router", msg.chat_id, exc
                )
                replies = await self.keywords(msg, text)
                note = Reply(
                    text="(The language model is unreachable right now; I matched keywords.)"
                )
                return [note, *replies]
        return await self.keywords(msg, text)

    async def keywords(self, msg: Incoming, text: str) -> list[Reply]:
        found = route(text)
        command = self.op.commands.get(found.command) if found else None
        if found is None or command is None:
            return [Reply(text=f"{NOT_UNDERSTOOD}\n\n{self.op.help_text()}")]
        return await command.handler(self.op, msg, found.args)
