"""The prospect upload pages (``shared/service_layer/prospect_pages.py``), page by page.

Written against the module's mutmut survivors (docs/testing.md, "prospect_pages.py"): the pages
are what the innovator reads on their phone, so each is pinned whole (the text, the limits from
``shared/domain/constants.py``, every form with the link's token and CSRF token, the row table's
cells and notes), with the rules the preview follows: every value from a member or a file
escaped, problem rows before valid ones, at most ``shown_limit`` rows with a count of the rest,
and the Save button only when a row can be written.
"""

from __future__ import annotations

from shared.domain.constants import PROSPECT_UPLOAD_MAX_BYTES, PROSPECT_UPLOAD_MAX_ROWS
from shared.domain.prospects import FIELDS, RowResult
from shared.service_layer import prospect_pages as pages
from shared.service_layer.prospect_pages import preview, problem, saved, upload_form


def page(title: str, body: str) -> str:
    """The page shell every page shares (the style sheet is a module constant)."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{title} · Yachtparty</title><style>{pages._STYLE}</style></head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    )


def hidden(token: str, csrf: str) -> str:
    return f'<input type=hidden name=t value="{token}"><input type=hidden name=csrf value="{csrf}">'


LIMITS = (
    "<p>A CSV file (UTF-8, as Excel&#x27;s &#x27;CSV UTF-8&#x27; saves it), up to 5 MB and 10,000 rows."
    " Columns: email, phone, linkedin (at least one per row), first name, last name, company, title.</p>"
)


def form_body(token: str, csrf: str) -> str:
    return (
        f'{LIMITS}<form method=post enctype="multipart/form-data">{hidden(token, csrf)}'
        "<input type=hidden name=action value=preview>"
        '<input type=file name=file accept=".csv,text/csv" required id=file><br>'
        "<button type=submit id=preview>Check the file</button></form>"
        "<p>Nothing is saved until you confirm the preview.</p>"
    )


def test_the_limits_the_form_states_are_the_constants() -> None:
    assert (PROSPECT_UPLOAD_MAX_BYTES, PROSPECT_UPLOAD_MAX_ROWS) == (5 * 1024 * 1024, 10_000)


# --- problem, upload form, saved -----------------------------------------------------------------


def test_a_problem_page_escapes_its_title_and_message_and_offers_a_new_link() -> None:
    assert problem("Link <expired>", "Gone & \"done\" 'now'") == page(
        "Link &lt;expired&gt;",
        "<p id=problem>Gone &amp; &quot;done&quot; &#x27;now&#x27;</p><p>Text us for a new upload link.</p>",
    )


def test_the_upload_form_states_the_limits_and_carries_the_token_and_csrf_token() -> None:
    assert upload_form("tok", "csrf") == page("Upload your prospect list", form_body("tok", "csrf"))


def test_the_upload_form_escapes_the_token_and_csrf_token_in_their_attributes() -> None:
    html = upload_form('t"><script>', "c'<x>")
    assert html == page(
        "Upload your prospect list", form_body("t&quot;&gt;&lt;script&gt;", "c&#x27;&lt;x&gt;")
    )
    assert "<script>" not in html.replace(pages._STYLE, "")


def test_a_refused_upload_shows_the_problem_above_the_form() -> None:
    assert upload_form("tok", "csrf", problem="Bad <file>") == page(
        "Upload your prospect list",
        '<p class="notice error" id=problem>Bad &lt;file&gt;</p>' + form_body("tok", "csrf"),
    )


def test_an_empty_problem_shows_no_notice() -> None:
    assert upload_form("tok", "csrf", problem="") == upload_form("tok", "csrf")


def test_the_saved_page_counts_the_prospects_and_those_to_research() -> None:
    assert saved(3, 2) == page(
        "Prospects saved",
        "<p id=saved>Your prospects are saved. 3 prospects in this upload.</p>"
        "<p>2 with a LinkedIn profile will be researched for mutual connections.</p>"
        "<p>You can close this page. Text us any time for a new upload link.</p>",
    )


def test_a_double_submit_is_told_the_list_was_already_saved() -> None:
    assert saved(1, 0, again=True) == page(
        "Prospects saved",
        "<p id=saved>This list was already saved. 1 prospect in this upload.</p>"
        "<p>0 with a LinkedIn profile will be researched for mutual connections.</p>"
        "<p>You can close this page. Text us any time for a new upload link.</p>",
    )


# --- the preview ---------------------------------------------------------------------------------


def values(**given: str) -> dict[str, str | None]:
    return {f: given.get(f) for f in FIELDS}


ADA = RowResult(
    2,
    values(
        email="a@x.example",
        first_name="Ada",
        last_name="Lovelace",
        company="Acme",
        phone_number="+14155550123",
        linkedin_url="https://www.linkedin.com/in/ada",
        title="Countess",
    ),
)
BOB = RowResult(
    3, values(email="b@@x", first_name="<b>"), errors=("email bad", "no contact"), warnings=("no company",)
)
CY = RowResult(4, values(email="c@x.example", last_name="Young"), warnings=("no name",))

HEAD = (
    "<thead><tr><th>Row</th><th>Status</th><th>Name</th><th>Company</th>"
    "<th>Email</th><th>Phone</th><th>LinkedIn</th><th>Notes</th></tr></thead>"
)
ADA_ROW = (
    '<tr class="valid"><td data-label="Row">2</td><td data-label="Status">valid</td>'
    '<td data-label="Name">Ada Lovelace</td><td data-label="Company">Acme</td>'
    '<td data-label="Email">a@x.example</td><td data-label="Phone">+14155550123</td>'
    '<td data-label="LinkedIn">https://www.linkedin.com/in/ada</td><td data-label="Notes"></td></tr>'
)
BOB_ROW = (
    '<tr class="error"><td data-label="Row">3</td><td data-label="Status">error</td>'
    '<td data-label="Name">&lt;b&gt;</td><td data-label="Company"></td>'
    '<td data-label="Email">b@@x</td><td data-label="Phone"></td><td data-label="LinkedIn"></td>'
    '<td data-label="Notes">Error: email bad<br>Error: no contact<br>Warning: no company</td></tr>'
)
CY_ROW = (
    '<tr class="warning"><td data-label="Row">4</td><td data-label="Status">warning</td>'
    '<td data-label="Name">Young</td><td data-label="Company"></td>'
    '<td data-label="Email">c@x.example</td><td data-label="Phone"></td><td data-label="LinkedIn"></td>'
    '<td data-label="Notes">Warning: no name</td></tr>'
)
AGAIN = (
    f'<form method=post enctype="multipart/form-data">{hidden("tok", "csrf")}'
    "<input type=hidden name=action value=preview>"
    '<input type=file name=file accept=".csv,text/csv" required><button type=submit>Upload a fixed file'
    "</button></form>"
)


def confirm_form(writable: int) -> str:
    return (
        f"<form method=post>{hidden('tok', 'csrf')}<input type=hidden name=action value=confirm>"
        '<input type=hidden name=batch value="B-1">'
        f"<button type=submit id=confirm>Save {writable} prospect{'' if writable == 1 else 's'}"
        "</button></form>"
    )


def table(*rows: str) -> str:
    return f"<div class=scroll><table id=rows>{HEAD}<tbody>{''.join(rows)}</tbody></table></div>"


def test_the_preview_counts_each_status_shows_problems_first_and_offers_to_save_the_rows_without_errors() -> (
    None
):
    html = preview(
        "tok", "csrf", "B-1", [ADA, BOB, CY], file_name="l<i>st.csv", ignored_columns=("Shoe", "Hat")
    )
    assert html == page(
        "Check your prospect list",
        "<p>File: l&lt;i&gt;st.csv</p>"
        "<p class=summary id=summary>1 valid, 1 warnings, 1 errors</p>"
        "<p>Saving writes the 2 rows without errors (warnings included).</p>"
        "<p>Columns ignored: Shoe, Hat</p>" + confirm_form(2) + table(BOB_ROW, CY_ROW, ADA_ROW) + AGAIN,
    )


def test_a_preview_with_no_writable_row_has_no_save_button_and_names_the_default_file() -> None:
    html = preview("tok", "csrf", "B-1", [BOB], file_name=None)
    assert html == page(
        "Check your prospect list",
        "<p>File: upload.csv</p>"
        "<p class=summary id=summary>0 valid, 0 warnings, 1 errors</p>"
        "<p>Saving writes the 0 rows without errors (warnings included).</p>"
        "<p>No row can be saved. Fix the file and upload it again.</p>" + table(BOB_ROW) + AGAIN,
    )


def test_warnings_alone_are_writable() -> None:
    html = preview("tok", "csrf", "B-1", [CY], file_name="")
    assert html == page(
        "Check your prospect list",
        "<p>File: upload.csv</p>"
        "<p class=summary id=summary>0 valid, 1 warnings, 0 errors</p>"
        "<p>Saving writes the 1 rows without errors (warnings included).</p>"
        + confirm_form(1)
        + table(CY_ROW)
        + AGAIN,
    )


def test_rows_of_one_status_keep_their_file_order() -> None:
    later = RowResult(9, values(email="z@x.example"), errors=("late",))
    first_valid = RowResult(5, values(email="e@x.example", first_name="Eve", company="Acme"))
    html = preview("tok", "csrf", "B-1", [first_valid, later, ADA, BOB], file_name=None)
    order = [html.index(f'<td data-label="Row">{n}</td>') for n in (3, 9, 2, 5)]
    assert order == sorted(order)


def test_beyond_the_shown_limit_the_rest_are_counted() -> None:
    html = preview("tok", "csrf", "B-1", [ADA, BOB, CY], file_name=None, shown_limit=1)
    assert html == page(
        "Check your prospect list",
        "<p>File: upload.csv</p>"
        "<p class=summary id=summary>1 valid, 1 warnings, 1 errors</p>"
        "<p>Saving writes the 2 rows without errors (warnings included).</p>"
        + confirm_form(2)
        + table(BOB_ROW)
        + "<p>2 more rows not shown.</p>"
        + AGAIN,
    )


def test_exactly_the_shown_limit_shows_every_row_and_no_count() -> None:
    html = preview("tok", "csrf", "B-1", [ADA, BOB, CY], file_name=None, shown_limit=3)
    assert "not shown" not in html
    assert html.count("<tr class=") == 3


def test_the_default_limit_is_2000_rows() -> None:
    rows = [
        RowResult(n, values(email=f"p{n}@x.example", first_name="P", company="Acme")) for n in range(2, 2003)
    ]
    html = preview("tok", "csrf", "B-1", rows, file_name=None)
    assert html.count('<tr class="valid">') == 2000
    assert "<p>1 more row not shown.</p>" in html
    assert '<td data-label="Row">2001</td>' in html and '<td data-label="Row">2002</td>' not in html
    html = preview("tok", "csrf", "B-1", rows[:2000], file_name=None)
    assert html.count('<tr class="valid">') == 2000 and "not shown" not in html


def test_a_name_is_first_and_last_joined_by_one_space_or_whichever_is_given() -> None:
    def name_cell(first: str | None, last: str | None) -> str:
        row = RowResult(2, {**values(email="a@x.example"), "first_name": first, "last_name": last})
        html = preview("tok", "csrf", "B", [row], file_name=None)
        start = html.index('<td data-label="Name">') + len('<td data-label="Name">')
        return html[start : html.index("</td>", start)]

    assert name_cell("Ada", "Lovelace") == "Ada Lovelace"
    assert name_cell("Ada", None) == "Ada"
    assert name_cell(None, "Lovelace") == "Lovelace"
    assert name_cell(None, None) == ""


def test_every_form_on_the_preview_carries_the_escaped_token_and_csrf_token() -> None:
    html = preview('t"x', "<c>", '"b"', [ADA], file_name=None)
    assert html.count(hidden("t&quot;x", "&lt;c&gt;")) == 2
    assert '<input type=hidden name=batch value="&quot;b&quot;">' in html
