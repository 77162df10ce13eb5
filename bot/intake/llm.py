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
from bot.intake.tools import ToolContext, invoke, tool_schemas
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.llm import Llm, LlmUnavailable
from core.render import esc, truncate_utf16
from core.untrusted import SYSTEM_RULE

log = logging.getLogger(__name__)

MAX_ROUNDS = 4
MAX_CALLS_PER_ROUND = 4
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
        self.tools = tool_schemas()
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
        messages = self._messages(msg, text, history)
        ctx = ToolContext(self.op, msg)
        out = IntakeRun()
        for _ in range(MAX_ROUNDS):
            try:
                reply = await self._complete(messages)
            except LlmUnavailable:
                if not out.replies and not out.job_ids:
                    raise  # nothing done yet: the keyword router answers instead
                # Tools already acted (a job may be running): say so, never redo it by keywords.
                out.replies.append(
                    Reply(
                        text="⚠️ The language model stopped answering before I finished; "
                        "the above is what was done."
                    )
                )
                out.note = "(the model stopped answering midway)"
                break
            out.round_trips += 1
            self.round_trips_total += 1
            calls = list(reply.tool_calls or [])
            if not calls:
                answer = (reply.content or "").strip() or "I have nothing to add."
                out.replies.append(Reply(text=esc(truncate_utf16(answer, MAX_REPLY_CHARS))))
                out.note = answer
                break
            messages.append(
                {
                    "role": "assistant",
                    "content": reply.content or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {
                                "name": c.function.name,
                                "arguments": c.function.arguments,
                            },
                        }
                        for c in calls
                    ],
                }
            )
            all_done = True
            for index, call in enumerate(calls):
                if index >= MAX_CALLS_PER_ROUND:
                    result = f"error: at most {MAX_CALLS_PER_ROUND} tool calls per turn"
                    all_done = False
                else:
                    outcome, terminal = await invoke(
                        ctx, call.function.name, call.function.arguments
                    )
                    result = outcome.for_model
                    out.replies += outcome.replies
                    out.job_ids += outcome.job_ids
                    all_done = all_done and outcome.ok and terminal
                    log.info(
                        "chat %s: tool %s -> %s", msg.chat_id, call.function.name, result[:120]
                    )
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
            if all_done:
                out.note = "; ".join(
                    m["content"] for m in messages[-len(calls) :] if m["role"] == "tool"
                )
                break
        else:
            out.replies.append(
                Reply(
                    text="⚠️ I could not turn that into a clear action, so I did nothing more. "
                    "Could you rephrase it, or use a command? /help lists them."
                )
            )
            out.note = "(gave up after several attempts)"
        log.info("chat %s: intake took %d model round trip(s)", msg.chat_id, out.round_trips)
        return out

    async def _complete(self, messages: list[dict[str, Any]]) -> Any:
        """The model's next message; `LlmUnavailable` for every kind of failure (unreachable,
        slow, an error status, an answer of the wrong shape, the breaker open)."""
        response = await self.llm.complete(
            model=self.model,
            messages=messages,
            tools=self.tools,
            tool_choice="auto",
            temperature=0,
        )
        return response.choices[0].message
