"""The run's report: a markdown page and a PNG timeline (kills, faults, messages per chat,
latency) that show at a glance whether anything was lost."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench._fidelity.deploy import Event
from bench._fidelity.edits import (
    EDIT_BEFORE_RESULT_SECONDS,
    GROUP_PER_MINUTE,
    EditVerdict,
    ResultPoint,
)
from bench._fidelity.judge import Delivery, JobTruth, Kill, SendAttempt, Verdict


@dataclass
class Fault:
    at: float
    status: int
    hidden: bool


@dataclass
class RunFacts:
    command: str
    database: str
    processes: list[str]
    targets: list[str]
    started: float
    day_end: float
    closed_at: float
    finished: float
    asked: int
    api_started: int
    api_failed: int
    presses: int
    schedules: int
    calls: int
    llm_requests: int
    # Job summaries (the reporting worker's scripted model), as the report ledger records them.
    summaries_added: int = 0
    summaries_skipped: int = 0


def timeline(
    path: Path,
    verdict: Verdict,
    facts: RunFacts,
    events: list[Event],
    faults: list[Fault],
    deliveries: list[Delivery],
    truths: list[JobTruth],
    lost_jobs: set[str],
) -> None:
    t0 = facts.started
    fig, axes = plt.subplots(4, 1, figsize=(13, 12), sharex=True)
    color = "#1a7f37" if verdict.ok else "#cf222e"
    fig.suptitle(
        f"{'PASS' if verdict.ok else 'FAIL'} · lost {verdict.lost} · "
        f"duplicated {verdict.duplicated} (designed {verdict.designed}) · "
        f"misrouted {verdict.misrouted}\n{verdict.line()}",
        color=color,
        fontsize=10,
    )

    ax = axes[0]
    roles = sorted({e.role for e in events})
    rows = {role: i for i, role in enumerate(roles)}
    styles = {
        "kill": ("x", "#cf222e"),
        "aimed-kill": ("D", "#8250df"),
        "crash": ("o", "#bf8700"),
        "server-restart": ("|", "#0969da"),
    }
    for kind, (marker, colour) in styles.items():
        xs = [e.at - t0 for e in events if e.kind == kind]
        ys = [rows[e.role] for e in events if e.kind == kind]
        if xs:
            ax.scatter(xs, ys, marker=marker, color=colour, label=f"{kind} ({len(xs)})", s=30)
    ax.set_yticks(range(len(roles)), roles)
    ax.set_title("processes killed (each restarted at once) and the dev-server restart")
    if events:
        ax.legend(loc="upper right", fontsize=8)

    ax = axes[1]
    end = max([facts.finished - t0, 1.0])
    bins = [i * 5.0 for i in range(int(end // 5) + 2)]
    series = [
        ([f.at - t0 for f in faults if f.status == 429], "429 retry_after", "#bf8700"),
        ([f.at - t0 for f in faults if f.status >= 500 and not f.hidden], "502", "#cf222e"),
        ([f.at - t0 for f in faults if f.status >= 500 and f.hidden], "502, delivered", "#8250df"),
    ]
    for xs, label, colour in series:
        if xs:
            ax.hist(xs, bins=bins, histtype="step", color=colour, label=f"{label} ({len(xs)})")
    ax.set_title("Bot API faults injected (per 5 s)")
    if faults:
        ax.legend(loc="upper right", fontsize=8)

    ax = axes[2]
    places = sorted(
        {(d.chat_id, d.thread_id or 0) for d in deliveries}
        | {(t.chat_id, t.topic_id or 0) for t in truths}
    )
    prow = {p: i for i, p in enumerate(places)}
    hb = [d for d in deliveries if d.from_heartbeat]
    other = [d for d in deliveries if not d.from_heartbeat]
    ax.scatter(
        [d.at - t0 for d in other],
        [prow[(d.chat_id, d.thread_id or 0)] for d in other],
        s=6, color="#0969da", label=f"job messages and replies ({len(other)})",
    )  # fmt: skip
    ax.scatter(
        [d.at - t0 for d in hb],
        [prow[(d.chat_id, d.thread_id or 0)] for d in hb],
        s=14, marker="s", color="#1a7f37", label=f"heartbeat messages ({len(hb)})",
    )  # fmt: skip
    lost = [t for t in truths if t.job_id in lost_jobs]
    if lost:
        ax.scatter(
            [(t.final_at or t.states[-1][1]) - t0 for t in lost],
            [prow[(t.chat_id, t.topic_id or 0)] for t in lost],
            s=60, marker="X", color="#cf222e", label=f"jobs with a lost message ({len(lost)})",
        )  # fmt: skip
    step = max(1, len(places) // 24)  # at most ~24 labels stay legible
    ax.set_yticks(
        range(0, len(places), step),
        [f"{c}" + (f":{t}" if t else "") for c, t in places][::step],
        fontsize=7,
    )
    ax.set_title("messages per chat (and topic)")
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[3]
    finals = [t for t in truths if t.final_at is not None]
    lat = verdict.latency_points
    if lat:
        ax.scatter([x - t0 for x, _ in lat], [y for _, y in lat], s=6, color="#0969da")
        ax.axhline(verdict.p50, color="#1a7f37", linestyle="--", label=f"p50 {verdict.p50:.0f} ms")
        ax.axhline(verdict.p99, color="#cf222e", linestyle="--", label=f"p99 {verdict.p99:.0f} ms")
        ax.set_yscale("log")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_title(
        f"final state → its message, without retry_after waits (ms; {len(lat)} of "
        f"{len(finals)} finished jobs)"
    )
    ax.set_xlabel("seconds since the deployment started")
    for ax in axes:
        ax.axvline(facts.day_end - t0, color="#57606a", linewidth=0.8, linestyle=":")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _items(title: str, items: list[str], total: int) -> list[str]:
    if not total:
        return []
    lines = [f"### {title} ({total})", ""]
    lines += [f"- `{item}`" for item in items]
    if total > len(items):
        lines.append(f"- … and {total - len(items)} more")
    return [*lines, ""]


def markdown(
    path: Path,
    picture: Path,
    verdict: Verdict,
    facts: RunFacts,
    events: list[Event],
    faults: list[Fault],
    kill_records: Sequence[Kill] = (),
) -> None:
    kills = Counter(e.role for e in events if e.kind in ("kill", "aimed-kill"))
    aimed = [e for e in events if e.kind == "aimed-kill"]
    crashes = [e for e in events if e.kind == "crash"]
    status = "PASS — the hard rules hold" if verdict.ok else "FAIL — a hard rule is broken"
    minutes = (facts.finished - facts.started) / 60
    lines = [
        "# Fidelity run",
        "",
        f"**{status}.**",
        "",
        "```",
        verdict.line(),
        "```",
        "",
        f"![timeline]({picture.name})",
        "",
        f"Reproduce: `{facts.command}` ({minutes:.1f} min on this machine).",
        "",
        "## Figures",
        "",
        "| figure | value | rule |",
        "| --- | --- | --- |",
        f"| jobs judged (JobWorkflow histories) | {verdict.jobs} | |",
        f"| messages the policies ask for (needs attention, final) | {verdict.expected} | |",
        f"| lost | {verdict.lost} | must be 0 |",
        f"| duplicated | {verdict.duplicated} | only designed ones |",
        f"| of them designed: a kill of the sender between send and confirm | {verdict.by_kill} "
        "| allowed, each listed with its kill |",
        f"| of them designed: a 5xx that hid the delivery | {verdict.by_5xx} | allowed |",
        f"| of them undesigned (no cause on record) | {verdict.duplicated - verdict.designed} "
        "| must be 0 |",
        f"| designed repeats whose ledger confirm the harness did not see | "
        f"{verdict.confirms_missing} | reported (judged up to the repeat) |",
        f"| notify attempts retried after a timeout | {verdict.retries_after_timeout} | |",
        f"| of them spurious (no kill of the worker, no server restart) | "
        f"{verdict.spurious_retries} | reported, goal 0 |",
        f"| misrouted (a job named in another chat or topic) | {verdict.misrouted} | must be 0 |",
        f"| silent-policy violations | {verdict.silent} | must be 0 |",
        f"| quiet-hour violations (heartbeat inside the window) | {verdict.quiet} | must be 0 |",
        f"| ack-token / markup leaks | {verdict.leaks} | must be 0 |",
        f"| jobs still running when judged | {verdict.unfinished} | must be 0 |",
        f"| jobs meant to succeed that did not complete | {verdict.not_succeeded} | must be 0 |",
        "| of the jobs meant to succeed, failed as designed (their step ran out of attempts "
        f"while kills took its workers) | {len(verdict.lost_to_kills_items)} | listed |",
        f"| messages for unchanged state (repeats, unwanted states) | {verdict.unchanged} | "
        "reported |",
        f"| start cards missing (state_changes jobs) | {verdict.start_cards_missing} | reported |",
        f"| final results told only by the heartbeat | {verdict.rescued_by_heartbeat} | reported |",
        f"| latency final state → message p50 / p99 | {verdict.p50:.0f} / {verdict.p99:.0f} ms | "
        "reported |",
        f"| p99 beside the dev-server restart ({len(verdict.outage_ms)} results in flight across "
        f"it left out) | {verdict.p99_beside_outage:.0f} ms | goal ≤ 5000 ms |",
        f"| messages delivered (all chats) | {verdict.messages} | |",
        *_edit_figures(verdict.edits),
        "",
        "## The run",
        "",
        f"- Deployment: one Temporal dev server (data file, restarted once on it), app database "
        f"on {facts.database}, one OS process per role through `hbo`: "
        f"{', '.join(facts.processes)}; the bot against the Bot API emulator.",
        f"- Chats: {len(facts.targets)} heartbeat targets — private chats, groups and forum "
        f"topics, {sum(1 for t in facts.targets if '(q)' in t)} of them with quiet hours "
        f"(q), one whose heartbeat asks the scripted LLM (llm): "
        f"{', '.join(facts.targets[:7])}{' …' if len(facts.targets) > 7 else ''}; a heartbeat "
        f"every minute on each; the scripted LLM answered {facts.llm_requests} request(s).",
        f"- Job summaries (a second scripted model, on the reporting worker; told after each "
        f"long result and edited into it): {facts.summaries_added} added, "
        f"{facts.summaries_skipped} skipped (an attempt a crash stopped midway, or a follow-up "
        "that could not be delivered).",
        f"- Jobs asked for in chats: {facts.asked} commands, of which Temporal holds "
        f"{verdict.requested} jobs (a command the bot never handled — killed mid-update — "
        f"makes none; one handled twice makes two); recurring runs: {verdict.scheduled_runs}; "
        f"started from a JobSpec (done_only, silent, "
        f"state_changes): {facts.api_started} ({facts.api_failed} could not be started); "
        f"recurring schedules: {facts.schedules}; Retry/Cancel presses: {facts.presses}.",
        f"- Kills: {sum(kills.values())} ("
        + ", ".join(f"{role} {n}" for role, n in sorted(kills.items()))
        + f"); aimed between a ledger claim and its confirm: {len(aimed)}"
        + (f" ({sum(1 for e in aimed if 'claimed' in e.detail)} caught a claim)" if aimed else "")
        + f"; crashes restarted: {len(crashes)}.",
        f"- Bot API calls: {facts.calls}; 429: {sum(1 for f in faults if f.status == 429)}, "
        f"5xx: {sum(1 for f in faults if f.status >= 500)} "
        f"(after delivery: {sum(1 for f in faults if f.hidden)}).",
        "",
        "## Details",
        "",
    ]
    lines += _items("Lost", verdict.lost_items, verdict.lost)
    lines += _items(
        "Repeated with no cause on record (a broken rule)",
        verdict.duplicate_items,
        verdict.duplicated - verdict.designed,
    )
    lines += _items(
        "Designed repeats, each with its cause", verdict.designed_items, verdict.designed
    )
    lines += _items("Spurious retries", verdict.spurious_items, verdict.spurious_retries)
    lines += _kills(kill_records)
    lines += _items("Misrouted", verdict.misrouted_items, verdict.misrouted)
    lines += _items("Silent-policy violations", verdict.silent_items, verdict.silent)
    lines += _items("Quiet-hour violations", verdict.quiet_items, verdict.quiet)
    lines += _items("Leaks", verdict.leak_items, verdict.leaks)
    lines += _items("Unchanged state", verdict.unchanged_items, verdict.unchanged)
    lines += _items("Unfinished", verdict.unfinished_items, verdict.unfinished)
    lines += _items(
        "Meant to succeed, did not complete (a broken rule)",
        verdict.not_succeeded_items,
        verdict.not_succeeded,
    )
    lines += _items(
        "Meant to succeed, failed as designed (its step's workers killed until out of attempts)",
        verdict.lost_to_kills_items,
        len(verdict.lost_to_kills_items),
    )
    lines += _items(
        '"Message is not modified" with no cause on record (a broken rule)',
        verdict.edits.not_modified_items,
        verdict.edits.undesigned_not_modified,
    )
    lines += _items(
        '"Message is not modified" after the same edit took effect, each with its cause',
        verdict.edits.designed_items,
        verdict.edits.not_modified_designed,
    )
    lines += _items(
        "Live card edits sent into a full group minute (a broken rule)",
        verdict.edits.over_budget_items,
        verdict.edits.live_over_budget,
    )
    lines += _edits_per_chat(verdict.edits)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _edit_figures(edits: EditVerdict) -> list[str]:
    worst = edits.worst_group
    group = f"{worst.worst} (group {worst.chat_id}, at {_stamp(worst.ends_at)})" if worst else "0"
    after = edits.worst_after_edit
    delayed = (
        f"{after.ms:.0f} ms ({after.job_id}) vs p50 of all {edits.p50_ms:.0f} ms"
        if after
        else f"none (p50 of all {edits.p50_ms:.0f} ms)"
    )
    return [
        f"| card edits that took effect (of them live card refreshes) | {edits.edits} "
        f"({edits.live}) | |",
        f'| edits answered "message is not modified" | {edits.not_modified} | '
        "only after the same edit took effect (a hidden 5xx or a kill) |",
        f"| of them with no cause on record | {edits.undesigned_not_modified} | must be 0 |",
        f"| most messages + edits in a group's 60 s | {group} | reported; Telegram's limit "
        f"{GROUP_PER_MINUTE} |",
        f"| live card refreshes sent when the group's 60 s already held {GROUP_PER_MINUTE} | "
        f"{edits.live_over_budget} | must be 0 |",
        f"| other edits sent into a full group minute | {edits.edits_over_budget} | reported |",
        f"| results with an edit in their chat in the {EDIT_BEFORE_RESULT_SECONDS:.0f} s before "
        f"(a live refresh) | {edits.results_after_edit} ({edits.results_after_live_edit}) "
        f"of {edits.results} | |",
        f"| worst latency of a result right after an edit | {delayed} | reported |",
    ]


def _edits_per_chat(edits: EditVerdict) -> list[str]:
    """Edits per chat: every edit call, those that took effect, live refreshes, not modified;
    for a group, its fullest minute."""
    if not edits.chats:
        return []
    lines = [
        f"### Card edits per chat ({len(edits.chats)} chats)",
        "",
        "| chat | edit calls | took effect | live | not modified | fullest group minute |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for chat_id, chat in sorted(edits.chats.items()):
        group = edits.groups.get(chat_id)
        lines.append(
            f"| {chat_id} | {chat.calls} | {chat.applied} | {chat.live} | {chat.not_modified} "
            f"| {group.worst if group else ''} |"
        )
    return [*lines, ""]


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S.%f")[:-3]


def _kills(kills: Sequence[Kill]) -> list[str]:
    """Every kill, one row each: what the judge weighed a repeat against."""
    if not kills:
        return []
    lines = [
        f"### Kills ({len(kills)})",
        "",
        "| time (UTC) | role | pid | process | aimed | ledger claims live just before |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for k in kills:
        held = ", ".join(k.held[:3]) + (f" … (+{len(k.held) - 3})" if len(k.held) > 3 else "")
        lines.append(
            f"| {_stamp(k.at)} | {k.role} | {k.pid} | `{k.process}` | "
            f"{'yes' if k.aimed else ''} | {held} |"
        )
    return [*lines, ""]


def write_records(
    out: Path,
    kills: Sequence[Kill],
    attempts: Sequence[SendAttempt],
    results: Sequence[ResultPoint] = (),
) -> None:
    """kills.csv and sends.csv beside the report: the raw records the judge used; and
    latencies.csv: each job's first report of its final state, its latency, and the last kill
    of the operator (the one process that runs notify activities) before it was told."""
    with (out / "kills.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["at_utc", "role", "pid", "process", "aimed", "held"])
        for k in kills:
            writer.writerow(
                [_stamp(k.at), k.role, k.pid, k.process, int(k.aimed), ";".join(k.held)]
            )
    with (out / "sends.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "at_utc",
                "chat_id",
                "method",
                "status",
                "delivered_despite_error",
                "message_id",
                "not_modified",
                "live_card",
                "heading",
            ]
        )
        for a in attempts:
            writer.writerow(
                [
                    _stamp(a.at),
                    a.chat_id,
                    a.method,
                    a.status,
                    int(a.applied),
                    "" if a.message_id is None else a.message_id,
                    int(a.not_modified),
                    int(a.live),
                    a.text.split("\n", 1)[0][:120],
                ]
            )
    operator_kills = sorted(k.at for k in kills if k.kind == "operator")
    with (out / "latencies.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["told_at_utc", "job_id", "chat_id", "latency_ms", "operator_kill_s_before_told"]
        )
        for r in sorted(results, key=lambda r: r.at):
            before = [at for at in operator_kills if at <= r.at]
            writer.writerow(
                [
                    _stamp(r.at),
                    r.job_id,
                    r.chat_id,
                    f"{r.ms:.0f}",
                    f"{r.at - before[-1]:.1f}" if before else "",
                ]
            )
