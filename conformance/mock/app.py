"""The mock as a Starlette app: every batch-calling operation, in any vendor dialect.

The app is built from replaceable parts (`AppParts`): the store (store.py), the
authenticator, the request validator (validation.py), the shaper and encoder
(shaping.py), the status-code table and the error builder (errors.py), under a choice set
(choices/). Faults (faults/) patch the parts' named hook points; the handlers here never
test for a fault. The admin API lives in admin.py.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.api import Api, api_for
from conformance.fictional import MOCK_KEYS, fingerprint
from conformance.mock.admin import ADMIN_PREFIX, admin_routes
from conformance.mock.choices import Choices, load_choices
from conformance.mock.clock import Clock, ManualClock
from conformance.mock.errors import ApiError, ErrorBuilder
from conformance.mock.fastpath import FastPaths
from conformance.mock.faults import apply_faults, resolve_faults
from conformance.mock.ids import well_formed_id
from conformance.mock.outcomes import DEFAULT_OUTCOMES
from conformance.mock.shaping import CachingEncoder, Encoder, Shaper, dumps
from conformance.mock.store import InvalidCursor, InvalidState, NotFound, QuotaExceeded, Store
from conformance.mock.validation import RequestValidator, read_body, read_json
from conformance.mock.webhooks import admin_endpoint, attach_webhooks
from conformance.profiles import Profile, load_profile
from conformance.spec import load_spec

__all__ = ["DEFAULT_KEYS", "MAX_BODY_BYTES", "AppParts", "create_app", "key_fingerprint"]

#: Accepted API keys unless `keys=` says otherwise; each key is its own workspace.
DEFAULT_KEYS = MOCK_KEYS
#: Largest request body accepted (8 MiB; 10,000 recipients with ids and client data take
#: about 1.7 MiB). README "Bounds".
MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_STATUS = {"submit": 200, "list": 200, "get": 200, "cancel": 200, "retry": 200,
                  "delete": 204, "export": 200}
log = logging.getLogger("conformance.mock")


def workspace_of(key: str) -> str:
    return "ws_" + hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


def key_fingerprint(key: str) -> str:
    """How a key is named in logs: a sha256 prefix, no character of the key itself."""

    return fingerprint(key)


class Auth:
    """API key -> workspace. Hook point: `resolve` (README "Faults")."""

    HOOKS = ("resolve",)

    def __init__(self, header: str, keys: Mapping[str, str], errors: ErrorBuilder) -> None:
        self.header = header
        self.keys = dict(keys)
        self.errors = errors

    def __repr__(self) -> str:   # never the keys themselves
        return f"Auth({self.header}, {len(self.keys)} keys)"

    def resolve(self, key: str | None) -> str:
        """The workspace of `key`; ApiError 401 when missing or unknown."""
        if not key:
            raise self.errors.object(
                401, "authentication_error", "needs_authorization",
                f"Missing API key: send it in the {self.header} header.")
        workspace = self.keys.get(key)
        if workspace is None:
            raise self.errors.object(401, "authentication_error", "invalid_api_key",
                                     "Invalid API key.")
        return workspace


@dataclass
class AppParts:
    """Everything a handler uses. Faults patch their hook points (see faults/)."""

    profile: Profile
    spec: dict
    api: Api
    clock: Clock
    store: Store
    auth: Auth
    validator: RequestValidator
    shaper: Shaper
    errors: ErrorBuilder
    status: dict[str, int]
    choices: Choices
    #: The media type of an operation's JSON answer where it is not application/json (data a
    #: fault may change, like `status`; empty on a correct server).
    media: dict[str, str] = field(default_factory=dict)
    #: A body an operation that answers none (delete) sends instead (data a fault may set;
    #: empty on a correct server).
    bodies: dict[str, bytes] = field(default_factory=dict)
    max_body_bytes: int = MAX_BODY_BYTES
    faults: tuple[str, ...] = ()
    admin: bool = False
    keys: dict[str, str] = field(default_factory=dict, repr=False)
    encoder: Any = None
    webhooks: Any = None  # conformance.mock.webhooks.MockWebhooks, when a URL is given

    @property
    def max_page_limit(self) -> int:
        return self.choices.max_page_limit

    # The request checks both the routed handlers and the fast paths (fastpath.py) make.
    def page_size(self, values: dict[str, Any]) -> int:
        """A list page's size from its validated query: `limit` (default 100), at least 1,
        at most the choice set's maximum."""
        limit = values.get("limit")
        return int(min(max(1, 100 if limit is None else limit), self.max_page_limit))

    def refuses_id(self, batch_id: str) -> bool:
        """With `malformed_id_status = 422`, an id not in this server's format is refused
        before it is looked up."""
        return (self.choices.malformed_id_status == 422
                and not well_formed_id(self.choices.id_format, batch_id))


def _encoded(status: int, content: bytes, media: str = "application/json") -> Response:
    return Response(content, status_code=status, media_type=media)


def _json(status: int, body: Any) -> Response:
    return _encoded(status, dumps(body))


_JSON_MEDIA = ("application/json",)


class Handlers:
    def __init__(self, parts: AppParts) -> None:
        self.parts = parts

    # Plumbing --------------------------------------------------------------------------
    def _workspace(self, request: Request) -> str:
        p = self.parts
        return p.auth.resolve(request.headers.get(p.auth.header))

    def _query(self, op_id: str, request: Request) -> dict:
        p = self.parts
        values, errors = p.validator.query(op_id, request.query_params)
        if errors:
            raise p.errors.validation(errors)
        return values

    def _batch_id(self, request: Request) -> str:
        """The path's batch id; with `malformed_id_status = 422`, one not in this server's
        id format is refused before it is looked up."""
        p = self.parts
        batch_id = request.path_params["batch_id"]
        if p.refuses_id(batch_id):
            raise p.errors.invalid(["path", "batch_id"], "not a batch call id of this server",
                                   batch_id[:64])
        return batch_id

    async def _body(self, op_id: str, request: Request) -> Any:
        p = self.parts
        raw = await read_body(request, p.max_body_bytes, p.errors)
        content_type = request.headers.get("content-type")
        if raw and content_type is not None:
            media = content_type.split(";")[0].strip().lower()
            if not (media in _JSON_MEDIA or (media.startswith("application/")
                                             and media.endswith("+json"))):
                raise p.errors.object(
                    415, "invalid_request", "unsupported_media_type",
                    f"Content-Type {content_type[:100]!r} is not supported; send "
                    "application/json.")
        document = read_json(raw, p.errors)
        errors = p.validator.body(op_id, document)
        if errors:
            raise p.errors.validation(errors)
        return document

    # Operations ------------------------------------------------------------------------
    async def submit(self, request: Request) -> Response:
        workspace = self._workspace(request)
        document = await self._body("submitBatchCall", request)
        p = self.parts
        with p.store.lock:
            batch = p.store.submit(workspace, document)
            body = p.encoder.batch(batch)
        return _encoded(p.status["submit"], body, p.media.get("submit", "application/json"))

    async def list(self, request: Request) -> Response:
        workspace = self._workspace(request)
        p = self.parts
        values = self._query("listBatchCalls", request)
        limit = p.page_size(values)
        try:
            with p.store.lock:
                page = p.store.list(workspace, limit, values.get("last_doc"),
                                    values.get("agent_id"))
                body = p.encoder.page(page)
        except InvalidCursor as exc:
            raise p.errors.invalid(["query", "last_doc"], exc.message,
                                   values.get("last_doc")) from None
        return _encoded(p.status["list"], body)

    def _on_batch(self, request: Request, op: str, detailed: bool = False) -> Response:
        """get / cancel / retry: the store operation of that name on the path's batch,
        answered with the batch (with its recipients for get)."""
        workspace = self._workspace(request)
        batch_id = self._batch_id(request)
        p = self.parts
        with p.store.lock:
            batch = getattr(p.store, op)(workspace, batch_id)
            body = p.encoder.detailed(batch) if detailed else p.encoder.batch(batch)
        return _encoded(p.status[op], body)

    async def get(self, request: Request) -> Response:
        return self._on_batch(request, "get", detailed=True)

    async def cancel(self, request: Request) -> Response:
        return self._on_batch(request, "cancel")

    async def retry(self, request: Request) -> Response:
        return self._on_batch(request, "retry")

    async def delete(self, request: Request) -> Response:
        workspace = self._workspace(request)
        p = self.parts
        p.store.delete(workspace, self._batch_id(request))
        return Response(p.bodies.get("delete", b""), status_code=p.status["delete"],
                        media_type=p.media.get("delete"))

    async def export(self, request: Request) -> Response:
        workspace = self._workspace(request)
        p = self.parts
        values = self._query("exportBatchCall", request)
        batch_id = self._batch_id(request)
        with p.store.lock:
            batch = p.store.get(workspace, batch_id)
            text = p.shaper.csv(batch, values.get("limit"))
        # Lone surrogates (valid JSON escapes the mock keeps) are written as `\udXXX`.
        content = text.encode("utf-8", "backslashreplace")
        return Response(content, status_code=p.status["export"],
                        media_type="text/csv; charset=utf-8",
                        headers={"content-disposition":
                                 f'attachment; filename="{batch.id}.csv"'})


def _wrap(parts: AppParts, handler):
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return _json(exc.status, exc.body)
        except NotFound as exc:
            error = parts.errors.not_found(exc.message)
            return _json(error.status, error.body)
        except InvalidState as exc:
            error = parts.errors.conflict(exc.code, exc.message)
            return _json(error.status, error.body)
        except QuotaExceeded as exc:
            error = parts.errors.invalid(["body", "recipients"], exc.message, None)
            return _json(error.status, error.body)
        except Exception:   # a bug of the mock: still the vendor's shape, never a traceback
            log.exception("unhandled error in %s", handler.__name__)
            error = parts.errors.object(500, "server_error", "internal_error",
                                        "The mock failed to answer this request.")
            return _json(error.status, error.body)

    endpoint.__name__ = handler.__name__
    return endpoint


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


def _by_method(**handlers):
    """One endpoint serving several methods (HEAD is served as GET)."""
    async def endpoint(request: Request) -> Response:
        method = "get" if request.method == "HEAD" else request.method.lower()
        return await handlers[method](request)
    return endpoint


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _normalize_keys(keys: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    if keys is None:
        keys = DEFAULT_KEYS
    if isinstance(keys, str):
        keys = [keys]
    if isinstance(keys, Mapping):
        return {str(k): str(v) for k, v in keys.items()}
    return {str(k): workspace_of(str(k)) for k in keys}


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
    key_map = _normalize_keys(keys)
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
        Route(ops["submit"], _wrap(parts, h.submit), methods=["POST"]),
        Route(ops["list"], _wrap(parts, h.list), methods=["GET"]),
        # One route for both methods, so a 405 there answers `Allow: DELETE, GET, HEAD`.
        Route(ops["get"], _by_method(get=_wrap(parts, h.get), delete=_wrap(parts, h.delete)),
              methods=["GET", "DELETE"]),
        Route(ops["cancel"], _wrap(parts, h.cancel), methods=["POST"]),
        Route(ops["retry"], _wrap(parts, h.retry), methods=["POST"]),
        Route(ops["export"], _wrap(parts, h.export), methods=["GET"]),
    ]
    if admin:
        routes += admin_routes(parts)
        routes.append(Route(f"{ADMIN_PREFIX}/webhooks", admin_endpoint(parts), methods=["GET"]))
    handlers: dict[Any, Any] = {HTTPException: _http_exception}
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


