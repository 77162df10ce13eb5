"""The optional LLM: an openai SDK client on any OpenAI-compatible base URL, used through `Llm`.

`llm_for` is the one way to get it: every call site (the intake, the heartbeat agent, reports,
research notes, the heartbeat's checklist proposal) calls through the same wrapper, so the same
timeout, breaker and answer checks apply to all of them.

The LLM is an enhancement. Every caller has a plain fallback (the keyword router, the plain
report, deterministic research notes), so every way a call can go wrong — refused connection, no
answer within the timeout, an error status, an answer that is not a chat completion — surfaces
as one exception, `LlmUnavailable`, and the caller falls back.

One circuit breaker per endpoint and process (purgatory, in memory) sits around every call:
after `LLM_BREAKER_FAILURES` failed calls in a row the endpoint is not called for
`LLM_BREAKER_RESET_SECONDS`, then one trial call decides. The SDK's own retries are off (a
retry would multiply the timeout; the breaker and the fallback do that job).

`outage(settings)` tells whether the endpoint is failing right now and which outage this is: an
outage begins with a failed call after a good one (or after start) and ends with a good call,
so a chat can be told once per outage, not on every message.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from core.io.metrics import LLM_CALLS, LLM_TOKENS
from core.io.settings import Settings

if TYPE_CHECKING:  # the SDK is imported when a client is built: a process without an LLM
    # configured (`make run` out of the box) never pays its ~40 MB; the breaker's library, on the
    # first call (a few MB).
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion
    from purgatory import AsyncCircuitBreakerFactory

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://api.openai.com/v1"


class LlmUnavailable(RuntimeError):
    """The model gave no usable answer (or its breaker is open); the caller falls back.
    `status` is the HTTP status when the endpoint answered with an error."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class BadAnswer(ValueError):
    """The endpoint answered, but not with a chat completion."""


@dataclass
class _Health:
    outages: int = 0  # outages begun in this process
    down: bool = False


@cache
def request_errors() -> tuple[type[Exception], ...]:
    """Refusals of one request (too long, malformed): the endpoint answers, so they are no
    outage and the breaker counts them as answers."""
    from openai import BadRequestError, UnprocessableEntityError

    return (BadRequestError, UnprocessableEntityError)


@cache
def _breakers() -> AsyncCircuitBreakerFactory:
    from purgatory import AsyncCircuitBreakerFactory

    return AsyncCircuitBreakerFactory(exclude=list(request_errors()))


_health: dict[str, _Health] = {}
_clients: dict[tuple[int, str, str, float], AsyncOpenAI] = {}
_generation: dict[str, int] = {}
MAX_CLIENTS = 32


def endpoint_of(settings: Settings) -> str:
    return (settings.openai_base_url or DEFAULT_ENDPOINT).rstrip("/")


def forget(endpoint: str) -> None:
    """Start over for an endpoint: a fresh breaker and no outage (a test server whose port the
    next one may get)."""
    endpoint = endpoint.rstrip("/")
    _health.pop(endpoint, None)
    _generation[endpoint] = _generation.get(endpoint, 0) + 1


def outage(settings: Settings) -> int | None:
    """The number of the current outage of the configured endpoint, None while it answers
    (or when no LLM is configured)."""
    if not settings.llm_enabled:
        return None
    health = _health.get(endpoint_of(settings))
    return health.outages if health is not None and health.down else None


def _sdk_client(settings: Settings, *, timeout: float) -> AsyncOpenAI | None:
    """The raw SDK client (no retries), None when no key is configured; `llm_for` wraps it.
    Clients are kept per event loop, endpoint, key and timeout: building one costs ~20 ms
    (an SSL context), paid by every job otherwise."""
    if settings.openai_api_key is None:
        return None
    key = settings.openai_api_key.get_secret_value()
    try:
        loop = id(asyncio.get_running_loop())
    except RuntimeError:  # built outside a loop: not shared
        loop = None
    cache_key = (loop or 0, endpoint_of(settings), key, timeout)
    client = _clients.get(cache_key) if loop is not None else None
    if client is None:
        if len(_clients) >= MAX_CLIENTS:
            _clients.clear()  # settings changed many times (tests): start over
        from openai import AsyncOpenAI

        client = AsyncOpenAI(
            api_key=key, base_url=settings.openai_base_url, timeout=timeout, max_retries=0
        )
        if loop is not None:
            _clients[cache_key] = client
    return client


def llm_for(settings: Settings, *, interactive: bool) -> Llm | None:
    """The LLM for a caller, None when none is configured. `interactive`: a person waits for
    the answer (`LLM_TIMEOUT_SECONDS`); otherwise a job does (`LLM_JOB_TIMEOUT_SECONDS`)."""
    timeout = settings.llm_timeout_seconds if interactive else settings.llm_job_timeout_seconds
    client = _sdk_client(settings, timeout=timeout)
    return Llm(client, settings, timeout=timeout) if client is not None else None


class Llm:
    """One endpoint as every call site uses it: breaker, timeout, answer checked."""

    def __init__(self, client: AsyncOpenAI, settings: Settings, *, timeout: float) -> None:
        self.client = client
        self.settings = settings
        self.timeout = timeout
        self.endpoint = endpoint_of(settings)

    async def ask(self, model: str, system: str, user: str, **options: Any) -> str:
        """One question without tools: the answer's text (stripped; empty when the model said
        nothing), or `LlmUnavailable`."""
        response = await self.complete(
            model=model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            **options,
        )
        return (response.choices[0].message.content or "").strip() if response.choices else ""

    async def complete(self, **request: Any) -> ChatCompletion:
        """`chat.completions.create(**request)`, or `LlmUnavailable` saying why not."""
        from purgatory.domain.model import OpenedState

        breaker = await _breakers().get_breaker(
            f"{self.endpoint}#{_generation.get(self.endpoint, 0)}",
            threshold=self.settings.llm_breaker_failures,
            ttl=self.settings.llm_breaker_reset_seconds,
        )
        health = _health.setdefault(self.endpoint, _Health())
        try:
            async with breaker:
                # The SDK's timeout bounds each read; this bounds the whole call.
                async with asyncio.timeout(self.timeout + 1):
                    response = await self.client.chat.completions.create(**request)
                check_answer(response)
        except OpenedState:
            LLM_CALLS.labels("unavailable").inc()
            self._failed(health, "the circuit breaker is open")
            raise LlmUnavailable("not called: the circuit breaker is open") from None
        except request_errors() as exc:  # the endpoint is up; this request was refused
            LLM_CALLS.labels("refused").inc()
            raise LlmUnavailable(_describe(exc), getattr(exc, "status_code", None)) from None
        except Exception as exc:  # anything at all: the caller has a plain fallback
            LLM_CALLS.labels("unavailable").inc()
            reason = _describe(exc)
            self._failed(health, reason)
            raise LlmUnavailable(reason, getattr(exc, "status_code", None)) from None
        LLM_CALLS.labels("ok").inc()
        usage = getattr(response, "usage", None)
        if usage is not None:
            LLM_TOKENS.labels("prompt").inc(getattr(usage, "prompt_tokens", 0) or 0)
            LLM_TOKENS.labels("completion").inc(getattr(usage, "completion_tokens", 0) or 0)
        if health.down:
            log.info("LLM at %s answers again", self.endpoint)
        health.down = False
        return response  # type: ignore[no-any-return]

    def _failed(self, health: _Health, reason: str) -> None:
        if not health.down:
            health.down = True
            health.outages += 1
            log.warning("LLM at %s is unavailable (%s); working without it", self.endpoint, reason)
        else:
            log.info("LLM at %s still unavailable (%s)", self.endpoint, reason)


def check_answer(response: Any) -> None:
    """A chat completion with at least one choice whose message has text and/or tool calls of
    the right types — checked by shape, since the SDK hands back whatever the server sent."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise BadAnswer(f"no choices in the answer ({type(response).__name__})")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", 0)
    if content is not None and not isinstance(content, str):
        raise BadAnswer("the answer has no message text")
    calls = getattr(message, "tool_calls", None)
    if calls is None:
        return
    if not isinstance(calls, list):
        raise BadAnswer("tool calls are not a list")
    for call in calls:
        function = getattr(call, "function", None)
        if not isinstance(getattr(function, "name", None), str) or not isinstance(
            getattr(function, "arguments", None), str
        ):
            raise BadAnswer("a tool call without a name or arguments")


def _describe(exc: BaseException) -> str:
    """The kind of failure, never the SDK's message (it can quote request details)."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"{type(exc).__name__} (HTTP {status})"
    if isinstance(exc, BadAnswer):
        return f"unusable answer: {exc}"
    return type(exc).__name__
