"""The fidelity harness at CI size: the same code as `bench/fidelity.py` (separate processes per
role through `hbo`, the Bot API emulator with 429/502 on every send and edit, SIGKILLs, a
dev-server restart), 60 jobs and 5 kills, judged against Temporal's histories.

The hard rules: nothing lost or misrouted, no silent-policy or quiet-hour violation, no ack
leak, duplicates only with a cause on record (a kill of the sender, a 5xx that hid a delivered
message), every job finished, no card edit answered "message is not modified" without such a
cause, no live card refresh into a group's full minute."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench._fidelity.scenario import Config
from bench.fidelity import run


@pytest.mark.timeout(900)
async def test_fidelity_under_chaos(tmp_path: Path) -> None:
    config = Config(jobs=60, kills=5, out=tmp_path / "report", settle=150.0)
    outcome = await run(config, "pytest tests/e2e/test_fidelity.py")
    verdict = outcome.verdict
    assert outcome.report.is_file() and outcome.picture.stat().st_size > 0
    assert verdict.jobs >= 50 and verdict.kills == 5
    details = outcome.report.read_text(encoding="utf-8")
    assert verdict.unfinished == 0, details
    assert verdict.lost == 0, details
    assert verdict.misrouted == 0, details
    assert verdict.silent == 0, details
    assert verdict.quiet == 0, details
    assert verdict.leaks == 0, details
    assert verdict.duplicated == verdict.designed, details
    assert verdict.edits.undesigned_not_modified == 0, details
    assert verdict.edits.live_over_budget == 0, details
    assert verdict.ok
