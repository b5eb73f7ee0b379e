"""Our signer and verifier against the official SDK's `construct_event` (elevenlabs 2.78.0):
what one signs the other accepts, what one rejects the other rejects, and the one place
they differ on purpose (a timestamp far in the future) is pinned."""

from __future__ import annotations

import json
import time

import pytest
from elevenlabs.errors import BadRequestError
from elevenlabs.webhooks_custom import WebhooksClient

from conformance.fictional import fingerprint
from conformance.webhooks import signing
from conformance.webhooks.signing import SignatureError, sign, verify

SECRET = "whsec-signing-test-secret"
BODY = json.dumps({"type": "post_call_transcription", "event_timestamp": 1,
                   "data": {"agent_id": "a", "note": "caf\u00e9 \u2603"}},
                  ensure_ascii=False).encode()


def sdk_accepts(header, body: bytes, secret: str = SECRET) -> bool:
    client = WebhooksClient(client_wrapper=None)
    try:
        event = client.construct_event(rawBody=body.decode("utf-8"), sig_header=header,
                                       secret=secret)
    except BadRequestError:
        return False
    assert event == json.loads(body)
    return True


def ours_accepts(header, body: bytes, secret: str = SECRET, now=None) -> bool:
    try:
        verify(header, body, secret, now=now)
    except SignatureError:
        return False
    return True


def test_signature_is_hmac_sha256_of_t_dot_body():
    """v0 = hex HMAC-SHA256(secret, "<t>.<body>"), as the vendor documents."""
    import hashlib
    import hmac

    t = 1_767_225_600
    expected = hmac.new(SECRET.encode(), f"{t}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, t) == f"t={t},v0={expected}"


def test_sdk_accepts_what_we_sign():
    """A delivery signed now by us verifies with construct_event and with our verifier."""
    header = sign(SECRET, BODY, int(time.time()))
    assert sdk_accepts(header, BODY)
    assert ours_accepts(header, BODY)


def _forgeries(now: int) -> dict[str, tuple[str | None, bytes, str]]:
    good = sign(SECRET, BODY, now)
    return {
        "tampered body": (good, BODY.replace(b'"a"', b'"b"'), SECRET),
        "wrong secret": (good, BODY, SECRET + "x"),
        "stale timestamp": (sign(SECRET, BODY, now - 1801), BODY, SECRET),
        "missing header": (None, BODY, SECRET),
        "wrong scheme": (good.replace(",v0=", ",v1="), BODY, SECRET),
        "no timestamp": (good.split(",", 1)[1], BODY, SECRET),
        "truncated signature": (good[:-2], BODY, SECRET),
    }


@pytest.mark.parametrize("case", list(_forgeries(0)))
def test_both_reject_the_same_forgeries(case):
    """Each forgery is refused by the SDK and by our verifier alike."""
    header, body, secret = _forgeries(int(time.time()))[case]
    assert not sdk_accepts(header, body, secret)
    assert not ours_accepts(header, body, secret)


@pytest.mark.parametrize("age, accepted", [(0, True), (1799, True), (1801, False)])
def test_tolerance_is_thirty_minutes_in_both(age, accepted):
    """Both accept a signature up to 30 minutes old and refuse an older one."""
    now = int(time.time())
    header = sign(SECRET, BODY, now - age)
    assert sdk_accepts(header, BODY) is accepted
    assert ours_accepts(header, BODY, now=now) is accepted


def test_future_timestamp_is_where_we_are_stricter():
    """The SDK only refuses old timestamps; we also refuse one more than the tolerance ahead
    (graded inferred), since it would stay fresh for ever."""
    now = int(time.time())
    header = sign(SECRET, BODY, now + 3600)
    assert sdk_accepts(header, BODY)
    with pytest.raises(SignatureError) as info:
        verify(header, BODY, SECRET, now=now)
    assert info.value.reason == "future"


def test_verify_names_each_reason():
    now = 1_767_225_600
    reasons = {}
    for case, (header, body, secret) in _forgeries(now).items():
        with pytest.raises(SignatureError) as info:
            verify(header, body, secret, now=now)
        reasons[case] = info.value.reason
    assert reasons == {"tampered body": "mismatch", "wrong secret": "mismatch",
                       "stale timestamp": "stale", "missing header": "missing",
                       "wrong scheme": "scheme", "no timestamp": "malformed",
                       "truncated signature": "mismatch"}


def test_verify_compares_in_constant_time(monkeypatch):
    """The digest comparison goes through hmac.compare_digest, never `==`."""
    calls = []
    real = signing.hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    now = 1_767_225_600
    verify(sign(SECRET, BODY, now), BODY, SECRET, now=now)
    assert calls == [(64, 64)]


def test_secret_never_appears_in_fingerprint_or_errors():
    assert SECRET not in fingerprint(SECRET)
    assert fingerprint(SECRET) == fingerprint(SECRET) != fingerprint(SECRET + "x")
    with pytest.raises(SignatureError) as info:
        verify(sign(SECRET, BODY, 1), BODY, SECRET + "-rotated", now=1)
    assert SECRET not in str(info.value)
