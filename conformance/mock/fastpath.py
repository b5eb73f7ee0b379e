"""The hot requests answered without Starlette's routing, Request and Response objects.

A get, a list page or a submit that succeeds is answered here, outermost in the app, by the
same parts the handlers use (auth, validator, store, encoder: every hook point included),
with the same status, headers (content-length, content-type, date in mock time) and body
bytes. Anything else, and any request that would not succeed (no key, a bad body, an
unknown id, a cursor this server did not issue, ...), goes to the Starlette app untouched,
which answers it as before: a submit's body is replayed to it. Off when a fault is active
(a faulted mock keeps the reference path only). tests/self/test_fast_paths.py sends the
same requests through both and compares the answers byte for byte.

What it saves is the framework's own cost per request (about 60 µs of a get on the
benchmark machine), the part that kept get and list far from the bare-app floor.
"""

from __future__ import annotations

from email.utils import formatdate

from starlette.datastructures import QueryParams

from conformance.mock.validation import MAX_JSON_ELEMENTS, parse, within_bounds

_JSON = b"application/json"


class _Refused(Exception):
    """The fast path does not answer this request; the app does."""


class FastPaths:
    def __init__(self, app, parts) -> None:
        self.app = app
        self.parts = parts
        ops = {o.name: o.template for o in parts.api.operations}
        self.submit_path = ops["submit"]
        self.list_path = ops["list"]
        head, _, tail = ops["get"].partition("{batch_id}")
        self.get_head, self.get_tail = head, tail
        self.header = parts.auth.header.lower().encode("latin-1")
        self._date = (None, b"")

    def _date_header(self) -> bytes:
        now = self.parts.clock.now()
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True).encode())
        return self._date[1]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.parts.faults or scope.get("root_path"):
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        if method == "GET":
            try:
                status, body = self._get(scope, path)
            except _Refused:
                return await self.app(scope, receive, send)
            except Exception:   # noqa: BLE001 - the app answers it, with its own error
                return await self.app(scope, receive, send)
            return await self._send(send, status, body)
        if method == "POST" and path == self.submit_path:
            return await self._submit(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _send(self, send, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(body)).encode()),
                                (b"content-type", _JSON),
                                (b"date", self._date_header())]})
        await send({"type": "http.response.body", "body": body})

    def _key(self, scope) -> str | None:
        name = self.header   # compared as Starlette's Headers.get does: the raw name
        for key, value in scope["headers"]:
            if key == name:
                return value.decode("latin-1")
        return None

    def _get(self, scope, path: str) -> tuple[int, bytes]:
        p = self.parts
        if path == self.list_path:
            workspace = p.auth.resolve(self._key(scope))
            values, errors = p.validator.query("listBatchCalls",
                                               QueryParams(scope["query_string"]))
            if errors:
                raise _Refused
            limit = p.page_size(values)
            with p.store.lock:
                page = p.store.list(workspace, limit, values.get("last_doc"),
                                    values.get("agent_id"))
                return p.status["list"], p.encoder.page(page)
        head, tail = self.get_head, self.get_tail
        if not (path.startswith(head) and path.endswith(tail)):
            raise _Refused
        batch_id = path[len(head):len(path) - len(tail)]
        if not batch_id or "/" in batch_id or batch_id in ("workspace", "submit"):
            raise _Refused
        workspace = p.auth.resolve(self._key(scope))
        if p.refuses_id(batch_id):
            raise _Refused
        with p.store.lock:
            batch = p.store.get(workspace, batch_id)
            return p.status["get"], p.encoder.detailed(batch)

    async def _submit(self, scope, receive, send):
        p = self.parts
        for key, length in scope["headers"]:
            if key == b"content-length":
                if not length.isdigit() or len(length) > 18 or int(length) > p.max_body_bytes:
                    return await self.app(scope, receive, send)   # its 413, body unread
                break
        messages, size, more = [], 0, True
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
            if size > p.max_body_bytes:
                break
        answer = None
        if not more and size <= p.max_body_bytes:
            try:
                answer = self._submitted(scope, messages)
            except Exception:   # noqa: BLE001 - the app answers it, with its own error
                answer = None
        if answer is not None:
            return await self._send(send, *answer)
        replay = iter(messages)

        async def replayed():
            for message in replay:
                return message
            return await receive()
        return await self.app(scope, replayed, send)

    def _submitted(self, scope, messages) -> tuple[int, bytes] | None:
        p = self.parts
        content_type = None
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value
                break
        if content_type is not None and content_type.split(b";")[0].strip().lower() != _JSON:
            return None
        raw = b"".join(m.get("body", b"") for m in messages)
        if not raw or raw.count(b",") + raw.count(b":") > 2 * MAX_JSON_ELEMENTS:
            return None
        workspace = p.auth.resolve(self._key(scope))
        document = parse(raw)
        if not within_bounds(document) or p.validator.body("submitBatchCall", document):
            return None
        with p.store.lock:
            batch = p.store.submit(workspace, document)
            return p.status["submit"], p.encoder.batch(batch)
