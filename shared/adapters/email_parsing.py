"""Parse inbound-email webhooks into recipients and a sender (agents.md §2.6).

Accepted shapes, all as JSON objects (form-encoded bodies are turned into a dict first):

- generic: ``{"to": "...", "from": "..."}`` (strings or lists);
- Maileroo-style: ``{"recipients": [...], "envelope_sender": "..."}`` or ``headers.From``;
- SES envelope: ``{"envelope": {"to": [...], "from": "..."}}``;
- an SES receipt notification, bare or wrapped in an SNS ``Notification`` whose ``Message`` is a
  JSON string: ``mail.destination`` / ``receipt.recipients`` and ``mail.source`` /
  ``mail.commonHeaders.from``.

"Name <addr>" is reduced to the bare address. The verification token is read from recipients of
the form ``verify-<token>@<domain>``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any

_ADDRESS = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
_TOKEN = re.compile(r"^verify-(?P<token>[A-Za-z0-9_\-]{16,128})@(?P<domain>[A-Za-z0-9.\-]+)$", re.I)
MAX_RECIPIENTS = 50


class MalformedEmail(ValueError):
    """The webhook body is not one of the accepted shapes. Callers answer 400."""


@dataclass(frozen=True)
class InboundEmail:
    recipients: tuple[str, ...]
    sender: str
    shape: str  # generic | maileroo | ses_envelope | ses_notification
    message_id: str | None = None


MAX_ADDRESS_CHARS = 255  # RFC 5321's path limit, and the users.email column
MAX_MESSAGE_ID_CHARS = 998  # RFC 5322's line limit


def bare_address(value: str) -> str | None:
    """``"Jane Doe <Jane@Acme.com>"`` -> ``"jane@acme.com"``; None if it is not one address."""
    if not isinstance(value, str) or len(value) > 512 or "\x00" in value:
        return None
    pairs = [addr for _, addr in getaddresses([value]) if addr]
    if len(pairs) != 1:
        return None
    address = pairs[0].strip().strip("<>").lower()
    return address if _ADDRESS.match(address) else None


def _addresses(value: Any) -> list[str]:
    """Addresses from a string ("a, B <b>"), a list of strings, or a list of {address|email} objects."""
    items: list[Any]
    if value is None:
        return []
    if isinstance(value, str):
        items = [addr for _, addr in getaddresses([value]) if addr] if len(value) <= 8192 else []
    elif isinstance(value, list):
        items = value[:MAX_RECIPIENTS]
    elif isinstance(value, dict):
        items = [value]
    else:
        return []
    out: list[str] = []
    for entry in items:
        item = (
            entry.get("address") or entry.get("email") or entry.get("value")
            if isinstance(entry, dict)
            else entry
        )
        if isinstance(item, str):
            address = bare_address(item)
            if address:
                out.append(address)
    return out


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _header(headers: Any, name: str) -> Any:
    if isinstance(headers, dict):
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == name.lower():
                return _first(value)
    if isinstance(headers, list):  # SES: [{"name": "From", "value": "..."}]
        for entry in headers:
            if isinstance(entry, dict) and str(entry.get("name", "")).lower() == name.lower():
                return entry.get("value")
    return None


def _ses(mail: dict[str, Any], receipt: Any, shape: str) -> InboundEmail:
    recipients = _addresses(receipt.get("recipients")) if isinstance(receipt, dict) else []
    recipients += _addresses(mail.get("destination"))
    headers = mail.get("commonHeaders")
    common: dict[str, Any] = headers if isinstance(headers, dict) else {}
    sender = bare_address(str(mail.get("source") or "")) or bare_address(
        str(_first(common.get("from")) or "")
    )
    return _build(recipients, sender, shape, mail.get("messageId"))


def _build(recipients: list[str], sender: str | None, shape: str, message_id: Any = None) -> InboundEmail:
    if not recipients:
        raise MalformedEmail("no recipient address")
    if not sender:
        raise MalformedEmail("no sender address")
    if len(sender) > MAX_ADDRESS_CHARS:  # users.email holds 255
        raise MalformedEmail(f"sender address longer than {MAX_ADDRESS_CHARS} characters")
    unique = tuple(dict.fromkeys(r for r in recipients if len(r) <= MAX_ADDRESS_CHARS))
    if not unique:
        raise MalformedEmail("no recipient address of a usable length")
    # Postgres text and jsonb cannot hold NUL; a provider id with one is dropped, never stored.
    mid = str(message_id)[:MAX_MESSAGE_ID_CHARS] if message_id else None
    return InboundEmail(unique, sender, shape, mid if mid and "\x00" not in mid else None)


def parse_inbound_email(payload: Any) -> InboundEmail:
    """Recognise the webhook shape and return its recipients and sender. Raises MalformedEmail."""
    if not isinstance(payload, dict):
        raise MalformedEmail("the body must be a JSON object")

    if payload.get("Type") == "Notification" and isinstance(payload.get("Message"), str):
        try:
            inner = json.loads(payload["Message"])
        except ValueError:
            raise MalformedEmail("SNS Message is not JSON") from None
        if not isinstance(inner, dict) or not isinstance(inner.get("mail"), dict):
            raise MalformedEmail("SNS Message has no mail object")
        return _ses(inner["mail"], inner.get("receipt"), "ses_notification")
    if isinstance(payload.get("mail"), dict):
        return _ses(payload["mail"], payload.get("receipt"), "ses_notification")

    if isinstance(payload.get("envelope"), dict):
        envelope = payload["envelope"]
        sender = bare_address(str(_first(envelope.get("from")) or ""))
        return _build(_addresses(envelope.get("to")), sender, "ses_envelope")

    if "recipients" in payload:
        headers = payload.get("headers")
        sender = bare_address(str(payload.get("envelope_sender") or "")) or bare_address(
            str(_header(headers, "From") or "")
        )
        return _build(_addresses(payload.get("recipients")), sender, "maileroo", payload.get("message_id"))

    if "to" in payload or "from" in payload:
        sender = bare_address(str(_first(payload.get("from")) or ""))
        return _build(_addresses(payload.get("to")), sender, "generic", payload.get("message_id"))

    raise MalformedEmail("unrecognised inbound email shape")


def verification_token(email: InboundEmail, domain: str | None) -> str | None:
    """The token of the first ``verify-<token>@<domain>`` recipient (any domain if None)."""
    for recipient in email.recipients:
        match = _TOKEN.match(recipient)
        if match and (domain is None or match.group("domain").lower() == domain.lower()):
            return match.group("token").lower()
    return None


def verification_address(token: str, domain: str) -> str:
    return f"verify-{token}@{domain}"
