"""An innovator's prospect list: reading the CSV and checking each row (agents.md §5, §14).

``parse_prospect_csv(data)`` turns the uploaded bytes into per-row results, or refuses the whole
file with ``UploadRefused`` (a reason fit for the page) when it is too large, not UTF-8 (with or
without a BOM), not Excel's CSV dialect, has no contact column or too many rows.

Row rules (§5): header variants are accepted (``phone``/``phone_number``, ``linkedin``/
``linkedin_url``, ``first name``/``first_name``, ...); every row needs at least one of email,
phone or LinkedIn, each in a valid format; a missing name or company is a warning; a row whose
email, phone or LinkedIn repeats an earlier row's is an error (written once, not twice), and so
is a row whose email, phone or LinkedIn the same innovator uploaded before (``mark_already_uploaded``:
"already in your prospects"; the confirmation checks again and never writes it twice).

Cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) are kept as
plain text and flagged with a warning; the page escapes every value it shows.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
import secrets
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from shared.domain.constants import (
    CREDIT_PACKS,
    PROSPECT_UPLOAD_MAX_BYTES,
    PROSPECT_UPLOAD_MAX_FIELD_CHARS,
    PROSPECT_UPLOAD_MAX_ROWS,
    PROSPECT_UPLOAD_TOKEN_BYTES,
)
from shared.domain.phone import InvalidPhoneNumber, normalize_e164

FIELDS = ("email", "phone_number", "linkedin_url", "first_name", "last_name", "company", "title")
CONTACT_FIELDS = ("email", "phone_number", "linkedin_url")

_ALIASES: dict[str, str] = {
    "email": "email",
    "email_address": "email",
    "e_mail": "email",
    "work_email": "email",
    "phone": "phone_number",
    "phone_number": "phone_number",
    "mobile": "phone_number",
    "mobile_phone": "phone_number",
    "cell": "phone_number",
    "linkedin": "linkedin_url",
    "linkedin_url": "linkedin_url",
    "linkedin_profile": "linkedin_url",
    "linkedin_profile_url": "linkedin_url",
    "first_name": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "name": "full_name",
    "full_name": "full_name",
    "company": "company",
    "company_name": "company",
    "organization": "company",
    "organisation": "company",
    "employer": "company",
    "title": "title",
    "job_title": "title",
    "position": "title",
    "role": "title",
}

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"  # local part, first label
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"  # one or more dotted labels
)
MAX_EMAIL_CHARS = 254
_LINKEDIN = re.compile(
    r"^(?:https?://)?(?:[a-z]{2,3}\.)?linkedin\.com/(?P<kind>in|pub)/(?P<slug>[A-Za-z0-9%_\-]{2,100})/?(?:\?.*)?$",
    re.IGNORECASE,
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BOM = b"\xef\xbb\xbf"


class UploadRefused(ValueError):
    """The whole file is refused; ``reason`` is shown on the page. Nothing is written."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RowResult:
    row_number: int  # the spreadsheet's row number: the header is row 1
    values: dict[str, str | None]  # FIELDS -> cleaned value (None when empty)
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return "error" if self.errors else "warning" if self.warnings else "valid"

    @property
    def writable(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "row_number": self.row_number,
            "values": dict(self.values),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowResult:
        return cls(
            row_number=int(data["row_number"]),
            values={k: data["values"].get(k) for k in FIELDS},
            errors=tuple(data.get("errors") or ()),
            warnings=tuple(data.get("warnings") or ()),
        )


@dataclass(frozen=True)
class ParsedUpload:
    rows: tuple[RowResult, ...]
    ignored_columns: tuple[str, ...] = ()
    columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def valid(self) -> int:
        return sum(1 for r in self.rows if r.status == "valid")

    @property
    def warnings(self) -> int:
        return sum(1 for r in self.rows if r.status == "warning")

    @property
    def errors(self) -> int:
        return sum(1 for r in self.rows if r.status == "error")

    @property
    def writable(self) -> tuple[RowResult, ...]:
        return tuple(r for r in self.rows if r.writable)

    def summary(self) -> str:
        return f"{self.valid} valid, {self.warnings} warnings, {self.errors} errors"


def _header_key(raw: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")
    return _ALIASES.get(key, "")


def decode_csv(data: bytes) -> str:
    """UTF-8 with or without a BOM; anything else is refused."""
    if len(data) > PROSPECT_UPLOAD_MAX_BYTES:
        raise UploadRefused(f"The file is larger than {PROSPECT_UPLOAD_MAX_BYTES // (1024 * 1024)} MB.")
    if not data.strip():
        raise UploadRefused("The file is empty.")
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UploadRefused("The file is UTF-16. Save it as 'CSV UTF-8 (Comma delimited)'.")
    if b"\x00" in data:
        raise UploadRefused("The file is not a text CSV (it contains binary data).")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UploadRefused(
            f"The file is not UTF-8 (byte {exc.start + 1} is not valid)."
            " Save it as 'CSV UTF-8 (Comma delimited)'."
        ) from None


def parse_prospect_csv(data: bytes) -> ParsedUpload:
    text = decode_csv(data)
    reader = csv.reader(io.StringIO(text, newline=""), dialect="excel", strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise UploadRefused("The file is empty.") from None
    except csv.Error as exc:
        raise UploadRefused(f"The header row is not valid CSV ({exc}).") from None
    keys = [_header_key(h) for h in header]
    if len(set(k for k in keys if k)) != len([k for k in keys if k]):
        raise UploadRefused("Two columns mean the same thing (for example 'phone' and 'phone_number').")
    if not any(k in CONTACT_FIELDS for k in keys):
        raise UploadRefused("No contact column found: the file needs an email, phone or LinkedIn column.")
    ignored = tuple(h.strip()[:60] for h, k in zip(header, keys, strict=True) if not k and h.strip())
    rows: list[RowResult] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        for number, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= PROSPECT_UPLOAD_MAX_ROWS:
                raise UploadRefused(f"The file has more than {PROSPECT_UPLOAD_MAX_ROWS:,} rows.")
            rows.append(_check_row(number, keys, record, seen))
    except csv.Error as exc:
        raise UploadRefused(f"Row {reader.line_num} is not valid CSV ({exc}).") from None
    if not rows:
        raise UploadRefused("The file has a header but no rows.")
    return ParsedUpload(rows=tuple(rows), ignored_columns=ignored, columns=tuple(k for k in keys if k))


def _cells(
    keys: list[str], record: list[str], warnings: list[str], errors: list[str]
) -> dict[str, str | None]:
    raw: dict[str, str] = {}
    if len(record) > len(keys):
        warnings.append(f"{len(record) - len(keys)} extra cell(s) without a column were ignored")
    for key, cell in zip(keys, record, strict=False):
        if key and cell.strip():
            raw[key] = cell.strip()
    for key, text in raw.items():
        if len(text) > PROSPECT_UPLOAD_MAX_FIELD_CHARS:
            errors.append(f"{key} is longer than {PROSPECT_UPLOAD_MAX_FIELD_CHARS} characters")
            raw[key] = text[:PROSPECT_UPLOAD_MAX_FIELD_CHARS]
    full = raw.pop("full_name", None)
    if full and not raw.get("first_name") and not raw.get("last_name"):
        first, _, last = full.partition(" ")
        raw["first_name"], raw["last_name"] = first, last.strip()
    return {k: raw.get(k) or None for k in FIELDS}


def _check_contacts(values: dict[str, str | None], errors: list[str]) -> None:
    email, phone, linkedin = values["email"], values["phone_number"], values["linkedin_url"]
    if email is not None:
        if _EMAIL.match(email) and len(email) <= MAX_EMAIL_CHARS:
            values["email"] = email.lower()
        else:
            errors.append(f"email {email[:80]!r} is not a valid email address")
    if phone is not None:
        try:
            values["phone_number"] = normalize_e164(phone)
        except InvalidPhoneNumber as exc:
            errors.append(f"phone {phone[:40]!r} is not valid ({exc.reason})")
    if linkedin is not None:
        match = _LINKEDIN.match(linkedin)
        if match:
            values["linkedin_url"] = f"https://www.linkedin.com/{match['kind'].lower()}/{match['slug']}"
        else:
            errors.append(f"LinkedIn {linkedin[:80]!r} is not a linkedin.com/in/... profile URL")
    if email is None and phone is None and linkedin is None:
        errors.append("no contact method: needs an email, phone or LinkedIn")


def _check_duplicates(
    number: int, values: dict[str, str | None], seen: dict[tuple[str, str], int], errors: list[str]
) -> None:
    contacts = [(k, v.lower()) for k in CONTACT_FIELDS if (v := values[k]) is not None]
    for contact in contacts:
        first = seen.get(contact)
        if first is not None:
            errors.append(f"duplicate of row {first} ({contact[0]})")
    if not errors:
        for contact in contacts:
            seen.setdefault(contact, number)


def _check_row(
    number: int, keys: list[str], record: list[str], seen: dict[tuple[str, str], int]
) -> RowResult:
    errors: list[str] = []
    warnings: list[str] = []
    values = _cells(keys, record, warnings, errors)
    _check_contacts(values, errors)
    if not values["first_name"] and not values["last_name"]:
        warnings.append("no name")
    if not values["company"]:
        warnings.append("no company")
    for key in FIELDS:
        text = values[key]
        if text and text.startswith(_FORMULA_START) and key != "phone_number":
            warnings.append(f"{key} starts with {text[0]!r}: kept as plain text, never as a formula")
    if not errors:
        _check_duplicates(number, values, seen, errors)
    return RowResult(number, values, tuple(errors), tuple(warnings))


ALREADY_UPLOADED = "already in your prospects"


def row_contacts(row: RowResult) -> list[tuple[str, str]]:
    """A row's contacts as ``(field, lowercased value)``: what duplicates are matched on."""
    return [(k, v.lower()) for k in CONTACT_FIELDS if (v := row.values.get(k)) is not None]


def mark_already_uploaded(
    rows: Iterable[RowResult], known: AbstractSet[tuple[str, str]]
) -> tuple[RowResult, ...]:
    """Rows whose contact the innovator uploaded before (``known``) become errors: shown as
    duplicates on the preview, never written again. Rows with errors already are left as they are."""
    out: list[RowResult] = []
    for row in rows:
        seen = [field for field, value in row_contacts(row) if (field, value) in known]
        errors = tuple(f"{ALREADY_UPLOADED} ({field})" for field in seen)
        out.append(dataclasses.replace(row, errors=errors) if row.writable and seen else row)
    return tuple(out)


def writable_rows(rows: Iterable[RowResult]) -> list[RowResult]:
    return [r for r in rows if r.writable]


# --- The upload link's token ---------------------------------------------------------------------


def new_upload_token() -> str:
    """The unguessable token of one upload link (only its hash is stored)."""
    return secrets.token_urlsafe(PROSPECT_UPLOAD_TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def plausible_token(token: str | None) -> bool:
    return bool(token) and bool(_TOKEN_SHAPE.match(token or ""))


# --- Credit packs (the one price table) ---------------------------------------------------------


@dataclass(frozen=True)
class CreditPack:
    credits: int
    amount_cents: int


def credit_packs() -> tuple[CreditPack, ...]:
    return tuple(CreditPack(c, p) for c, p in CREDIT_PACKS)


def pack_for(credits: int) -> CreditPack | None:
    """The smallest pack with at least ``credits``; None above the largest."""
    for pack in sorted(credit_packs(), key=lambda p: p.credits):
        if pack.credits >= credits:
            return pack
    return None
