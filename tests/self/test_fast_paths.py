"""The mock's fast paths give exactly what the reference paths give.

Two speed-ups of the hot path (benchmarks/README.md) would be silent bugs if they drifted:
the compiled validator (`jsonschema_rs`) deciding validity before the reference
(`jsonschema`) is asked for errors, and the per-batch cache of encoded responses. Both are
checked against their reference on generated data, through whole lifecycles.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.mock import create_app
from conformance.mock.outcomes import NUMBERS
from conformance.mock.shaping import CachingEncoder, Encoder
from conformance.spec import load_spec, schema_validator

SETTINGS = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)   # JSON has neither
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _replace(node, path, value):
    if not path:
        return value
    out = copy.deepcopy(node)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def _seeds():
    """(dialect, schema name, a valid instance) from the spec's own examples."""
    for vendor in ("elevenlabs", "voiceai"):
        spec = load_spec(vendor)
        schemas = spec["components"]["schemas"]
        for name, schema in schemas.items():
            for example in schema.get("examples", []) + (
                    [schema["example"]] if "example" in schema else []):
                yield vendor, name, example
        for path_item in spec["paths"].values():
            for op in path_item.values():
                if not isinstance(op, dict):
                    continue
                for media in ((op.get("requestBody") or {}).get("content") or {}).values():
                    ref = media.get("schema", {}).get("$ref", "")
                    for example in (media.get("examples") or {}).values():
                        if ref and "value" in example:
                            yield vendor, ref.rsplit("/", 1)[1], example["value"]


SEEDS = list(_seeds())


def test_the_seeds_cover_the_request_and_the_responses():
    """The agreement test below starts from the request body and the batch responses."""
    for vendor in ("elevenlabs", "voiceai"):
        names = {name for v, name, _ in SEEDS if v == vendor}
        assert {"SubmitBatchCallRequest", "BatchCallResponse",
                "BatchCallDetailedResponse"} <= names


@pytest.mark.parametrize("vendor,name,seed", SEEDS,
                         ids=[f"{v}-{n}-{i}" for i, (v, n, _) in enumerate(SEEDS)])
@SETTINGS
@given(data=st.data())
def test_compiled_validator_agrees_with_the_reference(vendor, name, seed, data):
    """For any instance near a valid one, the fast path accepts exactly what the reference
    accepts: a disagreement would let the mock accept a body it must reject (or the suite
    pass a response it must fail)."""
    spec = load_spec(vendor)
    validator = schema_validator(spec, {"$ref": f"#/components/schemas/{name}"})
    paths = list(_paths(seed))
    path = data.draw(st.sampled_from(paths))
    instance = _replace(seed, path, data.draw(JSON)) if data.draw(st.booleans()) else seed
    reference_ok = not list(validator.reference.iter_errors(instance))
    assert validator.fast.is_valid(instance) == reference_ok, (path, instance)


# ------------------------------------------------------------------ the response cache

#: (operation, which batch, a size, then seconds the clock moves): every step lets time
#: pass, so documents cached at one instant are read again at the next.
OPS = st.lists(st.tuples(
    st.sampled_from(["submit", "get", "list", "cancel", "retry", "delete"]),
    st.integers(0, 5), st.integers(1, 400), st.integers(0, 120)), min_size=1, max_size=20)


def _drive(app, ops):
    """Apply `ops` to one app through HTTP; return every response's (status, body)."""
    from starlette.testclient import TestClient

    http = TestClient(app)
    base = app.state.profile.base_path
    headers = {app.state.profile.auth_header: "mock-key-local"}
    numbers = [NUMBERS[k] for k in sorted(NUMBERS)]
    ids: list[str] = []
    seen = []
    for op, pick, amount, seconds in ops:
        target = ids[pick % len(ids)] if ids else "btcal_unknown"
        if op == "submit":
            body = {"call_name": f"c{amount}", "agent_id": f"agent_{pick % 2}",
                    "target_concurrency_limit": 1 + pick % 3,
                    "recipients": [{"phone_number": numbers[(amount + i) % len(numbers)]}
                                   for i in range(1 + amount % 6)]}
            r = http.post(f"{base}/submit", json=body, headers=headers)
            if r.status_code == 200:
                ids.append(r.json()["id"])
        elif op == "get":
            r = http.get(f"{base}/{target}", headers=headers)
        elif op == "list":
            r = http.get(f"{base}/workspace", params={"limit": 1 + pick}, headers=headers)
        elif op in ("cancel", "retry"):
            r = http.post(f"{base}/{target}/{op}", headers=headers)
        else:
            r = http.delete(f"{base}/{target}", headers=headers)
        seen.append((op, r.status_code, _body(r)))
        app.state.store.advance(seconds)
        # Observe every batch and the list after every step, so a stale document shows.
        for batch_id in ids:
            r = http.get(f"{base}/{batch_id}", headers=headers)
            seen.append(("observe", r.status_code, _body(r)))
        r = http.get(f"{base}/workspace", headers=headers)
        seen.append(("observe-list", r.status_code, _body(r)))
    return seen


def _body(response):
    body = response.json() if response.content else None
    if isinstance(body, dict) and isinstance(body.get("detail"), dict):
        body["detail"].pop("request_id", None)   # random per error by design
    return body


#: Faults that write state (store hooks) or change shaping, and the alternate choice set:
#: the cache must give what a fresh encoding gives under each of them.
CACHE_CASES = [
    ("elevenlabs", (), "default"), ("voiceai", (), "default"),
    ("elevenlabs", ("cancel-leaves-one-pending",), "default"),
    ("elevenlabs", ("retry-count-not-incremented", "finished-recipient-cancelled"), "default"),
    ("voiceai", ("conversation-id-never-set", "finished-exceeds-dispatched"), "default"),
    ("elevenlabs", ("soft-delete", "concurrency-limit-exceeded"), "default"),
    ("elevenlabs", (), "alternate"),
    ("voiceai", ("cancel-leaves-one-pending", "retry-count-not-incremented"), "alternate"),
]


@pytest.mark.parametrize("vendor,faults,choices", CACHE_CASES,
                         ids=[f"{v}-{'+'.join(f) or 'clean'}-{c}" for v, f, c in CACHE_CASES])
@settings(max_examples=15, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(ops=OPS)
def test_cached_responses_equal_fresh_ones(vendor, faults, choices, ops):
    """Through any sequence of operations and clock moves, the mock with its response
    cache answers byte for byte (as JSON) what the mock without it answers, with faults
    on and under either choice set."""
    cached = create_app(vendor, faults=faults, choices=choices)
    fresh = create_app(vendor, faults=faults, choices=choices, response_cache=False)
    assert isinstance(cached.state.parts.encoder, CachingEncoder)
    assert type(fresh.state.parts.encoder) is Encoder
    assert _drive(cached, ops) == _drive(fresh, ops)


#: A lifecycle in which a stale cached document shows: submit, let calls move, cancel.
STALE = [("submit", 0, 3, 2), ("get", 0, 1, 5), ("list", 0, 1, 30), ("cancel", 0, 1, 1),
         ("get", 0, 1, 1)]


@pytest.mark.parametrize("faults", [(), ("cancel-leaves-one-pending",),
                                    ("retry-count-not-incremented",)])
def test_the_equivalence_test_catches_a_broken_cache(monkeypatch, faults):
    """The comparison above is not vacuous: a cache whose stamp never moves (or that
    ignores the version the store bumps after a fault's hook) answers differently."""
    ops = STALE + [("retry", 0, 1, 1), ("get", 0, 1, 1)]
    fresh = _drive(create_app("elevenlabs", faults=faults, response_cache=False), ops)
    assert _drive(create_app("elevenlabs", faults=faults), ops) == fresh
    monkeypatch.setattr(CachingEncoder, "stamp", staticmethod(lambda b: 0))
    assert _drive(create_app("elevenlabs", faults=faults), ops) != fresh


def test_encoder_falls_back_for_integers_beyond_64_bits():
    from conformance.mock.shaping import dumps as _dumps

    assert json.loads(_dumps({"n": 2**80})) == {"n": 2**80}


# ------------------------------------------------------ parsing and bounds of a request body

JSON_TEXT = st.one_of(
    JSON.map(lambda v: json.dumps(v)),
    st.text(alphabet='{}[]":,0123456789.eE+- tnrufalsNIy\\\ud800a', max_size=40),
    st.sampled_from(["1e400", "-1e400", "NaN", "[Infinity]", "12345678901234567890123",
                     '"\\ud800"', "\ufeff{}", '{"a":1,"a":2}', "[" * 70 + "]" * 70,
                     "[1.0e-400]", " [1] ", "-0"]))


@SETTINGS
@given(text=JSON_TEXT)
def test_fast_parse_and_bounds_agree_with_the_reference(text):
    """`parse` (orjson first) reads exactly what `json.loads` reads, and refuses what it
    refuses; `within_bounds` is True only where `check_document` finds nothing."""
    from conformance.mock.validation import _reject_constant, check_document, parse, within_bounds

    raw = text.encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        with pytest.raises(type(exc)):
            parse(raw)
        return
    got = parse(raw)
    assert json.dumps(got) == json.dumps(expected) and type(got) is type(expected)
    if within_bounds(got):
        assert check_document(got, ["body"]) == []


@pytest.mark.parametrize("document", [[[[]]] * 2, {"a": float("inf")}, [[]] * 10,
                                      [0] * 300_001, json.loads("[" * 70 + "]" * 70)])
def test_within_bounds_refuses_what_check_document_refuses(document):
    from conformance.mock.validation import check_document, within_bounds

    if check_document(document, ["body"]):
        assert not within_bounds(document)


# ------------------------------------------------- the ASGI fast paths beside the app's own

def _asgi(app, method, path, query=b"", headers=(), body=b"", chunks=1):
    """One request straight into the ASGI app: (status, headers, body bytes)."""
    import asyncio

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query, "root_path": "", "headers": list(headers),
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    size = max(1, -(-len(body) // chunks))
    parts = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    incoming = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
                for i, p in enumerate(parts)]
    out = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        out.append(message)

    asyncio.run(app(scope, receive, send))
    start = out[0]
    return start["status"], start["headers"], b"".join(m.get("body", b"") for m in out[1:])


def _comparable(answer):
    status, headers, body = answer
    if status >= 400:   # error bodies carry a random request id by design
        parsed = json.loads(body) if body else None
        if isinstance(parsed, dict) and isinstance(parsed.get("detail"), dict):
            parsed["detail"].pop("request_id", None)
        body = parsed
        headers = [h for h in headers if h[0] != b"content-length"]
    return status, headers, body


KEYS = st.sampled_from([None, "mock-key-local", "mock-key-other", "wrong", ""])
CONTENT_TYPES = st.sampled_from([None, "application/json", "application/json; charset=utf-8",
                                 "text/plain", "application/merge-patch+json", "APPLICATION/JSON"])
REQUESTS = st.lists(st.one_of(
    st.tuples(st.just("submit"), KEYS, CONTENT_TYPES,
              st.one_of(st.builds(lambda n, name: json.dumps(
                  {"call_name": name, "agent_id": "agent_a",
                   "recipients": [{"phone_number": NUMBERS[k]} for k in sorted(NUMBERS)[:n]]}),
                  st.integers(0, 4), st.text(max_size=5)), JSON_TEXT),
              st.integers(1, 3)),
    st.tuples(st.just("get"), KEYS, st.sampled_from(["first", "btcal_unknown", "workspace",
                                                     "submit", "", "a/b", "btcal_x"]),
              st.none(), st.none()),
    st.tuples(st.just("list"), KEYS, st.sampled_from(
        [b"", b"limit=100", b"limit=1", b"limit=0", b"limit=abc", b"limit=2&last_doc=x",
         b"agent_id=agent_a", b"limit=1&last_doc=NEXT", b"limit=99999999999999999999999"]),
        st.none(), st.none())), min_size=1, max_size=12)


@pytest.mark.parametrize("vendor,choices", [("elevenlabs", "default"), ("voiceai", "default"),
                                            ("elevenlabs", "alternate")])
@settings(max_examples=25, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(requests=REQUESTS)
def test_fast_paths_answer_what_the_app_answers(vendor, choices, requests):
    """Any sequence of submits (valid, invalid, oversized in elements, any content type,
    any key), gets and list pages: the app with its fast paths answers status, headers and
    bytes exactly as the app without them."""
    apps = [create_app(vendor, choices=choices, fast_paths=on) for on in (True, False)]
    header = apps[0].state.profile.auth_header.encode()
    base = apps[0].state.profile.base_path
    answers = [[], []]
    for side, app in enumerate(apps):
        ids, cursor = [], b""
        for op, key, a, b, c in requests:
            headers = [(b"host", b"t")] + ([(header, key.encode())] if key is not None else [])
            if op == "submit":
                if a is not None:
                    headers.append((b"content-type", a.encode()))
                body = b.encode("utf-8", "surrogatepass")
                headers.append((b"content-length", str(len(body)).encode()))
                answer = _asgi(app, "POST", f"{base}/submit", headers=headers, body=body,
                               chunks=c)
                if answer[0] == 200:
                    ids.append(json.loads(answer[2])["id"])
            elif op == "get":
                batch_id = (ids[0] if ids else "btcal_none") if a == "first" else a
                answer = _asgi(app, "GET", f"{base}/{batch_id}", headers=headers)
            else:
                query = a.replace(b"NEXT", cursor)
                answer = _asgi(app, "GET", f"{base}/workspace", query=query, headers=headers)
                if answer[0] == 200:
                    cursor = (json.loads(answer[2]).get("next_doc") or "").encode()
            answers[side].append(_comparable(answer))
            app.state.store.advance(7)
    assert answers[0] == answers[1]


def test_the_fast_paths_answer_without_the_app():
    """Not vacuous: a successful get, list and submit never reach the Starlette app, and
    what does not succeed reaches it with its body intact."""
    from conformance.mock.fastpath import FastPaths

    app = create_app("elevenlabs")
    reached = []

    async def inner(scope, receive, send):
        message = await receive()
        reached.append((scope["path"], message.get("body", b"")))
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    fast = FastPaths(inner, app.state.parts)
    base, key = app.state.profile.base_path, [(b"xi-api-key", b"mock-key-local")]
    body = json.dumps({"call_name": "c", "agent_id": "a",
                       "recipients": [{"phone_number": NUMBERS["completes"]}]}).encode()
    status, _, out = _asgi(fast, "POST", f"{base}/submit", headers=key, body=body, chunks=2)
    assert status == 200
    batch_id = json.loads(out)["id"]
    assert _asgi(fast, "GET", f"{base}/{batch_id}", headers=key)[0] == 200
    assert _asgi(fast, "GET", f"{base}/workspace", b"limit=5", headers=key)[0] == 200
    assert reached == []
    assert _asgi(fast, "POST", f"{base}/submit", headers=key, body=b"{", chunks=1)[0] == 599
    assert _asgi(fast, "GET", f"{base}/btcal_unknown", headers=key)[0] == 599
    assert reached == [(f"{base}/submit", b"{"), (f"{base}/btcal_unknown", b"")]
