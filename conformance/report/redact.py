"""Credentials never reach a report: header values of auth headers are replaced on load."""

from __future__ import annotations

import re

from conformance.redact import CREDENTIAL_HEADERS

REDACTED = "[redacted]"
#: Every credential-carrying header name (conformance.redact.CREDENTIAL_HEADERS, the one list),
#: longest first so that `xi-api-key` is matched whole rather than as `api-key`.
_NAMES = "(?:" + "|".join(re.escape(n) for n in sorted(CREDENTIAL_HEADERS, key=len,
                                                          reverse=True)) + ")"
# `xi-api-key: sk_...` (a header line, also inline after other text) up to the end of line.
# Preceded by a non-word character, or by a `\n` escape (a header in quoted source code).
_HEADER = re.compile(rf"(?im)(?:(?<![\w-])|(?<=\\[nrt]))({_NAMES})([ \t]*:[ \t]*)"
                     r"(?![ \t]*$)[^\r\n]*")
# `"xi-api-key": "sk_..."` or `'authorization': 'Bearer ...'` (JSON / repr of headers).
_QUOTED = re.compile(rf"""(?i)(["'])({_NAMES})\1(\s*:\s*)(["'])(?:(?!\4).)*\4""")
# `?xi-api-key=sk_...` in a URL.
_QUERY = re.compile(rf"(?i)([?&]{_NAMES}=)[^&\s\"']*")


def redact(text: str) -> str:
    """`text` with the value of every credential-carrying header replaced by [redacted]."""
    if not text:
        return text
    text = _QUOTED.sub(lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{m[4]}{REDACTED}{m[4]}", text)
    text = _HEADER.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}"
                       if REDACTED not in m[0] else m[0], text)
    return _QUERY.sub(lambda m: f"{m[1]}{REDACTED}", text)
