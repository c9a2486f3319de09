"""prospect_upload: the innovator's prospect list upload page (HTTP, public; issue 13, agents.md §5).

Plain server-rendered HTML for a phone. ``GET ?t=<token>`` shows the form of a single-use link
(24 h, stored hashed) the Innovator texted; ``POST`` previews a CSV per row, then confirms: the
valid rows are written in one transaction under one ``upload_batch_id``. CSRF token on every
form; 5 MB and 10,000 rows per file; an unknown, expired or used link gets a clear page.

The entry point lives in ``shared.entrypoints.prospect_upload``; this file only binds it.
See docs/commerce.md.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("prospect_upload")


@functions_framework.http
def prospect_upload(request: Request) -> Response:
    return _handle(request)
