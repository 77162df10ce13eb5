"""docs/architecture.md can be checked against the code by reading both: every path it names
exists, every package and module of the five layers is named in it, and the layers it states
are the contract `make lint` enforces."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text()
LAYERS = ("core", "workflows", "activities", "bot", "hbo")
# A backticked name that looks like a file or folder of ours: `a/b.py`, `heartbeat/`, `run.py`.
PATH_LIKE = re.compile(r"`([\w./-]+(?:\.py|/))`")


def _resolves(name: str) -> bool:
    """A path from the repository root, or from one of the layers (table cells name
    `heartbeat/workflow.py` in the workflows column), or a file inside one of them."""
    name = name.rstrip("/")
    if (ROOT / name).exists() or any((ROOT / layer / name).exists() for layer in LAYERS):
        return True
    if "/" not in name:
        return any(p.name == name for layer in LAYERS for p in (ROOT / layer).rglob(name))
    return any(
        str(p.relative_to(ROOT)).endswith(name)
        for layer in LAYERS
        for p in (ROOT / layer).rglob("*")
    )


def test_every_path_the_document_names_exists() -> None:
    named = set(PATH_LIKE.findall(DOC))
    assert len(named) > 40, named
    missing = sorted(n for n in named if not _resolves(n))
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_package_and_module_is_named_in_the_document() -> None:
    unnamed = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            rel = path.relative_to(ROOT / layer)
            if "migrations" in rel.parts or path.name == "__init__.py":
                continue
            inside = str(rel)
            if f"`{inside}`" not in DOC and path.name not in DOC and f"{layer}/{inside}" not in DOC:
                unnamed.append(f"{layer}/{inside}")
        for package in sorted(p.parent for p in (ROOT / layer).rglob("__init__.py")):
            rel = package.relative_to(ROOT / layer)
            if rel.parts and "migrations" not in rel.parts and f"{rel}/" not in DOC:
                unnamed.append(f"{layer}/{rel}/")
    assert not unnamed, f"docs/architecture.md does not say where these belong: {unnamed}"


def test_the_layers_stated_are_the_layers_enforced() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    assert layers == ["hbo", "bot", "workflows | activities", "core"]
    assert "`hbo` > `bot` > `workflows | activities` > `core`" in DOC
    kinds = sorted(c["type"] for c in config["contracts"])
    assert kinds == ["acyclic_siblings", "forbidden", "layers", "layers"]
    assert "four contracts" in DOC
    # The determinism contract is a layer rule: workflows reach nothing of core's I/O layer.
    forbidden = next(c for c in config["contracts"] if c["type"] == "forbidden")
    assert forbidden["source_modules"] == ["workflows"] and forbidden["forbidden_modules"] == [
        "core.io"
    ]
    inside = next(c for c in config["contracts"] if c.get("containers") == ["core"])
    assert inside["layers"] == ["io", "domain"]
    assert "`core.io` > `core.domain`" in DOC
