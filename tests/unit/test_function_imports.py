"""Import rules for ``functions/<name>/main.py``, which import-linter cannot see (not a package).

A function's main asks the composition root for its handler and does nothing else, so it imports
only the framework, the CloudEvent and Flask types, and the entry-point modules in ``shared``.
The rest of the import rules are import-linter contracts in ``pyproject.toml``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

# Modules a function's main.py may import (a name also allows its submodules). One list, on purpose.
ALLOWED_IMPORTS = (
    "__future__",
    "typing",
    "functions_framework",
    "cloudevents",
    "flask",
    "shared.bootstrap",
    "shared.entrypoints",
)

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
MAINS = sorted(FUNCTIONS_DIR.glob("*/main.py"))


def imported_modules(main_py: Path) -> list[str]:
    """Every module a file imports, at any depth (function-level imports too)."""
    tree = ast.parse(main_py.read_text(encoding="utf-8"), filename=str(main_py))
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                modules.append("." * node.level + (node.module or ""))
            elif node.module == "shared":
                modules.extend(f"shared.{alias.name}" for alias in node.names)
            else:
                modules.append(node.module or "")
    return modules


def is_within(module: str, allowed: tuple[str, ...]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in allowed)


def test_there_are_functions_to_check() -> None:
    assert MAINS, "no functions/*/main.py found"


@pytest.mark.parametrize("main_py", MAINS, ids=lambda p: p.parent.name)
def test_main_asks_the_composition_root_for_its_handler(main_py: Path) -> None:
    outside = [m for m in imported_modules(main_py) if not is_within(m, ALLOWED_IMPORTS)]
    assert outside == [], f"{main_py.parent.name}/main.py imports {outside}; allowed: {ALLOWED_IMPORTS}"
