"""Property-based fuzzing harness (Schemathesis 4): settings, domain checks, safe bodies.

No pytest here: `tests/contract/` drives it, and `schemathesis.toml` names this module in
`hooks`, so `st run openapi/batch-calling.yaml --url ...` gets the same checks.

* Settings: `load_config()` reads the root `schemathesis.toml` (fixed seed, derandomized,
  no example database); `CONFORMANCE_FUZZ=deep` overlays `DEEP` (the nightly run).
* Domain checks (`@schemathesis.check`), all from `conformance.invariants`, the module the
  scenarios use:
    - `batch_invariants`: every 2xx body: counters (0 <= finished <= dispatched <=
      scheduled, scheduled == recipients), created <= updated, status sets, `name` echoes
      `call_name`, the id is the one in the path, cancel returns `cancelled`;
    - `batch_settles`: after a 2xx submit/cancel/retry, a GET of the same batch passes the
      single-batch checks and is not behind the answer (timestamps, counters, status never
      go backwards), so "a cancelled batch has no recipient outside terminal states" is
      checked on the recipients;
    - `list_agrees_with_get`: after a 2xx list, each listed batch (first `LIST_FOLLOW_UPS`)
      agrees with a GET of it;
    - `observations_monotonic`: every observation of a batch within one scenario is not
      behind the previous one.
* `World`: the state every stateless case starts from on the mock: a fresh app holding
  batches in each state; generated `batch_id`s are pinned to them (or left as drawn, for
  404s) so get/cancel/retry/delete/export reach their 2xx answers.
* `Reachability`: the canary: an operation that never answered 2xx fails the run.
* `live_safe_body()`: a generated submit body rewritten to what a live run may send.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import time
import tomllib
import weakref
import zlib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig

from conformance.invariants import (
    InvariantViolation,
    check_batch,
    check_list_item_agrees,
    check_monotonic,
    check_response,
)

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_FILE = ROOT / "schemathesis.toml"
#: `CONFORMANCE_FUZZ=deep`: the nightly run (more examples, longer stateful runs).
DEEP = {
    "generation": {"max-examples": 1000},
    "phases": {"stateful": {"max-steps": 30}},
}
#: Stateful scenarios (Hypothesis examples of the state machine) per run.
STATEFUL_SCENARIOS = {"ci": 60, "deep": 600}
OPERATION_IDS = ("submitBatchCall", "listBatchCalls", "getBatchCall", "cancelBatchCall",
                 "retryBatchCall", "deleteBatchCall", "exportBatchCall")
MUTATING = frozenset({"submitBatchCall", "cancelBatchCall", "retryBatchCall",
                      "deleteBatchCall"})
BATCH_ID_OPERATIONS = frozenset({"getBatchCall", "cancelBatchCall", "retryBatchCall",
                                 "deleteBatchCall", "exportBatchCall"})
LIST_FOLLOW_UPS = 3
#: Live: a fuzzed submit is scheduled this far ahead (the safety policy wants >= 30 days).
LIVE_SCHEDULE_AHEAD = 40 * 24 * 3600
LIVE_MAX_RECIPIENTS = 2


def depth(env: Mapping[str, str] = os.environ) -> str:
    value = env.get("CONFORMANCE_FUZZ", "ci").strip().lower() or "ci"
    if value not in STATEFUL_SCENARIOS:
        raise ValueError(f"CONFORMANCE_FUZZ={value!r}: use ci or deep")
    return value


def _merge(base: dict, overlay: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def settings_dict(level: str | None = None) -> dict:
    """The root schemathesis.toml as a dict, with the `deep` overlay when asked for."""
    data = tomllib.loads(SETTINGS_FILE.read_text())
    if (level or depth()) == "deep":
        data = _merge(data, DEEP)
    return data


def load_config(level: str | None = None) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(settings_dict(level), base_dir=str(ROOT))


def load_schema(vendor: str, level: str | None = None):
    """The vendor's dialect of the bundled spec as a Schemathesis schema."""
    from conformance.spec import load_spec

    return schemathesis.openapi.from_dict(copy.deepcopy(load_spec(vendor)),
                                          config=load_config(level))


def state_machine(schema):
    """`schema.as_state_machine()` whose scenarios may start with submit.

    Schemathesis 4.32.5 only starts scenarios with operations it deems reliable; its
    dependency analysis reads submit's `agent_id` / `agent_phone_number_id` / `branch_id` as
    references to resources no operation produces, so submit (the only producer of batches)
    would never start one and the spec's links would never be followed. Submit's inferred
    inputs are dropped before the machine is built (nothing else uses them here).
    """
    submit = schema.find_operation_by_id("submitBatchCall")
    node = schema.analysis.dependency_graph.operations.get(submit.label)
    if node is not None:
        node.inputs = []
    return schema.as_state_machine()


# ------------------------------------------------------------------------------ helpers


def operation_id(case) -> str | None:
    return case.operation.definition.raw.get("operationId")


def base_path_of(case) -> str:
    """The dialect's base path, read off the operation's path template."""
    path = case.operation.path
    for suffix in ("/submit", "/workspace", "/{batch_id}/cancel", "/{batch_id}/retry",
                   "/{batch_id}/export", "/{batch_id}"):
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path.rsplit("/", 1)[0]


def _json_or_none(text_or_obj: Any) -> Any:
    if isinstance(text_or_obj, (bytes, str)):
        try:
            return json.loads(text_or_obj)
        except ValueError:
            return None
    return text_or_obj


def _content_type(response) -> str:
    value = response.headers.get("content-type") or response.headers.get("Content-Type")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "")


def _body(response) -> Any:
    if "json" not in _content_type(response):
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _sent_body(case) -> Any:
    body = case.body
    return body if isinstance(body, (dict, list)) else None


def _is_positive(case) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


# -------------------------------------------------------------------- follow-up requests


def _follow_up(ctx, case, op_id: str, batch_id: str):
    """Send a GET-like request of operation `op_id` for `batch_id` with the case's transport
    (same app / session / base URL, same credentials). Returns the Schemathesis Response."""
    schema = case.operation.schema
    operation = schema.find_operation_by_id(op_id)
    headers = {}
    for source in (ctx.internals.headers or {}, case.headers or {}):
        for name, value in source.items():
            if name.lower() in ("xi-api-key", "x-api-key", "authorization"):
                headers[name] = value
    follow = operation.Case(path_parameters={"batch_id": batch_id}, headers=headers)
    kwargs = dict(ctx.internals.transport_kwargs or {})
    if case.operation.app is not None:
        kwargs.setdefault("app", case.operation.app)
    ctx.internals.record_case(parent_id=case.id, case=follow)
    if "app" in kwargs:
        from schemathesis import transport

        response = transport.get(kwargs["app"]).send(follow, **kwargs)
    else:
        response = schema.transport.send(follow, **kwargs)
    ctx.internals.record_response(case_id=follow.id, response=response)
    return response


# -------------------------------------------------------------------- memory per scenario


class Observations:
    """The last observation of each batch, per scenario (see `scope_of`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_scope: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._global: dict[tuple[str, str], dict] = {}

    def see(self, scope: Any, batch: Mapping) -> Mapping | None:
        """Record `batch`; return the previous observation of the same id in `scope`."""
        batch_id = batch.get("id")
        if not isinstance(batch_id, str):
            return None
        snapshot = {k: v for k, v in batch.items() if k != "recipients"}
        with self._lock:
            if isinstance(scope, str):
                table = self._global
                key: Any = (scope, batch_id)
            else:
                table = self._by_scope.setdefault(scope, {})
                key = batch_id
            previous = table.get(key)
            table[key] = snapshot
        return previous


OBSERVATIONS = Observations()


def scope_of(ctx, case) -> Any:
    """A scenario's identity: the in-process app (a fresh one per case or scenario), else
    the base URL (live: ids are unique there)."""
    kwargs = ctx.internals.transport_kwargs or {}
    app = kwargs.get("app") or case.operation.app
    if isinstance(app, AppSwitch):
        app = app.current
    if app is not None:
        return app
    return str(kwargs.get("base_url") or case.operation.base_url or "")


# -------------------------------------------------------------------------------- checks


@schemathesis.check
def batch_invariants(ctx, response, case) -> bool | None:
    """Counters, timestamps, status sets, echo of the submit body, id of the path."""
    if not 200 <= response.status_code < 300:
        return True
    body = _body(response)
    if body is None:
        return True
    check_response(case.method, case.formatted_path, response.status_code, _sent_body(case),
                   body, base_path_of(case))
    return None


@schemathesis.check
def batch_settles(ctx, response, case) -> bool | None:
    """After a 2xx submit, cancel or retry, a GET of the batch agrees with the answer."""
    op = operation_id(case)
    if op not in ("submitBatchCall", "cancelBatchCall", "retryBatchCall"):
        return True
    if not 200 <= response.status_code < 300:
        return True
    answer = _body(response)
    if not isinstance(answer, Mapping) or not isinstance(answer.get("id"), str):
        return True
    follow = _follow_up(ctx, case, "getBatchCall", answer["id"])
    if follow.status_code != 200:
        raise InvariantViolation(
            "monotonic.same_id",
            f"{op} answered {response.status_code} for batch {answer['id']!r} but a GET of it "
            f"answered {follow.status_code}")
    detailed = _body(follow)
    if not isinstance(detailed, Mapping):
        return None
    check_batch(detailed, previous={k: v for k, v in answer.items() if k != "recipients"})
    if op == "cancelBatchCall" and detailed.get("status") != "cancelled":
        raise InvariantViolation("cancel.status_cancelled",
                                 f"GET after cancel shows status {detailed.get('status')!r}")
    return None


@schemathesis.check
def list_agrees_with_get(ctx, response, case) -> bool | None:
    """Each listed batch (the first few) agrees with a GET of it."""
    if operation_id(case) != "listBatchCalls" or response.status_code != 200:
        return True
    page = _body(response)
    items = page.get("batch_calls") if isinstance(page, Mapping) else None
    if not isinstance(items, list):
        return True
    for item in items[:LIST_FOLLOW_UPS]:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            continue
        follow = _follow_up(ctx, case, "getBatchCall", item["id"])
        if follow.status_code != 200:
            raise InvariantViolation(
                "list.agrees_with_get",
                f"batch {item['id']!r} is listed but a GET of it answered {follow.status_code}")
        detailed = _body(follow)
        if isinstance(detailed, Mapping):
            check_list_item_agrees(item, detailed, detailed_is_later=True)
    return None


@schemathesis.check
def observations_monotonic(ctx, response, case) -> bool | None:
    """Within a scenario, no observation of a batch is behind the previous one."""
    if not 200 <= response.status_code < 300:
        return True
    body = _body(response)
    op = operation_id(case)
    if op == "listBatchCalls":
        batches = body.get("batch_calls") if isinstance(body, Mapping) else None
    else:
        batches = [body]
    if not isinstance(batches, list):
        return True
    scope = scope_of(ctx, case)
    for batch in batches:
        if not isinstance(batch, Mapping):
            continue
        previous = OBSERVATIONS.see(scope, batch)
        if previous is not None:
            check_monotonic(previous, {k: v for k, v in batch.items() if k != "recipients"})
    return None


DOMAIN_CHECKS = (batch_invariants, batch_settles, list_agrees_with_get,
                 observations_monotonic)


# ------------------------------------------------------------- preparing generated bodies


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
            recipient[key] = (f"wa_fuzz_{index:04d}" if whatsapp
                              else fictional_number(index))
    return body


def fictional_number(index: int) -> str:
    """+1 NPA 555-0100..0199 (area codes 201..): on the mock, even indexes complete (XX =
    00..09) and odd ones fail (XX = 10..19), so batches become retryable."""
    xx = (index // 2) % 10 + (10 if index % 2 else 0)
    return f"+1{201 + (index // 20) % 700:03d}55501{xx:02d}"


_NAME_CHARS = re.compile(r"[^A-Za-z0-9 _.-]+")


def live_safe_body(body: Any, name_prefix: str, now: int, *,
                   max_recipients: int = LIVE_MAX_RECIPIENTS) -> dict | None:
    """A generated submit body as a live run may send it, or None (not an object: unsendable).

    recipients: at most `max_recipients`, each only a fictional `phone_number`
    (+1 NPA 555-01XX) plus the generated `id` and client data; `whatsapp_params` dropped;
    `scheduled_time_unix` = now + 40 days; `call_name` = the run's prefix + a sanitized
    remainder of the generated name. Everything else is kept as generated.
    """
    if not isinstance(body, dict):
        return None
    out = copy.deepcopy(body)
    generated = out.get("call_name")
    tail = _NAME_CHARS.sub("", generated)[:40] if isinstance(generated, str) else ""
    out["call_name"] = f"{name_prefix}fuzz-{tail}".rstrip()
    recipients = out.get("recipients")
    recipients = recipients if isinstance(recipients, list) else []
    safe = []
    for index, recipient in enumerate(recipients[:max_recipients] or [{}]):
        item = {"phone_number": fictional_number(index)}
        if isinstance(recipient, dict):
            if isinstance(recipient.get("id"), str):
                item["id"] = recipient["id"]
            if recipient.get("conversation_initiation_client_data") is not None:
                item["conversation_initiation_client_data"] = recipient[
                    "conversation_initiation_client_data"]
        safe.append(item)
    out["recipients"] = safe
    out.pop("whatsapp_params", None)
    out["scheduled_time_unix"] = int(now) + LIVE_SCHEDULE_AHEAD
    return out


#: Set while the pytest harness sends a case whose query it has already pinned against its
#: own mock world (with a cursor that world issued); the hook below must not undo that.
_QUERY_PINNED: ContextVar[bool] = ContextVar("conformance_query_pinned", default=False)


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    """Every positive case, from pytest or from `st run`, is made positive for the API:
    a submit satisfies the recipient rule, a query is mapped into the accepted range."""
    if operation_id(case) == "submitBatchCall" and _is_positive(case):
        satisfy_recipient_rule(case.body)
    if not _QUERY_PINNED.get():
        pin_query(case)


# ------------------------------------------------------------------------- mock world


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

        # Due now: one completes (00), one fails (10): a completed batch retry accepts.
        ids["completed"] = submit("completed", ["+12015550100", "+12015550110"], None)
        # Long calls (09: 300 s talk), caught mid-way.
        ids["in_progress"] = submit("in-progress", ["+12015550109", "+12015550108"], now + 60)
        ids["cancelled"] = submit("cancelled", ["+12015550101", "+12015550102",
                                                "+12015550103"], now + 30 * 86400)
        ids["pending"] = submit("pending", ["+12015550104", "+12015550105"],
                                now + 30 * 86400)
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
        from schemathesis.core.parameters import ParameterLocation

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
        from schemathesis.core.parameters import ParameterLocation

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
    if not _is_positive(case) or not isinstance(case.query, dict):
        return
    op = operation_id(case)
    minimum = QUERY_MINIMUM.get(op)
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


# -------------------------------------------------------------------------- the canary


class Reachability:
    """Which operations answered 2xx at least once. The canary: a run in which an operation
    never did (a wrong key makes every answer 401, a broken route every answer 404) must
    fail, not pass."""

    def __init__(self) -> None:
        self.statuses: dict[str, dict[int, int]] = {}

    def record(self, operation: str, status: int) -> None:
        table = self.statuses.setdefault(operation, {})
        table[status] = table.get(status, 0) + 1

    def reached(self, operation: str) -> bool:
        return any(200 <= s < 300 for s in self.statuses.get(operation, {}))

    def verdict(self, operation: str) -> str | None:
        """None when `operation` answered 2xx at least once, else why this is a failure."""
        if self.reached(operation):
            return None
        seen = self.statuses.get(operation, {})
        total = sum(seen.values())
        detail = ", ".join(f"{s}x{n}" for s, n in sorted(seen.items())) or "no response"
        return (f"canary: {operation} never answered 2xx in {total} generated request(s) "
                f"({detail}); a run that never reaches the operation's success path proves "
                "nothing about it (wrong key? wrong base URL? every request rejected?)")


# --------------------------------------------------------------- live: httpx transport


def send_httpx(client, case, *, base_url: str, headers: Mapping[str, str]):
    """Send `case` with an httpx.Client (whose transport is the SafetyTransport)."""
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=dict(headers))
    request = {"method": kwargs["method"], "url": kwargs["url"],
               "headers": kwargs.get("headers") or {}, "params": kwargs.get("params")}
    if kwargs.get("json") is not None or "json" in kwargs:
        request["content"] = json.dumps(kwargs["json"]).encode()
        request["headers"] = {**request["headers"], "Content-Type": "application/json"}
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data if isinstance(data, (bytes, str)) else json.dumps(data)
    return client.request(**request)


class HttpxSession:
    """A `requests.Session` look-alike that sends through an httpx.Client, so requests a
    Schemathesis check re-sends (ignored_auth, our follow-up GETs) also pass the live guard."""

    def __new__(cls, client):
        import requests

        class _Adapter(requests.adapters.BaseAdapter):
            def send(self, request, **_):
                answer = client.request(request.method, request.url,
                                        headers=dict(request.headers),
                                        content=request.body)
                response = requests.Response()
                response.status_code = answer.status_code
                response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
                response._content = answer.content
                response.url = str(answer.request.url)
                response.request = request
                response.reason = answer.reason_phrase
                response.encoding = answer.encoding
                import datetime

                response.elapsed = datetime.timedelta(0)
                return response

            def close(self):
                pass

        session = requests.Session()
        session.trust_env = False
        session.mount("http://", _Adapter())
        session.mount("https://", _Adapter())
        return session


# ------------------------------------------------------------------ the per-case runner


class CaseRunner:
    """Runs one generated case against the target and validates it with every check.

    mock: a fresh `World` per case behind one `AppSwitch`; batch ids and positive queries
    pinned. live: through `live_client` (an httpx client whose transport is the
    SafetyTransport); a submit is sent only when positive, rewritten by `live_safe_body`,
    and at most `live_submits` times (negative or over-budget submits are generated but not
    sent: `skipped_unsafe` counts them). Statuses go to `reach` (the canary)."""

    def __init__(self, target, name_prefix: str, live_client=None, *,
                 live_submits: int = 6):
        self.target = target
        self.max_live_submits = live_submits
        self.name_prefix = name_prefix
        self.live_client = live_client
        self.headers = {target.profile.auth_header: target.api_key}
        self.reach = Reachability()
        self.operation: str | None = None
        self.live_submits = 0
        self.skipped_unsafe = 0
        self.switch = AppSwitch()

    def run(self, case) -> None:
        op = operation_id(case)
        self.operation = op
        if self.target.kind == "mock":
            self._mock(case, op)
        else:
            self._live(case, op)

    def _mock(self, case, op: str) -> None:
        from conformance.targets import MOCK_KEYS, build_mock_app

        # The world's batches belong to the mock's first workspace, whatever key this run
        # sends (a wrong one must see 401s, not a crash).
        world = World.build(lambda: build_mock_app(self.target), MOCK_KEYS[0])
        pin_batch_id(case, world)
        pin_query(case, world)
        self.switch.current = world.app
        # Schemathesis' own probes (ignored_auth, ...) send through the operation's app.
        case.operation.app = case.operation.schema.app = self.switch
        headers = credentials_for(case, self.headers)
        token = _QUERY_PINNED.set(True)
        try:
            response = case.call(headers=headers)
        finally:
            _QUERY_PINNED.reset(token)
        self.reach.record(op, response.status_code)
        case.validate_response(response, headers=headers,
                               transport_kwargs={"app": self.switch, "headers": headers})

    def _live_batches(self) -> list[str]:
        """Ids of batches this run created; submits one safe batch when there is none."""
        ledger = self.live_client._transport.ledger
        if not ledger.ids():
            body = live_safe_body({"agent_id": "agent_conformance_0001"}, self.name_prefix,
                                  int(time.time()))
            self.live_client.post(f"{self.target.profile.base_path}/submit", json=body,
                                  headers=self.headers)
        return ledger.ids()

    def pin_live_batch(self, case) -> None:
        """Point `batch_id` at a batch this run created: reads keep a drawn id one time in
        n+1 (a 404 is a fine answer); cancel/retry/delete always get one of the run's own
        batches, the only ones the live guard lets them touch."""
        params = case.path_parameters or {}
        if "batch_id" not in params:
            return
        ids = self._live_batches()
        if operation_id(case) in MUTATING:
            if params["batch_id"] not in ids:
                slot = zlib.crc32(str(params["batch_id"]).encode("utf-8", "surrogatepass"))
                params["batch_id"] = ids[slot % len(ids)]
            return
        params["batch_id"] = World(None, {f"b{i}": b for i, b in enumerate(ids)}).pin(
            params["batch_id"])

    def _live(self, case, op: str) -> None:
        pin_query(case)
        if case.method.lower() != case.operation.method.lower() and case.method.upper() not in (
                "GET", "HEAD", "OPTIONS"):
            # An undocumented-method probe (coverage phase): the live guard refuses unknown
            # mutating requests, so it is generated but not sent.
            self.skipped_unsafe += 1
            return
        if op == "submitBatchCall":
            safe = None
            if _is_positive(case) and self.live_submits < self.max_live_submits:
                safe = live_safe_body(case.body, self.name_prefix, int(time.time()))
            if safe is None:
                self.skipped_unsafe += 1   # negative or over budget: generated, not sent
                return
            self.live_submits += 1
            case.body = safe
        self.pin_live_batch(case)
        headers = credentials_for(case, self.headers)
        response = send_httpx(self.live_client, case, base_url=self.target.base_url,
                              headers=headers)
        self.reach.record(op, response.status_code)
        case.validate_response(
            response, headers=headers,
            transport_kwargs={"session": HttpxSession(self.live_client),
                              "base_url": self.target.base_url, "headers": headers})
