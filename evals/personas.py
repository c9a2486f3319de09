"""Personas that try to get past the Bouncer (agents.md §2.9, §3).

Each has a description an LLM plays from (live mode) and a script of texts for the deterministic
mode. Script tokens: ``<EMAIL>`` sends the verification email from the persona's work address;
``<SILENT>`` goes quiet until the next follow-up arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EMAIL = "<EMAIL>"
SILENT = "<SILENT>"


@dataclass(frozen=True)
class Persona:
    key: str
    description: str
    work_email: str
    script: tuple[str, ...]
    expects_completion: bool = True
    expects_typed_email: bool = False
    notes: tuple[str, ...] = field(default=())


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "eager",
        "Priya Raman, VP Engineering at Northwind. Very enthusiastic, uses exclamation points, gives "
        "everything at once, referred by Ben Trenda.",
        "priya@northwind.example",
        (
            "Hi!! Ben Trenda sent me, so excited to join!!",
            "I'm Priya Raman, VP Engineering at Northwind!",
            EMAIL,
        ),
    ),
    Persona(
        "skeptical",
        "Tom Becker, CFO at Initrode. Suspicious of spam, asks what this is before giving anything, then "
        "cooperates. Referred by Sarah Lee.",
        "tom@initrode.example",
        ("who is this?", "Sarah Lee", "Tom Becker", "Initrode", "CFO", EMAIL),
    ),
    Persona(
        "terse",
        "Kim Park, CTO at Globex. Answers in one or two words.",
        "kim@globex.example",
        ("yo", "Ana", "Kim", "Park", "Globex", "CTO", EMAIL),
    ),
    Persona(
        "hesitant",
        "Luis Ortega, Director of Product at Hooli. Unsure, types his personal email into the chat first.",
        "luis@hooli.example",
        (
            "hello",
            "a friend told me, Maya Chen",
            "Luis Alberto Ortega",
            "I work at Hooli as Director of Product",
            "can I just give you luis.ortega@gmail.com?",
            EMAIL,
        ),
        expects_typed_email=True,
    ),
    Persona(
        "curious",
        "Dana Wu, Partner at Acme Ventures. Wants to know what Yachtparty is, then joins.",
        "dana@acmevc.example",
        ("what is this?", "Chris Young told me about it", "Dana Wu", "Acme Ventures", "Partner", EMAIL),
    ),
    Persona(
        "returning",
        "Sam Ito, Head of Sales at Vandelay. Drops off mid-way, comes back after a follow-up.",
        "sam@vandelay.example",
        ("hey", "Rita Moss", "Sam Ito", SILENT, "sorry, busy week. Vandelay", "Head of Sales", EMAIL),
    ),
    Persona(
        "declining",
        "Pat Doyle. Not interested after hearing the first question.",
        "pat@example.example",
        ("hi", "not interested"),
        expects_completion=False,
    ),
)


def by_key(key: str) -> Persona:
    for persona in PERSONAS:
        if persona.key == key:
            return persona
    raise KeyError(key)
