"""Report ledger rules that a plausible one-line slip would break silently: "already reported"
means this very status was told (an earlier, other status does not count), and the count of
delivered parts belongs to one message (owner and status), never to another one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.io.db import Database
from core.io.ledger import ClaimOutcome, ReportLedgerStore

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PUSH = "job-led001/run/1"
HEARTBEAT = "heartbeat-1-2026/run/3"
OTHER = "heartbeat-1-2026/run/4"


async def test_an_earlier_status_told_is_not_this_status_reported(database: Database) -> None:
    """`running` was told; the push now claims `completed`. Another reporter asking for
    `completed` while that claim is live must wait (held), not drop the result as told."""
    ledger = ReportLedgerStore(database)
    await ledger.mark_reported("job-led001", 1, "running", now=T0)
    assert (await ledger.claim("job-led001", 1, "completed", PUSH, now=T0)).claimed
    other = await ledger.claim("job-led001", 1, "completed", HEARTBEAT, now=T0)
    assert other.outcome is ClaimOutcome.held, other
    assert other.held_until == T0 + timedelta(seconds=120)
    # Once the push confirms, the same question is answered "reported".
    await ledger.confirm("job-led001", "completed", PUSH, now=T0)
    told = await ledger.claim("job-led001", 1, "completed", OTHER, now=T0)
    assert told.outcome is ClaimOutcome.reported


async def test_a_status_told_long_ago_does_not_answer_for_a_new_one(database: Database) -> None:
    """Nobody holds a claim and an older status is told: the new status is claimable."""
    ledger = ReportLedgerStore(database)
    await ledger.mark_reported("job-led002", 1, "running", now=T0)
    claim = await ledger.claim("job-led002", 1, "needs_attention#1", HEARTBEAT, now=T0)
    assert claim.outcome is ClaimOutcome.claimed


async def test_delivered_parts_belong_to_their_own_message(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    await ledger.claim("job-led003", 1, "completed", PUSH, now=T0)
    first = f"{PUSH}|completed"
    await ledger.record_parts_sent("job-led003", first, 2)
    assert await ledger.parts_sent("job-led003", first) == 2
    # Another message of the same job (another owner, or another status) sent nothing yet:
    # a retry of it must send every part, not skip the first two.
    assert await ledger.parts_sent("job-led003", f"{HEARTBEAT}|completed") == 0
    assert await ledger.parts_sent("job-led003", f"{PUSH}|failed") == 0
    assert await ledger.parts_sent("job-led999", first) == 0  # no entry at all
    # A later, lower count of the same message never lowers it (writes finish out of order);
    # a count for another message replaces it.
    await ledger.record_parts_sent("job-led003", first, 1)
    assert await ledger.parts_sent("job-led003", first) == 2
    await ledger.record_parts_sent("job-led003", f"{HEARTBEAT}|completed", 1)
    assert await ledger.parts_sent("job-led003", f"{HEARTBEAT}|completed") == 1
    assert await ledger.parts_sent("job-led003", first) == 0


async def test_a_claim_decided_on_an_old_reading_is_not_taken(database: Database) -> None:
    """The heartbeat claims with the status it saw told (`told_before`): once the ledger has
    moved on, the claim is refused as held (with no lease to wait for) — never taken to tell
    an older state — and a claim whose reading is still true is taken."""
    ledger = ReportLedgerStore(database)
    stale = await ledger.claim("job-led004", 1, "running", HEARTBEAT, now=T0, told_before=None)
    assert stale.claimed  # nothing told, as read
    await ledger.release("job-led004", HEARTBEAT)
    assert (await ledger.claim("job-led004", 1, "running", PUSH, now=T0)).claimed
    await ledger.confirm("job-led004", "running", PUSH, now=T0)
    assert (await ledger.claim("job-led004", 1, "completed", PUSH, now=T0)).claimed
    await ledger.confirm("job-led004", "completed", PUSH, now=T0)
    late = await ledger.claim("job-led004", 1, "running", HEARTBEAT, now=T0, told_before=None)
    assert late.outcome is ClaimOutcome.held and late.held_until is None, late
    entry = await ledger.entry("job-led004")
    assert entry is not None and entry.last_reported_status == "completed"
    assert entry.claim_owner is None
    fresh = await ledger.claim(
        "job-led004", 1, "completed:stale", HEARTBEAT, now=T0, told_before="completed"
    )
    assert fresh.claimed
