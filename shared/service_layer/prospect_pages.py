"""The prospect upload pages: plain server-rendered HTML that works on a phone (issue 13).

No JavaScript. Every value that came from a member or a file goes through ``html.escape``
(``_e``), so a cell such as ``=HYPERLINK("http://evil","x")`` or ``<script>`` is shown as text.
Every form carries the link's CSRF token.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from shared.domain.constants import PROSPECT_UPLOAD_MAX_BYTES, PROSPECT_UPLOAD_MAX_ROWS
from shared.domain.prospects import RowResult

_STYLE = """
body{font-family:-apple-system,system-ui,sans-serif;margin:0;padding:16px;max-width:960px;color:#111}
h1{font-size:1.4em}table{border-collapse:collapse;width:100%;font-size:.9em}
td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top;word-break:break-word}
.scroll{overflow-x:auto}.valid{background:#eefbea}.warning{background:#fff7e0}.error{background:#fdecec}
.summary{font-size:1.15em;font-weight:600;margin:12px 0}
button{font-size:1.1em;padding:10px 18px;margin:8px 0}input[type=file]{font-size:1em;margin:8px 0}
.notice{padding:10px;border-radius:6px;background:#f2f2f2}
@media (max-width:640px){thead{display:none}table,tbody,tr,td{display:block;width:auto}
tr{border:1px solid #ccc;margin:0 0 10px;border-radius:6px}td{border:0;padding:2px 8px}
td:empty{display:none}td::before{content:attr(data-label) ": ";font-weight:600}}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · Yachtparty</title><style>{_STYLE}</style></head>"
        f"<body><h1>{_e(title)}</h1>{body}</body></html>"
    )


def _hidden(token: str, csrf: str) -> str:
    return f'<input type=hidden name=t value="{_e(token)}"><input type=hidden name=csrf value="{_e(csrf)}">'


def upload_form(token: str, csrf: str, *, problem: str | None = None) -> str:
    limits = (
        "A CSV file (UTF-8, as Excel's 'CSV UTF-8' saves it), up to"
        f" {PROSPECT_UPLOAD_MAX_BYTES // (1024 * 1024)} MB"
        f" and {PROSPECT_UPLOAD_MAX_ROWS:,} rows. Columns: email, phone, linkedin (at least one per row),"
        " first name, last name, company, title."
    )
    notice = f'<p class="notice error" id=problem>{_e(problem)}</p>' if problem else ""
    return _page(
        "Upload your prospect list",
        f"{notice}<p>{_e(limits)}</p>"
        '<form method=post enctype="multipart/form-data">'
        f"{_hidden(token, csrf)}<input type=hidden name=action value=preview>"
        '<input type=file name=file accept=".csv,text/csv" required id=file><br>'
        "<button type=submit id=preview>Check the file</button></form>"
        "<p>Nothing is saved until you confirm the preview.</p>",
    )


def _row(result: RowResult) -> str:
    v = result.values
    name = " ".join(x for x in (v.get("first_name"), v.get("last_name")) if x)
    notes = [*(f"Error: {m}" for m in result.errors), *(f"Warning: {m}" for m in result.warnings)]
    cells = (
        ("Row", result.row_number),
        ("Status", result.status),
        ("Name", name),
        ("Company", v.get("company")),
        ("Email", v.get("email")),
        ("Phone", v.get("phone_number")),
        ("LinkedIn", v.get("linkedin_url")),
    )
    tds = "".join(f'<td data-label="{label}">{_e(value)}</td>' for label, value in cells)
    note_html = "<br>".join(_e(n) for n in notes)
    return f'<tr class="{result.status}">{tds}<td data-label="Notes">{note_html}</td></tr>'


def preview(
    token: str,
    csrf: str,
    batch_id: str,
    rows: Sequence[RowResult],
    *,
    file_name: str | None,
    ignored_columns: Sequence[str] = (),
    shown_limit: int = 2000,
) -> str:
    valid = sum(1 for r in rows if r.status == "valid")
    warnings = sum(1 for r in rows if r.status == "warning")
    errors = sum(1 for r in rows if r.status == "error")
    writable = valid + warnings
    summary = f"{valid} valid, {warnings} warnings, {errors} errors"
    ignored = f"<p>Columns ignored: {_e(', '.join(ignored_columns))}</p>" if ignored_columns else ""
    # Problems first, so row 47's reason is on screen without scrolling through 9,000 good rows.
    ordered = sorted(rows, key=lambda r: (r.status == "valid", r.row_number))
    shown = ordered[:shown_limit]
    # Problems come first, so the rows past the limit are valid ones unless problems alone fill it.
    more = f"<p>{_count(len(rows) - len(shown), 'more row')} not shown.</p>" if len(rows) > len(shown) else ""
    table = (
        "<div class=scroll><table id=rows><thead><tr><th>Row</th><th>Status</th><th>Name</th><th>Company</th>"
        "<th>Email</th><th>Phone</th><th>LinkedIn</th><th>Notes</th></tr></thead><tbody>"
        + "".join(_row(r) for r in shown)
        + "</tbody></table></div>"
    )
    confirm = (
        "<form method=post>"
        f"{_hidden(token, csrf)}<input type=hidden name=action value=confirm>"
        f'<input type=hidden name=batch value="{_e(batch_id)}">'
        f"<button type=submit id=confirm>Save {_count(writable, 'prospect')}</button></form>"
        if writable
        else "<p>No row can be saved. Fix the file and upload it again.</p>"
    )
    again = (
        '<form method=post enctype="multipart/form-data">'
        f"{_hidden(token, csrf)}<input type=hidden name=action value=preview>"
        '<input type=file name=file accept=".csv,text/csv" required><button type=submit>Upload a fixed file'
        "</button></form>"
    )
    return _page(
        "Check your prospect list",
        f"<p>File: {_e(file_name or 'upload.csv')}</p>"
        f"<p class=summary id=summary>{_e(summary)}</p>"
        f"<p>Saving writes the {writable} rows without errors (warnings included).</p>"
        f"{ignored}{confirm}{table}{more}{again}",
    )


def _count(n: int, noun: str) -> str:
    """``1 prospect``, ``2 prospects``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def saved(rows_written: int, researched: int, *, again: bool = False) -> str:
    lead = "This list was already saved." if again else "Your prospects are saved."
    return _page(
        "Prospects saved",
        f"<p id=saved>{_e(lead)} {_count(rows_written, 'prospect')} in this upload.</p>"
        f"<p>{researched} with a LinkedIn profile will be researched for mutual connections.</p>"
        "<p>You can close this page. Text us any time for a new upload link.</p>",
    )


def problem(title: str, message: str) -> str:
    return _page(title, f"<p id=problem>{_e(message)}</p><p>Text us for a new upload link.</p>")
