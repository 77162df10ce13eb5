"""Prompt templates: a chat's own, and the shared ones the owner offers to every chat."""

from __future__ import annotations

from core.domain.heartbeat.config import SettingError, parse_value
from core.domain.render import esc, truncate_utf16
from core.io.heartbeat.store import HeartbeatStore
from core.io.tables import SHARED_TEMPLATES


class HeartbeatTemplates:
    def __init__(self, store: HeartbeatStore) -> None:
        self.store = store

    async def save_template(self, template_id: str, body: str, *, chat_id: int) -> str:
        """Save a template for one chat; `chat_id` SHARED_TEMPLATES (the owner's CLI) saves a
        shared one, offered to every chat."""
        try:
            template_id = parse_value("prompt_template_id", template_id)
        except SettingError as exc:
            return f"⚠️ {esc(exc)} Nothing changed."
        if not body.strip():
            return "⚠️ A template needs some text. Nothing changed."
        await self.store.put_template(template_id, body.strip()[:4000], chat_id=chat_id)
        whose = "shared with every chat" if chat_id == SHARED_TEMPLATES else "for this chat"
        return (
            f"✅ Template <code>{esc(template_id)}</code> saved {whose}; use it with "
            f"/heartbeat set template {esc(template_id)}."
        )

    async def chat_templates(self, chat_id: int) -> str:
        ids = await self.store.template_ids(chat_id)
        if not ids:
            return (
                "No prompt templates yet. Save one with "
                "/heartbeat template &lt;id&gt; &lt;text&gt;."
            )
        return "Prompt templates this chat can use: " + ", ".join(
            f"<code>{esc(i)}</code>" for i in ids
        )

    async def list_templates(self) -> str:
        """Every chat's templates (the owner's view, from the CLI)."""
        rows = await self.store.all_templates()
        if not rows:
            return "No prompt templates."
        lines = ["<b>Prompt templates</b>"]
        for row in rows:
            whose = "shared" if row.chat_id == SHARED_TEMPLATES else f"chat {row.chat_id}"
            lines.append(
                f"<code>{esc(row.id)}</code> ({whose}): {esc(truncate_utf16(row.body, 80))}"
            )
        return "\n".join(lines)

    async def share_template(self, chat_id: int, template_id: str) -> str:
        """The owner's action: chat `chat_id`'s template becomes a shared one."""
        if not await self.store.share_template(template_id, from_chat=chat_id):
            return f"⚠️ Chat {chat_id} has no template {esc(template_id)}. Nothing changed."
        return f"✅ Template <code>{esc(template_id)}</code> of chat {chat_id} is now shared."

    async def unshare_template(self, template_id: str) -> str:
        if not await self.store.delete_template(template_id, chat_id=SHARED_TEMPLATES):
            return f"⚠️ No shared template {esc(template_id)}. Nothing changed."
        return (
            f"✅ Template <code>{esc(template_id)}</code> is no longer shared; chats with a "
            "template of their own by that id keep theirs."
        )
