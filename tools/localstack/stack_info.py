"""How a client attaches to the running local stack: ``<state-dir>/stack.json``.

The stack runner (``python -m tools.localstack``) writes it once everything is up: the function
URLs, the Twilio stand-in, the Pub/Sub emulator, the database and the local-only secrets. The
phone simulator, the operator CLI, the e2e tests, the benchmarks and outside scripts read it
with ``StackInfo.load``. Standard library only, so anything may import it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = ROOT / ".local"
STACK_FILE_NAME = "stack.json"
PROJECT = "yachtparty-local"  # the Google Cloud project the stack's Pub/Sub emulator serves


def stack_file(state_dir: Path | str = DEFAULT_STATE_DIR) -> Path:
    """Where the stack started with ``--state-dir state_dir`` describes itself."""
    return Path(state_dir) / STACK_FILE_NAME


@dataclass
class StackInfo:
    """What a client of the running stack needs (written to stack.json)."""

    database_url: str
    function_urls: dict[str, str]
    twilio_standin_url: str
    twilio_auth_token: str
    twilio_account_sid: str
    twilio_number: str
    webhook_signing_secret: str
    email_webhook_secret: str
    verify_email_domain: str
    pubsub_emulator_host: str
    brain: str
    pids: dict[str, int] = field(default_factory=dict)
    stripe_standin_url: str = ""  # the Stripe stand-in (tools/fakes/stripe_api.py)
    stripe_secret_key: str = ""  # local-only test key the stand-in accepts
    stripe_webhook_secret: str = ""  # what the stand-in signs stripe_webhook deliveries with
    pubsub_push: str = "emulator"  # who pushes to the functions: "emulator" or "direct" (--push)
    pubsub_publish_host: str = ""  # --push direct: where the functions publish (direct_push.py)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> StackInfo:
        return cls(**json.loads(path.read_text()))
