"""The prospect upload rules pinned to what the innovator reads (agents.md §5, §14): each refusal's
exact sentence, each row error and warning, the limits on both sides, the header aliases, the
stored row's round trip, the token and the price table."""

from __future__ import annotations

import hashlib

import pytest

from shared.domain.constants import PROSPECT_UPLOAD_MAX_BYTES
from shared.domain.prospects import (
    ALREADY_UPLOADED,
    FIELDS,
    CreditPack,
    ParsedUpload,
    RowResult,
    UploadRefused,
    credit_packs,
    decode_csv,
    mark_already_uploaded,
    new_upload_token,
    pack_for,
    parse_prospect_csv,
    plausible_token,
    token_hash,
    writable_rows,
)


def parse(text: str) -> ParsedUpload:
    return parse_prospect_csv(text.encode())


def one_row(text: str) -> RowResult:
    (row,) = parse(text).rows
    return row


def refusal(data: bytes) -> str:
    with pytest.raises(UploadRefused) as caught:
        parse_prospect_csv(data)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


# --- whole-file refusals ------------------------------------------------------------------------


def test_each_refusal_reads_as_one_clear_sentence():
    assert refusal(b"email\n" + b"a" * PROSPECT_UPLOAD_MAX_BYTES) == "The file is larger than 5 MB."
    assert refusal(b" \r\n\t") == "The file is empty."
    assert refusal("email\na@b.co\n".encode("utf-16-le").join([b"\xff\xfe", b""])) == (
        "The file is UTF-16. Save it as 'CSV UTF-8 (Comma delimited)'."
    )
    assert refusal(b"\xfe\xff\x00e\x00m") == "The file is UTF-16. Save it as 'CSV UTF-8 (Comma delimited)'."
    assert refusal(b"email\na\x00b\n") == "The file is not a text CSV (it contains binary data)."
    assert refusal(b"email\n\xe4@x.com\n") == (
        "The file is not UTF-8 (byte 7 is not valid). Save it as 'CSV UTF-8 (Comma delimited)'."
    )
    assert refusal(b'"a"b,email\n') == "The header row is not valid CSV (',' expected after '\"')."
    assert refusal(b'email\na@b.co\n"a"b\n') == "Row 3 is not valid CSV (',' expected after '\"')."
    assert refusal(b"Phone,Mobile\n1,2\n") == (
        "Two columns mean the same thing (for example 'phone' and 'phone_number')."
    )
    assert refusal(b"name,company\nAnn,Co\n") == (
        "No contact column found: the file needs an email, phone or LinkedIn column."
    )
    assert refusal(b"email,name\n,\n  ,  \n") == "The file has a header but no rows."


def test_a_file_of_exactly_the_size_limit_is_read():
    data = b"email\n" + b"a" * (PROSPECT_UPLOAD_MAX_BYTES - 6)
    assert len(data) == PROSPECT_UPLOAD_MAX_BYTES
    assert decode_csv(data).startswith("email\naaa")


def test_a_byte_order_mark_is_dropped_not_read_as_the_header():
    assert decode_csv(b"\xef\xbb\xbfemail\n") == "email\n"
    assert parse_prospect_csv(b"\xef\xbb\xbfEmail\nann@example.com\n").columns == ("email",)


# --- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("E-mail", "email"),
        ("email_address", "email"),
        ("e_mail", "email"),
        ("Work Email", "email"),
        ("mobile", "phone_number"),
        ("Mobile Phone", "phone_number"),
        ("cell", "phone_number"),
        ("LinkedIn Profile", "linkedin_url"),
        ("linkedin_profile_url", "linkedin_url"),
        ("First Name", "first_name"),
        ("firstname", "first_name"),
        ("given_name", "first_name"),
        ("Last Name", "last_name"),
        ("lastname", "last_name"),
        ("surname", "last_name"),
        ("family name", "last_name"),
        ("company", "company"),
        ("Company Name", "company"),
        ("organization", "company"),
        ("organisation", "company"),
        ("employer", "company"),
        ("title", "title"),
        ("Job Title", "title"),
        ("position", "title"),
        ("role", "title"),
    ],
)
def test_every_header_alias(header: str, field: str):
    base, value = ("email", "a@b.co") if field == "phone_number" else ("phone", "+1 415 555 0199")
    cell = "+1 415 555 0100" if field == "phone_number" else "x"
    parsed = parse(f"{base},{header}\n{value},{cell}\n")
    assert parsed.columns[1] == field
    assert parsed.rows[0].values[field] is not None


def test_full_name_columns_split_at_the_first_space():
    assert parse("email,name\na@b.co,Ann  Lee Smith\n").columns == ("email", "full_name")
    row = one_row("email,Full Name\na@b.co,Ann  Lee Smith\n")
    assert (row.values["first_name"], row.values["last_name"]) == ("Ann", "Lee Smith")
    only_first = one_row("email,name\na@b.co,Cher\n")
    assert (only_first.values["first_name"], only_first.values["last_name"]) == ("Cher", None)
    kept = one_row("email,name,last_name\na@b.co,Ann Lee,Smith\n")
    assert (kept.values["first_name"], kept.values["last_name"]) == (None, "Smith")
    kept = one_row("email,name,first_name\na@b.co,Ann Lee,Annie\n")
    assert (kept.values["first_name"], kept.values["last_name"]) == ("Annie", None)


def test_unknown_columns_are_listed_cut_to_60_characters_and_blank_headers_skipped():
    long = "x" * 70
    parsed = parse(f"email,  Notes  ,,{long}\na@b.co,n,,y\n")
    assert parsed.ignored_columns == ("Notes", "x" * 60)
    assert parsed.columns == ("email",)


# --- rows ---------------------------------------------------------------------------------------


def test_a_complete_row_is_valid_and_cleaned():
    row = one_row(
        "email,phone,linkedin,first name,last name,company,title\n"
        " ADA@Example.COM ,(415) 555-0123,HTTP://UK.LinkedIn.com/PUB/Ada_L/?trk=x,Ada,Lovelace,Analytical,CTO\n"
    )
    assert row.values == {
        "email": "ada@example.com",
        "phone_number": "+14155550123",
        "linkedin_url": "https://www.linkedin.com/pub/Ada_L",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical",
        "title": "CTO",
    }
    assert (row.row_number, row.errors, row.warnings, row.status, row.writable) == (2, (), (), "valid", True)


def test_row_errors_quote_the_bad_value():
    long_email = "a" * 90 + "@"
    row = one_row(f"email,phone,linkedin,name,company\n{long_email},12,https://evil.example/in/x,Ann,Co\n")
    assert row.errors == (
        f"email {long_email[:80]!r} is not a valid email address",
        "phone '12' is not valid (too short for its country)",
        "LinkedIn 'https://evil.example/in/x' is not a linkedin.com/in/... profile URL",
    )
    assert (row.status, row.writable) == ("error", False)


def test_an_email_of_254_characters_is_valid_255_is_not():
    local = "a" * 64
    domain_254 = ".".join(["b" * 60, "c" * 60, "d" * 60]) + "." + "e" * (254 - 64 - 1 - 183)
    email = f"{local}@{domain_254}"
    assert len(email) == 254
    assert one_row(f"email,name,company\n{email},A,C\n").status == "valid"
    assert one_row(f"email,name,company\n{email}e,A,C\n").status == "error"


def test_a_cell_of_500_characters_is_kept_501_is_an_error_and_cut():
    ok = one_row("email,company\na@b.co," + "c" * 500 + "\n")
    assert ok.errors == () and ok.values["company"] == "c" * 500
    long = one_row("email,company\na@b.co," + "c" * 501 + "\n")
    assert long.errors == ("company is longer than 500 characters",)
    assert long.values["company"] == "c" * 500


def test_extra_cells_are_a_warning_and_missing_cells_are_empty():
    row = one_row("email,company\na@b.co,Co,x,y\n")
    assert row.warnings == ("no name", "2 extra cell(s) without a column were ignored")[::-1]
    short = one_row("email,company,title\na@b.co\n")
    assert short.values["company"] is None and short.values["title"] is None
    exact = one_row("email,company,name\na@b.co,Co,Ann\n")
    assert exact.warnings == ()


def test_name_and_company_warnings():
    assert one_row("email,last_name,company\na@b.co,Lee,Co\n").warnings == ()
    assert one_row("email,first_name\na@b.co,Ann\n").warnings == ("no company",)
    row = one_row("email\na@b.co\n")
    assert row.warnings == ("no name", "no company")
    assert row.status == "warning" and row.writable


def test_formula_cells_are_flagged_except_phone_numbers():
    row = one_row("phone,first_name,company,title\n+1 415 555 0199,=SUM(A1),@Corp,-CEO\n")
    assert row.warnings == (
        "first_name starts with '=': kept as plain text, never as a formula",
        "company starts with '@': kept as plain text, never as a formula",
        "title starts with '-': kept as plain text, never as a formula",
    )
    assert row.values["first_name"] == "=SUM(A1)"
    plus = one_row("email,name,company\na@b.co,+Ann,Co\n")
    assert plus.warnings == ("first_name starts with '+': kept as plain text, never as a formula",)


def test_duplicates_name_the_first_row_and_every_repeated_contact():
    parsed = parse(
        "email,phone,linkedin\n"
        "a@b.co,+1 415 555 0199,https://linkedin.com/in/Ada\n"
        "A@B.CO,+14155550199,https://www.linkedin.com/in/ada\n"
    )
    assert parsed.rows[1].errors == (
        "duplicate of row 2 (email)",
        "duplicate of row 2 (phone_number)",
        "duplicate of row 2 (linkedin_url)",
    )


def test_a_row_refused_for_another_reason_neither_claims_nor_matches_contacts():
    parsed = parse(
        "email,phone\n"
        "a@b.co,\n"
        "a@b.co,12\n"  # a bad phone: its own error only
        "x@b.co,+1 415 555 0199\n"
        "y@b.co,+1 415 555 0199\n"
        "x@b.co,\n"
    )
    errors = [r.errors for r in parsed.rows]
    assert errors[1] == ("phone '12' is not valid (too short for its country)",)
    assert errors[2] == ()
    assert errors[3] == ("duplicate of row 4 (phone_number)",)
    assert errors[4] == ("duplicate of row 4 (email)",)


def test_a_duplicate_row_does_not_claim_its_other_contacts():
    parsed = parse("email,phone\na@b.co,\na@b.co,+1 415 555 0199\nz@b.co,+1 415 555 0199\n")
    assert [r.errors for r in parsed.rows] == [(), ("duplicate of row 2 (email)",), ()]


def test_summary_counts_and_columns():
    parsed = parse("email,company\na@b.co,Co\nb@b.co,\nbad,\n")
    assert (parsed.valid, parsed.warnings, parsed.errors) == (0, 2, 1)
    assert parsed.summary() == "0 valid, 2 warnings, 1 errors"
    assert [r.row_number for r in writable_rows(parsed.rows)] == [2, 3]
    assert ParsedUpload(rows=()).ignored_columns == () and ParsedUpload(rows=()).columns == ()


def test_a_row_result_round_trips_through_its_stored_form():
    row = one_row("email,company\nA@b.co,=Co\n")
    stored = row.as_dict()
    assert stored == {
        "row_number": 2,
        "values": row.values,
        "errors": [],
        "warnings": ["no name", "company starts with '=': kept as plain text, never as a formula"],
    }
    assert RowResult.from_dict(stored) == row
    bad = one_row("email\nnot-an-email\n")
    assert bad.errors and RowResult.from_dict(bad.as_dict()) == bad
    bare = RowResult.from_dict({"row_number": "4", "values": {"email": "x@y.z", "extra": "dropped"}})
    assert bare == RowResult(4, {**dict.fromkeys(FIELDS), "email": "x@y.z"}, (), ())


def test_rows_already_uploaded_name_each_known_contact():
    row = one_row("email,phone\na@b.co,+1 415 555 0199\n")
    known = frozenset({("email", "a@b.co"), ("phone_number", "+14155550199")})
    (marked,) = mark_already_uploaded([row], known)
    assert marked.errors == (f"{ALREADY_UPLOADED} (email)", f"{ALREADY_UPLOADED} (phone_number)")
    assert ALREADY_UPLOADED == "already in your prospects"


# --- token and packs ----------------------------------------------------------------------------


def test_the_upload_token_is_long_unguessable_and_plausible():
    token = new_upload_token()
    assert len(token) == 43  # 32 random bytes, URL-safe base64
    assert plausible_token(token)
    assert new_upload_token() != token
    assert not plausible_token(None) and not plausible_token("")
    assert plausible_token("a" * 20) and not plausible_token("a" * 19)


def test_the_token_hash_is_the_sha256_of_its_utf8_bytes():
    assert token_hash("é-token") == hashlib.sha256("é-token".encode()).hexdigest()


def test_the_price_table_and_the_pack_for_an_amount():
    assert credit_packs() == (
        CreditPack(100, 10_000),
        CreditPack(250, 23_750),
        CreditPack(500, 45_000),
        CreditPack(1_000, 85_000),
    )
    assert pack_for(0) == CreditPack(100, 10_000)
    assert pack_for(250) == CreditPack(250, 23_750)
    assert pack_for(251) == CreditPack(500, 45_000)
    assert pack_for(1_000) == CreditPack(1_000, 85_000)
    assert pack_for(1_001) is None


def test_a_row_with_its_own_error_keeps_it_even_when_a_contact_is_known():
    row = one_row("email,phone\na@b.co,12\n")
    (marked,) = mark_already_uploaded([row], frozenset({("email", "a@b.co")}))
    assert marked.errors == ("phone '12' is not valid (too short for its country)",)


def test_an_ignored_column_is_not_checked_at_all():
    row = one_row("email,notes\na@b.co," + "n" * 600 + "\n")
    assert row.errors == ()
    assert "n" * 10 not in "".join(v or "" for v in row.values.values())


def test_a_blank_row_in_the_middle_is_skipped_and_reading_goes_on():
    parsed = parse("email\na@b.co\n,\n\nb@b.co\n")
    assert [(r.row_number, r.values["email"]) for r in parsed.rows] == [(2, "a@b.co"), (5, "b@b.co")]


def test_headers_with_punctuation_around_them_are_recognised():
    assert parse("(Email),Phone #\na@b.co,+1 415 555 0199\n").columns == ("email", "phone_number")


def test_long_bad_values_are_quoted_cut():
    phone = "1" * 30 + "x" * 20
    linkedin = "https://example.com/" + "p" * 90
    row = one_row(f"phone,linkedin\n{phone},{linkedin}\n")
    assert row.errors[0].startswith(f"phone {phone[:40]!r} is not valid (")
    assert row.errors[1] == f"LinkedIn {linkedin[:80]!r} is not a linkedin.com/in/... profile URL"
