"""An in-memory ``SmsGateway`` (``shared.adapters.twilio_sms``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.adapters.twilio_sms import GatewayError, SendResult, TwilioMessage


@dataclass
class FakeSmsGateway:
    """Records sends; ``fail_next`` queues errors to raise before answering normally."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    failures: list[GatewayError] = field(default_factory=list)
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, *errors: GatewayError) -> None:
        self.failures.extend(errors)

    def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult:
        with self._lock:
            self.calls += 1
            if self.failures:
                raise self.failures.pop(0)
            sid = f"SM{len(self.sent) + 1:032x}"
            self.sent.append({"sid": sid, "to": to, "body": body, "status_callback": status_callback})
            return SendResult(sid=sid, status="queued", num_segments=None)

    def sent_messages(self, *, to: str, sent_after: datetime, limit: int) -> list[TwilioMessage]:
        """What this fake accepted for ``to``, newest first (it keeps no send dates)."""
        with self._lock:
            found = [m for m in reversed(self.sent) if m["to"] == to]
        return [
            TwilioMessage(
                sid=m["sid"],
                to=m["to"],
                body=m["body"],
                status="queued",
                error_code=None,
                date_created=None,
                date_sent=None,
            )
            for m in found[:limit]
        ]
