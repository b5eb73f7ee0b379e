"""The in-process mock world every stateless case starts from, and how generated cases are
made positive for the API (not only for the schema).

* `World`: a fresh app holding batches in each state; generated `batch_id`s are pinned to
  them (or left as drawn, for 404s) so get/cancel/retry/delete/export reach their 2xx answers.
* `satisfy_recipient_rule` and `pin_query`: what the `before_call` hook does to positive
  cases, from pytest or from `st run`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from conformance.api import MIN_SCHEDULE_AHEAD_S
from conformance.fictional import fictional_number


def is_positive(case) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


def operation_id(case) -> str | None:
    return case.operation.definition.raw.get("operationId")


def mixed_number(index: int) -> str:
    """A fictional number by index: on the mock, even indexes complete (XX = 00..09) and odd
    ones fail (XX = 10..19), so batches become retryable."""
    half = index // 2
    return fictional_number(half // 10, half % 10 + (10 if index % 2 else 0))


def satisfy_recipient_rule(body: Any) -> Any:
    """A schema-valid submit body that breaks the documented recipient rule (a phone batch's
    recipients need `phone_number`, a WhatsApp batch's need `whatsapp_user_id`) is rejected
    422 by design; give such recipients the missing key (a fictional number, index-based) so
    positive data is positive for the API, not just for the schema. Other bodies unchanged."""
    if not isinstance(body, dict) or not isinstance(body.get("recipients"), list):
        return body
    whatsapp = body.get("whatsapp_params") is not None
    key = "whatsapp_user_id" if whatsapp else "phone_number"
    for index, recipient in enumerate(body["recipients"]):
        if isinstance(recipient, dict) and not recipient.get(key):
            recipient[key] = f"wa_fuzz_{index:04d}" if whatsapp else mixed_number(index)
    return body


#: The mock's outcome digits a mapped number may end in (conformance/mock/outcomes.py):
#: 10-19 fail, 20-29 voicemail, 30-39 never answer (each again on retry), 40-69 the same
#: once and then complete. Every first attempt fails, so every finished phone batch has
#: someone to call again; calls still complete (on retry, and the harness's own fills).
OUTCOME_DIGITS = range(10, 70)


def vary_outcomes(body: Any) -> Any:
    """In-process stateful scenarios: a positive submit's recipients get the numbers the
    recipient rule asks for (`satisfy_recipient_rule`), then each phone number becomes a
    fictional one whose outcome digits (OUTCOME_DIGITS) a hash of it picks. Drawn text is
    never a fictional number and the mock completes every other number, so before this a
    batch had someone to call again only when the harness had filled two or more missing
    numbers: whether any of a run's scenarios met retry's success path was luck, and the
    canary passed or failed with whatever perturbed generation (loading one more plugin
    module did). Equal numbers stay equal, distinct ones distinct; WhatsApp recipients and
    other bodies are left as they are."""
    body = satisfy_recipient_rule(body)
    if not isinstance(body, dict) or not isinstance(body.get("recipients"), list):
        return body
    mapped: dict[str, str] = {}
    for recipient in body["recipients"]:
        if not isinstance(recipient, dict):
            continue
        drawn = recipient.get("phone_number")
        if not isinstance(drawn, str) or not drawn:
            continue
        if drawn not in mapped:
            slot = zlib.crc32(drawn.encode("utf-8", "surrogatepass")) % len(OUTCOME_DIGITS)
            mapped[drawn] = fictional_number(len(mapped), OUTCOME_DIGITS[slot])
        recipient["phone_number"] = mapped[drawn]
    return body


#: Set while the pytest harness sends a case whose query it has already pinned against its
#: own mock world (with a cursor that world issued); the hook must not undo that.
QUERY_PINNED: ContextVar[bool] = ContextVar("conformance_query_pinned", default=False)


@dataclass
class World:
    """A fresh in-process mock holding one batch in each state, for one stateless case."""

    app: Any
    ids: dict[str, str] = field(default_factory=dict)   # state -> batch id
    cursor: str | None = None   # a `next_doc` this mock issued (list, limit=1)

    @classmethod
    def build(cls, make_app: Callable[[], Any], api_key: str) -> World:
        app = make_app()
        store = app.state.store
        workspace = app.state.parts.auth.keys[api_key]
        now = store.now()
        ids: dict[str, str] = {}

        def submit(name: str, numbers: list[str], scheduled: int | None) -> str:
            batch = store.submit(workspace, {
                "call_name": f"fuzz-world-{name}", "agent_id": "agent_fuzz_0001",
                "recipients": [{"phone_number": n} for n in numbers],
                "scheduled_time_unix": scheduled})
            return batch.id

        held = now + MIN_SCHEDULE_AHEAD_S
        # Due now: one completes (00), one fails (10): a completed batch retry accepts.
        ids["completed"] = submit("completed", [fictional_number(0, 0),
                                                fictional_number(0, 10)], None)
        # Long calls (09, 08: minutes of talk), caught mid-way.
        ids["in_progress"] = submit("in-progress", [fictional_number(0, 9),
                                                    fictional_number(0, 8)], now + 60)
        ids["cancelled"] = submit("cancelled", [fictional_number(0, x) for x in (1, 2, 3)], held)
        ids["pending"] = submit("pending", [fictional_number(0, x) for x in (4, 5)], held)
        store.advance(90)
        store.cancel(workspace, ids["cancelled"])
        store.advance(30)
        cursor = store.list(workspace, 1).next_cursor
        return cls(app, ids, cursor)

    def pin(self, drawn: Any) -> Any:
        """The batch a drawn id stands for: one of the world's batches, or the drawn id
        itself (one time in len+1), chosen by a hash of it (deterministic)."""
        choices = sorted(self.ids.values())
        slot = zlib.crc32(str(drawn).encode("utf-8", "surrogatepass")) % (len(choices) + 1)
        return drawn if slot == len(choices) else choices[slot]


class AppSwitch:
    """An ASGI app that forwards to `current`: the schema keeps one app (Schemathesis' own
    probes, e.g. ignored_auth, send through `schema.app`) while every case or scenario gets
    a fresh mock behind it."""

    def __init__(self) -> None:
        self.current: Any = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if self.current is None:
            raise RuntimeError("AppSwitch: no current app")
        await self.current(scope, receive, send)


def credentials_for(case, headers: Mapping[str, str]) -> dict[str, str]:
    """The run's credentials for `case`, or none when the case negates its headers (the
    only header the spec declares is the API key: such a case tests a missing or malformed
    key, which the run's own key must not paper over)."""
    meta = case.meta
    if meta is not None and not meta.generation.mode.is_positive:
        from schemathesis.core.parameters import (
            ParameterLocation,  # lazy: schemathesis, only when fuzzing
        )

        if meta.is_negative_at(ParameterLocation.HEADER):
            return {}
    return dict(headers)


def pin_batch_id(case, world: World) -> None:
    """Point a case's `batch_id` at a world batch (unless the path is what is negated)."""
    params = case.path_parameters or {}
    if "batch_id" not in params:
        return
    meta = case.meta
    if meta is not None and not meta.generation.mode.is_positive:
        from schemathesis.core.parameters import (
            ParameterLocation,  # lazy: schemathesis, only when fuzzing
        )

        if meta.is_negative_at(ParameterLocation.PATH):
            return
    params["batch_id"] = world.pin(params["batch_id"])


#: Where the mock is stricter than the spec's types, by documented design (its README):
#: list `limit` >= 1, export `limit` >= 0, `last_doc` must be a cursor it issued. The spec
#: deliberately sets no bounds (openapi/README.md), so the positive-data check cannot demand
#: that such values be accepted; positive cases are mapped into the accepted range instead
#: (negative cases, e.g. a non-integer limit, are left alone and must still be rejected).
QUERY_MINIMUM = {"listBatchCalls": 1, "exportBatchCall": 0}


def pin_query(case, world: World | None = None) -> None:
    """Map a positive case's query into what the mock accepts by design (see above)."""
    if not is_positive(case) or not isinstance(case.query, dict):
        return
    op = operation_id(case)
    minimum = QUERY_MINIMUM.get(op or "")
    limit = case.query.get("limit")
    if minimum is not None and isinstance(limit, int) and not isinstance(limit, bool) \
            and limit < minimum:
        case.query["limit"] = minimum + (abs(limit) % 100)
    if op == "listBatchCalls" and case.query.get("last_doc") is not None:
        drawn = case.query["last_doc"]
        if world is not None and world.cursor is not None and zlib.crc32(str(drawn).encode("utf-8",
                                                                      "surrogatepass")) % 2:
            case.query["last_doc"] = world.cursor
        else:
            del case.query["last_doc"]


