"""Which settings a function's code path needs, read from the code itself.

Starting at ``functions/<name>/main.py`` (its entry point and module-level code), follow the
names each reached function or class refers to - across ``shared`` imports, including the
lazy ones inside function bodies - and collect

- every ``.require("<field>")`` call with a literal field name, and
- every attribute access to a credential field of ``shared.config.Settings`` (the
  ``SecretStr`` fields and ``database_url``), which code reads directly when it treats a
  missing value as "feature off".

The result is a set of environment variable names (``field.upper()``). Reachability is by
name, so it over-approximates a little (reaching a class reaches all its methods); it never
follows code that nothing on the path refers to.

The composition root is modelled, not scanned: ``main.py`` binds ``http_handler("<name>")`` or
``event_handler("<name>")``, so the path starts at ``shared.entrypoints.<name>`` (an HTTP
function), or at the delivery handler plus every handler the registry names for that agent.
``shared.bootstrap`` builds each adapter lazily, on the first use of the matching ``Deps``
attribute, so an access to ``.sms``, ``.publisher``, ``.llm`` or ``.uow_factory`` reaches that
adapter's builder (``DEPS_ADAPTERS``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from shared.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CONFIG_MODULE = "shared.config"
BOOTSTRAP_MODULE = "shared.bootstrap"
# Deps attribute -> the builder shared.bootstrap calls when it is first used.
DEPS_ADAPTERS: dict[str, tuple[str, str]] = {
    "sms": ("shared.adapters.twilio_sms", "default_gateway"),
    "publisher": ("shared.adapters.pubsub", "get_publisher"),
    "llm": ("shared.adapters.llm", "build_llm"),
    "uow_factory": ("shared.adapters.unit_of_work", "PostgresUnitOfWork"),
    "research": ("shared.adapters.apify", "build_mutual_connections"),
}


def credential_fields() -> frozenset[str]:
    fields = {name for name, info in Settings.model_fields.items() if SecretStr in _types(info.annotation)}
    return frozenset(fields | {"database_url"})


def _types(annotation: object) -> set[object]:
    args = getattr(annotation, "__args__", None)
    return {annotation} | (set(args) if args else set())


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # alias -> (module, attr)
    defs: dict[str, ast.AST] = field(default_factory=dict)
    toplevel: list[ast.stmt] = field(default_factory=list)


class CodePath:
    def __init__(self, function_dir: Path, root: Path = ROOT) -> None:
        self.root = root
        self.function_dir = function_dir
        self.modules: dict[str, Module | None] = {}
        self.needs: set[str] = set()
        self.reached: set[tuple[str, str | None]] = set()
        self.credentials = credential_fields()

    # --- module loading -------------------------------------------------------------------
    def _path_for(self, module: str) -> Path | None:
        parts = module.split(".")
        if parts[0] == "shared":
            base = self.root.joinpath(*parts)
        elif len(parts) == 1:
            base = self.function_dir / parts[0]
        else:
            return None
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def is_module(self, module: str) -> bool:
        return self._path_for(module) is not None

    def load(self, module: str) -> Module | None:
        if module in self.modules:
            return self.modules[module]
        path = self._path_for(module)
        if path is None:
            self.modules[module] = None
            return None
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        info = Module(module, path, tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                info.defs[node.name] = node
            else:
                info.toplevel.append(node)
                if isinstance(node, ast.Import | ast.ImportFrom):
                    info.imports.update(self._aliases(node, info))
        self.modules[module] = info
        return info

    def _aliases(self, node: ast.Import | ast.ImportFrom, where: Module) -> dict[str, tuple[str, str | None]]:
        aliases: dict[str, tuple[str, str | None]] = {}
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = (alias.name, None)
                else:
                    aliases[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
            return aliases
        base = node.module or ""
        if node.level:
            package = where.name.rsplit(".", node.level)[0] if "." in where.name else ""
            base = f"{package}.{base}".strip(".") if base else package
        for alias in node.names:
            local = alias.asname or alias.name
            submodule = f"{base}.{alias.name}"
            aliases[local] = (submodule, None) if self.is_module(submodule) else (base, alias.name)
        return aliases

    # --- reachability -------------------------------------------------------------------------
    def reach(self, module: str, name: str | None) -> None:
        if (module, name) in self.reached:
            return
        self.reached.add((module, name))
        info = self.load(module)
        if info is None:
            return
        if name is None:
            parts = module.split(".")
            for depth in range(1, len(parts)):
                self.reach(".".join(parts[:depth]), None)  # package __init__ runs first
            for stmt in info.toplevel:
                self._scan(info, stmt, {})
            return
        self.reach(module, None)
        if name in info.defs:
            self._scan(info, info.defs[name], {})
        elif name in info.imports:
            self.reach(*info.imports[name])
        elif self.is_module(f"{module}.{name}"):
            self.reach(f"{module}.{name}", None)

    def _scan(self, info: Module, node: ast.AST, outer: dict[str, tuple[str, str | None]]) -> None:
        local = dict(outer)
        for child in ast.walk(node):
            if isinstance(child, ast.Import | ast.ImportFrom) and child not in info.toplevel:
                local.update(self._aliases(child, info))
        for child in ast.walk(node):
            self._collect(info, child, local)

    def _collect(self, info: Module, node: ast.AST, local: dict[str, tuple[str, str | None]]) -> None:
        if info.name in (CONFIG_MODULE, BOOTSTRAP_MODULE):
            return
        if isinstance(node, ast.Attribute) and node.attr in DEPS_ADAPTERS and info.name != "main":
            self.reach(*DEPS_ADAPTERS[node.attr])
        if isinstance(node, ast.Import | ast.ImportFrom):  # importing a module runs it
            for module, _ in self._aliases(node, info).values():
                self.reach(module, None)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.reach(alias.name, None)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "require"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            self.needs.add(node.args[0].value)
        if isinstance(node, ast.Attribute):
            if node.attr in self.credentials:
                self.needs.add(node.attr)
            if isinstance(node.value, ast.Name):
                target = local.get(node.value.id) or info.imports.get(node.value.id)
                if target and target[1] is None:
                    self.reach(target[0], node.attr)
        if isinstance(node, ast.Name):
            if node.id in local:
                self.reach(*local[node.id])
            elif node.id in info.imports:
                self.reach(*info.imports[node.id])
            elif node.id in info.defs:
                self.reach(info.name, node.id)


def bound_entry(main: Path) -> tuple[str, str] | None:
    """``("http" | "event", name)`` from ``main.py``'s ``http_handler("name")`` / ``event_handler(...)``."""
    for node in ast.walk(ast.parse(main.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("http_handler", "event_handler")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            return ("http" if node.func.id == "http_handler" else "event", str(node.args[0].value))
    return None


def required_env(function_dir: Path, root: Path = ROOT) -> set[str]:
    """Environment variables the function's code path requires."""
    from shared import registry  # the handlers are named in the registry, as strings

    path = CodePath(function_dir, root)
    path.reach("main", None)
    entry = bound_entry(function_dir / "main.py")
    if entry is None:
        path.reach("main", function_dir.name)
    elif entry[0] == "http" or registry.agent_for_function(entry[1]) is None:
        path.reach("shared.entrypoints", entry[1])
    else:
        path.reach("shared.service_layer.delivery", "deliver")
        spec = registry.agent_for_function(entry[1])
        assert spec is not None
        for handler in (*spec.events.values(), *spec.tasks.values()):
            module, _, name = handler.partition(":")
            path.reach(module, name)
    return {name.upper() for name in path.needs}
