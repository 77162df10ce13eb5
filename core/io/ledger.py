"""The report ledger: one row per job with the last status told to its chat, claimed before a
send and confirmed after it (compare-and-set with an owner and a lease), so a job's own push and
the heartbeat never repeat each other and a crash can at worst repeat, never lose. The same row
keeps the delivered parts of a message and whether its model summary was added."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, case, or_, select, true, update

from core.io.db import Database
from core.io.metrics import LEDGER_CLAIMS
from core.io.store import insert_statement, utcnow
from core.io.tables import ReportLedger


class ClaimOutcome(StrEnum):
    claimed = "claimed"  # the caller holds the claim now: send, then confirm (or release)
    reported = "reported"  # the ledger shows this status told: nothing to send
    # another reporter holds a live claim (wait for its lease, then ask again), or the caller's
    # `told_before` is out of date (no lease: look again now)
    held = "held"


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    held_until: datetime | None = None  # with `held`: when the other claim's lease ends
    message_id: int | None = None  # with `reported`: the message that told it, if recorded

    @property
    def claimed(self) -> bool:
        return self.outcome is ClaimOutcome.claimed


class _Unread:
    """No status was read before the claim: the caller claims whatever the ledger shows."""


UNREAD = _Unread()

SUMMARY_SENDING = "sending"


class SummaryClaim(StrEnum):
    claimed = "claimed"
    resumed = "resumed"
    settled = "settled"


class ReportLedgerStore:
    """Compare-and-set on `last_reported_status` (see `core.io.tables.ReportLedger`).

    Every claim has an owner (e.g. a workflow's notify activity: workflow id + activity id, which
    each retry of that activity shares). The owner takes its own claim back at once — a retry
    after a crash between claim and confirm sends again rather than never — while anyone else
    waits for the lease. "Already reported" is said only when the ledger shows the status told.
    """

    def __init__(self, db: Database, lease: timedelta = timedelta(seconds=120)) -> None:
        self.db = db
        self.lease = lease

    async def claim(
        self,
        job_id: str,
        chat_id: int,
        status: str,
        owner: str,
        now: datetime | None = None,
        *,
        told_before: str | _Unread | None = UNREAD,
    ) -> Claim:
        """`told_before`: the status the caller saw told when it decided to tell `status` (the
        heartbeat, which decides in one activity and tells in another, maybe minutes later).
        The claim is taken only if the ledger still shows it; otherwise the decision is stale
        (the push told more since) and the answer is `held` with no lease: look again. Without
        it a late retry told an old state after the newer one — and wound the ledger back, so
        the next heartbeat told the newer state a second time."""
        now = now or utcnow()
        fresh = (
            true()
            if isinstance(told_before, _Unread)
            else ReportLedger.last_reported_status.is_not_distinct_from(told_before)
        )
        create = (
            insert_statement(self.db, ReportLedger)
            .values(job_id=job_id, chat_id=chat_id, updated_at=now)
            .on_conflict_do_nothing(index_elements=[ReportLedger.job_id])  # type: ignore[attr-defined]
        )
        take = (
            update(ReportLedger)
            .where(
                ReportLedger.job_id == job_id,
                or_(
                    ReportLedger.last_reported_status.is_(None),
                    ReportLedger.last_reported_status != status,
                ),
                or_(
                    ReportLedger.claim_until.is_(None),
                    ReportLedger.claim_until < now,
                    ReportLedger.claim_owner == owner,
                ),
                fresh,
            )
            .values(
                claim_status=status,
                claim_owner=owner,
                claim_until=now + self.lease,
                updated_at=now,
            )
        )
        async with self.db.session() as session:
            await session.execute(create)
            result = await session.execute(take)
            if result.rowcount == 1:  # type: ignore[attr-defined]
                LEDGER_CLAIMS.labels(ClaimOutcome.claimed.value).inc()
                return Claim(ClaimOutcome.claimed)
            row = (
                await session.execute(
                    select(
                        ReportLedger.last_reported_status,
                        ReportLedger.claim_until,
                        ReportLedger.message_id,
                    ).where(ReportLedger.job_id == job_id)
                )
            ).one()
        if row.last_reported_status == status:
            LEDGER_CLAIMS.labels(ClaimOutcome.reported.value).inc()
            return Claim(ClaimOutcome.reported, message_id=row.message_id)
        LEDGER_CLAIMS.labels(ClaimOutcome.held.value).inc()
        return Claim(ClaimOutcome.held, held_until=row.claim_until)

    async def confirm(
        self,
        job_id: str,
        status: str,
        owner: str,
        now: datetime | None = None,
        *,
        message_id: int | None = None,
    ) -> None:
        """The status was told (by `message_id`, when the sender knows it). The claim is
        cleared only if it is still the caller's (a reporter that took over after an expired
        lease keeps its own)."""
        now = now or utcnow()
        mine = ReportLedger.claim_owner == owner
        async with self.db.session() as session:
            await session.execute(
                update(ReportLedger)
                .where(ReportLedger.job_id == job_id)
                .values(
                    last_reported_status=status,
                    reported_at=now,
                    message_id=message_id,
                    claim_status=case((mine, None), else_=ReportLedger.claim_status),
                    claim_owner=case((mine, None), else_=ReportLedger.claim_owner),
                    claim_until=case((mine, None), else_=ReportLedger.claim_until),
                    updated_at=now,
                )
            )

    async def mark_reported(
        self,
        job_id: str,
        chat_id: int,
        status: str,
        now: datetime | None = None,
        *,
        first_only: bool = False,
        message_id: int | None = None,
    ) -> None:
        """Record a status as told by other means (the operator's own reply with the job card,
        shown as `message_id`). `first_only`: only when nothing was told yet (a card posted
        again for a job that has since reported more must not wind its entry back)."""
        now = now or utcnow()
        stmt = insert_statement(self.db, ReportLedger).values(
            job_id=job_id,
            chat_id=chat_id,
            last_reported_status=status,
            reported_at=now,
            message_id=message_id,
            updated_at=now,
        )
        if first_only:
            stmt = stmt.on_conflict_do_nothing(index_elements=[ReportLedger.job_id])  # type: ignore[attr-defined]
        else:
            stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
                index_elements=[ReportLedger.job_id],
                set_={"last_reported_status": status, "reported_at": now, "updated_at": now},
            )
        async with self.db.session() as session:
            await session.execute(stmt)

    async def parts_sent(self, job_id: str, key: str) -> int:
        """How many calls of the message `key` names (an owner and a status) were delivered."""
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(ReportLedger.parts_key, ReportLedger.parts_sent).where(
                        ReportLedger.job_id == job_id
                    )
                )
            ).one_or_none()
        return row.parts_sent if row is not None and row.parts_key == key else 0

    async def record_parts_sent(self, job_id: str, key: str, count: int) -> None:
        """Never lowers the count of the same `key` (writes may finish out of order)."""
        same = and_(ReportLedger.parts_key == key, ReportLedger.parts_sent > count)
        async with self.db.session() as session:
            await session.execute(
                update(ReportLedger)
                .where(ReportLedger.job_id == job_id)
                .values(
                    parts_key=key, parts_sent=case((same, ReportLedger.parts_sent), else_=count)
                )
            )

    async def claim_summary(self, job_id: str, chat_id: int, owner: str) -> SummaryClaim:
        """Take the job's one summary: `claimed` (add it, then `settle_summary`), `resumed`
        (this owner's earlier attempt stopped midway: it may or may not have reached the
        chat), or `settled` (added or skipped before, or another owner's: nothing to do)."""
        now = utcnow()
        create = (
            insert_statement(self.db, ReportLedger)
            .values(job_id=job_id, chat_id=chat_id, updated_at=now)
            .on_conflict_do_nothing(index_elements=[ReportLedger.job_id])  # type: ignore[attr-defined]
        )
        sending = f"{SUMMARY_SENDING} {owner}"[:300]
        take = (
            update(ReportLedger)
            .where(ReportLedger.job_id == job_id, ReportLedger.summary.is_(None))
            .values(summary=sending)
        )
        async with self.db.session() as session:
            await session.execute(create)
            if (await session.execute(take)).rowcount == 1:  # type: ignore[attr-defined]
                return SummaryClaim.claimed
            found = await session.scalar(
                select(ReportLedger.summary).where(ReportLedger.job_id == job_id)
            )
        return SummaryClaim.resumed if found == sending else SummaryClaim.settled

    async def settle_summary(self, job_id: str, outcome: str) -> None:
        """Record the summary `added` or `skipped`: no attempt after this sends it."""
        async with self.db.session() as session:
            await session.execute(
                update(ReportLedger).where(ReportLedger.job_id == job_id).values(summary=outcome)
            )

    async def release_summary(self, job_id: str, owner: str) -> None:
        """Give the summary back after an attempt that surely sent nothing (an error answer)."""
        sending = f"{SUMMARY_SENDING} {owner}"[:300]
        async with self.db.session() as session:
            await session.execute(
                update(ReportLedger)
                .where(ReportLedger.job_id == job_id, ReportLedger.summary == sending)
                .values(summary=None)
            )

    async def release(self, job_id: str, owner: str) -> None:
        """Give a claim back after a failed send, so a retry (or the heartbeat) can report."""
        async with self.db.session() as session:
            await session.execute(
                update(ReportLedger)
                .where(and_(ReportLedger.job_id == job_id, ReportLedger.claim_owner == owner))
                .values(claim_status=None, claim_owner=None, claim_until=None)
            )

    async def entry(self, job_id: str) -> ReportLedger | None:
        async with self.db.session() as session:
            return await session.get(ReportLedger, job_id)

    async def last_reported(self, job_ids: list[str]) -> dict[str, str | None]:
        if not job_ids:
            return {}
        async with self.db.session() as session:
            rows = await session.execute(
                select(ReportLedger.job_id, ReportLedger.last_reported_status).where(
                    ReportLedger.job_id.in_(job_ids)
                )
            )
            return {job_id: status for job_id, status in rows.all()}

    async def told_since(
        self, chat_id: int, since: datetime
    ) -> dict[str, tuple[str | None, datetime]]:
        """Job id -> (last reported status, when it was told) for a chat's jobs told since
        `since` (one indexed query, however many jobs: `/stats` joins it with visibility)."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(
                    ReportLedger.job_id, ReportLedger.last_reported_status, ReportLedger.reported_at
                ).where(ReportLedger.chat_id == chat_id, ReportLedger.reported_at >= since)
            )
            return {job_id: (status, at) for job_id, status, at in rows.all() if at is not None}
