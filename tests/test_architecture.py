"""ARCHITECTURE.md stays true: every module belongs to one layer, and no import breaks the rules
it states (read from its `layers` and `rules` blocks, so the document is the rule)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _block(name: str) -> list[list[str]]:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    found = re.search(rf"```{name}\n(.*?)```", text, re.S)
    assert found, f"ARCHITECTURE.md has no ```{name} block"
    return [line.split() for line in found.group(1).splitlines() if line.strip()]


def _layers() -> dict[str, str]:
    """Module file (relative) -> its layer."""
    owner: dict[str, str] = {}
    for layer, *patterns in _block("layers"):
        for pattern in patterns:
            for path in sorted(ROOT.glob(pattern)):
                relative = str(path.relative_to(ROOT))
                assert relative not in owner, f"{relative} is in {owner[relative]} and {layer}"
                owner[relative] = layer
    return owner


def _allowed() -> dict[str, set[str]]:
    return {
        layer: set(targets)
        for layer, may, imports, *targets in _block("rules")
        if (may, imports) == ("may", "import")
    }


def _module_file(name: str) -> str | None:
    parts = name.split(".")
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.exists():
            return str(candidate.relative_to(ROOT))
    return None


def _imports(path: Path) -> set[str]:
    """The project modules a file imports (`from x import y` counts `x.y` when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in {"server", "schema"}}


def test_every_module_belongs_to_one_layer():
    owner = _layers()
    modules = [
        str(path.relative_to(ROOT))
        for top in ("server", "schema")
        for path in (ROOT / top).rglob("*.py")
        if ("migrations" not in path.parts and path.name != "__init__.py") or path.parent.name == "broker"
    ]
    assert sorted(m for m in modules if m not in owner) == []


def test_no_import_breaks_the_layer_rules():
    owner, allowed = _layers(), _allowed()
    broken = []
    for module, layer in owner.items():
        for name in _imports(ROOT / module):
            target = _module_file(name)
            if (
                target is None
                or target not in owner
                or (target.endswith("__init__.py") and target not in owner)
            ):
                continue
            other = owner[target]
            stem = Path(target).stem
            if other != layer and other not in allowed[layer] and f"{other}:{stem}" not in allowed[layer]:
                broken.append(f"{module} ({layer}) imports {name} ({other})")
    assert broken == []


def test_the_rules_name_only_layers_that_exist():
    layers = set(_layers().values()) | {layer for layer, *_ in _block("layers")}
    for layer, targets in _allowed().items():
        assert layer in layers
        assert {target.split(":")[0] for target in targets} <= layers
