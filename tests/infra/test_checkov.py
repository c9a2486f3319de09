"""Checkov over terraform/: no failed check unless it carries a written, justified inline skip.

Checkov lives in its own virtual environment, ``.venv-checkov`` (``make checkov``; ``make test``
creates it). Without it the test fails, unless ``YP_SKIP_CHECKOV=1`` says to skip it.
Checkov runs offline (``--skip-download``): no test reaches the internet.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from tests.infra import terraform_model as tf

CHECKOV = tf.ROOT / ".venv-checkov" / "bin" / "checkov"
SKIP_COMMENT = re.compile(r"#checkov:skip=(?P<check>CKV2?_[A-Z]+_\d+)(?P<reason>:.*)?$")


def _checkov_reports() -> list[dict[str, Any]]:
    if not CHECKOV.exists():
        if os.environ.get("YP_SKIP_CHECKOV") == "1":
            pytest.skip("checkov venv absent and YP_SKIP_CHECKOV=1: run `make checkov` to create it")
        pytest.fail("checkov is not installed: run `make checkov` (or set YP_SKIP_CHECKOV=1 to skip)")
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            "terraform",
            "--framework",
            "terraform",
            "--quiet",
            "--compact",
            "--skip-download",
            "-o",
            "json",
        ],
        cwd=tf.ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert result.returncode in (0, 1), f"checkov crashed:\n{result.stderr[-3000:]}"
    parsed = json.loads(result.stdout)
    return parsed if isinstance(parsed, list) else [parsed]


@pytest.mark.timeout(600)
def test_checkov_reports_no_failed_check() -> None:
    reports = _checkov_reports()
    assert reports and all(r.get("check_type") == "terraform" for r in reports)
    # A file checkov cannot parse is silently left out of every check: that is a failure too.
    parse_errors = sum(r["summary"]["parsing_errors"] for r in reports)
    assert parse_errors == 0, f"checkov could not parse {parse_errors} file(s): run checkov -d terraform"
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for report in reports
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "fix or skip inline with a reason:\n" + "\n".join(failed)
    assert sum(r["summary"]["passed"] for r in reports) > 50


def test_every_checkov_skip_is_justified() -> None:
    skips = 0
    for path in tf.tf_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "checkov:skip" not in line:
                continue
            match = SKIP_COMMENT.search(line.strip())
            assert match, f"{path}:{number}: malformed skip comment"
            reason = (match["reason"] or "").lstrip(":").strip()
            assert len(reason) >= 40, f"{path}:{number}: {match['check']} needs a written reason"
            skips += 1
    assert skips > 0
