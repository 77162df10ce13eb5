"""LLM intake: tool calling over the operator's skillset (any OpenAI-compatible server).

One message is at most `MAX_ROUNDS` model calls. A typical request takes one: the model calls a
terminal tool (create_job, list_jobs, …) and that tool's reply — a job card, a list from Temporal
— is the answer. Invalid or hallucinated arguments go back to the model as a validation error
for another try; when the rounds run out the person gets a clear "could not" and nothing was
created by the failed calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.conversations import ConversationStore, Turn
from bot.intake.tools import TOOLS, IntakeScope
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.domain.render import esc, truncate_utf16
from core.domain.untrusted import SYSTEM_RULE
from core.io.llm.client import Llm, LlmUnavailable
from core.io.llm.loop import Budget, LoopRun, run_tools

log = logging.getLogger(__name__)

MAX_ROUNDS = 4
MAX_CALLS_PER_ROUND = 4
# A round whose tools all answered the person (a card, a list) ends the message.
BUDGET = Budget(
    max_llm_calls=MAX_ROUNDS, max_calls_per_round=MAX_CALLS_PER_ROUND, stop_on_terminal=True
)
MAX_REPLY_CHARS = 3000

SYSTEM_PROMPT = f"""You are the intake of Heartbeat Operator, a chat bot that runs durable \
background jobs on workers (research, execution, reporting, plugins) and reports back.
Use the tools to act; answers about jobs must come from tools, never from memory.
Rules:
- Create a job only when its goal, its worker and (for recurring work) its schedule are clear. \
If one of them is ambiguous, do not call any tool: ask exactly ONE short clarifying question.
- For the execution worker, `input` is the exact command line to run. Research takes a question.
- Never invent job ids: use ids from this conversation or from list_jobs.
- If a tool returns an error, fix the arguments and call it again, or explain briefly.
- A command you propose for a code-running worker waits for a person in the chat to approve it.
- {SYSTEM_RULE}
- Reply in short plain text, no markdown."""


__all__ = ["MAX_ROUNDS", "IntakeRun", "LlmIntake", "LlmUnavailable"]


@dataclass
class IntakeRun:
    replies: list[Reply] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    round_trips: int = 0
    note: str = ""  # what is remembered as the assistant's turn


class LlmIntake:
    def __init__(self, op: ChatServices, llm: Llm, conversations: ConversationStore) -> None:
        self.op = op
        self.llm = llm
        self.conversations = conversations
        self.model = op.settings.openai_model
        self.round_trips_total = 0  # for measurements (bench, tests)

    def _messages(self, msg: Incoming, text: str, history: list[Turn]) -> list[dict[str, Any]]:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "system", "content": f"Now: {now}. Timezone: {self.op.settings.timezone}."},
        ]
        for turn in history:
            content = turn.content
            if turn.job_ids:
                content += f"\n[ids: {', '.join(turn.job_ids)}]"
            messages.append({"role": turn.role, "content": content})
        messages.append({"role": "user", "content": text})
        return messages

    async def handle(self, msg: Incoming, text: str) -> list[Reply]:
        history = await self.conversations.recent(msg.chat_id)
        run = await self.run(msg, text, history)
        await self.conversations.add(msg.chat_id, "user", text)
        await self.conversations.add(msg.chat_id, "assistant", run.note, run.job_ids)
        return run.replies

    async def run(self, msg: Incoming, text: str, history: list[Turn]) -> IntakeRun:
        scope = IntakeScope(self.op, msg)
        loop = LoopRun()
        out = IntakeRun()
        try:
            await run_tools(
                self.llm,
                TOOLS,
                scope,
                self._messages(msg, text, history),
                BUDGET,
                model=self.model,
                request={"tool_choice": "auto", "temperature": 0},
                run=loop,
                label=f"chat {msg.chat_id}",
            )
        except LlmUnavailable:
            if not scope.replies and not scope.job_ids:
                raise  # nothing done yet: the keyword router answers instead
            # Tools already acted (a job may be running): say so, never redo it by keywords.
            scope.replies.append(
                Reply(
                    text="⚠️ The language model stopped answering before I finished; "
                    "the above is what was done."
                )
            )
            out.note = "(the model stopped answering midway)"
        finally:
            out.round_trips = loop.llm_calls
            self.round_trips_total += loop.llm_calls
        out.replies, out.job_ids = scope.replies, scope.job_ids
        if loop.answer is not None:
            answer = loop.answer.strip() or "I have nothing to add."
            out.replies.append(Reply(text=esc(truncate_utf16(answer, MAX_REPLY_CHARS))))
            out.note = answer
        elif loop.stop_reason == "terminal":
            out.note = "; ".join(result.text for result in loop.last_results)
        elif loop.stop_reason.startswith("budget"):
            out.replies.append(
                Reply(
                    text="⚠️ I could not turn that into a clear action, so I did nothing more. "
                    "Could you rephrase it, or use a command? /help lists them."
                )
            )
            out.note = "(gave up after several attempts)"
        log.info("chat %s: intake took %d model round trip(s)", msg.chat_id, out.round_trips)
        return out
