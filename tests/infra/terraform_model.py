"""Terraform as data for the static checks: python-hcl2 output with the quoting removed.

python-hcl2 keeps string literals quoted (``'"agent-bouncer"'``) and expressions wrapped
(``'${var.name}'``); ``clean`` strips the quotes of literals and drops block markers, so a
literal reads as itself and an expression stays recognisable by its ``${``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
MODULES = TERRAFORM / "modules"
ENVS = ("dev", "prod")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def clean(node: Any) -> Any:
    if isinstance(node, dict):
        return {_unquote(k): clean(v) for k, v in node.items() if not k.startswith("__")}
    if isinstance(node, list):
        return [clean(v) for v in node]
    if isinstance(node, str):
        return _unquote(node)
    return node


def tf_files() -> list[Path]:
    return sorted(p for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts)


@cache
def load_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        parsed: dict[str, Any] = clean(hcl2.load(handle))
    return parsed


def load_dir(directory: Path) -> dict[str, list[Any]]:
    """All top-level blocks of a module folder, concatenated by kind."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for kind, blocks in load_file(path).items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def locals_of(module: dict[str, list[Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in module.get("locals", []):
        merged.update(block)
    return merged


def resources(module: dict[str, list[Any]], kind: str = "resource") -> dict[tuple[str, str], dict[str, Any]]:
    """(type, name) -> body, for resource or data blocks."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for block in module.get(kind, []):
        for rtype, named in block.items():
            for name, body in named.items():
                found[(rtype, name)] = body
    return found


def module_calls(module: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in module.get("module", []):
        found.update(block)
    return found


def variables(module: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in module.get("variable", []):
        found.update(block)
    return found


def single(block: Any) -> dict[str, Any]:
    """A nested block (a one-element list in hcl2's output)."""
    assert isinstance(block, list) and len(block) == 1, block
    body: dict[str, Any] = block[0]
    return body


def catalog() -> dict[str, Any]:
    return locals_of(load_dir(MODULES / "catalog"))
