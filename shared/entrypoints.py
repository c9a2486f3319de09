"""Every function's entry point: request and CloudEvent in, one use case, response out.

This is the boundary module: size limits, authentication, provider payload parsing (Twilio
forms, the email providers' JSON and form posts, operator JSON) and the mapping of outcomes
and errors to HTTP codes live here, once. ``functions/<name>/main.py`` only asks
``shared.bootstrap`` for its handler, which calls the entry below with the process's ``Deps``.

Every entry answers malformed, oversized, unsigned or replayed input with a clear 4xx and
writes nothing for it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from cloudevents.abstract import CloudEvent
from flask import Request, Response, jsonify
from werkzeug.exceptions import RequestEntityTooLarge

from shared.adapters.email_parsing import MalformedEmail, parse_inbound_email
from shared.adapters.email_webhook_auth import BadEmailSecret, check_email_webhook_secret
from shared.adapters.internal_http import handle_internal_call, reject
from shared.adapters.request_auth import RequestRejected, read_twilio_form
from shared.adapters.stripe_checkout import BadSignature, verify_event
from shared.agents.concierge.render import PocRenderer
from shared.config import MissingSetting, get_settings
from shared.domain.constants import (
    ADMIN_MAX_BODY_BYTES,
    EMAIL_WEBHOOK_MAX_BYTES,
    PROSPECT_UPLOAD_FORM_OVERHEAD_BYTES,
    PROSPECT_UPLOAD_MAX_BYTES,
    STRIPE_WEBHOOK_MAX_BYTES,
)
from shared.logs import get_logger
from shared.schedules import ACCOUNT_MANAGER_REVIEW_JOB, INTRO_EXPIRY_JOB
from shared.service_layer import approval, prospect_pages
from shared.service_layer import prospect_upload as uploads
from shared.service_layer.account_manager import schedule_account_manager_reviews
from shared.service_layer.backlogs import report_backlogs
from shared.service_layer.community import run_closure, run_late_routing
from shared.service_layer.credit_purchases import record_stripe_event
from shared.service_layer.dead_letters import record_dead_letter_delivery
from shared.service_layer.delivery import deliver
from shared.service_layer.delivery_status import (
    InvalidStatusCallback,
    apply_delivery_status,
    parse_status_form,
)
from shared.service_layer.deps import Deps
from shared.service_layer.dispatch_events import dispatch_events
from shared.service_layer.email_verification import Outcome, record_verification_email
from shared.service_layer.inbound_sms import InvalidInbound, parse_inbound_form, record_inbound_sms
from shared.service_layer.intros import run_intro_expiry
from shared.service_layer.orchestrate import deliver_due_messages
from shared.service_layer.retention import parse_retention_job, run_retention
from shared.service_layer.send_sms import deliver_message, parse_send_request, sweep_pending_messages
from shared.service_layer.sweep_tasks import sweep_tasks
from shared.service_layer.triggers import parse_trigger

log = get_logger(__name__)

HttpEntry = Callable[[Request, Deps], Response]
EventEntry = Callable[[CloudEvent, Deps], Any]

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _text(status: int, body: str, mimetype: str = "text/plain") -> Response:
    return Response(body, status=status, mimetype=mimetype)


def _json(status: int, **body: Any) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


# --- Twilio (public, signature-checked) ------------------------------------------------------


def twilio_inbound(request: Request, deps: Deps) -> Response:
    """Records the SMS in one short transaction and answers empty TwiML; the agent runs later."""
    try:
        sms = parse_inbound_form(read_twilio_form(request))
    except (RequestRejected, InvalidInbound) as exc:
        log.warning("inbound SMS webhook rejected", extra={"status": exc.status, "reason": exc.reason})
        return _text(exc.status, exc.reason + "\n")
    record_inbound_sms(sms, deps.uow_factory())
    return _text(200, EMPTY_TWIML, "text/xml")


def twilio_status(request: Request, deps: Deps) -> Response:
    """Delivery status callbacks; ``?message_id=`` (signed with the URL) finds early callbacks."""
    try:
        update = parse_status_form(read_twilio_form(request), message_id=request.args.get("message_id"))
    except RequestRejected as exc:
        log.warning("status callback rejected", extra={"status": exc.status, "reason": exc.reason})
        return _text(exc.status, exc.reason + "\n")
    except InvalidStatusCallback as exc:
        log.warning("status callback rejected", extra={"status": 400, "reason": str(exc)})
        return _text(400, f"{exc}\n")
    outcome = apply_delivery_status(update, deps.uow_factory())
    return _text(200, f"{outcome}\n")


# --- Email verification (public, shared secret) ---------------------------------------------

_EMAIL_STATUS = {
    Outcome.VERIFIED: 200,
    Outcome.ALREADY_VERIFIED: 200,
    Outcome.NO_TOKEN: 400,
    Outcome.UNKNOWN_TOKEN: 404,
}


def _email_payload(request: Request, raw: bytes) -> Any:
    """The provider's post as one object: form posts (SendGrid, Mailgun) or JSON (Postmark, SNS)."""
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = request.form.to_dict(flat=True)
        for key in ("recipients", "headers", "envelope"):  # providers send nested parts as JSON strings
            if isinstance(form.get(key), str) and form[key][:1] in "[{":
                with contextlib.suppress(ValueError):
                    form[key] = json.loads(form[key])
        return form
    return json.loads(raw.decode("utf-8"))


def email_inbound(request: Request, deps: Deps) -> Response:  # noqa: PLR0911
    """200 verified / already verified / replay; 400 malformed or no token; 401 unsigned or wrong
    secret; 404 unknown token; 405 not POST; 413 oversized. See docs/bouncer.md."""
    if request.method != "POST":
        return _json(405, error="method not allowed")
    if (request.content_length or 0) > EMAIL_WEBHOOK_MAX_BYTES:
        return _json(413, error="body too large")
    raw = request.get_data(cache=True)
    if len(raw) > EMAIL_WEBHOOK_MAX_BYTES:
        return _json(413, error="body too large")
    try:
        check_email_webhook_secret(dict(request.headers))
    except BadEmailSecret as exc:
        log.warning("email webhook refused", extra={"reason": str(exc)})
        return _json(401, error="unauthorized")
    except MissingSetting as exc:
        log.error("email webhook is not configured", extra={"missing": exc.env_var})
        return _json(500, error=str(exc))
    try:
        email = parse_inbound_email(_email_payload(request, raw))
    except (MalformedEmail, ValueError, UnicodeDecodeError) as exc:
        return _json(400, error=f"malformed email webhook: {exc}")
    result = record_verification_email(email, domain=deps.verify_email_domain, uow_factory=deps.uow_factory)
    return _json(_EMAIL_STATUS[result.outcome], outcome=result.outcome.value)


# --- Innovator commerce (public): the prospect upload page and the Stripe webhook --------------

_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none';"
        " base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _html(page: uploads.Page) -> Response:
    return Response(page.html, status=page.status, mimetype="text/html", headers=_PAGE_HEADERS)


def _upload_problem(status: int, title: str, message: str) -> Response:
    return _html(uploads.Page(status, prospect_pages.problem(title, message), "refused"))


def prospect_upload(request: Request, deps: Deps) -> Response:  # noqa: PLR0911
    """GET ``?t=<token>``: the upload form. POST ``action=preview`` (multipart: t, csrf, file): the
    per-row preview. POST ``action=confirm`` (t, csrf, batch): save. 405 other methods; 413 a file
    over 5 MB; every refusal is a page, never a stack trace. See docs/commerce.md."""
    if request.method == "GET":
        return _html(uploads.open_link(request.args.get("t"), uow_factory=deps.uow_factory, now=deps.clock()))
    if request.method != "POST":
        return _upload_problem(405, "Not allowed", "Open the link from your text message.")
    limit = PROSPECT_UPLOAD_MAX_BYTES + PROSPECT_UPLOAD_FORM_OVERHEAD_BYTES
    if (request.content_length or 0) > limit:
        return _upload_problem(
            413, "File too large", "The file is larger than 5 MB. Split it and upload each part."
        )
    request.max_content_length = limit
    request.max_form_memory_size = limit  # werkzeug buffers file chunks against this too
    try:
        form = request.form
        upload = request.files.get("file")
        data = upload.stream.read(PROSPECT_UPLOAD_MAX_BYTES + 1) if upload is not None else None
    except RequestEntityTooLarge:
        return _upload_problem(
            413, "File too large", "The file is larger than 5 MB. Split it and upload each part."
        )
    except (ValueError, UnicodeDecodeError):
        return _upload_problem(400, "Bad request", "The form could not be read. Open the link and try again.")
    token, csrf, action = form.get("t"), form.get("csrf"), form.get("action")
    now = deps.clock()
    if action == "preview":
        name = upload.filename if upload is not None else None
        if not name and not data:
            data = None  # the form was sent without choosing a file
        return _html(uploads.preview(token, csrf, data, name, uow_factory=deps.uow_factory, now=now))
    if action == "confirm":
        return _html(uploads.confirm(token, csrf, form.get("batch"), uow_factory=deps.uow_factory, now=now))
    return _upload_problem(400, "Bad request", "Unknown form action. Open the link and try again.")


def stripe_webhook(request: Request, deps: Deps) -> Response:
    """Stripe events: 200 for every verified event (credited, duplicate, ignored, refused); 400
    unsigned, forged, replayed or malformed; 405 not POST; 413 oversized. See docs/commerce.md."""
    if request.method != "POST":
        return _json(405, error="method not allowed")
    if (request.content_length or 0) > STRIPE_WEBHOOK_MAX_BYTES:
        return _json(413, error="body too large")
    raw = request.get_data(cache=False)
    if len(raw) > STRIPE_WEBHOOK_MAX_BYTES:
        return _json(413, error="body too large")
    try:
        secret = get_settings().require("stripe_webhook_secret")
    except MissingSetting as exc:
        log.error("stripe webhook is not configured", extra={"missing": exc.env_var})
        return _json(500, error=str(exc))
    try:
        event = verify_event(raw, request.headers.get("Stripe-Signature"), secret)
    except BadSignature as exc:
        log.warning("stripe webhook refused", extra={"reason": str(exc)[:200]})
        return _json(400, error="bad signature")
    outcome = record_stripe_event(event, uow_factory=deps.uow_factory, now=deps.clock())
    return _json(200, received=True, event=event.id, **outcome.as_dict())


# --- Operators (IAM-protected) ----------------------------------------------------------------


def _operator(request: Request) -> str:
    for header in ("X-Goog-Authenticated-User-Email", "X-Operator"):
        value = request.headers.get(header)
        if value:
            return value.split(":")[-1][:200]
    return "unknown-operator"


def _admin_body(request: Request) -> dict[str, Any] | Response:
    raw = request.get_data(cache=True)
    if (request.content_length or 0) > ADMIN_MAX_BODY_BYTES or len(raw) > ADMIN_MAX_BODY_BYTES:
        return _json(413, error="body too large")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return _json(400, error="body must be JSON")
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        return _json(400, error='body must be an object with an "action"')
    return body


def admin(request: Request, deps: Deps) -> Response:  # noqa: PLR0911
    """Operator approval: GET lists pending users; POST ``{"action": "approve"|"reject"|"hold"|
    "pending", "phone": ..., "as": ...}``. 401 without credentials (IAM is the real gate)."""
    if not (request.headers.get("Authorization") or "").strip():
        return _json(401, error="missing Authorization (an identity token of an operator)")
    if request.method == "GET":
        return _json(200, pending=approval.pending(uow_factory=deps.uow_factory))
    if request.method != "POST":
        return _json(405, error="method not allowed")
    body = _admin_body(request)
    if isinstance(body, Response):
        return body
    action, phone = body["action"], body.get("phone")
    if action == "pending":
        return _json(200, pending=approval.pending(uow_factory=deps.uow_factory))
    if action not in ("approve", "reject", "hold"):
        return _json(400, error=f"unknown action {action!r}")
    if not isinstance(phone, str) or not phone.strip():
        return _json(400, error='"phone" is required')
    operator = _operator(request)
    try:
        if action == "approve":
            as_ = str(body.get("as", approval.APPROVE_AS[0]))
            decision = approval.approve(
                phone, as_, operator=operator, uow_factory=deps.uow_factory, now=deps.clock()
            )
        elif action == "reject":
            decision = approval.reject(phone, operator=operator, uow_factory=deps.uow_factory)
        else:
            decision = approval.hold(phone, operator=operator, uow_factory=deps.uow_factory)
    except approval.ApprovalError as exc:
        return _json(exc.status, error=str(exc))
    return _json(200, **decision.as_dict())


# --- Internal: database webhooks and scheduler jobs ------------------------------------------


def sms_sender(request: Request, deps: Deps) -> Response:
    def send(command: UUID | None) -> Response:
        if command is None:
            reports = sweep_pending_messages(gateway=deps.sms, now=deps.clock())
            report_backlogs(deps.uow_factory, ("sms_sending", "sms_pending"))
        else:
            reports = deliver_message(command, gateway=deps.sms)
            if reports[0].outcome == "not_found":
                return reject("sms_sender", 404, "no such outbound message")
        return jsonify(
            {"results": [{"message_id": str(r.message_id), "outcome": str(r.outcome)} for r in reports]}
        )

    return handle_internal_call(request, "sms_sender", parse_send_request, send)


def event_dispatcher(request: Request, deps: Deps) -> Response:
    def dispatch(trigger: str) -> dict[str, Any]:
        report = dispatch_events(deps.publisher, uow_factory=deps.uow_factory)
        if trigger == "sweep":  # the alert's data comes from the minutely tick, not every insert
            report_backlogs(deps.uow_factory, ("events",))
        return {"trigger": trigger, **report.as_dict()}

    return handle_internal_call(request, "event_dispatcher", lambda b: parse_trigger(b, "events"), dispatch)


def _sweeper_trigger(body: bytes) -> str:
    """The sweeper's triggers, plus the Account Manager's 6-hourly review job (shared.schedules)."""
    with contextlib.suppress(ValueError):
        data = json.loads(body or b"null")
        for job in (ACCOUNT_MANAGER_REVIEW_JOB, INTRO_EXPIRY_JOB):
            if data == {"job": job}:
                return job
    return parse_trigger(body, "agent_tasks")


def task_sweeper(request: Request, deps: Deps) -> Response:
    def sweep(trigger: str) -> dict[str, Any]:
        result: dict[str, Any] = {"trigger": trigger}
        if trigger == ACCOUNT_MANAGER_REVIEW_JOB:
            result["reviews_scheduled"] = schedule_account_manager_reviews(
                uow_factory=deps.uow_factory, now=deps.clock()
            )
        if trigger == INTRO_EXPIRY_JOB:
            result["intro_expiry"] = run_intro_expiry(deps.uow_factory, now=deps.clock()).as_dict()
        report = sweep_tasks(deps.publisher, uow_factory=deps.uow_factory)
        if trigger != "webhook":  # the scheduler's ticks report; a database webhook is the hot path
            report_backlogs(deps.uow_factory, ("agent_tasks",))
        return {**result, **report.as_dict()}

    return handle_internal_call(request, "task_sweeper", _sweeper_trigger, sweep)


def message_orchestrator(request: Request, deps: Deps) -> Response:
    def tick(trigger: str) -> dict[str, Any]:
        report = deliver_due_messages(
            trigger=trigger,
            now=deps.clock(),
            uow_factory=deps.uow_factory,
            classifier=deps.freshness,
            renderer=PocRenderer(lambda: deps.llm),  # the point of contact writes structured rows' prose
        )
        report_backlogs(deps.uow_factory, ("message_queue",))
        return {"trigger": trigger, **report.as_dict()}

    return handle_internal_call(
        request, "message_orchestrator", lambda b: parse_trigger(b, "message_queue"), tick
    )


CLOSURE_JOB = "close_expired_requests"


def parse_closure_job(body: bytes) -> str:
    """``{"job": "close_expired_requests"}`` (the scheduler), or ``{}`` / ``{"sweep": true}``."""
    try:
        data = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise ValueError("body is not JSON") from None
    if data in ({}, {"sweep": True}, {"job": CLOSURE_JOB}):
        return CLOSURE_JOB
    raise ValueError(f'expected {{"job": "{CLOSURE_JOB}"}}')


def community_closer(request: Request, deps: Deps) -> Response:
    def close(job: str) -> dict[str, Any]:
        closed = run_closure(deps.uow_factory, now=deps.clock()).as_dict()
        late = run_late_routing(deps.uow_factory, now=deps.clock()).as_dict()
        return {"job": job, **closed, "routed_late": late}

    return handle_internal_call(request, "community_closer", parse_closure_job, close)


def retention(request: Request, deps: Deps) -> Response:
    def run(job: str) -> dict[str, Any]:
        return {"job": job, **run_retention(deps.uow_factory, now=deps.clock()).as_dict()}

    return handle_internal_call(request, "retention", parse_retention_job, run)


def http_entry(function: str) -> HttpEntry:
    """The entry of an HTTP function, by its folder name."""
    entries: dict[str, HttpEntry] = {
        "twilio_inbound": twilio_inbound,
        "twilio_status": twilio_status,
        "email_inbound": email_inbound,
        "admin": admin,
        "prospect_upload": prospect_upload,
        "stripe_webhook": stripe_webhook,
        "sms_sender": sms_sender,
        "event_dispatcher": event_dispatcher,
        "task_sweeper": task_sweeper,
        "message_orchestrator": message_orchestrator,
        "community_closer": community_closer,
        "retention": retention,
    }
    return entries[function]


# --- Pub/Sub pushes -----------------------------------------------------------------------------


def dead_letter_recorder(cloud_event: CloudEvent, deps: Deps) -> Any:
    return record_dead_letter_delivery(cloud_event, uow_factory=deps.uow_factory)


def event_entry(function: str) -> EventEntry:
    """The entry of a Pub/Sub-triggered function: the recorder, or an agent of the registry."""
    if function == "dead_letter_recorder":
        return dead_letter_recorder
    return lambda cloud_event, deps: deliver(function, cloud_event, deps)
