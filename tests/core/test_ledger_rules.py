"""Report ledger rules that a plausible one-line slip would break silently: "already reported"
means this very status was told (an earlier, other status does not count), and the count of
delivered parts belongs to one message (owner and status), never to another one. Each entry is
its own job's, shows what was told and when, and a claim or summary is given back whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from core.io.db import Database
from core.io.ledger import ClaimOutcome, ReportLedgerStore, SummaryClaim

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


# --- each entry is its own job's, and shows what was told and when -----------------------------

T1 = T0 + timedelta(minutes=5)


async def test_a_claim_touches_its_own_job_only_and_shows_what_is_in_flight(
    database: Database,
) -> None:
    ledger = ReportLedgerStore(database)
    await ledger.mark_reported("job-led010", 1, "running", now=T0)
    assert (await ledger.claim("job-led011", 1, "completed", PUSH, now=T1)).claimed
    other = await ledger.entry("job-led010")
    assert other is not None and other.claim_owner is None and other.claim_status is None
    assert (await ledger.claim("job-led010", 1, "completed", PUSH, now=T1)).claimed
    entry = await ledger.entry("job-led010")
    assert entry is not None
    assert (entry.claim_status, entry.claim_owner) == ("completed", PUSH)
    assert entry.claim_until == T1 + timedelta(seconds=120)
    assert entry.updated_at == T1  # the row was written at T0; the claim is newer


async def test_a_lease_holds_up_to_and_including_its_end(database: Database) -> None:
    ledger = ReportLedgerStore(database, lease=timedelta(seconds=120))
    assert (await ledger.claim("job-led012", 1, "completed", PUSH, now=T0)).claimed
    end = T0 + timedelta(seconds=120)
    assert (await ledger.claim("job-led012", 1, "completed", HEARTBEAT, now=end)).outcome is (
        ClaimOutcome.held
    )
    after = end + timedelta(microseconds=1)
    assert (await ledger.claim("job-led012", 1, "completed", HEARTBEAT, now=after)).claimed


def _claims(outcome: ClaimOutcome) -> float:
    value = REGISTRY.get_sample_value("hbo_ledger_claims_total", {"outcome": outcome.value})
    return value or 0.0


async def test_each_claim_is_counted_by_its_outcome(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    before = {outcome: _claims(outcome) for outcome in ClaimOutcome}
    await ledger.claim("job-led013", 1, "completed", PUSH, now=T0)
    await ledger.claim("job-led013", 1, "completed", HEARTBEAT, now=T0)
    await ledger.confirm("job-led013", "completed", PUSH, now=T0)
    await ledger.claim("job-led013", 1, "completed", HEARTBEAT, now=T0)
    assert {o: _claims(o) - before[o] for o in ClaimOutcome} == {
        ClaimOutcome.claimed: 1,
        ClaimOutcome.held: 1,
        ClaimOutcome.reported: 1,
    }


async def test_confirm_records_when_and_clears_only_its_own_claim(database: Database) -> None:
    ledger = ReportLedgerStore(database, lease=timedelta(seconds=120))
    assert (await ledger.claim("job-led014", 1, "completed", PUSH, now=T0)).claimed
    late = T0 + timedelta(seconds=121)
    assert (await ledger.claim("job-led014", 1, "completed", HEARTBEAT, now=late)).claimed
    await ledger.confirm("job-led014", "completed", PUSH, now=T1)
    entry = await ledger.entry("job-led014")
    assert entry is not None
    assert (entry.last_reported_status, entry.reported_at, entry.updated_at) == (
        "completed",
        T1,
        T1,
    )
    # The heartbeat took over: its claim stays whole.
    assert (entry.claim_status, entry.claim_owner, entry.claim_until) == (
        "completed",
        HEARTBEAT,
        late + timedelta(seconds=120),
    )
    await ledger.confirm("job-led014", "completed", HEARTBEAT, now=T1)
    entry = await ledger.entry("job-led014")
    assert entry is not None
    assert (entry.claim_status, entry.claim_owner, entry.claim_until) == (None, None, None)


async def test_mark_reported_records_the_message_and_moves_forward(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    await ledger.mark_reported("job-led015", 1, "running", now=T0, message_id=42)
    entry = await ledger.entry("job-led015")
    assert entry is not None and (entry.reported_at, entry.message_id) == (T0, 42)
    told = await ledger.claim("job-led015", 1, "running", HEARTBEAT, now=T0)
    assert (told.outcome, told.message_id) == (ClaimOutcome.reported, 42)
    await ledger.mark_reported("job-led015", 1, "completed", now=T1)
    entry = await ledger.entry("job-led015")
    assert entry is not None
    assert (entry.last_reported_status, entry.reported_at, entry.updated_at) == (
        "completed",
        T1,
        T1,
    )


async def test_a_higher_count_of_the_same_message_is_recorded(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    await ledger.claim("job-led016", 1, "completed", PUSH, now=T0)
    key = f"{PUSH}|completed"
    await ledger.record_parts_sent("job-led016", key, 1)
    await ledger.record_parts_sent("job-led016", key, 3)
    assert await ledger.parts_sent("job-led016", key) == 3


async def test_a_summary_claim_is_its_own_jobs(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    owner = "wf/run/1"
    assert await ledger.claim_summary("job-led017", 1, owner) is SummaryClaim.claimed
    assert await ledger.claim_summary("job-led018", 1, owner) is SummaryClaim.claimed
    await ledger.release_summary("job-led017", owner)
    # Giving back one job's summary leaves the other job's attempt where it was.
    assert await ledger.claim_summary("job-led018", 1, owner) is SummaryClaim.resumed
    assert await ledger.claim_summary("job-led019", 1, "other") is SummaryClaim.claimed


async def test_a_settled_summary_is_never_given_back(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    assert await ledger.claim_summary("job-led020", 1, PUSH) is SummaryClaim.claimed
    await ledger.settle_summary("job-led020", "added")
    await ledger.release_summary("job-led020", PUSH)
    assert await ledger.claim_summary("job-led020", 1, PUSH) is SummaryClaim.settled


async def test_a_summary_of_a_very_long_owner_can_be_given_back(database: Database) -> None:
    """The owner is cut to the column's 300 characters, the same way on claim and release."""
    ledger = ReportLedgerStore(database)
    owner = "wf/" + "x" * 400
    assert await ledger.claim_summary("job-led021", 1, owner) is SummaryClaim.claimed
    entry = await ledger.entry("job-led021")
    assert entry is not None and entry.summary is not None and len(entry.summary) == 300
    await ledger.release_summary("job-led021", owner)
    assert await ledger.claim_summary("job-led021", 1, owner) is SummaryClaim.claimed


async def test_a_release_gives_back_its_own_jobs_claim_whole(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    assert (await ledger.claim("job-led022", 1, "failed", PUSH, now=T0)).claimed
    assert (await ledger.claim("job-led023", 1, "failed", PUSH, now=T0)).claimed
    await ledger.release("job-led022", PUSH)
    entry = await ledger.entry("job-led022")
    assert entry is not None
    assert (entry.claim_status, entry.claim_owner, entry.claim_until) == (None, None, None)
    other = await ledger.claim("job-led023", 1, "failed", HEARTBEAT, now=T0)
    assert other.outcome is ClaimOutcome.held


async def test_told_since_lists_a_chats_jobs_told_from_then_on(database: Database) -> None:
    """`/stats`: what was told in a chat since a moment (that moment included)."""
    ledger = ReportLedgerStore(database)
    await ledger.mark_reported("job-led024", 5, "completed", now=T0 - timedelta(seconds=1))
    await ledger.mark_reported("job-led025", 5, "failed", now=T0)
    await ledger.mark_reported("job-led026", 5, "running", now=T1)
    await ledger.mark_reported("job-led027", 6, "completed", now=T1)
    await ledger.claim("job-led028", 5, "completed", PUSH, now=T1)  # claimed, never told
    assert await ledger.told_since(5, T0) == {
        "job-led025": ("failed", T0),
        "job-led026": ("running", T1),
    }
    assert await ledger.told_since(7, T0) == {}
