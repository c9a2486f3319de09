"""The bundle builder: staging rules on a small repository made here, then every real
function staged and imported in a fresh virtual environment installed only from its bundle's
requirements file (one environment per distinct requirements set, cached under .local/; one
interpreter per environment imports each of its bundles in turn, from the bundle's own folder,
with the previous bundle's modules dropped first)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tools.bundles import build as build_bundles
from tools.bundles.build import BundleError, build, discover_functions, stage_function, write_zip

ROOT = Path(__file__).resolve().parents[2]
VENV_CACHE = ROOT / ".local" / "bundle-venvs"

HELLO_MAIN = """import functions_framework

from shared.greeting import greet


@functions_framework.http
def hello(request):
    return greet()
"""


def make_repo(tmp_path: Path, function_requirements: str = "requests==2.34.2\n") -> Path:
    root = tmp_path / "repo"
    (root / "functions" / "hello").mkdir(parents=True)
    (root / "functions" / "hello" / "main.py").write_text(HELLO_MAIN)
    (root / "functions" / "hello" / "requirements.txt").write_text(function_requirements)
    (root / "functions" / "hello" / "__pycache__").mkdir()
    (root / "functions" / "hello" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    shared = root / "shared"
    (shared / "adapters" / "sql").mkdir(parents=True)
    (shared / "__init__.py").write_text("")
    (shared / "greeting.py").write_text("def greet():\n    return 'hi'\n")
    (shared / "adapters" / "__init__.py").write_text("")
    (shared / "adapters" / "sql" / "things.sql").write_text("-- name: one\nSELECT 1;\n")
    (shared / "__pycache__").mkdir()
    (shared / "__pycache__" / "greeting.cpython-311.pyc").write_bytes(b"\0")
    (shared / "tests").mkdir()
    (shared / "tests" / "test_greeting.py").write_text("def test(): pass\n")
    (shared / "stale.pyc").write_bytes(b"\0")
    (root / "functions" / "hello" / ".env").write_text("TWILIO_AUTH_TOKEN=not-for-the-bundle\n")
    (shared / ".idea").mkdir()
    (shared / ".idea" / "workspace.xml").write_text("<project/>\n")
    (root / "requirements.txt").write_text(
        "# runtime\nfunctions-framework==3.10.2\nrequests==2.34.2\npsycopg[binary]==3.3.9\n"
    )
    return root


def files_of(tree: Path) -> set[str]:
    return {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}


def test_bundle_holds_the_function_shared_without_caches_and_merged_pins(tmp_path: Path) -> None:
    root = make_repo(tmp_path, "Requests==2.34.2\npsycopg[pool]==3.3.9  # pool for the function\n")
    bundle = stage_function("hello", tmp_path / "build", root)
    assert files_of(bundle.path) == {
        "main.py",
        "requirements.txt",
        "shared/__init__.py",
        "shared/greeting.py",
        "shared/adapters/__init__.py",
        "shared/adapters/sql/things.sql",
    }
    lines = (bundle.path / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == [
        "functions-framework==3.10.2",
        "psycopg[binary,pool]==3.3.9",
        "requests==2.34.2",
    ]
    for path in bundle.path.rglob("*"):
        assert path.stat().st_mtime == build_bundles.FIXED_MTIME
        expected = build_bundles.DIR_MODE if path.is_dir() else build_bundles.FILE_MODE
        assert path.stat().st_mode & 0o777 == expected


def test_conflicting_pins_are_an_error(tmp_path: Path) -> None:
    root = make_repo(tmp_path, "requests==2.31.0\n")
    with pytest.raises(BundleError, match=r"conflicting pins for requests: 2\.31\.0 .* 2\.34\.2"):
        stage_function("hello", tmp_path / "build", root)


@pytest.mark.parametrize(
    ("requirements", "message"),
    [
        ("-r ../../requirements.txt\n", "not allowed in bundles"),
        ("requests>=2\n", "not an exact pin"),
        ("-e .\n", "not allowed in bundles"),
        ("requests==2.34.2\nrequests==2.30.0\n", "conflicting pins"),
    ],
)
def test_requirement_lines_that_cannot_ship_are_refused(
    tmp_path: Path, requirements: str, message: str
) -> None:
    root = make_repo(tmp_path, requirements)
    with pytest.raises(BundleError, match=message):
        stage_function("hello", tmp_path / "build", root)


def test_a_function_without_its_entry_point_is_refused(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    (root / "functions" / "hello" / "main.py").write_text("def goodbye(request):\n    return ''\n")
    with pytest.raises(BundleError, match="no entry point named 'hello'"):
        stage_function("hello", tmp_path / "build", root)
    (root / "functions" / "hello" / "main.py").unlink()
    with pytest.raises(BundleError, match=r"has no main\.py"):
        stage_function("hello", tmp_path / "build", root)


def test_unknown_function_names_are_refused(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    with pytest.raises(BundleError, match="no such function folder: nope"):
        build(["nope"], tmp_path / "build", root)


def test_staging_is_deterministic(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    first = stage_function("hello", tmp_path / "one", root)
    first_zip = write_zip(first.path, tmp_path / "one.zip")
    # New mtimes and a rebuild in another place change nothing...
    (root / "shared" / "greeting.py").touch()
    second = stage_function("hello", tmp_path / "two", root)
    assert second.digest == first.digest
    assert write_zip(second.path, tmp_path / "two.zip") == first_zip
    with zipfile.ZipFile(tmp_path / "two.zip") as archive:
        assert sorted(archive.namelist()) == sorted(files_of(second.path))
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
        assert all(info.external_attr >> 16 == 0o100644 for info in archive.infolist())
    # ... while a content change does.
    (root / "shared" / "greeting.py").write_text("def greet():\n    return 'hello'\n")
    third = stage_function("hello", tmp_path / "three", root)
    assert third.digest != first.digest


def test_command_line_builds_and_reports_failures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    functions = [f for f in discover_functions() if (ROOT / "functions" / f / "main.py").is_file()]
    assert build_bundles.main(["--out", str(out), "--zip", *functions[:1]]) == 0
    assert (out / functions[0] / "main.py").is_file()
    assert (out / f"{functions[0]}.zip").is_file()
    assert build_bundles.main(["--out", str(out), "no_such_function"]) == 1


# --- the real bundles, imported in a fresh environment ------------------------------------------


def _environment_for(requirements: str) -> Path:
    """A virtual environment with exactly this requirements file installed, made once."""
    key = hashlib.sha256(f"{sys.version}\n{requirements}".encode()).hexdigest()[:16]
    target = VENV_CACHE / key
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    with (VENV_CACHE / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".installed").exists():
            # No pip in the environment (ensurepip costs half a minute on a busy machine): this
            # pip installs into it. No bytecode compiled ahead: the import check compiles what it reads.
            venv.EnvBuilder(clear=True, with_pip=False).create(target)
            (target / "requirements.txt").write_text(requirements)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "--python",
                    str(target / "bin" / "python"),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-compile",
                    "-r",
                    str(target / "requirements.txt"),
                ],
                check=True,
                capture_output=True,
            )
            (target / ".installed").write_text(key)
    return target


IMPORT_CHECK = """
import importlib, json, os, pathlib, sys, traceback
for name, folder in json.loads(sys.argv[1]):
    here = pathlib.Path(folder).resolve()
    for module in [m for m, mod in sys.modules.items() if m == "main" or m.split(".")[0] == "shared"
                   or str(getattr(mod, "__file__", None) or "").startswith(str(here.parent) + os.sep)]:
        del sys.modules[module]  # the previous bundle's own code: this one must import its own
    os.chdir(here)
    sys.path[0] = str(here)
    importlib.invalidate_caches()
    try:
        main = importlib.import_module("main")
        import shared
        assert pathlib.Path(main.__file__).resolve().parent == here, main.__file__
        assert pathlib.Path(shared.__file__).resolve().parent == here / "shared", shared.__file__
        assert callable(getattr(main, name)), name
        for sdk in ("anthropic", "stripe"):  # shared imports them only when it builds a client
            importlib.import_module(sdk)
        print("ok", name, flush=True)
    except BaseException:
        print(f"FAILED {name}:\\n{traceback.format_exc()[-2000:]}", file=sys.stderr, flush=True)
"""


@pytest.mark.xdist_group("bundles")
@pytest.mark.timeout(1200)
def test_every_bundle_imports_in_a_fresh_environment(tmp_path: Path) -> None:
    functions = discover_functions()
    assert functions, "no function folders"
    bundles = build(functions, tmp_path / "build")
    by_requirements: dict[str, list[build_bundles.Bundle]] = {}
    for bundle in bundles:
        by_requirements.setdefault(bundle.requirements, []).append(bundle)
    failures = []
    for requirements, group in sorted(by_requirements.items()):
        python = _environment_for(requirements) / "bin" / "python"
        result = subprocess.run(
            [
                str(python),
                "-E",
                "-s",
                "-c",
                IMPORT_CHECK,
                json.dumps([[b.function, str(b.path)] for b in group]),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        imported = set(result.stdout.split("\n"))
        for bundle in group:
            if result.returncode != 0 or f"ok {bundle.function}" not in imported:
                failures.append(f"{bundle.function}:\n{result.stderr[-4000:]}")
    assert not failures, "\n".join(failures)
