"""The admin API under /_mock/ (only with `create_app(admin=True)` / `--admin`): the clock,
reset, the active faults and choices, and a dump of every workspace's state. No key needed;
errors are `{"detail": "<sentence>"}` with 400 / 409."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.mock.errors import ApiError
from conformance.mock.faults import FAULTS
from conformance.mock.shaping import dumps
from conformance.mock.validation import read_body, read_json

ADMIN_PREFIX = "/_mock"
#: An admin body is one small object.
MAX_ADMIN_BODY = 4096


def _json(status: int, body) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


class Admin:
    def __init__(self, parts) -> None:
        self.parts = parts

    def _clock_body(self) -> dict:
        clock = self.parts.clock
        return {"now": self.parts.store.sync(), "kind": getattr(clock, "kind", "custom")}

    async def clock(self, request: Request) -> Response:
        return _json(200, self._clock_body())

    async def advance(self, request: Request) -> Response:
        return await self._move(request, "seconds", "advance")

    async def set(self, request: Request) -> Response:
        return await self._move(request, "now", "set")

    async def _move(self, request: Request, key: str, method: str) -> Response:
        p = self.parts
        usage = {"detail": f'send {{"{key}": <integer>}}'}
        try:
            raw = await read_body(request, MAX_ADMIN_BODY, p.errors)
            document = read_json(raw or b"{}", p.errors)
        except ApiError:
            return _json(400, usage)
        value = document.get(key) if isinstance(document, dict) else None
        if isinstance(value, bool) or not isinstance(value, int):
            return _json(400, usage)
        move = getattr(p.clock, method, None)
        if move is None:
            return _json(409, {"detail": "the clock is not a manual clock (serve with "
                                         "--clock manual to drive it)"})
        try:
            with p.store.lock:
                move(value)
        except ValueError as exc:
            return _json(400, {"detail": str(exc)})
        return _json(200, self._clock_body())

    async def reset(self, request: Request) -> Response:
        self.parts.store.reset()
        return _json(200, {"reset": True, **self._clock_body()})

    async def faults(self, request: Request) -> Response:

        return _json(200, {
            "active": list(self.parts.faults),
            "choices": self.parts.choices.name,
            "available": [{"name": f.name, "category": f.category,
                           "description": f.description} for f in FAULTS.values()]})

    async def state(self, request: Request) -> Response:
        """Every batch with its recipients, all workspaces (debugging aid)."""
        p = self.parts
        with p.store.lock:
            batches = [{"workspace": b.workspace, **p.shaper.full(b),
                        "recipients": [p.shaper.recipient(r) for r in b.recipients]}
                       for b in p.store.all_batches()]
        return _json(200, {"now": p.store.sync(), "batches": batches})


def admin_routes(parts) -> list[Route]:
    a = Admin(parts)
    return [
        Route(f"{ADMIN_PREFIX}/clock", a.clock, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/clock/advance", a.advance, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/clock/set", a.set, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/reset", a.reset, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/faults", a.faults, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/state", a.state, methods=["GET"]),
    ]
