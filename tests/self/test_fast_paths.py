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
