"""Webhook scenarios' wiring: a loopback receiver and, where the server runs in-process, an
app that delivers to it. What `webhook_setup` does, it asks the target:
- in-process (the mock): a fresh mock (ManualClock started at the wall clock, so the official
  SDK's age check holds) delivering to a receiver on 127.0.0.1 with a secret made for the test;
- a remote server with `--webhook-receiver URL --webhook-port N --webhook-secret S`: the
  receiver listens on 127.0.0.1:N, which URL (public, e.g. a tunnel) forwards to; the vendor's
  workspace webhook must point at URL. Only what arrives is checked;
- otherwise (replayed cassettes, a remote server without a receiver): skipped with the reason.
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


@pytest.fixture
def webhook_setup(request, target):
    """The receiver, the secret and (on the mock) the app delivering to it."""
    config = request.config
    if not target.profile.webhooks:
        pytest.skip(f"the {target.dialect} dialect publishes no webhooks ({target.dialect}.toml)")
    if target.in_process:
        from conformance.mock.clock import (
            ManualClock,  # lazy: the mock, only when the target is the mock
        )

        holder: dict = {}
        receiver = Receiver(clock=lambda: holder["store"].now()).start()   # see `receiver`
        receiver.reached_directly = True
        secret = secrets.token_hex(16)
        app = target.new_app(clock=ManualClock(int(time.time())), webhook_url=receiver.url,
                             webhook_secret=secret)
        holder["store"] = app.state.store
        yield WebhookSetup(receiver, secret, app)
        app.state.parts.webhooks.dispatcher.sender.close()
        receiver.stop()
        return
    if not target.replays and config.getoption("--webhook-receiver"):
        secret = config.getoption("--webhook-secret")
        port = config.getoption("--webhook-port")
        if not secret or not port:
            pytest.skip("--webhook-receiver needs --webhook-port and --webhook-secret")
        receiver = Receiver(port=port).start()
        yield WebhookSetup(receiver, secret)
        receiver.stop()
        return
    replay = " and a cassette holds no deliveries" if target.replays else ""
    pytest.skip(f"{target.text}: the vendor cannot reach a loopback receiver{replay}; on a "
                "live target pass --webhook-receiver URL (public, forwarded to "
                "--webhook-port) and --webhook-secret to check what arrives")
