"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 for tests.

The openai SDK talks to it over real HTTP (`base_url=server.base_url`). Each request to
`POST /v1/chat/completions` is answered by the next step of the script; a step is either
a `ScriptedReply` or a callable that builds one from the request body (so a test can react to
what the operator sent, e.g. a tool's validation error). Every request body is recorded.

    async with ScriptedLLM([tool_call("create_job", {...}), text("done")]) as llm:
        settings = ...(OPENAI_API_KEY="test", OPENAI_BASE_URL=llm.base_url)

A server can also misbehave on purpose, for the outage tests (`ScriptedLLM(mode=...)`):
- "down": nothing listens on its port (connection refused);
- "hang": it accepts and reads each request and never answers (until the server stops);
- "garbage": it answers, in turn, text that is not JSON, broken JSON, JSON of the wrong shape
  and an HTTP 500.

And a working model can be slow (`ScriptedLLM(script, delay=1.5)`): each answer after a fixed
delay, as an ordinary hosted model takes; `answered` counts the answers given.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from core.io.llm.client import forget


@dataclass
class ScriptedReply:
    content: str | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, JSON arguments)
    status: int = 200  # a non-200 answers with an OpenAI-style error body


Step = ScriptedReply | Callable[[dict[str, Any]], ScriptedReply]
Mode = Literal["script", "down", "hang", "garbage"]
FAULT_MODES: tuple[Mode, ...] = ("down", "hang", "garbage")

# What a mad server says, in turn: (status, content type, body).
GARBAGE: tuple[tuple[int, str, str], ...] = (
    (200, "text/html", "<html><body>Bad Gateway? No: a proxy's login page.</body></html>"),
    (200, "application/json", '{"choices": [{"message": '),
    (200, "application/json", '{"choices": [{"index": 0, "message": "just a string"}]}'),
    (200, "application/json", '{"object": "list", "data": []}'),
    (500, "text/plain", "Internal Server Error"),
)


def text(content: str) -> ScriptedReply:
    return ScriptedReply(content=content)


def tool_call(name: str, arguments: dict[str, Any] | str) -> ScriptedReply:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ScriptedReply(tool_calls=[(name, raw)])


def tool_calls(*calls: tuple[str, dict[str, Any] | str]) -> ScriptedReply:
    return ScriptedReply(
        tool_calls=[(n, a if isinstance(a, str) else json.dumps(a)) for n, a in calls]
    )


class ScriptedLLM:
    def __init__(
        self,
        script: Sequence[Step] = (),
        *,
        repeat_last: bool = False,
        mode: Mode = "script",
        delay: float = 0.0,
    ) -> None:
        self.script: list[Step] = list(script)
        self.delay = delay
        self.answered = 0
        self.answered_at: list[float] = []  # time.monotonic() of each answer
        self.repeat_last = repeat_last
        self.mode = mode
        self._released = asyncio.Event()  # set on exit: a hanging request gets its answer
        self._garbage = itertools.cycle(GARBAGE)
        self.requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def push(self, *steps: Step) -> None:
        self.script.extend(steps)

    async def __aenter__(self) -> ScriptedLLM:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self._port = int(sock.getsockname()[1])
        if self.mode == "down":  # the port was free a moment ago and nothing listens on it
            return self
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self._port).start()
        return self

    def release(self) -> None:
        """End every hanging call now (answered 503) and those still to come."""
        self._released.set()

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
        forget(self.base_url)  # the next server on this port starts with a closed breaker

    def _next(self, body: dict[str, Any]) -> ScriptedReply:
        if not self.script:
            return ScriptedReply(content="(script exhausted)")
        step = self.script[0] if self.repeat_last and len(self.script) == 1 else self.script.pop(0)
        return step(body) if callable(step) else step

    async def _completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.mode == "hang":
            await self._released.wait()
            return web.Response(status=503, text="stopped")
        if self.mode == "garbage":
            status, content_type, raw = next(self._garbage)
            return web.Response(status=status, text=raw, content_type=content_type)
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        reply = self._next(body)
        self.answered += 1
        self.answered_at.append(time.monotonic())
        if reply.status != 200:
            return web.json_response(
                {"error": {"message": "scripted failure", "type": "server_error"}},
                status=reply.status,
            )
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{next(self._ids)}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                for name, arguments in reply.tool_calls
            ]
        return web.json_response(
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "scripted"),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    def tool_results(self, request_index: int) -> list[str]:
        """The `tool` messages the operator sent in one request (what the model was told)."""
        return [
            m["content"] for m in self.requests[request_index]["messages"] if m["role"] == "tool"
        ]
