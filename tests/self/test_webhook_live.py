"""The webhook scenarios on a live target with a receiver, proven against the mock served
on loopback (delivering from its background thread): what arrives is checked and passes,
the mock-clock tests skip with their reason, and a webhook fault is caught the same way."""

from __future__ import annotations

import secrets

import pytest
from livehelp import TIME_SCALE, finish, live_env, pytest_command, start

from conformance.mock.app import create_app
from conformance.mock.clock import WallClock
from conformance.mock.server import free_port, served
from conformance.targets import MOCK_KEYS

MODULE = "conformance_suite/scenarios/test_webhooks.py"


def _run(fault: str | None, *extra: str):
    port = free_port()
    secret = secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}/webhook"
    app = create_app("elevenlabs", keys=list(MOCK_KEYS), clock=WallClock(TIME_SCALE),
                     faults=[fault] if fault else [], webhook_url=url, webhook_secret=secret,
                     webhook_background=True)
    try:
        with served(app) as base_url:
            code, out = finish(start(
                pytest_command(MODULE, "--target=live:elevenlabs", "--allow-dispatch",
                               "--mock-outcomes", "-rfs", "--webhook-receiver", url,
                               "--webhook-port", str(port), *extra),
                live_env("elevenlabs", base_url, CONFORMANCE_WEBHOOK_SECRET=secret)))
            leftovers = app.state.store.all_batches()
    finally:
        app.state.parts.webhooks.stop()
    assert secret not in out
    return code, out, leftovers


def test_webhook_scenarios_pass_live_with_a_receiver():
    """Through the live path with a receiver: the 9 scenarios that need no mock clock pass
    (EXPORT-5, export rows agreeing with the events, among them), the 4 that do skip."""
    code, out, leftovers = _run(None)
    assert code == 0, out[-3000:]
    assert "9 passed" in out and "4 skipped" in out, out[-2000:]
    assert "observed on the mock's clock" in out
    assert leftovers == []


@pytest.mark.parametrize("fault, catcher", [
    # The one whose catcher must bound an absence on a real clock (the anchor call).
    ("webhook-cancelled-recipient-event", "test_cancelled_recipients_get_no_event"),
])
def test_live_path_catches_webhook_faults(fault, catcher):
    """The catcher checks an inferred requirement (WEBHOOK-7): on a vendor it is reported as
    differing from our inference, and with --strict-inferred it fails the run."""
    code, out, leftovers = _run(fault)
    assert code == 0 and "1 differs" in out, out[-2000:]
    code, out, leftovers = _run(fault, "--strict-inferred")
    assert code == 1, out[-2000:]
    assert f"FAILED {MODULE}::{catcher}" in out
    assert leftovers == []
