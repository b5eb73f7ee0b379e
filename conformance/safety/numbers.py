"""What may be a real phone number, anywhere in a body: the scan behind the guard's first rule."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from conformance.fictional import is_fictional_phone

#: What may hold a phone number inside a string (after `_fold`): an optional +, then digits
#: with separators between them. Its digit groups are read in every window of 10 to 15
#: digits (E.164 allows 15; 10 is a national US number). Digits of any script count (a
#: server may read them as digits).
_PHONE_LIKE = re.compile(r"\+?\d[\d ().-]*\d")
_GROUP_SPLIT = re.compile(r"[ ().+-]+")
#: Separator-like characters outside `_fold`'s Unicode categories: minus sign, middle dots.
_EXTRA_SEPARATORS = frozenset("_/\\\t\n\r\v\f\u2212\u00b7\u2027\u2219\u30fb")


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def _fold(text: str) -> str:
    """`text` as a server might read a number in it: NFKC (full-width digits and plus become
    ASCII), invisible format characters (zero-width space, joiners, BOM) dropped, every space,
    dash and connector of any script, ``_``, ``/`` and ``\\`` turned into a plain space."""
    out = []
    for c in unicodedata.normalize("NFKC", text):
        kind = unicodedata.category(c)
        if kind == "Cf":
            continue
        out.append(" " if kind in ("Zs", "Zl", "Zp", "Pd", "Pc") or c in _EXTRA_SEPARATORS
                   else c)
    return "".join(out)


def _windows(run: str) -> list[str]:
    """Every run of consecutive digit groups in `run` with 10 to 15 digits, as +digits."""
    groups = [_ascii_digits(g) for g in _GROUP_SPLIT.split(run) if g]
    found = []
    for i in range(len(groups)):
        digits = ""
        for group in groups[i:]:
            digits += group
            if len(digits) > 15:
                break
            if len(digits) >= 10:
                found.append("+" + digits)
    return found


def phone_likes(value: Any) -> list[str]:
    """Every phone-number-like run in `value` (a string, or an integer or integral part of
    a float of 11 to 15 digits: ten digits is every unix time), as +digits."""
    if isinstance(value, bool):
        return []
    if isinstance(value, float):
        if not math.isfinite(value):
            return []
        value = int(value)
    if isinstance(value, int):
        text = str(abs(value))
        return ["+" + text] if 11 <= len(text) <= 15 else []
    if not isinstance(value, str):
        return []
    found = []
    for run in _PHONE_LIKE.findall(_fold(value)):
        found.extend(_windows(run))
    return found


def _fictional_digits(number: str) -> bool:
    """+digits (from phone_likes) in the fictional range, with or without the country code."""
    bare = number.lstrip("+")
    return is_fictional_phone("+" + bare) or (len(bare) == 10 and is_fictional_phone("+1" + bare))


def real_numbers(document: Any, where: str = "") -> list[str]:
    """Every place in `document` (keys and values, any depth) holding what may be a real
    phone number, as 'pointer: value'."""
    found: list[str] = []
    stack = [(where, document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                stack.append((f"{path}/{key}", value))
                stack.append((f"{path}/{key}(key)", key))
        elif isinstance(node, list):
            stack.extend((f"{path}/{i}", v) for i, v in enumerate(node))
        elif any(not _fictional_digits(n) for n in phone_likes(node)):
            found.append(f"{path or '/'}: {node!r}")
    return sorted(found)


