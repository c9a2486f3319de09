"""The settings scanner behind the secrets check: follows what the entry point reaches, only."""

from __future__ import annotations

from pathlib import Path

from tests.infra.code_settings import required_env


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_reached_requires_and_credentials_count_unreached_ones_do_not(tmp_path: Path) -> None:
    write(tmp_path / "shared" / "__init__.py", "")
    write(tmp_path / "shared" / "adapters" / "__init__.py", "")
    write(
        tmp_path / "shared" / "adapters" / "sender.py",
        "from shared.config import get_settings\n"
        "def send():\n"
        "    return get_settings().require('twilio_account_sid')\n"
        "def unused():\n"
        "    return get_settings().require('apify_token')\n"
        "class Client:\n"
        "    def key(self, settings):\n"
        "        return settings.anthropic_api_key\n",
    )
    write(
        tmp_path / "shared" / "adapters" / "auth.py",
        "def check(settings):\n"
        "    from shared.adapters import sender\n"
        "    return sender.Client, settings.webhook_signing_secret\n",
    )
    write(
        tmp_path / "functions" / "hello" / "main.py",
        "from shared.adapters.sender import send\n"
        "import shared.adapters.auth as auth\n"
        "def hello(request):\n"
        "    auth.check(None)\n"
        "    return send()\n"
        "def never_called():\n"
        "    return request.settings.stripe_secret_key\n",
    )
    needed = required_env(tmp_path / "functions" / "hello", root=tmp_path)
    assert needed == {"TWILIO_ACCOUNT_SID", "ANTHROPIC_API_KEY", "WEBHOOK_SIGNING_SECRET"}


def test_module_level_code_of_reached_modules_counts(tmp_path: Path) -> None:
    write(tmp_path / "shared" / "__init__.py", "")
    write(tmp_path / "shared" / "db.py", "import os\nURL = settings.database_url\n")
    write(
        tmp_path / "functions" / "hi" / "main.py", "from shared import db\ndef hi(request):\n    return 1\n"
    )
    assert required_env(tmp_path / "functions" / "hi", root=tmp_path) == {"DATABASE_URL"}
