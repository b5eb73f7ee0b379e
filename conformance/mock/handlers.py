"""The routed path: one handler per operation, over the parts (parts.py), and the one place
a store or validation error becomes the vendor's error answer (`wrap`). Requests reach
here when the fast path (fastpath.py) does not answer them: any error, cancel / retry /
delete / export, every request under a fault. The handlers never test for a fault.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from conformance.mock.errors import ApiError
from conformance.mock.parts import AppParts
from conformance.mock.shaping import dumps
from conformance.mock.store import InvalidCursor, InvalidState, NotFound, QuotaExceeded
from conformance.mock.validation import read_body, read_json

__all__ = ["Handlers", "by_method", "http_exception", "wrap"]

log = logging.getLogger("conformance.mock")


def _encoded(status: int, content: bytes, media: str = "application/json") -> Response:
    return Response(content, status_code=status, media_type=media)


def _json(status: int, body: Any) -> Response:
    return _encoded(status, dumps(body))


_JSON_MEDIA = ("application/json",)


class Handlers:
    """One async handler per operation: authenticate, validate, call the store under its
    lock, encode. Errors are raised (ApiError, the store's exceptions) and answered by
    `wrap`."""

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


Endpoint = Callable[[Request], Awaitable[Response]]


def wrap(parts: AppParts, handler: Endpoint) -> Endpoint:
    """`handler` answering its errors as the vendor does (the error builder's shapes):
    ApiError as raised, the store's NotFound 404, InvalidState 409, QuotaExceeded 422, and
    a bug of the mock 500, logged, never a traceback."""

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


def by_method(**handlers: Endpoint) -> Endpoint:
    """One endpoint serving several methods (HEAD is served as GET)."""
    async def endpoint(request: Request) -> Response:
        method = "get" if request.method == "HEAD" else request.method.lower()
        return await handlers[method](request)
    return endpoint


async def http_exception(request: Request, exc: HTTPException) -> Response:
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
