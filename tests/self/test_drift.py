"""Drift: what a target sends that the bundled spec does not declare is listed, and fails a
run only with --strict-drift. Proven through the live path against the mock served with an
extra, undeclared response property and header."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from livehelp import finish, live_env, pytest_command, start

from conformance.drift import Drift
from conformance.mock.app import create_app
from conformance.mock.clock import WallClock
from conformance.mock.server import served
from conformance.spec import load_spec
from conformance.targets import MOCK_KEYS

TESTS = "conformance_suite/scenarios/test_get.py"


class Extra:
    """ASGI middleware: every JSON object response gains `vendor_tier` and a header."""

    def __init__(self, app):
        self.app = app
        self.state = app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start_message = {}

        async def capture(message):
            if message["type"] == "http.response.start":
                start_message.update(message)
                return
            body = message.get("body", b"")
            try:
                doc = json.loads(body) if body else None
            except ValueError:
                doc = None
            if isinstance(doc, dict) and "detail" not in doc:
                doc["vendor_tier"] = "gold"
                body = json.dumps(doc).encode()
            headers = [(k, v) for k, v in start_message["headers"] if k != b"content-length"]
            headers += [(b"content-length", str(len(body)).encode()), (b"x-vendor-region", b"eu")]
            await send({**start_message, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def _drift_of(junit) -> list[dict]:
    for prop in ET.parse(junit).getroot().iter("property"):
        if prop.get("name") == "drift":
            return json.loads(prop.get("value"))
    raise AssertionError("no drift property")


def test_undeclared_property_and_header_are_drift_not_failure(tmp_path):
    app = create_app("elevenlabs", keys=list(MOCK_KEYS), clock=WallClock(60))
    with served(Extra(app)) as base_url:
        env = live_env("elevenlabs", base_url)
        junit = tmp_path / "live.xml"
        code, out = finish(start(pytest_command(TESTS, "--target=live:elevenlabs",
                                                f"--junitxml={junit}"), env))
        assert code == 0, out[-2000:]
        drift = _drift_of(junit)
        code_strict, out_strict = finish(start(pytest_command(
            TESTS, "--target=live:elevenlabs", "--strict-drift"), env))
    kinds = {(d["kind"], d["where"]) for d in drift}
    assert ("response-property", "/vendor_tier") in kinds
    assert ("header", "x-vendor-region") in kinds
    assert all(d["count"] >= 1 and d["first_seen"] for d in drift)
    assert code_strict == 1, out_strict[-2000:]


def test_an_undeclared_enum_value_is_listed_with_a_hint():
    drift = Drift()
    spec = load_spec("elevenlabs")
    body = {"id": "b", "status": "paused", "recipients": []}
    drift.observe_response(spec, "getBatchCall", 200, {"content-type": "application/json"},
                           body, "t::x")
    entry = next(e for e in drift.entries if e.kind == "enum-value")
    assert "paused" in entry.where and "vendor added" in entry.hint
    drift.observe_response(spec, "getBatchCall", 299, {}, None, "t::y")
    assert any(e.kind == "status" and e.where == "299" for e in drift.entries)
