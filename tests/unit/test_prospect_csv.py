"""The prospect CSV rules (agents.md §5): header variants, per-row checks, file-level refusals."""

from __future__ import annotations

import pytest

from shared.domain.constants import PROSPECT_UPLOAD_MAX_BYTES, PROSPECT_UPLOAD_MAX_ROWS
from shared.domain.prospects import (
    UploadRefused,
    credit_packs,
    pack_for,
    parse_prospect_csv,
    plausible_token,
    token_hash,
)

MESSY = (
    "\ufeffFirst Name,last_name,Company,E-mail,Phone_Number,LinkedIn URL,Notes\r\n"
    "Ada,Lovelace,Analytical,ada@example.com,(415) 555-0123,linkedin.com/in/ada-l,x\r\n"
    "Bob,,,bob@@example,,,\r\n"
    "Cy,Young,Acme,,,,\r\n"
    "Dee,,,ADA@example.com,,,\r\n"
    '"=HYPERLINK(""http://evil.example"",""x"")",Evil,Corp,eve@example.com,,,\r\n'
    ",,,,,https://www.linkedin.com/in/nobody,\r\n"
    ",,,,,,\r\n"
).encode("utf-8")


def test_messy_file_per_row_results():
    parsed = parse_prospect_csv(MESSY)
    by_row = {r.row_number: r for r in parsed.rows}
    assert sorted(by_row) == [2, 3, 4, 5, 6, 7]  # the blank row 8 is skipped
    ada = by_row[2]
    assert ada.status == "valid"
    assert ada.values["phone_number"] == "+14155550123"
    assert ada.values["linkedin_url"] == "https://www.linkedin.com/in/ada-l"
    assert "not a valid email" in by_row[3].errors[0]
    assert by_row[4].errors == ("no contact method: needs an email, phone or LinkedIn",)
    assert by_row[5].errors == ("duplicate of row 2 (email)",)
    evil = by_row[6]
    assert evil.writable and evil.values["first_name"] == '=HYPERLINK("http://evil.example","x")'
    assert any("kept as plain text" in w for w in evil.warnings)
    assert by_row[7].status == "warning" and set(by_row[7].warnings) == {"no name", "no company"}
    assert parsed.summary() == "1 valid, 2 warnings, 3 errors"
    assert parsed.ignored_columns == ("Notes",)
    assert [r.row_number for r in parsed.writable] == [2, 6, 7]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("phone", "phone_number"),
        ("phone_number", "phone_number"),
        ("Phone Number", "phone_number"),
        ("linkedin", "linkedin_url"),
        ("linkedin_url", "linkedin_url"),
        ("email", "email"),
        ("Email Address", "email"),
    ],
)
def test_header_variants(header, field):
    value = {
        "phone_number": "+1 415 555 0199",
        "linkedin_url": "https://linkedin.com/in/x-y",
        "email": "a@b.co",
    }
    parsed = parse_prospect_csv(f"{header},first name,company\n{value[field]},Ann,Co\n".encode())
    assert parsed.rows[0].values[field]
    assert parsed.rows[0].status == "valid"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"email\n", "no rows"),
        (b"name,company\nAnn,Co\n", "No contact column"),
        ("email\nä@x.com\n".encode("latin-1"), "not UTF-8"),
        ("email\na@b.co\n".encode("utf-16"), "UTF-16"),
        (b"email\n\x00\x01", "binary"),
        (b'email\n"a@b.co\n', "not valid CSV"),
        (b"phone,phone_number\n1,2\n", "mean the same thing"),
    ],
)
def test_refused_files(data, reason):
    with pytest.raises(UploadRefused, match=reason):
        parse_prospect_csv(data)


def test_limits():
    with pytest.raises(UploadRefused, match="larger than 5 MB"):
        parse_prospect_csv(b"email\n" + b"a" * PROSPECT_UPLOAD_MAX_BYTES)
    rows = "".join(f"p{i}@example.com\n" for i in range(PROSPECT_UPLOAD_MAX_ROWS + 1))
    with pytest.raises(UploadRefused, match="more than 10,000 rows"):
        parse_prospect_csv(("email\n" + rows).encode())
    exactly = "".join(f"p{i}@example.com\n" for i in range(PROSPECT_UPLOAD_MAX_ROWS))
    assert len(parse_prospect_csv(("email\n" + exactly).encode()).rows) == PROSPECT_UPLOAD_MAX_ROWS


def test_excel_dialect_quotes_and_embedded_newlines():
    data = b'email,company,title\r\n"a@b.co","Smith, Jones & Co","VP\r\nSales"\r\n'
    row = parse_prospect_csv(data).rows[0]
    assert row.values["company"] == "Smith, Jones & Co"
    assert row.values["title"] == "VP\r\nSales"


def test_bad_phone_and_linkedin_are_errors_with_reasons():
    parsed = parse_prospect_csv(b"phone,linkedin,name\n12,https://evil.example/in/x,Ann Lee\n")
    errors = parsed.rows[0].errors
    assert any(e.startswith("phone '12' is not valid") for e in errors)
    assert any("not a linkedin.com/in/" in e for e in errors)
    assert parsed.rows[0].values["first_name"] == "Ann"


def test_tokens_and_packs():
    assert len(token_hash("x")) == 64
    assert not plausible_token("short") and not plausible_token("<script>" * 4)
    assert pack_for(1) == credit_packs()[0]
    assert pack_for(100) == credit_packs()[0]
    assert pack_for(101) == credit_packs()[1]
    assert pack_for(10**6) is None
