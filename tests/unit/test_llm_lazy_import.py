"""Loading a function does not import the Anthropic or the Stripe SDK; building a client does.

Every function imports ``shared.adapters.llm`` and ``shared.adapters.stripe_checkout`` through the
composition root. Importing ``anthropic`` at module level cost each function process about 1.4 s
of CPU and tens of MB, including the SMS webhooks that never call a model (the local stack took
42 s to start instead of 17-20 s). These run in a fresh interpreter: this test process has
imported both SDKs long before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/main.py"))
SDKS = ("anthropic", "stripe")

LOAD_FUNCTIONS = """
import importlib.util, json, sys
for name in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location(f"function_{name}", f"functions/{name}/main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print(json.dumps(sorted(m for m in ("anthropic", "stripe") if m in sys.modules)))
"""

BUILD_CLIENTS = """
import json, sys
from shared.adapters.llm import build_client
from shared.adapters.stripe_checkout import BadSignature, verify_event
before = sorted(m for m in ("anthropic", "stripe") if m in sys.modules)
client = build_client("not-a-key", "http://127.0.0.1:9", 1.0, 0)
try:
    verify_event(b"{}", "t=1,v1=00", "whsec_not_a_secret")
except BadSignature:
    pass
after = sorted(m for m in ("anthropic", "stripe") if m in sys.modules)
print(json.dumps({"before": before, "after": after, "client": type(client).__module__}))
"""


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        check=False,  # the assert below shows the child's stderr
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_every_function_loads_without_the_sdks() -> None:
    assert len(FUNCTIONS) >= 20
    assert json.loads(_run(LOAD_FUNCTIONS, *FUNCTIONS)) == []


def test_building_the_clients_imports_them() -> None:
    seen = json.loads(_run(BUILD_CLIENTS))
    assert seen["before"] == []
    assert seen["after"] == list(SDKS)
    assert seen["client"].startswith("anthropic")
