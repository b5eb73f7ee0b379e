"""Hostile input against the mock SERVED on loopback: no 5xx, nothing leaked, still answering.

Each row is a request and the status class it must get; after every row the server must
still answer a plain list. Rows run in both dialects against a real uvicorn server on
127.0.0.1 (conformance.mock.server.served, the options `conformance-mock` serves with).
The bounds these rows probe are written down in conformance/mock/README.md ("Bounds").
"""

from __future__ import annotations

import json
import socket
import tracemalloc
from dataclasses import dataclass, field

import httpx
import pytest

from conformance.mock import create_app
from conformance.mock.server import served
from conformance.profiles import load_profile

KEY, OTHER_KEY = "mock-key-local", "mock-key-other"
PHONE = "+14155550100"
FAR = 1767225600 + 40 * 24 * 3600


def body(**changes) -> dict:
    return {"call_name": "cst-hostile", "agent_id": "agent_1",
            "recipients": [{"phone_number": PHONE}], **changes}


def raw_json(text: str) -> bytes:
    """A body written by hand (escapes json.dumps would not produce, numbers it would not)."""
    return text.encode()


@dataclass
class Row:
    name: str
    method: str
    path: str                  # after the dialect's base path, or /_mock/... as is
    expect: int                # status class: 2, 4
    content: bytes | None = None
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    exact: int | None = None   # the exact status, when it matters
    key: str | None = KEY


DEEP = b"[" * 100_000 + b"]" * 100_000
SUB = "/submit"
ROWS = [
    # Lone surrogates and big integers are valid JSON the spec allows: kept, sent back exactly.
    Row("surrogate-call-name", "POST", SUB, 2, content=raw_json(
        '{"call_name":"cst-\\ud800","agent_id":"a","recipients":[]}')),
    Row("surrogate-phone-number", "POST", SUB, 2, content=raw_json(
        '{"call_name":"cst-x","agent_id":"a","recipients":[{"phone_number":"\\ud800"}]}')),
    Row("surrogate-dict-key", "POST", SUB, 2, content=raw_json(
        '{"call_name":"cst-x","agent_id":"a","recipients":[{"phone_number":"+14155550100",'
        '"conversation_initiation_client_data":{"dynamic_variables":{"\\udfff":1}}}]}')),
    Row("nested-100000-deep", "POST", SUB, 4, exact=422, content=DEEP),
    Row("nested-70-deep-in-extra-body", "POST", SUB, 4, exact=422, content=json.dumps(body(
        recipients=[{"phone_number": PHONE, "conversation_initiation_client_data": {
            "custom_llm_extra_body": json.loads('{"a":' * 70 + "1" + "}" * 70)}}])).encode()),
    Row("int-beyond-64-bits-with-1e400", "POST", SUB, 4, exact=422, content=raw_json(
        '{"call_name":"cst-x","agent_id":"a","recipients":[{"phone_number":"+14155550100",'
        '"conversation_initiation_client_data":{"dynamic_variables":'
        '{"x":1180591620717411303424,"y":1e400}}}]}')),
    Row("int-beyond-64-bits-alone", "POST", SUB, 2, content=raw_json(
        '{"call_name":"cst-x","agent_id":"a","recipients":[{"phone_number":"+14155550100",'
        '"conversation_initiation_client_data":{"dynamic_variables":'
        '{"x":1180591620717411303424}}}]}')),
    Row("float-overflow-alone", "POST", SUB, 4, exact=422, content=raw_json(
        '{"call_name":"cst-x","agent_id":"a","recipients":[{"phone_number":"+14155550100",'
        '"conversation_initiation_client_data":{"dynamic_variables":{"y":1e400}}}]}')),
    Row("schedule-beyond-64-bits", "POST", SUB, 2, content=raw_json(
        '{"call_name":"cst-x","agent_id":"a","recipients":[],"scheduled_time_unix":'
        + "9" * 30 + "}")),
    Row("int-5000-digits", "POST", SUB, 4, exact=422, content=raw_json(
        '{"call_name":"cst-x","agent_id":"a","recipients":[],"scheduled_time_unix":'
        + "9" * 5000 + "}")),
    Row("limit-5000-digits", "GET", "/workspace", 4, exact=422, params={"limit": "9" * 5000}),
    Row("export-limit-5000-digits", "GET", "/btcal_000000000000000000000000/export", 4,
        exact=422, params={"limit": "9" * 5000}),
    Row("limit-arabic-indic-digits", "GET", "/workspace", 4, exact=422,
        params={"limit": "\u0661\u0662"}),
    Row("limit-trailing-newline", "GET", "/workspace", 4, exact=422, params={"limit": "5\n"}),
    Row("limit-negative-is-served", "GET", "/workspace", 2, params={"limit": "-279"}),
    Row("empty-last-doc-is-first-page", "GET", "/workspace", 2, params={"last_doc": ""}),
    Row("garbage-last-doc", "GET", "/workspace", 4, exact=422, params={"last_doc": "AAAA"}),
    Row("non-utf8-last-doc", "GET", "/workspace?last_doc=%FF%FE", 4, exact=422),
    Row("surrogate-in-query", "GET", "/workspace?agent_id=%ED%A0%80", 2),
    Row("surrogate-in-path", "GET", "/%ED%A0%80", 4),
    Row("long-batch-id", "GET", "/" + "b" * 8000, 4),
    Row("recipient-without-phone-number", "POST", SUB, 2, content=json.dumps(
        body(recipients=[{}], scheduled_time_unix=FAR)).encode()),
    Row("body-over-the-size-limit", "POST", SUB, 4, exact=413,
        content=b'{"call_name":"' + b"x" * (9 * 1024 * 1024) + b'"}'),
    Row("body-of-400000-tiny-elements", "POST", SUB, 4, exact=422, content=json.dumps(body(
        recipients=[{"phone_number": PHONE, "conversation_initiation_client_data": {
            "dynamic_variables": {f"v{i}": 0 for i in range(400_000)}}}])).encode()),
    Row("nan-literal", "POST", SUB, 4, exact=422, content=b'{"call_name": NaN}'),
    Row("nul-in-name-is-fine", "POST", SUB, 2, content=json.dumps(
        body(call_name="cst-\u0000", scheduled_time_unix=FAR)).encode()),
    Row("key-not-utf8", "GET", "/workspace", 4, exact=401, key=None,
        headers={"__auth__": b"\xff\xfe"}),
    Row("admin-clock-set-1e20", "POST", "/_mock/clock/set", 4, exact=400,
        content=b'{"now": 1e20}', key=None),
    Row("admin-clock-set-int-1e20", "POST", "/_mock/clock/set", 4, exact=400,
        content=b'{"now": 100000000000000000000}', key=None),
    Row("admin-clock-advance-beyond-year-9999", "POST", "/_mock/clock/advance", 4, exact=400,
        content=b'{"seconds": 9000000000000}', key=None),
    Row("admin-clock-nested-deep", "POST", "/_mock/clock/advance", 4, exact=400,
        content=DEEP, key=None),
]


@pytest.fixture(scope="module", params=["elevenlabs", "voiceai"])
def server(request):
    app = create_app(request.param, admin=True)
    with served(app) as base_url:
        yield app, base_url


def _send(app, base_url: str, row: Row) -> httpx.Response:
    profile = app.state.profile
    headers = {"content-type": "application/json"} if row.content is not None else {}
    for name, value in row.headers.items():
        headers[profile.auth_header if name == "__auth__" else name] = value
    if row.key:
        headers[profile.auth_header] = row.key
    path = row.path if row.path.startswith("/_mock") else profile.base_path + row.path
    with httpx.Client(base_url=base_url, timeout=60) as http:
        request = http.build_request(row.method, path, params=row.params or None,
                                     headers=headers, content=row.content)
        if "content-length" in row.headers:
            request.headers["content-length"] = row.headers["content-length"]
        return http.send(request)


def _still_answers(app, base_url: str) -> None:
    profile = app.state.profile
    response = httpx.get(base_url + profile.base_path + "/workspace",
                         headers={profile.auth_header: KEY}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    batch_calls = response.json()["batch_calls"]
    for batch in batch_calls[:3]:
        for suffix in ("", "/export"):
            got = httpx.get(f"{base_url}{profile.base_path}/{batch['id']}{suffix}",
                            headers={profile.auth_header: KEY}, timeout=30)
            assert got.status_code == 200, got.text[:300]
            if not suffix:
                assert got.json()["id"] == batch["id"]
    state = httpx.get(base_url + "/_mock/state", timeout=30)
    assert state.status_code == 200


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_hostile_request(server, row):
    """The row's request gets its status class (never 5xx), errors are JSON, and the server
    still answers list, get and the admin state afterwards."""
    app, base_url = server
    response = _send(app, base_url, row)
    assert response.status_code // 100 == row.expect, (response.status_code,
                                                       response.text[:300])
    if row.exact is not None:
        assert response.status_code == row.exact, response.text[:300]
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json")
        assert "detail" in response.json()
        assert KEY not in response.text and OTHER_KEY not in response.text
    _still_answers(app, base_url)


def _raw(base_url: str, data: bytes) -> bytes:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


RAW_ROWS = [
    ("headers-over-16-KiB", b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000
     + b"\r\n\r\n", b"431"),
    ("url-over-16-KiB", b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
     b"431"),
    ("malformed-request-line", b"GARBAGE\x00\x01 / HTTP/9.9\r\n\r\n", b"400"),
    ("content-length-beyond-the-limit", b"POST {base}/submit HTTP/1.1\r\nHost: a\r\n"
     b"Content-Type: application/json\r\nConnection: close\r\n{auth}: mock-key-local\r\n"
     b"Content-Length: 99999999999\r\n\r\n{}", b"413"),
    ("negative-content-length", b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
     b"400"),
]


@pytest.mark.parametrize("name,data,status", RAW_ROWS, ids=[r[0] for r in RAW_ROWS])
def test_malformed_http(server, name, data, status):
    """What the HTTP layer refuses is refused with a JSON body, and the server lives on."""
    app, base_url = server
    profile = app.state.profile
    data = data.replace(b"{base}", profile.base_path.encode()).replace(
        b"{auth}", profile.auth_header.encode())
    answer = _raw(base_url, data)
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == status, head
    assert b"application/json" in head.lower()
    assert "detail" in json.loads(rest)
    _still_answers(app, base_url)


def test_kept_values_come_back_exactly(server):
    """What the spec allows and orjson cannot encode is echoed exactly, as JSON escapes."""
    app, base_url = server
    profile = app.state.profile
    url = base_url + profile.base_path
    headers = {profile.auth_header: KEY, "content-type": "application/json"}
    sent = ('{"call_name":"cst-\\ud800","agent_id":"a","scheduled_time_unix":' + str(FAR)
            + ',"recipients":[{"phone_number":"+14155550100",'
            '"conversation_initiation_client_data":'
            '{"dynamic_variables":{"x":1180591620717411303424}}}]}')
    created = httpx.post(url + "/submit", headers=headers, content=sent.encode())
    assert created.status_code == 200
    assert b"\\ud800" in created.content
    got = json.loads(httpx.get(f"{url}/{created.json()['id']}", headers=headers).content)
    assert got["name"] == "cst-\ud800"
    client_data = got["recipients"][0]["conversation_initiation_client_data"]
    assert client_data["dynamic_variables"]["x"] == 1180591620717411303424


def test_cursors_are_per_workspace_and_count_nothing(server):
    """A cursor is opaque and bound to its workspace: another workspace's cursor is refused,
    and cursors of consecutive pages share no visible counter."""
    app, base_url = server
    profile = app.state.profile
    url = base_url + profile.base_path
    mine, theirs = {profile.auth_header: KEY}, {profile.auth_header: OTHER_KEY}
    for headers in (mine, theirs, mine, theirs, mine):
        httpx.post(url + "/submit", headers=headers, json=body(scheduled_time_unix=FAR))
    page = httpx.get(url + "/workspace", params={"limit": 1}, headers=mine).json()
    cursor = page["next_doc"]
    assert cursor and httpx.get(url + "/workspace", params={"limit": 1, "last_doc": cursor},
                                headers=mine).status_code == 200
    refused = httpx.get(url + "/workspace", params={"limit": 1, "last_doc": cursor},
                        headers=theirs)
    assert refused.status_code == 422
    second = httpx.get(url + "/workspace", params={"limit": 1, "last_doc": cursor},
                       headers=mine).json()["next_doc"]
    assert second and len(second) == len(cursor)
    assert sum(a == b for a, b in zip(cursor, second, strict=True)) < len(cursor) // 2


def test_batches_per_workspace_are_capped(monkeypatch):
    """Past the per-workspace cap a submit is a 422 in the vendor's shape, not unbounded
    growth (the cap is lowered here to keep the test small)."""
    from conformance.mock import store as store_module

    monkeypatch.setattr(store_module, "MAX_BATCHES_PER_WORKSPACE", 3)
    app = create_app("elevenlabs")
    profile = load_profile("elevenlabs")
    with served(app) as base_url:
        url = base_url + profile.base_path + "/submit"
        headers = {profile.auth_header: KEY}
        codes = [httpx.post(url, headers=headers, json=body()).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 422]
        other = httpx.post(url, headers={profile.auth_header: OTHER_KEY}, json=body())
        assert other.status_code == 200
        assert httpx.post(url, headers=headers, json=body()).json()["detail"][0]["loc"] == [
            "body", "recipients"]


def test_deleting_future_batches_frees_them():
    """Submit-then-delete of batches scheduled in the future keeps nothing alive (their
    start events used to hold them): a bounded loop, memory measured with tracemalloc."""
    app = create_app("elevenlabs")
    store = app.state.store
    request = body(recipients=[{"phone_number": PHONE}] * 2_000, scheduled_time_unix=FAR)

    def cycle(times: int) -> None:
        for _ in range(times):
            batch = store.submit("ws", request)
            store.delete("ws", batch.id)

    cycle(5)   # warm-up: caches, first allocations
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cycle(50)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 50 batches of 2,000 recipients kept alive would be tens of MiB.
    assert grown < 2 * 1024 * 1024, f"{grown / 2**20:.1f} MiB kept after 50 deletes"
    assert store.all_batches() == []


def test_a_cursor_never_issued_is_one_answer_whatever_its_shape(server):
    """A forged `last_doc` stays a 422 (README "Choices"; the spec cannot say which strings a
    server issued, so a plain `st run` reports it as ST202 by design). The answer is the same
    for garbage, for a well-formed forgery and for another workspace's real cursor: it tells
    a client nothing about which it sent."""
    app, base_url = server
    profile = app.state.profile
    url = base_url + profile.base_path
    mine, theirs = {profile.auth_header: KEY}, {profile.auth_header: OTHER_KEY}
    for _ in range(2):
        httpx.post(url + "/submit", headers=theirs, json=body(scheduled_time_unix=FAR))
    real = httpx.get(url + "/workspace", params={"limit": 1}, headers=theirs).json()["next_doc"]
    assert real
    forged = ("A" if real[0] != "A" else "B") + real[1:]  # same length, same alphabet
    answers = []
    for cursor in ("F", real, forged, "A" * len(real)):
        r = httpx.get(url + "/workspace", params={"last_doc": cursor}, headers=mine)
        assert r.status_code == 422, r.text
        (detail,) = r.json()["detail"]
        assert detail["loc"] == ["query", "last_doc"] and detail["input"] == cursor
        answers.append(json.dumps(detail).replace(json.dumps(cursor)[1:-1], "<cursor>"))
    assert len(set(answers)) == 1, answers
