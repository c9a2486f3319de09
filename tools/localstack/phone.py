"""The phone simulator: text the agents from your terminal.

``python -m tools.localstack.phone --from +14155550123`` (or ``make chat ARGS="--from ..."``) attaches to
a running local stack (``make run`` in another terminal). Each line you type becomes a
correctly signed Twilio webhook request to ``twilio_inbound``; the agent's replies print as
the Twilio stand-in "delivers" them. ``/email`` simulates clicking through the verification
email (posts to ``email_inbound``); ``/quit`` leaves.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
import uuid
from typing import Any

import requests
from twilio.request_validator import RequestValidator

from tools.fakes.loopback_http import LoopbackResponse, loopback_request, post_form, post_json
from tools.localstack.stack_info import DEFAULT_STATE_DIR, StackInfo, stack_file


def new_message_sid() -> str:
    return "SM" + uuid.uuid4().hex


def send_sms(info: StackInfo, phone: str, body: str, message_sid: str | None = None) -> LoopbackResponse:
    """POST a signed inbound-SMS webhook exactly as Twilio would."""
    url = info.function_urls["twilio_inbound"] + "/"
    params = {
        "MessageSid": message_sid or new_message_sid(),
        "AccountSid": info.twilio_account_sid,
        "From": phone,
        "To": info.twilio_number,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(info.twilio_auth_token).compute_signature(url, params)
    return post_form(url, params, headers={"X-Twilio-Signature": signature}, timeout=30)


def sent_messages(
    info: StackInfo,
    phone: str | None,
    *,
    min_count: int = 0,
    wait: float = 0.0,
    timeout: float | None = None,
) -> list[dict[str, Any]]:
    """What the Twilio stand-in has been asked to send to this phone (``None``: to every number),
    oldest first. With ``min_count``/``wait`` the stand-in holds the request until there are that
    many (long poll). ``timeout`` defaults to the wait plus 10 s."""
    params: dict[str, str | int | float] = {} if phone is None else {"to": phone}
    if min_count:
        params.update(min_count=min_count, wait=wait)
    url = info.twilio_standin_url + "/_sent"
    response = loopback_request("GET", url, params=params, timeout=wait + 10 if timeout is None else timeout)
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()
    return messages


def wait_for_replies(info: StackInfo, phone: str, seen: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Block until at least one message beyond ``seen`` arrives; return the new ones."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        messages = sent_messages(info, phone, min_count=seen + 1, wait=min(remaining, 25.0))
        if len(messages) > seen:
            return messages[seen:]
    return []


VERIFY_ADDRESS = re.compile(r"\bverify-[A-Za-z0-9_-]+@[A-Za-z0-9.-]+\b")


def verification_address(info: StackInfo, phone: str) -> str | None:
    """The verification address the agent texted this phone, as a user would read it."""
    for message in reversed(sent_messages(info, phone)):
        match = VERIFY_ADDRESS.search(message["body"])
        if match:
            return match.group(0)
    return None


def verify_email(info: StackInfo, phone: str, sender: str) -> LoopbackResponse:
    """Simulate the user emailing the address the agent gave them (generic to/from form)."""
    to = verification_address(info, phone)
    if to is None:
        raise LookupError("the agent has not sent a verification address to this phone yet")
    return post_json(
        info.function_urls["email_inbound"] + "/",
        {"to": to, "from": sender, "subject": "verify", "text": "verify me"},
        headers={"X-Email-Webhook-Secret": info.email_webhook_secret},
        timeout=30,
    )


def chat(info: StackInfo, phone: str) -> None:
    print(f"phone simulator: you are {phone}; texting {info.twilio_number}. Brain: {info.brain}")
    print("type a message and press Enter; /email you@company.com to verify; /quit to leave")
    seen = len(sent_messages(info, phone))
    stop = threading.Event()
    lock = threading.Lock()

    def _printer() -> None:
        nonlocal seen
        while not stop.is_set():
            try:
                messages = sent_messages(info, phone, min_count=seen + 1, wait=5.0)
            except requests.RequestException:
                stop.wait(1.0)
                continue
            with lock:
                for message in messages[seen:]:
                    print(f"\r  agent > {message['body']}\nyou > ", end="", flush=True)
                seen = max(seen, len(messages))

    threading.Thread(target=_printer, daemon=True).start()
    try:
        while True:
            line = input("you > ").strip()
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            if line.startswith("/email"):
                parts = line.split(maxsplit=1)
                sender = parts[1] if len(parts) > 1 else "me@example.com"
                try:
                    response = verify_email(info, phone, sender)
                except LookupError as exc:
                    print(f"  ({exc})")
                    continue
                print(f"  (email webhook answered {response.status_code})")
                continue
            response = send_sms(info, phone, line)
            if response.status_code != 200:
                print(f"  (webhook answered {response.status_code}: {response.text[:200]})")
    except (EOFError, KeyboardInterrupt):
        print()
    finally:
        stop.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.localstack.phone", description="text the local agents"
    )
    parser.add_argument("--from", dest="phone", default="+14155550123")
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    args = parser.parse_args(argv)
    path = stack_file(args.state_dir)
    if not path.exists():
        print("no running stack found: start it with `make run` first", file=sys.stderr)
        return 2
    try:
        info = StackInfo.load(path)
    except (ValueError, TypeError) as exc:
        print(f"stack.json is unreadable ({exc}); restart the stack", file=sys.stderr)
        return 2
    chat(info, args.phone)
    return 0


if __name__ == "__main__":
    sys.exit(main())
