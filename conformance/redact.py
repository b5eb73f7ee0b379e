"""Secrets never land in a file, a log line or a repr: redaction by value.

Whatever header, query parameter or body field a key travels in, every occurrence of a key
value in use is replaced by its fingerprint before anything is written (cassettes, JUnit,
the report). Headers that carry credentials by name are blanked whatever their value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from conformance.fictional import fingerprint

#: Header names that carry credentials, whatever the dialect.
CREDENTIAL_HEADERS = frozenset({"xi-api-key", "x-api-key", "authorization",
                                "proxy-authorization", "x-auth-token", "cookie", "set-cookie",
                                "api-key", "x-goog-api-key"})
#: What a vendor key looks like (the vendor's keys start `sk_`), for the hygiene scans.
VENDOR_KEY_SHAPE = re.compile(r"\bsk_[A-Za-z0-9]{16,}\b")


class Redactor:
    """Replaces every occurrence of the given secrets (raw, percent-encoded) in text."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        values = {s for s in secrets if s and len(s) >= 4}
        forms: dict[str, str] = {}
        for value in values:
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                forms[form] = fingerprint(value)
        # Longest first, so a key that contains another is replaced whole.
        self._forms = sorted(forms.items(), key=lambda kv: -len(kv[0]))

    def __repr__(self) -> str:
        return f"Redactor({len(self._forms)} forms)"

    def text(self, value: str) -> str:
        for form, name in self._forms:
            if form in value:
                value = value.replace(form, name)
        return value

    def bytes(self, value: bytes) -> bytes:
        for form, name in self._forms:
            raw = form.encode()
            if raw in value:
                value = value.replace(raw, name.encode())
        return value

    def headers(self, headers: dict) -> dict:
        """Credential headers blanked by name; every other value redacted by value."""
        out = {}
        for name, value in headers.items():
            if name.lower() in CREDENTIAL_HEADERS:
                out[name] = ["<redacted>"] if isinstance(value, list) else "<redacted>"
            elif isinstance(value, list):
                out[name] = [self.text(v) if isinstance(v, str) else v for v in value]
            else:
                out[name] = self.text(value) if isinstance(value, str) else value
        return out
