"""The mock as a Starlette app: every batch-calling operation, in either dialect.

`create_app` builds the parts (parts.py: the store (store.py), the authenticator, the
request validator (validation.py), the shaper and encoder (shaping.py), the status-code
table and the error builder (errors.py), under a choice set (choices/)), lets faults
(faults/) patch the parts' named hook points, and routes each operation to its handler
(handlers.py) behind the fast path (fastpath.py) and the `Date` middleware (`ClockDate`).
The admin API lives in admin.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from email.utils import formatdate
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from conformance.api import api_for
from conformance.mock.admin import ADMIN_PREFIX, admin_routes
from conformance.mock.choices import Choices, load_choices
from conformance.mock.clock import Clock, ManualClock
from conformance.mock.errors import ErrorBuilder
from conformance.mock.fastpath import FastPaths
from conformance.mock.faults import apply_faults, resolve_faults
from conformance.mock.handlers import Handlers, by_method, http_exception, wrap
from conformance.mock.outcomes import DEFAULT_OUTCOMES
from conformance.mock.parts import DEFAULT_STATUS, MAX_BODY_BYTES, AppParts, Auth, normalize_keys
from conformance.mock.shaping import CachingEncoder, Encoder, Shaper
from conformance.mock.store import Store
from conformance.mock.validation import RequestValidator
from conformance.mock.webhooks import admin_endpoint, attach_webhooks
from conformance.profiles import Profile, load_profile
from conformance.spec import load_spec

__all__ = ["ClockDate", "create_app"]


class ClockDate:
    """Sends `Date` in the mock's own time, as a real server sends its own: a client that
    needs "now on the server" (live runs against a sped-up or manual clock) reads it there.
    Served with uvicorn's own Date header turned off."""

    def __init__(self, app, clock: Clock):
        self.app = app
        self.clock = clock

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_date(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                stamp = formatdate(self.clock.now(), usegmt=True).encode()
                message = {**message, "headers": [*headers, (b"date", stamp)]}
            await send(message)

        await self.app(scope, receive, send_with_date)


def create_app(profile: str | Profile = "elevenlabs",
               keys: Iterable[str] | Mapping[str, str] | None = None,
               clock: Clock | None = None, faults: Iterable[str] = (), admin: bool = False,
               outcomes=DEFAULT_OUTCOMES, *, max_body_bytes: int = MAX_BODY_BYTES,
               default_concurrency: int | None = None, record_history: bool = False,
               seed: str = "mock", response_cache: bool = True,
               choices: str | Path | Choices = "default",
               webhook_url: str | None = None, webhook_secret: str | None = None,
               webhook_retries: bool = True, webhook_sender=None,
               webhook_background: bool = False, fast_paths: bool = True) -> Starlette:
    """The mock as an ASGI app.

    profile: "elevenlabs" | "voiceai" | "mock" (= elevenlabs) or a Profile.
    keys: accepted API keys (each its own workspace), or {key: workspace} to let several
      keys share one workspace. Default DEFAULT_KEYS.
    clock: default a ManualClock (tests advance it; `app.state.store.advance(n)`).
    faults: names from conformance.mock.faults.FAULTS (unknown name -> UnknownFault).
    admin: serve the admin API under /_mock/.
    outcomes: object with `steps(phone_number, whatsapp_user_id, attempt,
      ringing_timeout_secs)`; default conformance.mock.outcomes.DEFAULT_OUTCOMES.
    choices: "default" | "alternate" | a path to a choice set (.toml) | a Choices.
    default_concurrency: overrides the choice set's `default_concurrency`.
    response_cache: keep each batch's encoded responses until its version moves.
    fast_paths: answer successful get / list / submit without Starlette (fastpath.py);
      off, every request takes the reference path (tests/self/test_fast_paths.py).
    webhook_url, webhook_secret: deliver a signed post-call event per finished call to this
      loopback URL (conformance/mock/webhooks.py); webhook_retries (default on),
      webhook_sender (inject the HTTP POST), webhook_background (a thread sends, served).
    """

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    chosen = load_choices(choices)
    fault_list = resolve_faults(faults)
    spec = load_spec(prof.name)
    api = api_for(prof.name)
    clock = clock if clock is not None else ManualClock()
    store = Store(clock, outcomes, default_concurrency=default_concurrency,
                  providers=api.lifecycle.providers, seed=seed,
                  record_history=record_history, choices=chosen)
    errors = ErrorBuilder()
    key_map = normalize_keys(keys)
    parts = AppParts(
        profile=prof, spec=spec, api=api, clock=clock, store=store,
        auth=Auth(prof.auth_header, key_map, errors), validator=RequestValidator(spec, api),
        shaper=Shaper(spec), errors=errors, status=dict(DEFAULT_STATUS), choices=chosen,
        max_body_bytes=max_body_bytes, faults=tuple(f.name for f in fault_list), admin=admin,
        keys=key_map)

    parts.webhooks = attach_webhooks(parts, webhook_url, webhook_secret, retries=webhook_retries,
                                     sender=webhook_sender, background=webhook_background)
    apply_faults(parts, fault_list)
    parts.encoder = (CachingEncoder if response_cache else Encoder)(parts.shaper)

    h = Handlers(parts)
    ops = {o.name: o.template for o in api.operations}
    routes = [
        Route(ops["submit"], wrap(parts, h.submit), methods=["POST"]),
        Route(ops["list"], wrap(parts, h.list), methods=["GET"]),
        # One route for both methods, so a 405 there answers `Allow: DELETE, GET, HEAD`.
        Route(ops["get"], by_method(get=wrap(parts, h.get), delete=wrap(parts, h.delete)),
              methods=["GET", "DELETE"]),
        Route(ops["cancel"], wrap(parts, h.cancel), methods=["POST"]),
        Route(ops["retry"], wrap(parts, h.retry), methods=["POST"]),
        Route(ops["export"], wrap(parts, h.export), methods=["GET"]),
    ]
    if admin:
        routes += admin_routes(parts)
        routes.append(Route(f"{ADMIN_PREFIX}/webhooks", admin_endpoint(parts), methods=["GET"]))
    handlers: dict[Any, Any] = {HTTPException: http_exception}
    app = Starlette(routes=routes, exception_handlers=handlers,
                    middleware=[*([Middleware(FastPaths, parts=parts)] if fast_paths else []),
                                Middleware(ClockDate, clock=clock)])
    app.state.parts = parts
    app.state.store = store
    app.state.clock = clock
    app.state.profile = prof
    app.state.spec = spec
    app.state.faults = parts.faults
    app.state.choices = chosen
    app.state.keys = tuple(key_map)
    return app
