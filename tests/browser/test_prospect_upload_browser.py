"""The prospect upload page in a real browser (issue 13 §3): headless Chromium from Debian's
packages (``chromium``, ``chromium-driver``; ``make setup`` installs them), driven by selenium,
in a phone-sized window, against the prospect_upload function served over HTTP on loopback.

No step downloads a browser: the driver is the system's ``chromedriver``. A screenshot of the
preview is saved under ``.local/artifacts/`` (and the test's tmp dir) for a person to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from werkzeug.serving import make_server

from tests.commerce_support import innovator, new_link, upload_settings
from tools.fakes.loopback_http import serve_in_thread

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".local" / "artifacts"
PAGE_WAIT_SECONDS = 30.0
MESSY_CSV = (
    "\ufeffFirst Name,Last_Name,Company Name,E-mail,Phone Number,LinkedIn\r\n"
    "Ada,Lovelace,Analytical Engines,ada@example.com,(415) 555-0123,linkedin.com/in/ada-lovelace\r\n"
    "Grace,Hopper,Navy,grace@@navy,,\r\n"
    "Nobody,Atall,Ghost Co,,,\r\n"
    "Ada,Again,Analytical Engines,ADA@example.com,,\r\n"
    '"=HYPERLINK(""http://evil.example"",""click me"")",Mallory,<b>Evil</b> Corp,mallory@example.com,,\r\n'
    "Alan,Turing,,alan@example.com,+44 20 7946 0958,https://www.linkedin.com/in/alan-turing/\r\n"
)


def _browser_binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip(
            "BROWSER TEST SKIPPED: Debian's chromium and chromium-driver are not installed. "
            "`make setup` installs them with apt-get; on a machine without apt, install them by hand."
        )
    return chromium, driver


@pytest.fixture
def served(database_url: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """prospect_upload on a loopback HTTP server; PROSPECT_UPLOAD_URL is its address."""
    app = functions_framework.create_app(  # type: ignore[no-untyped-call]
        "prospect_upload", str(ROOT / "functions" / "prospect_upload" / "main.py")
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = serve_in_thread(server, "prospect-upload")
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("PROSPECT_UPLOAD_URL", base)
    try:
        with upload_settings(monkeypatch):
            monkeypatch.setenv("PROSPECT_UPLOAD_URL", base)
            yield base
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium, driver_path = _browser_binaries()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=390,844",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _after_submit(browser: Any, element_id: str) -> Any:
    """The element of the page a form submission loads, once that page has loaded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(browser, PAGE_WAIT_SECONDS).until(
        expected_conditions.presence_of_element_located((By.ID, element_id))
    )


def test_an_innovator_uploads_a_messy_list_from_a_phone(served, browser, db, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    owner = innovator(db)
    token = new_link(owner, base=served)
    csv_path = tmp_path / "my leads.csv"
    csv_path.write_bytes(MESSY_CSV.encode("utf-8"))

    # 1. open the link
    browser.get(f"{served}/?t={token}")
    assert "Upload your prospect list" in browser.title
    # 2. upload the messy CSV
    browser.find_element(By.ID, "file").send_keys(str(csv_path))
    browser.find_element(By.ID, "preview").click()
    # 3. the preview's counts, per-row reasons, and inert hostile cells. A click on a submit
    # button returns before the browser has loaded the next page, so wait for it.
    summary = _after_submit(browser, "summary").text
    assert summary == "1 valid, 2 warnings, 3 errors"
    table = browser.find_element(By.ID, "rows").text
    assert "not a valid email address" in table
    assert "no contact method" in table
    assert "duplicate of row 2 (email)" in table
    assert '=HYPERLINK("http://evil.example","click me")' in table  # shown as text
    assert "<b>Evil</b> Corp" in table  # markup shown, not rendered
    assert browser.find_elements(By.TAG_NAME, "a") == []  # no active links anywhere
    assert browser.find_elements(By.TAG_NAME, "b") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - nothing scripted ran
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = tmp_path / "prospect_upload_preview.png"
    assert browser.save_screenshot(str(shot))
    shutil.copyfile(shot, ARTIFACTS / "prospect_upload_preview.png")
    assert db.execute("SELECT count(*) AS n FROM prospects").fetchone()["n"] == 0

    # 4. confirm, 5. the success page
    browser.find_element(By.ID, "confirm").click()
    assert "Your prospects are saved. 3 prospects" in _after_submit(browser, "saved").text

    # 6. the rows in Postgres: one batch, this innovator, normalised contacts
    rows = db.execute(
        "SELECT email, phone_number, linkedin_url, first_name, company, upload_batch_id, innovator_id"
        " FROM prospects ORDER BY email"
    ).fetchall()
    assert [r["email"] for r in rows] == ["ada@example.com", "alan@example.com", "mallory@example.com"]
    assert {r["innovator_id"] for r in rows} == {owner}
    assert len({r["upload_batch_id"] for r in rows}) == 1
    assert rows[0]["phone_number"] == "+14155550123"
    assert rows[1]["linkedin_url"] == "https://www.linkedin.com/in/alan-turing"
    assert rows[2]["first_name"].startswith("=HYPERLINK(")
    research = db.execute("SELECT count(*) AS n FROM events WHERE event_type = 'prospect.research_needed'")
    assert research.fetchone()["n"] == 2

    # A reused link is a clear page.
    browser.get(f"{served}/?t={token}")
    assert "already used" in browser.find_element(By.ID, "problem").text
    assert "Traceback" not in browser.page_source


def test_expired_and_unknown_links_are_clear_pages(served, browser, db):
    from selenium.webdriver.common.by import By

    expired = new_link(innovator(db), now=datetime.now(UTC) - timedelta(hours=25), base=served)
    browser.get(f"{served}/?t={expired}")
    assert "expired" in browser.find_element(By.ID, "problem").text
    browser.get(f"{served}/?t=this-token-was-never-issued-by-anyone")
    assert "not valid" in browser.find_element(By.ID, "problem").text
    assert "Traceback" not in browser.page_source
