"""Terraform as data for the static checks: python-hcl2 output with the quoting removed.

python-hcl2 keeps string literals quoted (``'"agent-bouncer"'``) and expressions wrapped
(``'${var.name}'``); ``clean`` strips the quotes of literals and drops block markers, so a
literal reads as itself and an expression stays recognisable by its ``${``.

``YP_TERRAFORM_DIR`` points the checks at another copy of ``terraform/`` - for example the tree
of an older commit (``git archive <commit> terraform | tar -x -C /tmp/old``), to show that a
check fails on the code it was written against.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = Path(os.environ.get("YP_TERRAFORM_DIR") or ROOT / "terraform").resolve()
MODULES = TERRAFORM / "modules"
ENVS = ("dev", "prod")
MODULE_NAMES = ("catalog", "function", "topic", "scheduler_job", "platform")


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


def module_dirs() -> list[Path]:
    """Every module and environment root."""
    return [MODULES / name for name in MODULE_NAMES] + [TERRAFORM / "envs" / env for env in ENVS]


def string_set(expression: str) -> set[str]:
    """The strings of a literal ``${toset([...])}`` expression."""
    assert expression.startswith("${toset(") and expression.endswith(")}"), expression
    return set(json.loads(expression[len("${toset(") : -len(")}")]))


def reference(expression: str) -> str:
    """``${google_x.name}`` -> ``google_x.name`` (a depends_on entry or a plain reference)."""
    return expression.removeprefix("${").removesuffix("}")


def expand_locals(text: str, module: dict[str, list[Any]]) -> str:
    """Substitute ``${local.x}`` where the local is a plain string, as Terraform would."""
    values = locals_of(module)

    def _value(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return value if isinstance(value, str) and "${" not in value else match.group(0)

    return re.sub(r"\$\{local\.([a-z_][a-z0-9_]*)\}", _value, text)


def variable_default(module: dict[str, list[Any]], expression: Any) -> Any:
    """The default of ``${var.x}``, or the value itself when it is a literal."""
    if isinstance(expression, str) and re.fullmatch(r"\$\{var\.[a-z_][a-z0-9_]*\}", expression):
        return variables(module)[expression[len("${var.") : -1]]["default"]
    return expression


def version_floor(constraint: str) -> tuple[int, ...]:
    """The lower bound of a constraint such as ``>= 6.13, < 8.0``."""
    match = re.search(r">=\s*(\d+(?:\.\d+)*)", constraint)
    assert match, f"no lower bound in {constraint!r}"
    return tuple(int(part) for part in match.group(1).split("."))
