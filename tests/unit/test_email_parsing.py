"""Inbound-email webhook shapes reduced to recipients and a bare sender address."""

from __future__ import annotations

import json

import pytest

from shared.adapters.email_parsing import (
    InboundEmail,
    MalformedEmail,
    bare_address,
    parse_inbound_email,
    verification_token,
)

TOKEN = "0123456789abcdef0123456789abcdef"
TO = f"verify-{TOKEN}@verify.example.test"


@pytest.mark.parametrize(
    ("raw", "bare"),
    [
        ("Jane Doe <Jane@Acme.com>", "jane@acme.com"),
        ("jane@acme.com", "jane@acme.com"),
        ('"Doe, Jane" <jane@acme.com>', "jane@acme.com"),
        ("not an address", None),
        ("a@b.com, c@d.com", None),
    ],
)
def test_bare_address(raw, bare):
    assert bare_address(raw) == bare


@pytest.mark.parametrize(
    ("payload", "shape"),
    [
        ({"to": [f"V <{TO}>"], "from": "Jane <jane@acme.com>"}, "generic"),
        ({"recipients": [TO], "envelope_sender": "jane@acme.com"}, "maileroo"),
        ({"recipients": [{"address": TO}], "headers": {"from": "Jane <jane@acme.com>"}}, "maileroo"),
        ({"envelope": {"to": [TO], "from": "jane@acme.com"}}, "ses_envelope"),
        ({"mail": {"source": "jane@acme.com", "destination": [TO]}}, "ses_notification"),
        (
            {
                "Type": "Notification",
                "Message": json.dumps(
                    {
                        "mail": {"commonHeaders": {"from": ["Jane <jane@acme.com>"]}},
                        "receipt": {"recipients": [TO]},
                    }
                ),
            },
            "ses_notification",
        ),
    ],
)
def test_shapes(payload, shape):
    email = parse_inbound_email(payload)
    assert email.shape == shape
    assert email.sender == "jane@acme.com"
    assert verification_token(email, "verify.example.test") == TOKEN


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "x",
        {},
        {"to": TO},
        {"from": "a@b.com"},
        {"recipients": [], "envelope_sender": "a@b.com"},
        {"Type": "Notification", "Message": "{"},
        {"Type": "Notification", "Message": "[]"},
    ],
)
def test_malformed(payload):
    with pytest.raises(MalformedEmail):
        parse_inbound_email(payload)


def test_token_needs_the_domain_and_the_prefix():
    email = InboundEmail(
        (f"verify-{TOKEN}@elsewhere.example", "hello@verify.example.test"), "a@b.com", "generic"
    )
    assert verification_token(email, "verify.example.test") is None
    assert verification_token(email, None) == TOKEN
    short = InboundEmail(("verify-abc@verify.example.test",), "a@b.com", "generic")
    assert verification_token(short, "verify.example.test") is None
