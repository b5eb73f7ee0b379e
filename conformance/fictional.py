"""Made-up data, one source each: the mock's keys, the fictional phone numbers (the only ones
the suite ever sends) and the fingerprint that stands for a key or secret in any output."""

from __future__ import annotations

import hashlib
import re

#: The embedded and the served mock accept these keys by default (two workspaces).
MOCK_KEYS = ("mock-key-local", "mock-key-other")


def fingerprint(secret: str | None) -> str:
    """A short, stable name for a secret (an API key, a webhook secret) that reveals nothing
    of it."""
    if not secret:
        return "<none>"
    return "<key sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:8] + ">"


#: +1, any 3-digit area code, 555-0100..555-0199: the range reserved for fiction. ASCII
#: digits only, used with fullmatch: "\d" would accept other scripts' digits and "$" a
#: trailing newline.
FICTIONAL_PHONE = re.compile(r"\+1[0-9]{3}55501([0-9]{2})")  # group 1: the outcome digits
def is_fictional_phone(value: object) -> bool:
    return isinstance(value, str) and FICTIONAL_PHONE.fullmatch(value) is not None


def fictional_number(index: int, xx: int = 0) -> str:
    """The `index`-th distinct fictional number whose last two digits are `xx` (the mock's
    outcome table reads them: 00..09 complete, 10..19 fail; conformance/mock/outcomes.py).
    Area codes 201, 202, ... so up to 799 distinct numbers per `xx`."""
    if not 0 <= xx <= 99:
        raise ValueError("xx is two digits")
    return f"+1{201 + index % 799:03d}55501{xx:02d}"


def fictional_numbers(count: int, *, xx: range = range(10)) -> list[str]:
    """`count` distinct fictional numbers cycling through the endings `xx`."""
    endings = list(xx)
    return [fictional_number(i // len(endings), endings[i % len(endings)])
            for i in range(count)]


#: A WhatsApp user id is the person's number in digits (no +): the fictional ones are
#: 1 NXX 555 0100..0199, as safe as a fictional phone number (the live guard allows exactly
#: these).
FICTIONAL_WHATSAPP_ID = re.compile(r"1[0-9]{3}55501[0-9]{2}")


def is_fictional_whatsapp_id(value: object) -> bool:
    return isinstance(value, str) and FICTIONAL_WHATSAPP_ID.fullmatch(value) is not None


def fictional_whatsapp_id(index: int, xx: int = 0) -> str:
    """The WhatsApp user id of `fictional_number(index, xx)`: the same digits, no +."""
    return fictional_number(index, xx)[1:]
