"""Intake of plain words (anything that is not a /command).

With an LLM configured (`OPENAI_API_KEY`), tool calling over the operator's skillset
(`bot/intake/llm.py`); without one — or when the model cannot be reached — the deterministic
keyword router (`bot/router.py`). A model that fails in any way, or does not answer within
`LLM_TIMEOUT_SECONDS`, is a fallback to the router, never an error in the chat.
Strangers never get here: the operator's gate comes first.
"""

from __future__ import annotations

import logging

from bot.command_registry import Command
from bot.commands.info import help_text
from bot.conversations import ConversationStore
from bot.intake.llm import LlmIntake, LlmUnavailable
from bot.router import route
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.io.llm.client import llm_for

log = logging.getLogger(__name__)

NOT_UNDERSTOOD = "I did not recognise that request, so I did nothing. Here is what I understand:"


class Intake:
    def __init__(self, op: ChatServices, commands: dict[str, Command]) -> None:
        self.op = op
        self.commands = commands
        self.conversations = ConversationStore(op.deps.chats.db)
        llm = llm_for(op.settings, interactive=True)
        self.llm = LlmIntake(op, llm, self.conversations) if llm is not None else None

    async def handle(self, msg: Incoming, text: str) -> list[Reply]:
        if self.llm is not None:
            try:
                return await self.llm.handle(msg, text)
            except LlmUnavailable as exc:
                # The operator tells the chat once per outage; this answer is the router's.
                log.info(
                    "chat %s: LLM unavailable (%s); using the keyword router", msg.chat_id, exc
                )
        return await self.keywords(msg, text)

    async def keywords(self, msg: Incoming, text: str) -> list[Reply]:
        found = route(text)
        command = self.commands.get(found.command) if found else None
        if found is None or command is None:
            return [Reply(text=f"{NOT_UNDERSTOOD}\n\n{help_text()}")]
        return await command.handler(self.op, msg, found.args)
