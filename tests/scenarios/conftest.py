"""Webhook scenarios' wiring: a loopback receiver and, on the mock, an app that delivers to it.

`webhook_setup` is the one place that asks the target for its kind:
- mock: an in-process mock (ManualClock started at the wall clock, so the official SDK's
  age check holds) delivering to a receiver on 127.0.0.1 with a secret made for the test;
- live with `--webhook-receiver URL --webhook-port N --webhook-secret S`: the receiver
  listens on 127.0.0.1:N, which URL (public, e.g. a tunnel) forwards to; the vendor's
  workspace webhook must point at URL. Only what arrives is checked;
- otherwise (cassettes, live without a receiver): skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field

import pytest

from conformance.webhooks.receiver import Receiver


def pytest_addoption(parser):
    group = parser.getgroup("conformance")
    group.addoption("--webhook-receiver", default=os.environ.get("CONFORMANCE_WEBHOOK_RECEIVER"),
                    metavar="URL", help="live: the public URL the vendor delivers webhooks to, "
                    "forwarded to 127.0.0.1:--webhook-port (env CONFORMANCE_WEBHOOK_RECEIVER)")
    group.addoption("--webhook-port", type=int,
                    default=int(os.environ.get("CONFORMANCE_WEBHOOK_PORT") or 0),
                    help="live: the loopback port the receiver listens on")
    group.addoption("--webhook-secret", default=os.environ.get("CONFORMANCE_WEBHOOK_SECRET"),
                    metavar="S", help="live: the workspace webhook's HMAC secret "
                    "(env CONFORMANCE_WEBHOOK_SECRET; never printed)")


@dataclass
class WebhookSetup:
    receiver: Receiver
    secret: str = field(repr=False)
    app: object = None            # the in-process mock, or None (live)

    @property
    def controls_deliveries(self) -> bool:
        """The receiver is this suite's own mock's: its clock and delivery log are readable."""
        return self.app is not None

    def log(self) -> list[dict]:
        return self.app.state.parts.webhooks.dispatcher.log()


def _option(config, name):
    try:
        return config.getoption(name)
    except ValueError:   # the option is registered only when tests/scenarios is collected
        return None


@pytest.fixture
def webhook_setup(request, target):
    """The receiver, the secret and (on the mock) the app delivering to it."""
    config = request.config
    if not target.profile.webhooks:
        pytest.skip(f"the {target.vendor} dialect publishes no webhooks ({target.vendor}.toml)")
    if target.kind == "mock":
        from conformance.mock.app import create_app
        from conformance.mock.clock import ManualClock
        from conformance.targets import MOCK_KEYS

        holder: dict = {}
        receiver = Receiver(clock=lambda: holder["store"].now()).start()   # see `receiver`
        secret = secrets.token_hex(16)
        app = create_app(target.vendor, keys=list(MOCK_KEYS), clock=ManualClock(int(time.time())),
                         faults=[target.fault] if target.fault else [],
                         webhook_url=receiver.url, webhook_secret=secret)
        holder["store"] = app.state.store
        yield WebhookSetup(receiver, secret, app)
        app.state.parts.webhooks.dispatcher.sender.close()
        receiver.stop()
        return
    if target.kind == "live" and _option(config, "--webhook-receiver"):
        secret = _option(config, "--webhook-secret")
        port = _option(config, "--webhook-port")
        if not secret or not port:
            pytest.skip("--webhook-receiver needs --webhook-port and --webhook-secret")
        receiver = Receiver(port=port).start()
        yield WebhookSetup(receiver, secret)
        receiver.stop()
        return
    replay = " and a cassette holds no deliveries" if target.kind == "cassette" else ""
    pytest.skip(f"{target.text}: the vendor cannot reach a loopback receiver{replay}; on a "
                "live target pass --webhook-receiver URL (public, forwarded to "
                "--webhook-port) and --webhook-secret to check what arrives")
