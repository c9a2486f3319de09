"""Phone numbers: E.164 normalisation and a time-zone guess from the number's region.

Inbound numbers come from Twilio already in E.164, but the same rule serves the operator
tools and the simulator. We accept any *possible* number (right length for its country)
rather than only numbers in ranges the metadata knows to be assigned: a real subscriber on
a freshly opened range must still reach us.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as phone_timezone

from shared.domain.constants import DEFAULT_TIMEZONE

DEFAULT_REGION = "US"  # numbers written without a country code are read as North American
MAX_RAW_LENGTH = 40

# Countries spanning several zones: the zone most of their subscribers live in. Used only
# when the number's own prefix does not narrow the zone down to one.
_PRIMARY_ZONE = {
    "US": DEFAULT_TIMEZONE,
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "RU": "Europe/Moscow",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "GB": "Europe/London",
}

_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country calling code",
    phonenumbers.ValidationResult.TOO_SHORT: "too short for its country",
    phonenumbers.ValidationResult.TOO_LONG: "too long for its country",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length for its country",
}


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can deliver to; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid phone number: {reason}")
        self.reason = reason


def _parse(raw: str) -> phonenumbers.PhoneNumber:
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("empty")
    if len(text) > MAX_RAW_LENGTH:
        raise InvalidPhoneNumber("too long to be a phone number")
    if ":" in text:  # whatsapp:+1..., messenger:..., sip:...
        raise InvalidPhoneNumber(f"unsupported channel {text.split(':', 1)[0]!r}")
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(str(exc.args[0] if exc.args else exc).strip().rstrip(".").lower()) from None
    result = phonenumbers.is_possible_number_with_reason(number)
    if result not in (
        phonenumbers.ValidationResult.IS_POSSIBLE,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        raise InvalidPhoneNumber(_REASONS.get(result, "not a possible number"))
    if result == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        raise InvalidPhoneNumber("local number without an area code")
    return number


# What the database stores (users_phone_number_e164): E.164 proper, at most 15 digits. A number
# the metadata calls "possible" can still fall outside it (+431234 has 6 digits).
E164_SHAPE = re.compile(r"^\+[1-9][0-9]{6,14}$")


def normalize_e164(raw: str) -> str:
    """``'(415) 555-0123'`` -> ``'+14155550123'``. Raises InvalidPhoneNumber with a reason."""
    e164 = phonenumbers.format_number(_parse(raw), phonenumbers.PhoneNumberFormat.E164)
    if not E164_SHAPE.match(e164):
        raise InvalidPhoneNumber("not an E.164 number of 7 to 15 digits")
    return e164


@lru_cache(maxsize=4096)
def guess_timezone(e164: str) -> str:
    """The IANA zone the number most likely lives in, else DEFAULT_TIMEZONE (decisions B2)."""
    try:
        number = _parse(e164)
    except InvalidPhoneNumber:
        return DEFAULT_TIMEZONE
    zones = [z for z in phone_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    if len(zones) == 1:
        return zones[0]
    if not zones:
        return DEFAULT_TIMEZONE
    region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    primary = _PRIMARY_ZONE.get(region or "")
    if primary in zones:
        return primary
    if DEFAULT_TIMEZONE in zones:
        return DEFAULT_TIMEZONE
    return sorted(zones)[0]
