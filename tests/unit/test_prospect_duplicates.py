"""Rows matching the innovator's earlier uploads (issue 13): shown as duplicates, never writable."""

from __future__ import annotations

from shared.domain.prospects import ALREADY_UPLOADED, mark_already_uploaded, parse_prospect_csv, row_contacts

CSV = (
    b"name,email,phone,linkedin\r\n"
    b"Ada Lovelace,ADA@example.com,,\r\n"
    b"Bea Hopper,,+1 415 555 0199,https://linkedin.com/in/bea\r\n"
    b"Cy Young,cy@example.com,,\r\n"
    b"Bad Row,not-an-email,,\r\n"
)


def test_rows_with_a_known_contact_become_duplicates():
    rows = parse_prospect_csv(CSV).rows
    assert row_contacts(rows[0]) == [("email", "ada@example.com")]
    known = frozenset({("email", "ada@example.com"), ("linkedin_url", "https://www.linkedin.com/in/bea")})
    marked = mark_already_uploaded(rows, known)
    assert [r.status for r in marked] == ["error", "error", "warning", "error"]  # Cy: no company
    assert marked[0].errors == (f"{ALREADY_UPLOADED} (email)",)
    assert marked[1].errors == (f"{ALREADY_UPLOADED} (linkedin_url)",)
    assert marked[3].errors == rows[3].errors  # an invalid row keeps its own error
    assert [r.writable for r in marked] == [False, False, True, False]


def test_nothing_known_changes_nothing():
    rows = parse_prospect_csv(CSV).rows
    assert mark_already_uploaded(rows, frozenset()) == rows
