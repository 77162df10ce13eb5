"""/heartbeat: this chat's (or forum topic's) heartbeat — settings and last runs, set/unset,
on/off (the schedule's pause), fire now, and an LLM-proposed checklist the person confirms."""

from __future__ import annotations

from bot.command_registry import button, command
from bot.heartbeat.admin import HeartbeatAdmin, settings_help
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.messages import Button
from core.domain.render import esc

USAGE = (
    "usage: /heartbeat · /heartbeat set &lt;key&gt; &lt;value&gt; · /heartbeat unset &lt;key&gt; · "
    "/heartbeat on|off · /heartbeat fire · /heartbeat infer [accept] · "
    "/heartbeat template &lt;id&gt; &lt;text&gt;"
)


def admin_of(op: ChatServices) -> HeartbeatAdmin:
    admin = getattr(op, "heartbeats", None)
    if isinstance(admin, HeartbeatAdmin):
        return admin
    admin = HeartbeatAdmin(op.settings, op.deps.client, op.deps.chats.db)
    op.heartbeats = admin  # type: ignore[attr-defined]
    return admin


def target_of(msg: Incoming) -> HeartbeatTarget:
    return HeartbeatTarget(chat_id=msg.chat_id, topic_id=msg.topic_id)


@command(
    "heartbeat",
    "/heartbeat [set|unset|on|off|fire|infer]",
    "this chat's heartbeat: settings and last runs; change, pause, fire it",
    "/heartbeat set interval_minutes 30",
)
async def heartbeat_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    admin = admin_of(op)
    target = target_of(msg)
    sub, _, rest = args.strip().partition(" ")
    sub, rest = sub.lower(), rest.strip()
    if sub in ("", "show", "status"):
        return [Reply(text=await admin.view(target))]
    if sub == "set":
        key, _, value = rest.partition(" ")
        if not key or not value.strip():
            return [
                Reply(
                    text=f"usage: /heartbeat set &lt;key&gt; &lt;value&gt;\n{esc(settings_help())}"
                )
            ]
        return [Reply(text=await admin.set(target, key, value, msg.user_id))]
    if sub in ("unset", "reset"):
        if not rest:
            return [Reply(text=f"usage: /heartbeat unset &lt;key&gt;\n{esc(settings_help())}")]
        return [Reply(text=await admin.unset(target, rest.split()[0]))]
    if sub in ("on", "off"):
        return [Reply(text=await admin.toggle(target, sub == "on", msg.user_id))]
    if sub == "fire":
        return [Reply(text=await admin.fire(target))]
    if sub == "infer":
        if rest.lower() in ("accept", "yes", "ok"):
            return [Reply(text=await admin.accept_inferred(target))]
        text, proposed = await admin.infer(target)
        buttons = [Button(label="Use this checklist", data="hb:accept")] if proposed else []
        return [Reply(text=text, buttons=buttons)]
    if sub in ("template", "templates"):
        if not rest:  # the ids this chat can use: its own and the ones the owner shared
            return [Reply(text=await admin.chat_templates(msg.chat_id))]
        template_id, _, body = rest.partition(" ")
        if not body.strip():
            return [Reply(text="usage: /heartbeat template &lt;id&gt; &lt;prompt text&gt;")]
        return [Reply(text=await admin.save_template(template_id, body, chat_id=msg.chat_id))]
    return [Reply(text=USAGE)]


@button("hb")
async def heartbeat_button(op: ChatServices, msg: Incoming, action: str) -> list[Reply]:
    if action == "accept":
        return [Reply(text=await admin_of(op).accept_inferred(target_of(msg)))]
    return [Reply(text="⚠️ That button is no longer valid.")]
