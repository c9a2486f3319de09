"""The prospect upload page's use cases (``shared/service_layer/prospect_upload.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "prospect_upload.py"): each
refusal page (status, outcome and the exact page), the link checks in their order (token shape,
the locked link, the CSRF token, used, expired at its boundary), what the preview stores on the
link (rows, batch id, the file name without NUL and cut to 200), what a confirmation writes (each
prospect, the account lock before the duplicate check, the batch's events kept on commit only,
the link spent) and the log lines. ``RecordingUow`` (tests/fakes/uow.py) stands in for
``PostgresUnitOfWork``; the SQL is tested on Postgres (tests/functions/test_prospect_upload.py).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.repositories.commerce import NewProspect, StoredProspect, UploadLink
from shared.adapters.repositories.users import UserLock
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.events import ProspectResearchNeeded, ProspectsBatchUploaded
from shared.domain.prospects import RowResult, mark_already_uploaded, parse_prospect_csv, token_hash
from shared.service_layer import prospect_pages as pages
from shared.service_layer.prospect_upload import Page, confirm, open_link, preview
from tests.fakes.uow import RecordingRepo, ScriptedRepo, UowLog, uow_factory

LOGGER = "shared.service_layer.prospect_upload"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TOKEN = "T" * 43
CSRF = "csrf-secret-value"
INNOVATOR = UUID("00000000-0000-0000-0000-0000000000aa")
LINK_ID = UUID("00000000-0000-0000-0000-0000000000bb")
BATCH = UUID("00000000-0000-0000-0000-0000000000cc")
OTHER_BATCH = UUID("00000000-0000-0000-0000-0000000000dd")

CSV = (
    b"First Name,Last Name,Company,email,phone,linkedin_url,Shoe size\r\n"
    b"Ada,Lovelace,Analytical,ada@example.com,,https://www.linkedin.com/in/ada,9\r\n"
    b"Bob,Builder,,bob@@example,,,\r\n"
    b"Cy,Young,Acme,cy@example.com,,,\r\n"
    b"Dee,Dup,,dee@example.com,,,\r\n"
)


def link(**changes: Any) -> UploadLink:
    base = UploadLink(
        id=LINK_ID,
        innovator_id=INNOVATOR,
        csrf_secret=CSRF,
        expires_at=NOW + timedelta(hours=1),
        used_at=None,
        preview_batch_id=None,
        preview_rows=None,
        preview_file_name=None,
        upload_batch_id=None,
        rows_written=None,
    )
    return dataclasses.replace(base, **changes)


class Uploads(RecordingRepo):
    """``prospect_uploads``: the locked link, the innovator's known contacts, every write recorded
    (the contacts asked for as a list, since the use case passes a generator)."""

    name = "prospect_uploads"

    def __init__(
        self,
        log: UowLog,
        found: UploadLink | None,
        known: set[tuple[str, str]] | None = None,
        stored: list[StoredProspect] | None = None,
    ) -> None:
        super().__init__(log)
        self.found = found
        self.known = known or set()
        self.stored = stored or []
        self.added: list[UUID] = []

    def lock_by_hash(self, hashed: str) -> UploadLink | None:
        self.record("lock_by_hash", hashed)
        return self.found

    def known_contacts(self, innovator_id: UUID, contacts: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        self.record("known_contacts", innovator_id, list(contacts))
        return self.known

    def set_preview(
        self, link_id: UUID, batch_id: UUID, rows: list[dict[str, Any]], name: str | None
    ) -> None:
        self.record("set_preview", link_id, batch_id, rows, name)

    def batch(self, batch_id: UUID) -> list[StoredProspect]:
        self.record("batch", batch_id)
        return self.stored

    def add_prospect(self, prospect: NewProspect) -> UUID:
        self.record("add_prospect", prospect)
        self.added.append(uuid4())
        return self.added[-1]

    def mark_used(self, link_id: UUID, batch_id: UUID, rows: int, now: datetime) -> None:
        self.record("mark_used", link_id, batch_id, rows, now)


def shell(
    found: UploadLink | None = None, **uploads: Any
) -> tuple[UowLog, Uploads, Callable[[], PostgresUnitOfWork]]:
    log = UowLog()
    repo = Uploads(log, found, **uploads)
    users = ScriptedRepo("users", log, lock=None)
    return log, repo, uow_factory(log, prospect_uploads=repo, users=users)


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def fields(record: logging.LogRecord, *names: str) -> dict[str, Any]:
    return {n: getattr(record, n) for n in names}


UNKNOWN = Page(404, pages.problem("Link not valid", "This upload link is not valid."), "unknown_link")
EXPIRED = Page(
    410, pages.problem("Link expired", "This upload link has expired (links last 24 hours)."), "expired"
)
USED = Page(
    410, pages.problem("Link already used", "This upload link was already used to save a list."), "used"
)
CSRF_REFUSED = Page(
    403,
    pages.problem("Form expired", "This form could not be verified. Open the link from your text again."),
    "csrf",
)
STALE = Page(
    409,
    pages.problem("Preview changed", "This preview is out of date. Open the link and upload again."),
    "stale_preview",
)
NO_BATCH = Page(
    400, pages.problem("Nothing to save", "Upload a file and check the preview first."), "no_batch"
)


# --- opening the link ----------------------------------------------------------------------------


def test_a_live_link_opens_the_upload_form_with_its_csrf_token_and_writes_nothing() -> None:
    log, _, make = shell(link())
    assert open_link(TOKEN, uow_factory=make, now=NOW) == Page(200, pages.upload_form(TOKEN, CSRF), "form")
    assert log.methods() == ["prospect_uploads.lock_by_hash"]
    assert log.calls[0].args == (token_hash(TOKEN),)
    assert (log.entered, log.commits) == (1, 0)


@pytest.mark.parametrize("token", [None, "", "short", "T" * 19, "T" * 101, "T" * 42 + "!"])
def test_a_token_of_the_wrong_shape_is_unknown_without_asking_the_database(
    token: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    log, _, make = shell(link())
    assert open_link(token, uow_factory=make, now=NOW) == UNKNOWN
    assert log.calls == []
    [line] = records(caplog, "upload link refused")
    assert line.levelno == logging.INFO and fields(line, "outcome") == {"outcome": "unknown_link"}


@pytest.mark.parametrize("token", ["T" * 20, "a-_Z9" * 20])
def test_a_token_at_the_shape_bounds_is_looked_up(token: str) -> None:
    log, _, make = shell(link())
    assert open_link(token, uow_factory=make, now=NOW).outcome == "form"
    assert log.calls[0].args == (token_hash(token),)


@pytest.mark.parametrize(
    ("found", "page"),
    [
        (None, UNKNOWN),
        (link(used_at=NOW - timedelta(minutes=1)), USED),
        (link(expires_at=NOW), EXPIRED),
        (link(expires_at=NOW - timedelta(seconds=1)), EXPIRED),
        (link(used_at=NOW, expires_at=NOW - timedelta(days=1)), USED),
    ],
)
def test_an_unknown_used_or_expired_link_gets_its_page_and_a_log_line(
    found: UploadLink | None, page: Page, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    log, _, make = shell(found)
    assert open_link(TOKEN, uow_factory=make, now=NOW) == page
    assert log.commits == 0
    [line] = records(caplog, "upload link refused")
    assert fields(line, "outcome") == {"outcome": page.outcome}


def test_a_link_expiring_a_microsecond_from_now_still_opens() -> None:
    _, _, make = shell(link(expires_at=NOW + timedelta(microseconds=1)))
    assert open_link(TOKEN, uow_factory=make, now=NOW).outcome == "form"


# --- preview -------------------------------------------------------------------------------------


def expected_rows(known: AbstractSet[tuple[str, str]] = frozenset()) -> tuple[RowResult, ...]:
    return mark_already_uploaded(parse_prospect_csv(CSV).rows, known)


def test_a_preview_stores_the_checked_rows_on_the_link_under_a_new_batch_and_shows_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    known = {("email", "cy@example.com")}
    log, _, make = shell(link(), known=known)
    page = preview(TOKEN, CSRF, CSV, "list.csv", uow_factory=make, now=NOW)
    assert log.methods() == [
        "prospect_uploads.lock_by_hash",
        "prospect_uploads.known_contacts",
        "prospect_uploads.set_preview",
    ]
    # Only the rows without errors are checked against earlier uploads (Bob's email is invalid)
    assert log.calls[1].args == (
        INNOVATOR,
        [
            ("email", "ada@example.com"),
            ("linkedin_url", "https://www.linkedin.com/in/ada"),
            ("email", "cy@example.com"),
            ("email", "dee@example.com"),
        ],
    )
    rows = expected_rows(known)
    assert rows[2].errors == ("already in your prospects (email)",)
    link_id, batch_id, stored, name = log.calls[2].args
    assert (link_id, stored, name) == (LINK_ID, [r.as_dict() for r in rows], "list.csv")
    assert isinstance(batch_id, UUID)
    assert (log.entered, log.commits, log.exits_without_commit) == (1, 1, 0)
    html = pages.preview(
        TOKEN, CSRF, str(batch_id), rows, file_name="list.csv", ignored_columns=("Shoe size",)
    )
    assert page == Page(200, html, "preview")
    [line] = records(caplog, "upload previewed")
    assert fields(line, "link_id", "rows", "summary") == {
        "link_id": str(LINK_ID),
        "rows": 4,
        "summary": "1 valid, 1 warnings, 2 errors",
    }


def test_each_preview_gets_a_new_batch_id() -> None:
    log, _, make = shell(link())
    preview(TOKEN, CSRF, CSV, "a.csv", uow_factory=make, now=NOW)
    preview(TOKEN, CSRF, CSV, "a.csv", uow_factory=make, now=NOW)
    first, second = (c.args[1] for c in log.of("prospect_uploads", "set_preview"))
    assert first != second


@pytest.mark.parametrize(
    ("file_name", "stored", "shown"),
    [
        (None, None, None),
        ("", None, None),
        ("\x00", None, None),
        ("li\x00st.csv", "list.csv", "list.csv"),
        ("n" * 200, "n" * 200, "n" * 200),
        ("n" * 201, "n" * 200, "n" * 200),
        ("\x00" + "n" * 200, "n" * 200, "n" * 200),
    ],
)
def test_the_file_name_is_stored_without_nul_and_cut_to_200(
    file_name: str | None, stored: str | None, shown: str | None
) -> None:
    log, _, make = shell(link())
    page = preview(TOKEN, CSRF, CSV, file_name, uow_factory=make, now=NOW)
    [call] = log.of("prospect_uploads", "set_preview")
    assert call.args[3] == stored
    html = pages.preview(
        TOKEN, CSRF, str(call.args[1]), expected_rows(), file_name=shown, ignored_columns=("Shoe size",)
    )
    assert page.html == html


def test_a_preview_without_a_file_shows_the_form_again_and_writes_nothing() -> None:
    log, _, make = shell(link())
    page = preview(TOKEN, CSRF, None, "x.csv", uow_factory=make, now=NOW)
    assert page == Page(400, pages.upload_form(TOKEN, CSRF, problem="Choose a CSV file."), "no_file")
    assert log.methods() == ["prospect_uploads.lock_by_hash"]
    assert log.commits == 0


def test_a_refused_file_shows_the_reason_on_the_form_logs_it_and_writes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    log, _, make = shell(link())
    page = preview(TOKEN, CSRF, b"name,company\r\nAda,Acme\r\n", "x.csv", uow_factory=make, now=NOW)
    reason = "No contact column found: the file needs an email, phone or LinkedIn column."
    assert page == Page(422, pages.upload_form(TOKEN, CSRF, problem=reason), "refused")
    assert log.methods() == ["prospect_uploads.lock_by_hash"]
    assert log.commits == 0
    [line] = records(caplog, "upload refused")
    assert line.levelno == logging.INFO
    assert fields(line, "link_id", "reason") == {"link_id": str(LINK_ID), "reason": reason}


@pytest.mark.parametrize("csrf", [None, "", "wrong", CSRF + "x", CSRF[:-1]])
def test_a_preview_with_a_wrong_csrf_token_is_refused_before_the_file_is_read(csrf: str | None) -> None:
    log, _, make = shell(link())
    assert preview(TOKEN, csrf, CSV, "x.csv", uow_factory=make, now=NOW) == CSRF_REFUSED
    assert log.methods() == ["prospect_uploads.lock_by_hash"]
    assert log.commits == 0


def test_an_empty_csrf_secret_never_matches_an_empty_token() -> None:
    _, _, make = shell(link(csrf_secret=""))
    assert preview(TOKEN, "", CSV, "x.csv", uow_factory=make, now=NOW) == CSRF_REFUSED
    assert preview(TOKEN, None, CSV, "x.csv", uow_factory=make, now=NOW) == CSRF_REFUSED


@pytest.mark.parametrize(
    ("token", "found", "page"),
    [
        ("short", link(), UNKNOWN),
        (TOKEN, None, UNKNOWN),
        (TOKEN, link(used_at=NOW), USED),
        (TOKEN, link(expires_at=NOW), EXPIRED),
    ],
)
def test_a_preview_on_a_dead_link_gets_the_links_page(
    token: str, found: UploadLink | None, page: Page
) -> None:
    log, _, make = shell(found)
    assert preview(token, CSRF, CSV, "x.csv", uow_factory=make, now=NOW) == page
    assert log.of("prospect_uploads", "set_preview") == [] and log.commits == 0


# --- confirm -------------------------------------------------------------------------------------


def row(
    number: int, errors: tuple[str, ...] = (), warnings: tuple[str, ...] = (), **values: str
) -> dict[str, Any]:
    full: dict[str, str | None] = {
        k: None
        for k in ("email", "phone_number", "linkedin_url", "first_name", "last_name", "company", "title")
    }
    full.update(values)
    return RowResult(number, full, errors, warnings).as_dict()


ADA = row(
    2,
    email="ada@example.com",
    phone_number="+14155550123",
    linkedin_url="https://www.linkedin.com/in/ada",
    first_name="Ada",
    last_name="Lovelace",
    company="Analytical",
    title="Countess",
)
BOB = row(3, errors=("email 'bob@@example' is not a valid email address",), email="bob@@example")
CY = row(4, warnings=("no company",), email="cy@example.com", first_name="Cy")
DEE = row(5, linkedin_url="https://www.linkedin.com/in/dee", last_name="Dup", company="Acme")
EVE = row(6, email="eve@example.com", first_name="Eve", company="Acme")
PREVIEW = [ADA, BOB, CY, DEE, EVE]


def ready(**changes: Any) -> UploadLink:
    return link(preview_batch_id=BATCH, preview_rows=PREVIEW, **changes)


def test_confirm_writes_the_rows_without_errors_once_emits_the_batch_events_and_spends_the_link(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    log, repo, make = shell(ready(), known={("email", "eve@example.com")})
    page = confirm(TOKEN, CSRF, str(BATCH), uow_factory=make, now=NOW)
    assert page == Page(200, pages.saved(3, 2), "saved")
    assert log.methods() == [
        "prospect_uploads.lock_by_hash",
        "users.lock",
        "prospect_uploads.known_contacts",
        "prospect_uploads.add_prospect",
        "prospect_uploads.add_prospect",
        "prospect_uploads.add_prospect",
        "prospect_uploads.mark_used",
    ]
    assert log.calls[0].args == (token_hash(TOKEN),)
    assert log.of("users", "lock")[0].args == (INNOVATOR, UserLock.ACCOUNT)
    assert log.calls[2].args == (
        INNOVATOR,
        [
            ("email", "ada@example.com"),
            ("phone_number", "+14155550123"),
            ("linkedin_url", "https://www.linkedin.com/in/ada"),
            ("email", "cy@example.com"),
            ("linkedin_url", "https://www.linkedin.com/in/dee"),
            ("email", "eve@example.com"),
        ],
    )
    written = [c.args[0] for c in log.of("prospect_uploads", "add_prospect")]
    assert written == [
        NewProspect(
            innovator_id=INNOVATOR,
            upload_batch_id=BATCH,
            email="ada@example.com",
            phone_number="+14155550123",
            linkedin_url="https://www.linkedin.com/in/ada",
            first_name="Ada",
            last_name="Lovelace",
            company="Analytical",
            title="Countess",
            metadata={"row_number": 2, "warnings": []},
        ),
        NewProspect(
            innovator_id=INNOVATOR,
            upload_batch_id=BATCH,
            email="cy@example.com",
            phone_number=None,
            linkedin_url=None,
            first_name="Cy",
            last_name=None,
            company=None,
            title=None,
            metadata={"row_number": 4, "warnings": ["no company"]},
        ),
        NewProspect(
            innovator_id=INNOVATOR,
            upload_batch_id=BATCH,
            email=None,
            phone_number=None,
            linkedin_url="https://www.linkedin.com/in/dee",
            first_name=None,
            last_name="Dup",
            company="Acme",
            title=None,
            metadata={"row_number": 5, "warnings": []},
        ),
    ]
    assert log.of("prospect_uploads", "mark_used")[0].args == (LINK_ID, BATCH, 3, NOW)
    ada_id, _, dee_id = repo.added
    assert log.committed_events == [
        ProspectResearchNeeded(ada_id, INNOVATOR, "https://www.linkedin.com/in/ada", BATCH).event(),
        ProspectResearchNeeded(dee_id, INNOVATOR, "https://www.linkedin.com/in/dee", BATCH).event(),
        ProspectsBatchUploaded(INNOVATOR, BATCH, 3, 1, 2).event(),
    ]
    assert (log.entered, log.commits, log.exits_without_commit) == (1, 1, 0)
    [line] = records(caplog, "prospects uploaded")
    assert line.levelno == logging.INFO
    assert fields(line, "user_id", "upload_batch_id", "rows", "duplicates_skipped", "research_needed") == {
        "user_id": str(INNOVATOR),
        "upload_batch_id": str(BATCH),
        "rows": 3,
        "duplicates_skipped": 1,
        "research_needed": 2,
    }


def test_confirm_with_nothing_new_writes_no_prospect_but_still_spends_the_link() -> None:
    log, _, make = shell(
        link(preview_batch_id=BATCH, preview_rows=[BOB, CY]), known={("email", "cy@example.com")}
    )
    assert confirm(TOKEN, CSRF, str(BATCH), uow_factory=make, now=NOW) == Page(
        200, pages.saved(0, 0), "saved"
    )
    assert log.of("prospect_uploads", "add_prospect") == []
    assert log.of("prospect_uploads", "mark_used")[0].args == (LINK_ID, BATCH, 0, NOW)
    assert log.committed_events == [ProspectsBatchUploaded(INNOVATOR, BATCH, 0, 1, 0).event()]


@pytest.mark.parametrize("batch", [None, "", "not-a-uuid"])
def test_confirm_without_a_batch_id_asks_for_a_preview_without_opening_a_transaction(
    batch: str | None,
) -> None:
    log, _, make = shell(ready())
    assert confirm(TOKEN, CSRF, batch, uow_factory=make, now=NOW) == NO_BATCH
    assert log.entered == 0


@pytest.mark.parametrize(
    ("token", "found", "csrf", "page"),
    [
        (None, ready(), CSRF, UNKNOWN),
        ("", ready(), CSRF, UNKNOWN),
        ("short", ready(), CSRF, UNKNOWN),
        (TOKEN, None, CSRF, UNKNOWN),
        (TOKEN, ready(), None, CSRF_REFUSED),
        (TOKEN, ready(), "wrong", CSRF_REFUSED),
        (TOKEN, ready(used_at=NOW, upload_batch_id=BATCH), "wrong", CSRF_REFUSED),
        (TOKEN, ready(used_at=NOW, upload_batch_id=OTHER_BATCH), CSRF, USED),
        (TOKEN, ready(used_at=NOW, upload_batch_id=None), CSRF, USED),
        (
            TOKEN,
            ready(used_at=NOW, upload_batch_id=OTHER_BATCH, expires_at=NOW - timedelta(days=2)),
            CSRF,
            USED,
        ),
        (TOKEN, ready(expires_at=NOW), CSRF, EXPIRED),
        (TOKEN, ready(expires_at=NOW - timedelta(seconds=1)), CSRF, EXPIRED),
        (TOKEN, link(preview_batch_id=OTHER_BATCH, preview_rows=PREVIEW), CSRF, STALE),
        (TOKEN, link(preview_batch_id=BATCH, preview_rows=None), CSRF, STALE),
        (TOKEN, link(preview_batch_id=None, preview_rows=PREVIEW), CSRF, STALE),
    ],
)
def test_confirm_refuses_each_dead_link_forged_form_or_stale_preview_and_writes_nothing(
    token: str | None, found: UploadLink | None, csrf: str | None, page: Page
) -> None:
    log, _, make = shell(found)
    assert confirm(token, csrf, str(BATCH), uow_factory=make, now=NOW) == page
    assert log.methods() == ([] if token in (None, "", "short") else ["prospect_uploads.lock_by_hash"])
    assert (log.commits, log.committed_events) == (0, [])


def test_confirm_on_a_link_expiring_a_microsecond_from_now_saves() -> None:
    _, _, make = shell(ready(expires_at=NOW + timedelta(microseconds=1)))
    assert confirm(TOKEN, CSRF, str(BATCH), uow_factory=make, now=NOW).outcome == "saved"


def stored(linkedin_url: str | None) -> StoredProspect:
    return StoredProspect(
        id=uuid4(),
        innovator_id=INNOVATOR,
        email="x@example.com",
        phone_number=None,
        linkedin_url=linkedin_url,
        first_name=None,
        last_name=None,
        company=None,
        title=None,
        upload_batch_id=BATCH,
        status="pending",
    )


def test_a_double_submit_answers_the_saved_page_again_from_the_stored_batch_and_writes_nothing() -> None:
    batch = [
        stored("https://www.linkedin.com/in/a"),
        stored(None),
        stored(""),
        stored("https://www.linkedin.com/in/b"),
    ]
    spent = ready(used_at=NOW, upload_batch_id=BATCH, expires_at=NOW - timedelta(days=1))
    log, _, make = shell(spent, stored=batch)
    page = confirm(TOKEN, CSRF, str(BATCH), uow_factory=make, now=NOW)
    assert page == Page(200, pages.saved(4, 2, again=True), "already_saved")
    assert log.methods() == ["prospect_uploads.lock_by_hash", "prospect_uploads.batch"]
    assert log.calls[1].args == (BATCH,)
    assert (log.commits, log.committed_events) == (0, [])


def test_confirmed_events_are_kept_only_when_the_unit_of_work_commits() -> None:
    class Failing(Uploads):
        def mark_used(self, link_id: UUID, batch_id: UUID, rows: int, now: datetime) -> None:
            raise RuntimeError("database gone")

    log = UowLog()
    repo = Failing(log, ready())
    make = uow_factory(log, prospect_uploads=repo, users=ScriptedRepo("users", log, lock=None))
    with pytest.raises(RuntimeError):
        confirm(TOKEN, CSRF, str(BATCH), uow_factory=make, now=NOW)
    assert (log.commits, log.committed_events, log.exits_without_commit) == (0, [], 1)
