"""Signing and verifying webhook deliveries: the `ElevenLabs-Signature` header.

    ElevenLabs-Signature: t=<unix seconds>,v0=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

Documented by the vendor (post-call webhooks page) and by the official SDK
(elevenlabs 2.78.0, `elevenlabs/webhooks_custom.py`, `WebhooksClient.construct_event`), which
rejects a timestamp older than 30 minutes. `verify` here is stricter in one way the vendor
leaves open (graded inferred): a timestamp more than the tolerance in the future is rejected
too, since a receiver that accepts it accepts a signature that stays fresh for ever.

Secrets never appear in a message, a repr or a log line: `conformance.fictional.fingerprint`
names one.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "ElevenLabs-Signature"
SCHEME = "v0"
TOLERANCE_SECS = 30 * 60


class SignatureError(ValueError):
    """A delivery whose signature does not verify; `reason` is a short machine word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def digest(secret: str, body: bytes | str, t: int) -> str:
    """Hex HMAC-SHA256 of `"<t>.<body>"` under `secret`."""
    __tracebackhide__ = True   # test reports show frames' arguments: never the secret's
    message = str(int(t)).encode() + b"." + _bytes(body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes | str, t: int) -> str:
    """The header value for `body` sent at unix time `t`."""
    __tracebackhide__ = True
    if not secret:
        raise ValueError("a webhook secret is required to sign")
    return f"t={int(t)},{SCHEME}={digest(secret, body, t)}"


def parse(header: str | None) -> tuple[int, list[str]]:
    """(timestamp, v0 signatures) of a header; SignatureError when it has neither."""
    if not header:
        raise SignatureError("missing", f"no {HEADER} header")
    timestamp: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None or not timestamp.isdigit():
        raise SignatureError("malformed", f"{HEADER} has no integer t=<unix seconds>")
    if not signatures:
        raise SignatureError("scheme", f"{HEADER} has no signature with scheme {SCHEME}")
    return int(timestamp), signatures


def verify(header: str | None, body: bytes | str, secret: str, tolerance: int = TOLERANCE_SECS,
           now: float | None = None) -> int:
    """Check a delivery; return its timestamp, or raise SignatureError.

    `body` is the raw request body (the bytes that were signed, never re-encoded JSON);
    `now` defaults to the wall clock. The comparison is constant-time.
    """
    __tracebackhide__ = True   # a failing test's traceback would print `secret`
    if not secret:
        raise SignatureError("no_secret", "no webhook secret configured")
    t, signatures = parse(header)
    now = time.time() if now is None else now
    if t < now - tolerance:
        raise SignatureError("stale", f"timestamp {t} is older than {tolerance} s")
    if t > now + tolerance:
        raise SignatureError("future", f"timestamp {t} is more than {tolerance} s ahead")
    expected = digest(secret, body, t)
    # Every candidate is compared (no early exit), each in constant time.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(candidate.encode(), expected.encode())
    if not matched:
        raise SignatureError("mismatch", "signature does not match the body and secret")
    return t
