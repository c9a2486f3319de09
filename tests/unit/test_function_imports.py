"""Import rules for ``functions/<name>/main.py``, which import-linter cannot see (not a package).

A function's main asks the composition root for its handler and does nothing else, so it imports
only the framework, the CloudEvent and Flask types, and the entry-point modules in ``shared``.
The rest of the import rules are import-linter contracts in ``pyproject.toml``.
"""

from __future__ import annotations

import ast
import sys
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

# Mains written before the composition root: they still call the service layer and adapters
# directly. Strictly expected to fail the rule above; remove a name once its main asks
# shared.bootstrap for its handler (the platform work, issue 8), and the list ends empty.
NOT_YET_THIN = frozenset(
    {
        "admin",
        "agent_bouncer",
        "dead_letter_recorder",
        "email_inbound",
        "event_dispatcher",
        "message_orchestrator",
        "sms_sender",
        "task_sweeper",
        "twilio_inbound",
        "twilio_status",
    }
)

# What any main may import, thin or not yet: never tests, tools, bench or evals, never a
# provider SDK or a database driver (clients are built in shared, not in a main).
ALWAYS_ALLOWED_THIRD_PARTY = ("functions_framework", "cloudevents", "flask", "shared")

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


def test_every_function_folder_is_checked() -> None:
    names = {p.parent.name for p in MAINS}
    assert names, "no functions/*/main.py found"
    assert names >= NOT_YET_THIN, f"NOT_YET_THIN names no function: {sorted(NOT_YET_THIN - names)}"


@pytest.mark.parametrize("main_py", MAINS, ids=lambda p: p.parent.name)
def test_main_imports_only_framework_and_shared(main_py: Path) -> None:
    outside = [
        m
        for m in imported_modules(main_py)
        if m.split(".")[0] not in sys.stdlib_module_names and not is_within(m, ALWAYS_ALLOWED_THIRD_PARTY)
    ]
    assert outside == [], f"{main_py.parent.name}/main.py imports {outside}"


@pytest.mark.parametrize(
    "main_py",
    [
        pytest.param(
            p,
            id=p.parent.name,
            marks=pytest.mark.xfail(
                p.parent.name in NOT_YET_THIN, strict=True, reason="main predates shared.bootstrap"
            ),
        )
        for p in MAINS
    ],
)
def test_main_asks_the_composition_root_for_its_handler(main_py: Path) -> None:
    outside = [m for m in imported_modules(main_py) if not is_within(m, ALLOWED_IMPORTS)]
    assert outside == [], f"{main_py.parent.name}/main.py imports {outside}; allowed: {ALLOWED_IMPORTS}"
