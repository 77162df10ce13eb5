"""`hbo heartbeat …`: the heartbeat admin operations from a shell (same code as /heartbeat).

hbo heartbeat list
hbo heartbeat show -1001234567890:42
hbo heartbeat set 1001 interval_minutes 30
hbo heartbeat unset 1001 quiet_hours
hbo heartbeat on|off|fire 1001
hbo heartbeat infer 1001 [--accept]
hbo heartbeat template daily-check "Check that last night's backup job completed"   (shared)
hbo heartbeat templates
hbo heartbeat share 1001 daily-check      (chat 1001's template becomes a shared one)
hbo heartbeat unshare daily-check
hbo heartbeat sync
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.heartbeat.admin import HeartbeatAdmin
from core.domain.errors import Refusal
from core.domain.heartbeat.target import parse_target
from core.domain.render import html_to_plain
from core.io.db import Database
from core.io.settings import Settings
from core.io.tables import SHARED_TEMPLATES
from core.io.temporal import connect, ensure_search_attributes


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("heartbeat", help="heartbeat targets: show, set, on/off, fire, infer")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every heartbeat target")
    actions.add_parser("sync", help="create/refresh the schedules of every target")
    for name, help_text in (
        ("show", "settings and the last runs"),
        ("on", "resume (unpause the schedule)"),
        ("off", "pause the schedule"),
        ("fire", "run now (the schedule's trigger)"),
    ):
        actions.add_parser(name, help=help_text).add_argument("target", help="chat_id[:topic_id]")
    set_parser = actions.add_parser("set", help="set one setting for a target")
    set_parser.add_argument("target")
    set_parser.add_argument("key")
    set_parser.add_argument("value", nargs="+")
    unset_parser = actions.add_parser("unset", help="back to the global default")
    unset_parser.add_argument("target")
    unset_parser.add_argument("key")
    infer = actions.add_parser("infer", help="propose a checklist with the LLM")
    infer.add_argument("target")
    infer.add_argument("--accept", action="store_true", help="use the stored proposal")
    template = actions.add_parser(
        "template", help="save a prompt template shared with every chat (an owner's action)"
    )
    template.add_argument("template_id")
    template.add_argument("text", nargs="+")
    actions.add_parser("templates", help="every chat's prompt templates, and the shared ones")
    share = actions.add_parser("share", help="share one chat's prompt template with every chat")
    share.add_argument("chat_id", type=int)
    share.add_argument("template_id")
    unshare = actions.add_parser("unshare", help="withdraw a shared prompt template")
    unshare.add_argument("template_id")


async def run(settings: Settings, args: argparse.Namespace, private: Sequence[int] = ()) -> int:
    """One action; `sync` also creates the heartbeats of the `private` chats (as start-up does)."""
    db = Database(settings.database_url)
    await db.migrate()
    client = await connect(settings)
    await ensure_search_attributes(client)
    admin = HeartbeatAdmin(settings, client, db)
    try:
        text = await _dispatch(admin, args, private)
    except (Refusal, ValueError) as exc:  # a target, a setting or a value that is refused
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await db.close()
    print(html_to_plain(text))
    return 1 if text.startswith("⚠️") else 0


async def _dispatch(admin: HeartbeatAdmin, args: argparse.Namespace, private: Sequence[int]) -> str:
    action = args.action
    if action == "list":
        return await admin.list_targets()
    if action == "sync":
        changed = await admin.schedules.sync_all(private)
        return "\n".join(changed) or "All heartbeat schedules are in step."
    # Templates: the CLI is the owner's, so what it saves or shares reaches every chat.
    if action == "template":
        return await admin.save_template(
            args.template_id, " ".join(args.text), chat_id=SHARED_TEMPLATES
        )
    if action == "templates":
        return await admin.list_templates()
    if action == "share":
        return await admin.share_template(args.chat_id, args.template_id)
    if action == "unshare":
        return await admin.unshare_template(args.template_id)
    target = parse_target(args.target)
    if action == "show":
        return await admin.view(target, runs=10)
    if action == "set":
        return await admin.set(target, args.key, " ".join(args.value), None)
    if action == "unset":
        return await admin.unset(target, args.key)
    if action in ("on", "off"):
        return await admin.toggle(target, action == "on", None)
    if action == "fire":
        return await admin.fire(target)
    if action == "infer":
        if args.accept:
            return await admin.accept_inferred(target)
        return (await admin.infer(target))[0]
    raise ValueError(f"unknown action {action}")
