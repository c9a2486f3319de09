"""Repository rows for unit tests: each built from neutral defaults plus what the test names."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.repositories.users import User


def user_row(user_id: UUID, created_at: datetime, **fields: Any) -> User:
    """A ``users`` row: a newcomer named Ada Lovelace with nothing else known, unless ``fields``
    say otherwise (any ``User`` field)."""
    values: dict[str, Any] = {
        "phone_number": "+14155550100",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": None,
        "title": None,
        "email": None,
        "email_verified": False,
        "verified": False,
        "innovator": False,
        "expertise": (),
        "poc_agent_type": "concierge",
        "referred_by": None,
        "name_dropped": None,
        "verification_token": "tok",
        "opted_out": False,
        "timezone": None,
        "onboarding_completed_at": None,
        "approval_status": None,
        "verification_requested_at": None,
        "credit_balance": 0,
        "last_active_at": None,
        "referrer_name": None,
    }
    return User(id=user_id, created_at=created_at, **{**values, **fields})
