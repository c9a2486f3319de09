"""The prospect upload page's use cases: open the link, preview a file, confirm (issue 13, agents.md §5).

Every outcome is a ``Page`` (HTTP status + HTML): an unknown, expired or used link, a wrong CSRF
token and a refused file each get a clear page; none writes anything.

- ``open_link``: the upload form.
- ``preview``: the file is checked (``shared.domain.prospects``), and each row against the
  prospects this innovator uploaded before (a match is shown as a duplicate, "already in your
  prospects"); the per-row results wait on the link under a fresh ``preview_batch_id``; nothing
  is written to ``prospects``.
- ``confirm``: in one transaction, the rows without errors are written with one
  ``upload_batch_id`` (the preview's), ``prospect.research_needed`` is emitted for each row with a
  LinkedIn URL, ``prospects.batch_uploaded`` (analytics, platform.md §2) once for the batch, and the
  link is spent. Under the innovator's account lock, rows are checked again against their earlier
  uploads, so a list confirmed through another link since the preview is not written twice. The
  link's row is locked first, so a double submit waits, then finds the link spent with the same
  batch and answers the success page again: the batch is written once. Prospects always belong
  to the link's innovator: nothing in the form names one.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from shared.adapters.repositories.commerce import NewProspect, UploadLink
from shared.adapters.repositories.users import UserLock
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.events import ProspectResearchNeeded, ProspectsBatchUploaded
from shared.domain.prospects import (
    RowResult,
    UploadRefused,
    mark_already_uploaded,
    parse_prospect_csv,
    plausible_token,
    row_contacts,
    token_hash,
)
from shared.logs import get_logger
from shared.service_layer import prospect_pages as pages

log = get_logger(__name__)

UowFactory = Callable[[], PostgresUnitOfWork]


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    outcome: str  # for logs and tests


_UNKNOWN = Page(404, pages.problem("Link not valid", "This upload link is not valid."), "unknown_link")


def _expired() -> Page:
    return Page(
        410, pages.problem("Link expired", "This upload link has expired (links last 24 hours)."), "expired"
    )


def _used() -> Page:
    return Page(
        410, pages.problem("Link already used", "This upload link was already used to save a list."), "used"
    )


def _csrf_refused() -> Page:
    return Page(
        403,
        pages.problem("Form expired", "This form could not be verified. Open the link from your text again."),
        "csrf",
    )


def _link(uow: PostgresUnitOfWork, token: str | None, now: datetime) -> UploadLink | Page:
    if not token or not plausible_token(token):
        return _UNKNOWN
    link = uow.prospect_uploads.lock_by_hash(token_hash(token))
    if link is None:
        return _UNKNOWN
    if link.used_at is not None:
        return _used()
    if link.expires_at <= now:
        return _expired()
    return link


def _csrf_ok(link: UploadLink, csrf: str | None) -> bool:
    return bool(csrf) and hmac.compare_digest(link.csrf_secret.encode(), (csrf or "").encode())


def open_link(token: str | None, *, uow_factory: UowFactory, now: datetime) -> Page:
    with uow_factory() as uow:
        link = _link(uow, token, now)
    if isinstance(link, Page):
        log.info("upload link refused", extra={"outcome": link.outcome})
        return link
    return Page(200, pages.upload_form(token or "", link.csrf_secret), "form")


def preview(
    token: str | None,
    csrf: str | None,
    data: bytes | None,
    file_name: str | None,
    *,
    uow_factory: UowFactory,
    now: datetime,
) -> Page:
    with uow_factory() as uow:
        link = _link(uow, token, now)
        if isinstance(link, Page):
            return link
        if not _csrf_ok(link, csrf):
            return _csrf_refused()
        if data is None:
            return Page(
                400, pages.upload_form(token or "", link.csrf_secret, problem="Choose a CSV file."), "no_file"
            )
        try:
            parsed = parse_prospect_csv(data)
        except UploadRefused as exc:
            log.info("upload refused", extra={"link_id": str(link.id), "reason": exc.reason})
            return Page(422, pages.upload_form(token or "", link.csrf_secret, problem=exc.reason), "refused")
        known = uow.prospect_uploads.known_contacts(
            link.innovator_id, (c for r in parsed.rows if r.writable for c in row_contacts(r))
        )
        parsed = dataclasses.replace(parsed, rows=mark_already_uploaded(parsed.rows, known))
        batch_id = uuid4()
        # The browser's file name is the client's to choose: Postgres text cannot hold NUL
        name = (file_name or "").replace("\x00", "")[:200] or None
        uow.prospect_uploads.set_preview(link.id, batch_id, [r.as_dict() for r in parsed.rows], name)
        uow.commit()
    log.info(
        "upload previewed",
        extra={"link_id": str(link.id), "rows": len(parsed.rows), "summary": parsed.summary()},
    )
    html = pages.preview(
        token or "",
        link.csrf_secret,
        str(batch_id),
        parsed.rows,
        file_name=name,
        ignored_columns=parsed.ignored_columns,
    )
    return Page(200, html, "preview")


def confirm(  # noqa: PLR0911
    token: str | None,
    csrf: str | None,
    batch: str | None,
    *,
    uow_factory: UowFactory,
    now: datetime,
) -> Page:
    try:
        batch_id = UUID(batch or "")
    except ValueError:
        return Page(
            400, pages.problem("Nothing to save", "Upload a file and check the preview first."), "no_batch"
        )
    with uow_factory() as uow:
        if not token or not plausible_token(token):
            return _UNKNOWN
        link = uow.prospect_uploads.lock_by_hash(token_hash(token))
        if link is None:
            return _UNKNOWN
        if not _csrf_ok(link, csrf):
            return _csrf_refused()
        if link.used_at is not None:
            if link.upload_batch_id == batch_id:  # a double submit: the batch was written once
                stored = uow.prospect_uploads.batch(batch_id)
                researched = sum(1 for p in stored if p.linkedin_url)
                return Page(200, pages.saved(len(stored), researched, again=True), "already_saved")
            return _used()
        if link.expires_at <= now:
            return _expired()
        if link.preview_batch_id != batch_id or link.preview_rows is None:
            return Page(
                409,
                pages.problem(
                    "Preview changed", "This preview is out of date. Open the link and upload again."
                ),
                "stale_preview",
            )
        uow.users.lock(link.innovator_id, UserLock.ACCOUNT)  # two links' confirmations, one at a time
        previewed = [r for r in (RowResult.from_dict(d) for d in link.preview_rows) if r.writable]
        known = uow.prospect_uploads.known_contacts(
            link.innovator_id, (c for r in previewed for c in row_contacts(r))
        )
        rows = [r for r in mark_already_uploaded(previewed, known) if r.writable]
        skipped = len(previewed) - len(rows)
        researched = 0
        for row in rows:
            v = row.values
            prospect_id = uow.prospect_uploads.add_prospect(
                NewProspect(
                    innovator_id=link.innovator_id,
                    upload_batch_id=batch_id,
                    email=v.get("email"),
                    phone_number=v.get("phone_number"),
                    linkedin_url=v.get("linkedin_url"),
                    first_name=v.get("first_name"),
                    last_name=v.get("last_name"),
                    company=v.get("company"),
                    title=v.get("title"),
                    metadata={"row_number": row.row_number, "warnings": list(row.warnings)},
                )
            )
            linkedin = v.get("linkedin_url")
            if linkedin:
                researched += 1
                uow.emit(ProspectResearchNeeded(prospect_id, link.innovator_id, linkedin, batch_id).event())
        uow.emit(ProspectsBatchUploaded(link.innovator_id, batch_id, len(rows), skipped, researched).event())
        uow.prospect_uploads.mark_used(link.id, batch_id, len(rows), now)
        uow.commit()
    log.info(
        "prospects uploaded",
        extra={
            "user_id": str(link.innovator_id),
            "upload_batch_id": str(batch_id),
            "rows": len(rows),
            "duplicates_skipped": skipped,
            "research_needed": researched,
        },
    )
    return Page(200, pages.saved(len(rows), researched), "saved")
