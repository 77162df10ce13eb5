"""The optional LLM: an openai SDK client on any OpenAI-compatible base URL."""

from __future__ import annotations

from openai import AsyncOpenAI

from core.settings import Settings


def llm_client(settings: Settings) -> AsyncOpenAI | None:
    """None when no key is configured: callers fall back to deterministic behaviour."""
    if settings.openai_api_key is None:
        return None
    return AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=60.0,
        max_retries=2,
    )
