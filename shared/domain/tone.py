"""The tone check for any text that describes one member to another (issue 12 §5): talking points,
intro messages, contact exchanges. It refuses remarks on appearance, age, gender or other personal
traits. The word list is here, in one named place; the evals add an LLM judge on top of it.
"""

from __future__ import annotations

import re

# Words that have no place in a text introducing one professional to another.
PERSONAL_TRAIT_WORDS: frozenset[str] = frozenset(
    {
        # appearance
        "attractive",
        "beautiful",
        "pretty",
        "handsome",
        "gorgeous",
        "cute",
        "sexy",
        "stunning",
        "looks",
        "good-looking",
        "lovely",
        "slim",
        "fat",
        "overweight",
        "tall",
        "blonde",
        "brunette",
        "redhead",
        "outfit",
        # age
        "young",
        "younger",
        "old",
        "older",
        "elderly",
        "millennial",
        "boomer",
        "girl",
        "boy",
        "kid",
        # gender and family
        "woman",
        "women",
        "female",
        "male",
        "lady",
        "ladies",
        "gal",
        "guy",
        "married",
        "pregnant",
        "mother",
        "father",
        "mom",
        "dad",
        # other personal traits
        "religion",
        "religious",
        "christian",
        "muslim",
        "jewish",
        "ethnic",
        "ethnicity",
        "accent",
        "disabled",
        "disability",
        "gay",
    }
)
_WORD = re.compile(r"[a-z][a-z'-]*")


def personal_remarks(text: str) -> list[str]:
    """The personal-trait words ``text`` uses (empty: it passes the tone check)."""
    return sorted({w for w in _WORD.findall(text.lower()) if w in PERSONAL_TRAIT_WORDS})
