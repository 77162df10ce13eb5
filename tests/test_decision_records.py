"""The decision records keep one shape and stand on their own.

Every `docs/decisions/NNN-*.md` opens with `# NNN — Title` and a `Status:` line and has the
sections What, Why and Rejected (and optionally Risks), in that order; the index
(`docs/decisions/README.md`) lists each record with its status. No document under `docs/` and no
top-level README points the reader at something the repository does not contain (a design
document, its section numbers, seed material, issue numbers, a style guide, a shared folder):
the rule has to be written where it is used.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DECISIONS = ROOT / "docs" / "decisions"
INDEX = DECISIONS / "README.md"
RECORDS = sorted(DECISIONS.glob("[0-9][0-9][0-9]-*.md"))

SECTIONS = ["What", "Why", "Rejected"]
OPTIONAL_TRAILING = ["Risks"]
STATUS_RE = re.compile(r"^Status: (Accepted( \(.+\))?|Superseded( in part)? by (?P<by>\d{3}))$")

# References a reader of the repository cannot open. Case-insensitive, with word boundaries so
# that ordinary words ("style", "seeded", `--seed`) pass; DESIGN and STYLE count only in
# capitals, as document names.
FORBIDDEN = [
    re.compile(r"design\.md", re.I),
    re.compile(r"\bDESIGN\b"),
    re.compile(r"§"),
    re.compile(r"(?<!--)\bseeds?\b(?!=)", re.I),
    re.compile(r"\bissues? #?\d+", re.I),
    re.compile(r"\bthe issue\b", re.I),
    re.compile(r"\bshared/", re.I),
    re.compile(r"\bSTYLE\b"),
    re.compile(r"style\.md", re.I),
]


def _documents() -> list[Path]:
    """Every text file under docs/ (images and other binaries skipped) and the README."""
    found = [ROOT / "README.md"]
    for path in sorted((ROOT / "docs").rglob("*")):
        if not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found.append(path)
    return found


def _headings(text: str) -> list[str]:
    """The `## ` headings outside fenced code blocks."""
    headings, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            headings.append(line[3:].strip())
    return headings


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    return match.group(1).strip() if match else ""


def _forbidden_hits(text: str) -> list[str]:
    hits = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern in FORBIDDEN:
            match = pattern.search(line)
            if match:
                hits.append(f"line {number}: {match.group(0)!r} in {line.strip()!r}")
    return hits


def test_there_are_records() -> None:
    assert len(RECORDS) >= 30


@pytest.mark.parametrize("record", RECORDS, ids=lambda p: p.name[:3])
def test_record_shape(record: Path) -> None:
    lines = record.read_text(encoding="utf-8").splitlines()
    number = record.name[:3]
    title = rf"^# {number} — \S"
    assert re.match(title, lines[0]), f"{record.name}: the title must be '# {number} — …'"
    status = next((line for line in lines[1:4] if line.startswith("Status:")), "")
    match = STATUS_RE.match(status)
    assert match, f"{record.name}: a 'Status: Accepted' or 'Status: Superseded by NNN' line"
    if match.group("by"):
        assert list(DECISIONS.glob(f"{match.group('by')}-*.md")), f"{record.name}: {status}"


@pytest.mark.parametrize("record", RECORDS, ids=lambda p: p.name[:3])
def test_record_sections(record: Path) -> None:
    text = record.read_text(encoding="utf-8")
    headings = _headings(text)
    assert headings[: len(SECTIONS)] == SECTIONS, f"{record.name}: sections {headings}"
    assert headings[len(SECTIONS) :] in ([], OPTIONAL_TRAILING), f"{record.name}: {headings}"
    for heading in headings:
        assert _section(text, heading), f"{record.name}: section {heading} is empty"


def test_index_lists_every_record_with_its_status() -> None:
    index = INDEX.read_text(encoding="utf-8")
    for record in RECORDS:
        lines = record.read_text(encoding="utf-8").splitlines()
        status = next(line for line in lines if line.startswith("Status:"))[len("Status: ") :]
        row = next((line for line in index.splitlines() if f"]({record.name})" in line), "")
        assert row, f"{INDEX.name} does not list {record.name}"
        assert row.rstrip(" |").endswith(status), f"{INDEX.name}: {record.name} is {status!r}"


@pytest.mark.parametrize("document", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_references_outside_the_repository(document: Path) -> None:
    hits = _forbidden_hits(document.read_text(encoding="utf-8"))
    assert not hits, f"{document.relative_to(ROOT)}: state the rule in place\n" + "\n".join(hits)


@pytest.mark.parametrize(
    "text",
    [
        "the speed flags measured in DESIGN §9",
        "see DESIGN.md",
        "seed 001's clock alignment",
        "Seeds 002–004 disagree",
        "copied from seeds/heartbeat",
        "fixed in issue 5",
        "the issue's rule is to keep working",
        "as in ../shared/notes.md",
        "formatted as STYLE.md says",
    ],
)
def test_the_check_catches_outside_references(text: str) -> None:
    assert _forbidden_hits(text)


@pytest.mark.parametrize(
    "text",
    [
        "a shell-style redirection",
        "the design keeps one path",
        "a seeded random generator; bench/fidelity.py --seed 3; seed=7",
        "an issue with the pool",
        "the shared ledger",
    ],
)
def test_the_check_lets_ordinary_words_pass(text: str) -> None:
    assert not _forbidden_hits(text)
