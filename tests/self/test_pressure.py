"""The pressure layer (conformance/pressure.py), the 429 in the contract and the mock's
staging options (conformance/mock/staging.py): a server that pushes back, is slow, drops
connections or holds thousands of batches never makes a false alarm."""

from __future__ import annotations

import json
import threading
from email.utils import formatdate

import httpx
import pytest

from conformance.pressure import (
    AnswerLost,
    Pressure,
    PressureExhausted,
    PressureTransport,
    retry_after_s,
)

BUSY = {"detail": {"status": "system_busy", "message": "busy"}}
CONCURRENT = {"detail": {"status": "too_many_concurrent_requests", "message": "queue"}}


def _client(handler, pressure, **kw):
    transport = PressureTransport(httpx.MockTransport(handler), pressure, **kw)
    return httpx.Client(base_url="http://127.0.0.1:1", transport=transport)


def _pressure(**kw):
    waits: list[float] = []
    return Pressure(sleep=waits.append, **kw), waits


def _scripted(*answers):
    """A handler answering each request with the next of `answers` (then 200)."""
    seen = []

    def handler(request):
        seen.append(request)
        if len(seen) <= len(answers):
            answer = answers[len(seen) - 1]
            if isinstance(answer, Exception):
                raise answer
            return answer
        return httpx.Response(200, json={"ok": True})

    return handler, seen


def test_a_429_waits_as_retry_after_says_then_sends_again():
    pressure, waits = _pressure()
    handler, seen = _scripted(httpx.Response(429, json=BUSY, headers={"retry-after": "3"}))
    with _client(handler, pressure) as http:
        assert http.get("/x").status_code == 200
    assert waits == [3.0] and len(seen) == 2
    assert pressure.stats()["rate_limited"] == 1 and pressure.waited_s == 3.0
    assert pressure.by_status == {"system_busy": 1}


def test_retry_after_as_an_http_date_is_read_against_the_servers_date():
    response = httpx.Response(429, headers={"retry-after": formatdate(1_000_010, usegmt=True),
                                            "date": formatdate(1_000_000, usegmt=True)})
    assert retry_after_s(response) == 10.0
    assert retry_after_s(httpx.Response(429, headers={"retry-after": "soon"})) is None


def test_without_retry_after_the_backoff_is_jittered_and_bounded():
    pressure, waits = _pressure()
    handler, _ = _scripted(*[httpx.Response(429, json=BUSY)] * 5)
    with _client(handler, pressure) as http:
        assert http.post("/submit", json={}).status_code == 200   # a 429 was not processed
    assert len(waits) == 5
    assert all(0 <= w <= min(8.0, 0.5 * 2 ** i) for i, w in enumerate(waits))


def test_the_budget_ends_the_run_with_the_numbers_in_one_line():
    pressure, _ = _pressure(budget_s=5)
    handler, _ = _scripted(*[httpx.Response(429, json=BUSY, headers={"retry-after": "2"})] * 9)
    with _client(handler, pressure, name_operation=lambda r: "submit") as http:
        with pytest.raises(PressureExhausted) as raised:
            http.post("/submit", json={})
    assert str(raised.value) == "rate limited 3 times, waited 4 s, gave up on submit"
    assert pressure.gave_up == str(raised.value)
    with _client(handler, pressure) as http, pytest.raises(PressureExhausted):
        http.get("/x")      # once given up, the run fails fast...
    pressure.cleanup_grace()
    with _client(lambda r: httpx.Response(204), pressure) as http:
        assert http.delete("/x").status_code == 204   # ...but clean-up may still run


def test_too_many_concurrent_requests_lowers_the_runs_concurrency():
    pressure, _ = _pressure(concurrency=8)
    handler, _ = _scripted(httpx.Response(429, json=CONCURRENT,
                                          headers={"maximum-concurrent-requests": "2"}),
                           httpx.Response(429, json=CONCURRENT))
    with _client(handler, pressure) as http:
        assert http.get("/x").status_code == 200
    assert pressure.slots.limit == 1 and pressure.lowered == 2
    for _ in range(100):
        pressure.answered()
    assert pressure.slots.limit == 2   # it rises again when calm


def test_the_concurrency_limit_is_shared_by_processes_through_a_folder(tmp_path):
    a = Pressure(concurrency=4, slots_dir=tmp_path)
    b = Pressure(concurrency=4, slots_dir=tmp_path)
    a.slots.set_limit(1)
    assert b.slots.limit == 1
    held = threading.Event()
    release = threading.Event()

    def hold():
        with a.slots.held():
            held.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    got = threading.Event()
    other = threading.Thread(target=lambda: (b.slots.held().__enter__(), got.set()))
    other.start()
    assert not got.wait(0.2), "a second slot was granted over the shared limit of 1"
    release.set()
    assert got.wait(5)
    thread.join()
    other.join()


def test_transport_errors_are_retried_only_where_repeating_is_safe():
    pressure, waits = _pressure()
    handler, seen = _scripted(httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("closed"))
    with _client(handler, pressure) as http:
        assert http.get("/x").status_code == 200
    assert len(seen) == 3 and pressure.transport_errors == 2 and len(waits) == 2

    handler, seen = _scripted(httpx.ConnectError("refused"))   # never left: safe
    with _client(handler, pressure) as http:
        assert http.post("/submit", json={}).status_code == 200
    assert len(seen) == 2

    lost = []
    handler, seen = _scripted(httpx.ReadTimeout("slow"))
    with _client(handler, pressure, name_operation=lambda r: "submit",
                 on_lost=lambda request: lost.append(request) or "found and cleaned") as http:
        with pytest.raises(AnswerLost, match="answer to submit was lost.*found and cleaned"):
            http.post("/submit", json={"call_name": "cst-x"})
    assert len(seen) == 1, "a submit whose answer was lost was sent again"
    assert len(lost) == 1 and pressure.answers_lost == 1


class _Waited(Exception):
    pass


def test_after_system_busy_sends_are_paced_per_key():
    pressure, waits = _pressure()
    for _ in range(5):
        pressure.pace("k", "get")
    pressure.pushed_back(httpx.Response(429, json=BUSY), "k")
    assert pressure.rates == {"k": 4}   # what got through in that second, less one
    for _ in range(4):
        pressure.pace("k", "get")
    pressure.pace("other", "get")          # another workspace is not held back
    assert waits == []

    def sleep(seconds):
        waits.append(seconds)
        raise _Waited

    pressure._sleep = sleep
    with pytest.raises(_Waited):
        pressure.pace("k", "get")          # the fifth within the second waits
    assert 0 < waits[0] <= 1.0 and pressure.waited_s == waits[0]


# ---------------------------------------------------------------- the contract knows 429


def test_every_operation_documents_429_with_its_source():
    from conformance.exchanges import validate_response
    from conformance.spec import load_spec

    spec = load_spec("elevenlabs")
    for methods in spec["paths"].values():
        for op in methods.values():
            busy = op["responses"]["429"]
            assert busy["x-conformance-source"] == "documented"
            assert "ai-rate-limiting-for-voice" in busy["x-conformance-provenance"]
            assert {h: v["required"] for h, v in busy["headers"].items()} == {
                "Retry-After": False, "current-concurrent-requests": False,
                "maximum-concurrent-requests": False}
    base = "/v1/convai/batch-calling"
    for body in (BUSY, CONCURRENT):
        assert validate_response(spec, "GET", f"{base}/workspace", 429, "application/json",
                                 json.dumps(body).encode()) == []
    wrong = {"detail": {"status": "slow_down"}}
    assert validate_response(spec, "GET", f"{base}/workspace", 429, "application/json",
                             json.dumps(wrong).encode())


# ---------------------------------------------------------------- the mock, like staging


def _staged(**options):
    from conformance.mock import create_app
    from conformance.mock.clock import WallClock
    from conformance.mock.staging import Staging, StagingOptions

    clock = WallClock()
    app = create_app("elevenlabs", clock=clock)
    return app, Staging(app, StagingOptions(**options), "xi-api-key", clock)


def test_the_mock_rate_limits_per_key_with_the_vendors_body():
    from conformance.exchanges import validate_response
    from conformance.mock.server import served
    from conformance.spec import load_spec

    _, app = _staged(rate_limit=3)
    with served(app) as url, httpx.Client(base_url=url) as http:
        path = "/v1/convai/batch-calling/workspace"
        answers = [http.get(path, headers={"xi-api-key": "mock-key-local"}) for _ in range(5)]
        other = http.get(path, headers={"xi-api-key": "mock-key-other"})
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert other.status_code == 200
    busy = answers[-1]
    assert int(busy.headers["retry-after"]) >= 1
    assert busy.json()["detail"]["status"] == "system_busy"
    assert validate_response(load_spec("elevenlabs"), "GET", path, 429,
                             busy.headers["content-type"], busy.content) == []


def test_the_mock_limits_concurrency_with_and_without_retry_after():
    from conformance.mock.server import served

    _, app = _staged(max_concurrent=1, latency_ms=(300, 300))
    path = "/v1/convai/batch-calling/workspace"
    with served(app) as url:
        results = []

        def get():
            with httpx.Client(base_url=url) as http:
                results.append(http.get(path, headers={"xi-api-key": "mock-key-local"}))

        threads = [threading.Thread(target=get) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    busy = [r for r in results if r.status_code == 429]
    assert sorted(r.status_code for r in results) == [200, 429, 429]
    assert {r.json()["detail"]["status"] for r in busy} == {"too_many_concurrent_requests"}
    assert {r.headers["maximum-concurrent-requests"] for r in busy} == {"1"}
    assert sorted("retry-after" in r.headers for r in busy) == [False, True]


def test_the_mock_drops_connections_of_safe_requests_only():
    from conformance.mock.server import served

    _, app = _staged(flaky=0.999)
    with served(app) as url, httpx.Client(base_url=url) as http:
        headers = {"xi-api-key": "mock-key-local"}
        with pytest.raises(httpx.TransportError):
            http.get("/v1/convai/batch-calling/workspace", headers=headers)
        submit = http.post("/v1/convai/batch-calling/submit", headers=headers, json={
            "call_name": "x", "agent_id": "a", "scheduled_time_unix": 4_000_000_000,
            "recipients": [{"phone_number": "+12015550100"}]})
    assert submit.status_code == 200


def test_preload_fills_each_workspace_with_finished_batches_of_other_agents():
    from starlette.testclient import TestClient

    from conformance.mock import create_app
    from conformance.mock.clock import WallClock
    from conformance.mock.staging import PRELOAD_AGENTS, preload

    app = create_app("elevenlabs", clock=WallClock())
    preload(app.state.store, sorted(set(app.state.parts.keys.values())), 250)
    with TestClient(app) as http:
        for key in ("mock-key-local", "mock-key-other"):
            seen, cursor = [], None
            while True:
                page = http.get("/v1/convai/batch-calling/workspace", headers={
                    "xi-api-key": key}, params={"limit": 100, **(
                        {"last_doc": cursor} if cursor else {})}).json()
                seen += page["batch_calls"]
                if not page["has_more"]:
                    break
                cursor = page["next_doc"]
            assert len(seen) == 250
            assert {b["status"] for b in seen} == {"completed"}
            assert {b["agent_id"] for b in seen} == set(PRELOAD_AGENTS)
        mine = http.get("/v1/convai/batch-calling/workspace", headers={
            "xi-api-key": "mock-key-local"}, params={"agent_id": "agent_conformance_0001"})
        assert mine.json()["batch_calls"] == []


def test_date_lag_and_clock_skew():
    import time
    from email.utils import parsedate_to_datetime

    from conformance.mock.clock import WallClock

    assert abs(WallClock(skew=90).now() - (time.time() + 90)) < 2
    from conformance.mock.server import served

    _, app = _staged(date_lag=True)
    with served(app) as url, httpx.Client(base_url=url) as http:
        dates = []
        for _ in range(6):
            response = http.get("/v1/convai/batch-calling/workspace",
                                headers={"xi-api-key": "mock-key-local"})
            dates.append((parsedate_to_datetime(response.headers["date"]).timestamp(),
                          time.time()))
            time.sleep(0.3)
    lags = [now - shown for shown, now in dates]
    assert all(0 <= lag < 2.1 for lag in lags), lags
    assert max(lags) > 1.0, "the Date header never lagged more than its resolution"


class _CutStream(httpx.SyncByteStream):
    def __iter__(self):
        yield b"{"
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def test_a_connection_lost_mid_answer_is_retried_on_a_safe_request():
    pressure, _ = _pressure()
    handler, seen = _scripted(httpx.Response(200, stream=_CutStream()))
    with _client(handler, pressure) as http:
        assert http.get("/x").json() == {"ok": True}
    assert len(seen) == 2 and pressure.transport_errors == 1
