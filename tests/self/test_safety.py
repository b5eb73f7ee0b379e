"""conformance.safety: every guard refuses before the request reaches the inner transport;
allowed requests do reach it. No real network: the inner transport is httpx.MockTransport."""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import httpx
import pytest

from conformance import cleanup as teardown
from conformance import safety
from conformance.cleanup import SweepError
from conformance.safety import (
    AsyncSafetyTransport,
    Ledger,
    SafetyPolicy,
    SafetyTransport,
    UnsafeRequest,
)

BASE = "/v1/convai/batch-calling"
NOW = 1_800_000_000
DAY = 86_400
RUN = "20260101t000000-beef"
PREFIX = f"cst-{RUN}-"
LOCAL = "http://127.0.0.1:8765"


class FakeServer:
    """A tiny batch-calling server: records every request that reached it."""

    def __init__(self, batches=None, page_size=2):
        self.seen: list[httpx.Request] = []
        self.batches: dict[str, dict] = {b["id"]: b for b in (batches or [])}
        self.page_size = page_size
        self.counter = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        rest = path[len(BASE) + 1:] if path.startswith(BASE + "/") else None
        if request.method == "POST" and rest == "submit":
            try:
                body = json.loads(request.content)
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("recipients"), list) \
                    or "call_name" not in body:
                return httpx.Response(422, json={"detail": [{"loc": ["body"], "msg": "invalid",
                                                             "type": "value_error"}]})
            self.counter += 1
            batch = {"id": f"btcal_{self.counter}", "name": body["call_name"],
                     "status": "pending", "created_at_unix": NOW}
            self.batches[batch["id"]] = batch
            return httpx.Response(200, json=batch)
        if request.method == "GET" and rest == "workspace":
            ids = sorted(self.batches)
            start = ids.index(request.url.params["last_doc"]) + 1 \
                if "last_doc" in request.url.params else 0
            size = min(self.page_size, int(request.url.params.get("limit", 100)))
            page = ids[start:start + size]
            more = start + size < len(ids)
            return httpx.Response(200, json={"batch_calls": [self.batches[i] for i in page],
                                             "next_doc": page[-1] if more else None,
                                             "has_more": more})
        if rest is None:
            return httpx.Response(200, json={"ok": True})
        batch_id, _, action = rest.partition("/")
        if batch_id not in self.batches:
            return httpx.Response(404, json={"detail": {"status": "not_found"}})
        if request.method == "DELETE" and not action:
            del self.batches[batch_id]
            return httpx.Response(204)
        if request.method == "POST" and action == "cancel":
            self.batches[batch_id]["status"] = "cancelled"
        if request.method == "POST" and action == "retry":
            self.batches[batch_id]["status"] = "pending"
        return httpx.Response(200, json=self.batches[batch_id])

    def mutations(self):
        return [(r.method, r.url.path) for r in self.seen if r.method != "GET"]


def policy(**kw) -> SafetyPolicy:
    kw.setdefault("name_prefix", PREFIX)
    kw.setdefault("clock", lambda: NOW)
    return SafetyPolicy(**kw)


def client(server=None, base_url=LOCAL, ledger=None, **kw):
    server = server if server is not None else FakeServer()
    transport = SafetyTransport(httpx.MockTransport(server), policy(**kw), ledger)
    return httpx.Client(base_url=base_url, transport=transport, trust_env=False), server


def body(**over):
    b = {"call_name": PREFIX + "smoke", "agent_id": "agent_1",
         "scheduled_time_unix": NOW + 31 * DAY,
         "recipients": [{"phone_number": "+14155550100"}, {"phone_number": "+12125550199"}]}
    b.update(over)
    return b


def refused(c, server, method, url, match=None, **kw):
    before = len(server.seen)
    with pytest.raises(UnsafeRequest) as info:
        c.request(method, url, **kw)
    assert len(server.seen) == before, "a refused request reached the inner transport"
    if match:
        assert match in info.value.reason, info.value.reason
    assert "\n" not in str(info.value)
    return info.value


# ---------------------------------------------------------------------------------- hosts

@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x",
                                 "http://[::1]:8000/x", "http://LOCALHOST/x"])
def test_loopback_reads_allowed(url):
    c, server = client()
    assert c.get(url).status_code == 200
    assert len(server.seen) == 1


@pytest.mark.parametrize("url", ["https://api.elevenlabs.io/v1/convai/batch-calling/workspace",
                                 "http://127.0.0.2/x", "http://localhost.:80/x",
                                 "http://0.0.0.0/x", "http://example.com/x"])
def test_other_hosts_refused_even_for_get(url):
    c, server = client()
    refused(c, server, "GET", url, "not allowed")


def test_https_host_policy_allows_exactly_its_host():
    p = SafetyPolicy.for_https_host("https://api.elevenlabs.io", BASE, PREFIX, clock=lambda: NOW)
    assert p.allowed_hosts == {"api.elevenlabs.io"}
    server = FakeServer()
    c = httpx.Client(transport=SafetyTransport(httpx.MockTransport(server), p))
    assert c.get(f"https://api.elevenlabs.io{BASE}/workspace").status_code == 200
    refused(c, server, "GET", f"https://api.us.elevenlabs.io{BASE}/workspace", "not allowed")
    refused(c, server, "GET", f"https://127.0.0.1{BASE}/workspace", "not allowed")
    with pytest.raises(ValueError):
        SafetyPolicy.for_https_host("http://api.elevenlabs.io", BASE, PREFIX)


def test_plain_http_to_a_non_loopback_host_refused():
    c, server = client(allowed_hosts=frozenset({"api.example.com"}))
    refused(c, server, "GET", "http://api.example.com/x", "https")
    assert c.get("https://api.example.com/x").status_code == 200


# --------------------------------------------------------------------------------- submit

def test_safe_submit_reaches_server_and_is_recorded():
    c, server = client()
    r = c.post(f"{BASE}/submit", json=body())
    assert r.status_code == 200 and r.json()["id"] == "btcal_1"
    t = c._transport
    assert t.ledger.created == {"btcal_1": PREFIX + "smoke"}
    assert (t.ledger.submits_sent, t.ledger.recipients_sent) == (1, 2)


@pytest.mark.parametrize("phone", [
    "+14155550100", "+14155550199", "+19995550150", "+10005550123",
])
def test_fictional_phones_accepted(phone):
    assert safety.is_fictional_phone(phone)
    c, server = client()
    c.post(f"{BASE}/submit", json=body(recipients=[{"phone_number": phone}]))
    assert len(server.seen) == 1


@pytest.mark.parametrize("phone", [
    "+14155550200", "+14155550099", "+14155551234", "+14155550100\n", " +14155550100",
    "14155550100", "+141555501000", "+1415555010", "+44415555010", "+1415555٠١٠٠",
    "+1(415)5550100", "+1 415 555 0100", "tel:+14155550100", 14155550100, "", "+15550100",
])
def test_real_or_malformed_phones_refused(phone):
    assert not safety.is_fictional_phone(phone)
    c, server = client()
    refused(c, server, "POST", f"{BASE}/submit", "phone_number",
            json=body(recipients=[{"phone_number": "+14155550100"}, {"phone_number": phone}]))


@pytest.mark.parametrize("user_id", [
    "123", "14155551234", "+14155550100", "4155550100", "14155550200", "14155550100 ",
    "１４１５５５５０１００", "1415555010x", "141555501000",
])
def test_whatsapp_user_id_refused_unless_a_fictional_numbers_digits(user_id):
    """A WhatsApp user id is a person's number in digits: only 1NXX5550100..0199 exactly."""
    c, server = client()
    refused(c, server, "POST", f"{BASE}/submit", "whatsapp_user_id",
            json=body(recipients=[{"whatsapp_user_id": user_id}]))
    c, server = client(allow_whatsapp=True)
    if not safety.real_numbers(user_id):
        c.post(f"{BASE}/submit", json=body(recipients=[{"whatsapp_user_id": user_id}]))
        assert len(server.seen) == 1


@pytest.mark.parametrize("user_id", ["14155550100", "12015550199", "19995550150"])
def test_fictional_whatsapp_user_id_is_sent(user_id):
    c, server = client()
    c.post(f"{BASE}/submit", json=body(recipients=[{"whatsapp_user_id": user_id},
                                                   {"phone_number": "+14155550101"}]))
    assert len(server.seen) == 1


def test_only_the_configured_whatsapp_number_id_is_exempt_from_the_number_scan():
    """The run's own WhatsApp sender id (all digits, as vendors issue them) is sent when it
    is exactly the configured one, in `whatsapp_params`; anywhere else, or another value,
    it is scanned like any string."""
    sender = "109876543210987"
    params = {"whatsapp_phone_number_id": sender,
              "whatsapp_call_permission_request_template_name": "t",
              "whatsapp_call_permission_request_template_language_code": "en"}
    wa = [{"whatsapp_user_id": "14155550100"}]
    c, server = client()
    refused(c, server, "POST", f"{BASE}/submit", "phone",
            json=body(recipients=wa, whatsapp_params=params))
    c, server = client(whatsapp_phone_number_id=sender)
    c.post(f"{BASE}/submit", json=body(recipients=wa, whatsapp_params=params))
    assert len(server.seen) == 1
    refused(c, server, "POST", f"{BASE}/submit", "phone",
            json=body(recipients=wa, whatsapp_params={**params,
                                                      "whatsapp_phone_number_id": sender[:-1]}))
    refused(c, server, "POST", f"{BASE}/submit", "phone",
            json=body(recipients=wa, whatsapp_params=params, branch_id=sender))


def test_allow_any_phone_switch():
    c, server = client(allow_any_phone=True)
    c.post(f"{BASE}/submit", json=body(recipients=[{"phone_number": "+14155551234"}]))
    assert len(server.seen) == 1


@pytest.mark.parametrize("name", ["cst-other-run-x", "smoke", PREFIX[:-1], None, 7, ""])
def test_call_name_must_carry_run_prefix(name):
    c, server = client()
    refused(c, server, "POST", f"{BASE}/submit", "call_name", json=body(call_name=name))


@pytest.mark.parametrize("when, match", [
    (None, "dial now"), ("missing", "dial now"), (NOW, "sooner"), (NOW + 30 * DAY - 1, "sooner"),
    ("tomorrow", "not a number"), (True, "not a number"), (float("nan"), "not a number"),
    (NOW + 31 * DAY + 0.5, "not a number"), (float("inf"), "not a number"),
    (NOW + 6 * 365 * DAY, "ahead"), (2**64, "ahead"), (NOW * 1000, "phone number"),
])
def test_schedule_must_be_far_enough_ahead(when, match):
    c, server = client()
    b = body()
    if when == "missing":
        del b["scheduled_time_unix"]
    else:
        b["scheduled_time_unix"] = when
    refused(c, server, "POST", f"{BASE}/submit", match, content=json.dumps(b),
            headers={"content-type": "application/json"})


def test_schedule_boundary_and_allow_dispatch():
    c, server = client()
    c.post(f"{BASE}/submit", json=body(scheduled_time_unix=NOW + 30 * DAY))
    assert len(server.seen) == 1
    c, server = client(allow_dispatch=True)
    b = body()
    del b["scheduled_time_unix"]
    c.post(f"{BASE}/submit", json=b)
    c.post(f"{BASE}/submit", json=body(scheduled_time_unix=None))
    assert len(server.seen) == 2


def test_schedule_uses_injected_clock():
    c, server = client(clock=lambda: NOW + 10 * DAY)
    refused(c, server, "POST", f"{BASE}/submit", "sooner",
            json=body(scheduled_time_unix=NOW + 31 * DAY))


@pytest.mark.parametrize("content, headers, match", [
    (b"not json", {}, "not valid JSON"),
    # the same key twice: we would read the fictional number, a server might read the other
    (b'{"call_name": "' + PREFIX.encode() + b'x", "agent_id": "a", "scheduled_time_unix": '
     + str(NOW + 40 * DAY).encode() + b', "recipients": [{"phone_number": "+14155551234", '
     b'"phone_number": "+14155550100"}]}', {}, "not valid JSON"),
    (gzip.compress(json.dumps(body()).encode()), {"content-encoding": "gzip"}, "encoded"),
])
def test_uninspectable_submit_bodies_refused(content, headers, match):
    c, server = client()
    refused(c, server, "POST", f"{BASE}/submit", match, content=content,
            headers={"content-type": "application/json", **headers})


@pytest.mark.parametrize("content", [
    b"[]", b"", b'"x"',
    json.dumps(body(recipients={"phone_number": "+14155550100"})).encode(),
    json.dumps(body(recipients=["+14155550100"])).encode(),
    json.dumps({"agent_id": "a"}).encode(),
    json.dumps(body(recipients=[{"id": "r1"}], scheduled_time_unix=None,
                    call_name="not-the-prefix")).encode(),
])
def test_bodies_that_call_nobody_are_sent_and_counted(content):
    """A submit naming no one to call (no recipients array, nobody with a number) cannot
    place a call: it is sent, so request validation is tested live too, and it still counts
    against the run's cap (a broken server might create a batch)."""
    c, server = client(max_batches=1)
    c.post(f"{BASE}/submit", content=content, headers={"content-type": "application/json"})
    assert len(server.seen) == 1
    refused(c, server, "POST", f"{BASE}/submit", "cap", content=content,
            headers={"content-type": "application/json"})


@pytest.mark.parametrize("where, value", [
    ("dynamic variable", {"recipients": [{
        "phone_number": "+14155550100",
        "conversation_initiation_client_data": {"dynamic_variables": {
            "callback": "+1 415 555 2671"}}}]}),
    ("recipient id", {"recipients": [{"phone_number": "+14155550100", "id": "+14155552671"}]}),
    ("a look-alike key", {"recipients": [{"phone_number": "+14155550100",
                                          "phone_number ": "+14155552671"}]}),
    ("text around it", {"recipients": [{"phone_number": "+14155550100",
                                        "id": "call 4155552671 now"}]}),
    ("other digits", {"recipients": [{"phone_number": "+14155550100", "id": "+1415555٢٦٧١"}]}),
    ("an integer", {"recipients": [{"phone_number": "+14155550100"}], "agent_id": 14155552671}),
    ("a key", {"recipients": [{"phone_number": "+14155550100", "+14155552671": 1}]}),
])
def test_a_real_number_anywhere_in_the_body_is_refused(where, value):
    """Only `phone_number` used to be inspected: a real number elsewhere passed the guard."""
    c, server = client()
    refused(c, server, "POST", f"{BASE}/submit", "real phone number", json=body(**value))


def test_streamed_body_is_inspected_and_still_delivered():
    c, server = client()

    def chunks():
        data = json.dumps(body()).encode()
        yield data[:10]
        yield data[10:]

    assert c.post(f"{BASE}/submit", content=chunks()).status_code == 200
    assert json.loads(server.seen[0].content)["call_name"] == PREFIX + "smoke"
    c, server = client()

    def bad():
        yield json.dumps(body(recipients=[{"phone_number": "+14155551234"}])).encode()

    refused(c, server, "POST", f"{BASE}/submit", "phone_number", content=bad())


# ------------------------------------------------------------------------------------ caps

def test_max_batches_cap():
    c, server = client(max_batches=3, max_recipients=1000)
    for _ in range(3):
        c.post(f"{BASE}/submit", json=body())
    refused(c, server, "POST", f"{BASE}/submit", "max_batches", json=body())
    assert len(server.seen) == 3


def test_max_recipients_cap_counts_across_batches():
    c, server = client(max_recipients=5)
    c.post(f"{BASE}/submit", json=body())  # 2
    c.post(f"{BASE}/submit", json=body())  # 4
    refused(c, server, "POST", f"{BASE}/submit", "max_recipients", json=body())  # would be 6
    c.post(f"{BASE}/submit", json=body(recipients=[{"phone_number": "+14155550105"}]))  # 5
    assert len(server.seen) == 3
    assert c._transport.ledger.recipients_sent == 5


def test_refused_submits_do_not_spend_the_caps_but_failed_ones_do():
    ledger = Ledger()
    c, server = client(ledger=ledger, max_batches=2)
    with pytest.raises(UnsafeRequest):
        c.post(f"{BASE}/submit", json=body(call_name="nope"))
    assert ledger.submits_sent == 0

    def boom(request):
        server.seen.append(request)
        return httpx.Response(500)

    c2 = httpx.Client(base_url=LOCAL, transport=SafetyTransport(
        httpx.MockTransport(boom), policy(max_batches=2), ledger))
    assert c2.post(f"{BASE}/submit", json=body()).status_code == 500
    assert ledger.submits_sent == 1 and not ledger.created  # spent, nothing recorded
    c.post(f"{BASE}/submit", json=body())
    refused(c, server, "POST", f"{BASE}/submit", "max_batches", json=body())


def test_default_caps():
    p = policy()
    assert (p.max_batches, p.max_recipients, p.min_schedule_ahead_s) == (20, 50, 30 * DAY)
    assert p.allowed_hosts == {"127.0.0.1", "::1", "localhost"} and not p.allow_dispatch


# ----------------------------------------------------------------- mutations and ownership

@pytest.mark.parametrize("method, path", [
    ("PUT", f"{BASE}/btcal_1"), ("PATCH", f"{BASE}/btcal_1"), ("POST", f"{BASE}/btcal_1"),
    ("POST", f"{BASE}/workspace"), ("DELETE", f"{BASE}/workspace"),
    ("POST", f"{BASE}/submit/"), ("POST", f"{BASE}/btcal_1/cancel/"),
    ("POST", f"{BASE}/btcal_1/export"), ("DELETE", f"{BASE}/btcal_1/cancel"),
    ("POST", "/v1/convai/agents/create"), ("DELETE", "/v1/convai/agents/agent_1"),
    ("POST", "/v1/voiceai/batch-calling/submit"), ("POST", "/x"), ("DELETE", BASE),
])
def test_unknown_mutations_refused(method, path):
    c, server = client()
    refused(c, server, method, path, content=json.dumps(body()))


@pytest.mark.parametrize("method, path", [
    ("POST", f"{BASE}/btcal_9/cancel"), ("DELETE", f"{BASE}/btcal_9"),
])
def test_cancel_delete_unknown_ids_refused(method, path):
    c, server = client()
    refused(c, server, method, path, "not created by this run")


def test_own_batches_can_be_cancelled_and_deleted():
    c, server = client()
    batch_id = c.post(f"{BASE}/submit", json=body()).json()["id"]
    assert c.post(f"{BASE}/{batch_id}/cancel").json()["status"] == "cancelled"
    assert c.delete(f"{BASE}/{batch_id}").status_code == 204
    refused(c, server, "POST", f"{BASE}/btcal_2/cancel", "not created")
    # percent-encoding does not smuggle another id past the check
    refused(c, server, "DELETE", f"{BASE}/btcal%5F2", "not created")


def test_retry_needs_ownership_and_allow_dispatch():
    c, server = client()
    batch_id = c.post(f"{BASE}/submit", json=body()).json()["id"]
    refused(c, server, "POST", f"{BASE}/{batch_id}/retry", "allow_dispatch")
    c, server = client(allow_dispatch=True)
    batch_id = c.post(f"{BASE}/submit", json=body()).json()["id"]
    assert c.post(f"{BASE}/{batch_id}/retry").status_code == 200
    refused(c, server, "POST", f"{BASE}/other/retry", "not created")


def test_gets_are_always_allowed_on_allowed_hosts():
    c, server = client()
    for path in (f"{BASE}/workspace", f"{BASE}/anything", f"{BASE}/x/export", "/v1/other"):
        c.get(path)
    assert len(server.seen) == 4


def test_other_dialect_base_path():
    c, server = client(base_path="/v1/voiceai/batch-calling/")
    refused(c, server, "POST", f"{BASE}/submit", "not a known", json=body())
    c.post("/v1/voiceai/batch-calling/submit", json=body())
    assert len(server.seen) == 1


def test_extra_mutating_paths_only_on_loopback():
    c, server = client(extra_mutating_paths=("/_mock/",),
                       allowed_hosts=frozenset({"127.0.0.1", "api.example.com"}))
    c.post("/_mock/clock/advance", json={"seconds": 5})
    assert len(server.seen) == 1
    refused(c, server, "POST", "https://api.example.com/_mock/clock/advance", "not a known")


def test_submit_without_readable_id_is_an_orphan():
    def weird(request):
        return httpx.Response(200, text="ok")

    ledger = Ledger()
    c = httpx.Client(base_url=LOCAL, transport=SafetyTransport(
        httpx.MockTransport(weird), policy(), ledger))
    assert c.post(f"{BASE}/submit", json=body()).text == "ok"
    assert ledger.orphans == [PREFIX + "smoke"] and not ledger.created


def test_response_body_survives_inspection_even_compressed():
    raw = gzip.compress(json.dumps({"id": "btcal_z", "name": PREFIX + "z"}).encode())

    def gz(request):
        return httpx.Response(200, content=raw, headers={"content-encoding": "gzip",
                                                         "content-type": "application/json"})

    ledger = Ledger()
    c = httpx.Client(base_url=LOCAL, transport=SafetyTransport(
        httpx.MockTransport(gz), policy(), ledger))
    assert c.post(f"{BASE}/submit", json=body()).json()["id"] == "btcal_z"
    assert "btcal_z" in ledger
    with c.stream("POST", f"{BASE}/submit", json=body()) as r:
        assert json.loads(r.read())["name"] == PREFIX + "z"


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An unread response stream, like a real network transport returns."""

    def __init__(self, data: bytes):
        self.parts = [data[:7], data[7:]]
        self.closed = False

    def __iter__(self):
        yield from self.parts

    async def __aiter__(self):
        for part in self.parts:
            yield part

    def close(self):
        self.closed = True

    async def aclose(self):
        self.closed = True


def _gz_submit_response(streams):
    raw = gzip.compress(json.dumps({"id": "btcal_s", "name": PREFIX + "s"}).encode())

    def handler(request):
        streams.append(Chunks(raw))
        return httpx.Response(200, stream=streams[-1],
                              headers={"content-encoding": "gzip",
                                       "content-type": "application/json"})
    return handler


@pytest.mark.parametrize("streaming", [False, True])
def test_unread_streamed_response_is_inspected_and_passed_on(streaming):
    streams, ledger = [], Ledger()
    c = httpx.Client(base_url=LOCAL, transport=SafetyTransport(
        httpx.MockTransport(_gz_submit_response(streams)), policy(), ledger))
    if streaming:
        with c.stream("POST", f"{BASE}/submit", json=body()) as r:
            assert json.loads(b"".join(r.iter_bytes()))["id"] == "btcal_s"
    else:
        r = c.post(f"{BASE}/submit", json=body())
        assert r.json() == {"id": "btcal_s", "name": PREFIX + "s"}
        assert r.headers["content-encoding"] == "gzip"
    assert ledger.created == {"btcal_s": PREFIX + "s"}
    assert streams[0].closed  # the inner response was released


def test_async_unread_streamed_response_is_inspected():
    async def go():
        streams, ledger = [], Ledger()
        transport = AsyncSafetyTransport(httpx.MockTransport(_gz_submit_response(streams)),
                                         policy(), ledger)
        async with httpx.AsyncClient(base_url=LOCAL, transport=transport) as c:
            r = await c.post(f"{BASE}/submit", json=body())
        return r, ledger, streams

    r, ledger, streams = asyncio.run(go())
    assert r.json()["id"] == "btcal_s" and "btcal_s" in ledger and streams[0].closed


def test_refusals_are_logged():
    ledger = Ledger()
    c, server = client(ledger=ledger)
    with pytest.raises(UnsafeRequest):
        c.get("http://evil.example/x")
    assert len(ledger.refusals) == 1 and "evil.example" in ledger.refusals[0]


def test_policy_prefix_guards():
    with pytest.raises(ValueError):
        SafetyPolicy(name_prefix="run-1-")
    with pytest.raises(ValueError):
        SafetyPolicy(name_prefix="cst-")
    with pytest.raises(ValueError):
        SafetyPolicy(name_prefix=PREFIX, sweep_prefix="")
    SafetyPolicy(name_prefix=PREFIX, sweep_prefix="cst-")


# ---------------------------------------------------------------------------------- async

def test_async_transport_guards_too():
    async def go():
        server = FakeServer()
        ledger = Ledger()
        transport = AsyncSafetyTransport(httpx.MockTransport(server), policy(), ledger)
        async with httpx.AsyncClient(base_url=LOCAL, transport=transport) as c:
            r = await c.post(f"{BASE}/submit", json=body())
            assert r.json()["id"] == "btcal_1"
            with pytest.raises(UnsafeRequest):
                await c.post(f"{BASE}/submit", json=body(recipients=[
                    {"phone_number": "+14155551234"}]))
            with pytest.raises(UnsafeRequest):
                await c.delete(f"{BASE}/btcal_7")
            assert (await c.delete(f"{BASE}/btcal_1")).status_code == 204
        return server, ledger

    server, ledger = asyncio.run(go())
    assert [r.method for r in server.seen] == ["POST", "DELETE"]
    assert ledger.created == {"btcal_1": PREFIX + "smoke"}


# ------------------------------------------------------------------------ clients & ids

def test_guarded_client_ignores_env_proxies(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    server = FakeServer()
    c = safety.guarded_client(LOCAL, policy(), inner=httpx.MockTransport(server))
    assert safety.is_guarded(c)
    plain = httpx.Client(transport=SafetyTransport(httpx.MockTransport(server), policy()))
    assert safety.is_guarded(plain)  # httpx 0.28: env proxies are ignored given a transport
    for leaky in (
        httpx.Client(transport=SafetyTransport(httpx.MockTransport(server), policy()),
                     proxy="http://proxy.invalid:3128"),
        httpx.Client(transport=SafetyTransport(httpx.MockTransport(server), policy()),
                     mounts={"https://": httpx.HTTPTransport()}),
    ):
        assert not safety.is_guarded(leaky)  # a mount would bypass the guard
    assert not safety.is_guarded(httpx.Client(trust_env=False))


def test_run_ids_and_prefix():
    a, b = safety.new_run_id(NOW), safety.new_run_id(NOW)
    assert a != b and a.startswith("20270115t080000-")
    assert safety.name_prefix(a) == f"cst-{a}-"
    with pytest.raises(ValueError):
        safety.name_prefix("Bad Run")


# ------------------------------------------------------------------------ cleanup / sweep

def test_cleanup_cancels_then_deletes_and_tolerates_404():
    ledger = Ledger()
    c, server = client(ledger=ledger)
    ids = [c.post(f"{BASE}/submit", json=body()).json()["id"] for _ in range(3)]
    del server.batches[ids[1]]  # deleted behind our back
    report = teardown.cleanup(c, ledger, BASE)
    assert report.ok and report.deleted == [ids[0], ids[2]] and report.already_gone == [ids[1]]
    assert len(ledger) == 0 and not server.batches
    assert server.mutations()[3:] == [
        ("POST", f"{BASE}/{ids[0]}/cancel"), ("DELETE", f"{BASE}/{ids[0]}"),
        ("POST", f"{BASE}/{ids[1]}/cancel"), ("DELETE", f"{BASE}/{ids[1]}"),
        ("POST", f"{BASE}/{ids[2]}/cancel"), ("DELETE", f"{BASE}/{ids[2]}"),
    ]


def test_cleanup_reports_failures_and_keeps_them_in_the_ledger():
    ledger = Ledger()
    ledger.record("btcal_1", PREFIX + "a")

    def flaky(request):
        return httpx.Response(500 if request.method == "DELETE" else 200, json={})

    c = httpx.Client(base_url=LOCAL, transport=SafetyTransport(
        httpx.MockTransport(flaky), policy(), ledger))
    report = teardown.cleanup(c, ledger, type("P", (), {"base_path": BASE})())
    assert not report.ok and "500" in report.failed["btcal_1"] and "btcal_1" in ledger


def _stored(n_ours=5, n_other=4, n_old_run=2):
    batches = [{"id": f"b{i:02d}", "name": f"{PREFIX}{i}", "status": "pending",
                "created_at_unix": NOW - 100} for i in range(n_ours)]
    batches += [{"id": f"c{i:02d}", "name": f"customer campaign {i}", "status": "in_progress",
                 "created_at_unix": NOW - 100} for i in range(n_other)]
    batches += [{"id": f"d{i:02d}", "name": f"cst-oldrun-{i}", "status": "completed",
                 "created_at_unix": NOW - 10 * DAY} for i in range(n_old_run)]
    return batches


def test_sweep_pages_and_deletes_only_prefixed_batches():
    server = FakeServer(_stored(), page_size=2)
    c, _ = client(server, sweep_prefix=PREFIX)
    swept = teardown.sweep(c, BASE, PREFIX, NOW, limit=2)
    assert swept == [f"b{i:02d}" for i in range(5)]
    assert sorted(server.batches) == ["c00", "c01", "c02", "c03", "d00", "d01"]
    lists = [r for r in server.seen if r.url.path.endswith("/workspace")]
    assert len(lists) == 6  # 11 batches, 2 per page
    assert "last_doc" not in lists[0].url.params and lists[1].url.params["last_doc"] == "b01"


def test_sweep_dry_run_and_age_filter_and_terminal_batches():
    server = FakeServer(_stored(), page_size=3)
    c, _ = client(server, sweep_prefix="cst-")
    assert teardown.sweep(c, BASE, "cst-", NOW, dry_run=True) == [
        "b00", "b01", "b02", "b03", "b04", "d00", "d01"]
    assert server.mutations() == []
    swept = teardown.sweep(c, BASE, "cst-", NOW, min_age_s=DAY)
    assert swept == ["d00", "d01"]
    # completed batches are deleted without a cancel first
    assert server.mutations() == [("DELETE", f"{BASE}/d00"), ("DELETE", f"{BASE}/d01")]


def test_sweep_needs_sweep_prefix_in_the_policy():
    server = FakeServer(_stored(n_other=0, n_old_run=0))
    c, _ = client(server)  # no sweep_prefix: these batches are not ours
    with pytest.raises(SweepError) as info:
        teardown.sweep(c, BASE, PREFIX, NOW)
    assert info.value.swept == [] and len(info.value.errors) == 5
    assert server.mutations() == [] and len(server.batches) == 5


def test_sweep_prefix_in_policy_does_not_open_other_batches():
    server = FakeServer(_stored())
    c, _ = client(server, sweep_prefix=PREFIX)
    c.get(f"{BASE}/workspace", params={"limit": 100})
    refused(c, server, "DELETE", f"{BASE}/c00", "not created")
    refused(c, server, "DELETE", f"{BASE}/d00", "not created")
    assert c.delete(f"{BASE}/b00").status_code == 204
    refused(c, server, "POST", f"{BASE}/b01/retry")  # retry is never a sweep operation


def test_sweep_refuses_foreign_prefixes_and_stops_on_cursor_loops():
    c, _ = client()
    with pytest.raises(ValueError):
        teardown.sweep(c, BASE, "", NOW)

    calls = []

    def looping(request):
        calls.append(request)
        return httpx.Response(200, json={"batch_calls": [], "next_doc": "same",
                                         "has_more": True})

    c2 = httpx.Client(base_url=LOCAL, transport=SafetyTransport(
        httpx.MockTransport(looping), policy(sweep_prefix=PREFIX)))
    assert teardown.sweep(c2, BASE, PREFIX, NOW) == []
    assert len(calls) == 2


# --------------------------------------------------------------- attempts to get past it
# Each probe below passed an earlier guard (issue 14) or is a neighbour of one that did. Every
# one must be refused before it reaches the inner transport, with the rule it breaks named.


def _owned_client(**kw):
    """A client that owns btcal_1 (created through it), on an in-process fake server."""
    c, server = client(**kw)
    assert c.post(f"{BASE}/submit", json=body()).json()["id"] == "btcal_1"
    assert isinstance(c._transport.inner, httpx.MockTransport)  # nothing leaves the process
    return c, server


def probe(c, server, rule, method, url, **kw):
    exc = refused(c, server, method, url, **kw)
    assert exc.rule == rule, f"{exc.rule}: {exc.reason}"
    return exc


REAL = "+14155552671"  # a real-looking number: only ever sent to the in-process fake server


@pytest.mark.parametrize("method, path", [
    ("POST", f"{BASE}/btcal_1/cancel"), ("POST", f"{BASE}/btcal_1/retry"),
    ("DELETE", f"{BASE}/btcal_1"),
])
@pytest.mark.parametrize("payload", [
    {"note": REAL}, {"a": [[{"b": [REAL]}]]}, {REAL: True}, [1, [2, [f"call {REAL}"]]],
])
def test_a_real_number_in_a_cancel_retry_or_delete_body_is_refused(method, path, payload):
    c, server = _owned_client(allow_dispatch=True)
    probe(c, server, "phone", method, path, content=json.dumps(payload),
          headers={"content-type": "application/json"})


@pytest.mark.parametrize("spelling", [
    "+1/415/555/2671", "+1_415_555_2671", "+1\u00a0415\u00a0555\u00a02671",
    "+1\u2013415\u2013555\u20132671", "+1\u2014415\u2014555\u20142671", "+1\t415\t555\t2671",
    "+1415\u200b555\u200d2671", "\ufeff+14155552671", "\uff0b\uff11\uff14\uff11\uff15"
    "\uff15\uff15\uff15\uff12\uff16\uff17\uff11", "+1\u3000415\u3000555\u30002671",
    "+1\\415\\555\\2671", "+1\u2212415\u2212555\u22122671", "+1\u00b7415\u00b7555\u00b72671",
    "1 . 415 . 555 . 2671",
    "4155552671 4155550100", "+14155550100 4155552671", "\u0664\u0661\u0665\u0665\u0665"
    "\u0665\u0662\u0666\u0667\u0661", "tel:+1-415-555-2671;ext=1",
])
def test_a_real_number_split_or_disguised_is_refused(spelling):
    """Unusual separators, invisible characters, full-width and Arabic-Indic digits, and a
    real number beside a fictional one (one 20-digit run once hid both)."""
    c, server = client()
    recipient = {"phone_number": "+14155550100",
                 "conversation_initiation_client_data": {"dynamic_variables": {"x": spelling}}}
    probe(c, server, "phone", "POST", f"{BASE}/submit", json=body(recipients=[recipient]))


@pytest.mark.parametrize("number", ["14155552671.0", "1.4155552671e10", "14155552671.5",
                                    "-14155552671", "141555526710"])
def test_a_real_number_as_a_json_number_of_any_spelling_is_refused(number):
    c, server = client()
    text = json.dumps(body(agent_id="@@")).replace('"@@"', number)
    probe(c, server, "phone", "POST", f"{BASE}/submit", content=text,
          headers={"content-type": "application/json"})


def test_a_real_number_in_the_query_of_a_mutation_is_refused():
    """A server may merge query parameters into the body it reads."""
    c, server = _owned_client()
    probe(c, server, "phone", "POST", f"{BASE}/submit", json=body(),
          params={"recipients[0][phone_number]": REAL})
    probe(c, server, "phone", "POST", f"{BASE}/btcal_1/cancel", params={REAL: "1"})
    c.get(f"{BASE}/workspace", params={"q": REAL})  # a read cannot dial: sent
    assert server.seen[-1].method == "GET"


def test_fictional_numbers_in_every_spelling_are_still_sent():
    """The wider scan does not refuse the fictional range however it is written."""
    c, server = client()
    variables = {"a": "+1 (415) 555-0100", "b": "+1\u00a0415\u2013555\u20130199",
                 "c": "\uff0b\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10",
                 "d": "415/555/0150", "e": 14155550123, "f": 14155550123.0}
    recipient = {"phone_number": "+14155550100",
                 "conversation_initiation_client_data": {"dynamic_variables": variables}}
    assert c.post(f"{BASE}/submit", json=body(recipients=[recipient])).status_code == 200


@pytest.mark.parametrize("raw, rule", [
    ("1e400", "dispatch"), ("-1e400", "dispatch"), ("Infinity", "dispatch"),
    ("-Infinity", "dispatch"), ("NaN", "dispatch"), (str(2**64), "dispatch"),
    (str(2**63 - 1), "dispatch"), (str((NOW + 31 * DAY) * 1_000_000), "dispatch"),
    (str((NOW + 31 * DAY) * 1000), "phone"),  # 13 digits: also what a phone number may be
    (f"{NOW + 31 * DAY}.0", "dispatch"), (f"{NOW + 31 * DAY}e0", "dispatch"),
    (f'"{NOW + 31 * DAY}"', "phone"), ("[1802678400]", "dispatch"), ("-1", "dispatch"),
    ("0", "dispatch"), ("true", "dispatch"), ('{"$date": 1}', "dispatch"),
])
def test_schedule_as_raw_json_text_is_refused(raw, rule):
    """Python's json reads `Infinity`/`NaN` tokens, and a 1e400 literal as inf: the guard
    sees the raw text's value, never forwards it."""
    c, server = client()
    text = json.dumps(body(scheduled_time_unix="@@")).replace('"@@"', raw)
    probe(c, server, rule, "POST", f"{BASE}/submit", content=text,
          headers={"content-type": "application/json"})


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "get"])
@pytest.mark.parametrize("extra", [
    {"content": b"{}"},
    {"headers": {"X-HTTP-Method-Override": "POST"}},
    {"headers": {"X-HTTP-Method": "DELETE"}},
    {"headers": {"x-method-override": "DELETE"}},
    {"params": {"_method": "DELETE"}},
    {"params": {"_METHOD": "post"}},
])
def test_a_read_that_could_be_a_write_is_refused(method, extra):
    c, server = _owned_client()
    probe(c, server, "safe-method", method, f"{BASE}/btcal_1", **extra)


@pytest.mark.parametrize("extra", [
    {"headers": {"X-HTTP-Method-Override": "DELETE"}}, {"params": {"_method": "DELETE"}},
])
def test_a_mutation_asking_for_another_method_is_refused(extra):
    """POST .../cancel read as DELETE .../cancel, or a submit read as something else."""
    c, server = _owned_client()
    probe(c, server, "method-override", "POST", f"{BASE}/btcal_1/cancel", **extra)
    probe(c, server, "method-override", "POST", f"{BASE}/submit", json=body(), **extra)


def _raw(path: bytes) -> httpx.URL:
    return httpx.URL(LOCAL).copy_with(raw_path=path)


@pytest.mark.parametrize("method, raw, rule", [
    ("DELETE", b"/btcal_1%2F..%2Fbtcal_2", "path"),
    ("DELETE", b"/btcal_1%2fcancel", "path"),
    ("POST", b"/%2E%2E/btcal_2/cancel", "path"),
    ("POST", b"/btcal_1/%2e/cancel", "path"),
    ("POST", b"/btcal_1/%2E%2E/btcal_2/cancel", "path"),
    ("DELETE", b"/btcal_1%252F..%252Fbtcal_2", "path"),   # a server decoding twice
    ("POST", b"/btcal_2%252Fcancel", "path"),
    ("DELETE", b"/%2577orkspace", "path"),
    ("DELETE", b"/btcal_1%5C..%5Cbtcal_2", "path"),        # a server reading \ as /
    ("POST", b"/btcal_1/cancel;x", "path"),                 # ;-parameters stripped by some
    ("DELETE", b"/btcal_1%3B/btcal_2", "path"),
    ("DELETE", b"/btcal_1%00", "path"),
    ("DELETE", b"/btcal_1%0D%0AX:1", "path"),
    ("DELETE", b"/%77orkspace", "operation"),               # decodes to a reserved word
    ("DELETE", b"/%73ubmit", "operation"),
    ("POST", b"/%77orkspace", "operation"),
    ("POST", b"/btcal_1/%63ancel/", "operation"),
    ("DELETE", b"/btcal%5F2", "owner"),
    ("POST", b"/btcal%5F2/%63ancel", "owner"),
])
def test_a_path_read_once_from_the_raw_url(method, raw, rule):
    c, server = _owned_client()
    probe(c, server, rule, method, _raw(BASE.encode() + raw))


def test_a_batch_id_that_decodes_to_submit_is_checked_as_a_submit():
    c, server = _owned_client()
    probe(c, server, "phone", "POST", _raw(f"{BASE}/%73ubmit".encode()),
          json=body(recipients=[{"phone_number": REAL}]))


def test_dot_segments_never_reach_the_guard_unresolved():
    """httpx resolves literal '.' and '..' segments (even in a raw path) before sending: the
    guard judges the path that is sent, so '..' cannot reach another batch."""
    c, server = _owned_client()
    for raw in (b"/btcal_1/../btcal_2/cancel", b"/btcal_1/./../btcal_2"):
        url = _raw(BASE.encode() + raw)
        assert b".." not in url.raw_path
        probe(c, server, "owner", "POST" if raw.endswith(b"cancel") else "DELETE", url)
    assert c.post(_raw(f"{BASE}/btcal_1/./cancel".encode())).status_code == 200
    assert server.seen[-1].url.raw_path == f"{BASE}/btcal_1/cancel".encode()


@pytest.mark.parametrize("raw", [
    b"/_mock/%2E%2E/v1/convai/batch-calling/btcal_2/cancel",
    b"/_mock/%2e%2e%2fv1/convai/batch-calling/btcal_2",
    b"/_mock%2F..%2Fv1/convai/batch-calling/btcal_2",
    b"/_mock/%252E%252E/v1/convai/batch-calling/btcal_2",
    b"/_mock/..%5Cv1/convai/batch-calling/btcal_2",
])
def test_extra_mutating_paths_cannot_be_climbed_out_of(raw):
    c, server = _owned_client(extra_mutating_paths=("/_mock/",))
    probe(c, server, "path", "DELETE" if raw.endswith(b"btcal_2") else "POST", _raw(raw))


def test_extra_mutating_paths_match_whole_segments():
    c, server = _owned_client(extra_mutating_paths=("/_mock",))
    c.post("/_mock/clock/advance", json={"seconds": 5})
    c.post("/_mock", json={})
    probe(c, server, "operation", "POST", "/_mockery/anything", json={})
    probe(c, server, "operation", "DELETE", "/_mock-other", json={})


def _redirecting(seen, location, key_header="xi-api-key"):
    def handler(request):
        seen.append(request)
        if request.url.host == "127.0.0.1":
            return httpx.Response(307, headers={"location": location})
        return httpx.Response(200, json={"id": "btcal_elsewhere", "name": PREFIX + "smoke"})
    return handler


@pytest.mark.parametrize("location", [
    "http://localhost:8766/v1/convai/batch-calling/submit",
    "http://[::1]:8765/v1/convai/batch-calling/submit",
])
def test_a_redirect_from_submit_is_not_followed(location):
    """A 307 from submit to another allowed origin: not followed however the client or the
    request asks, the key not forwarded, and nothing recorded as owned."""
    import secrets

    key = secrets.token_hex(16)
    seen, ledger = [], Ledger()
    transport = SafetyTransport(httpx.MockTransport(_redirecting(seen, location)), policy(),
                                ledger)
    guarded = safety.guarded_client(LOCAL, policy(), ledger=ledger,
                                    inner=httpx.MockTransport(_redirecting(seen, location)),
                                    headers={"xi-api-key": key})
    assert guarded.post(f"{BASE}/submit", json=body()).status_code == 307
    with pytest.raises(UnsafeRequest) as info:  # one request asks to follow: still refused
        guarded.post(f"{BASE}/submit", json=body(), follow_redirects=True)
    assert info.value.rule == "redirect"
    by_hand = httpx.Client(base_url=LOCAL, transport=transport, follow_redirects=True,
                           headers={"xi-api-key": key}, trust_env=False)
    assert not safety.is_guarded(by_hand)
    with pytest.raises(UnsafeRequest) as info:
        by_hand.post(f"{BASE}/submit", json=body())
    assert info.value.rule == "redirect"
    assert [r.url.host for r in seen] == ["127.0.0.1"] * 3  # the other origin: never reached
    assert not any(r.headers.get("xi-api-key") == key and r.url.host != "127.0.0.1"
                   for r in seen)
    assert not ledger.created and "btcal_elsewhere" not in ledger
    with pytest.raises(ValueError):
        safety.guarded_client(LOCAL, policy(), follow_redirects=True)


def test_a_redirect_answer_does_not_taint_the_next_request():
    """The mark is on the redirected request only: the client's next request is sent."""
    seen = []
    c = safety.guarded_client(LOCAL, policy(), inner=httpx.MockTransport(
        _redirecting(seen, "http://localhost:1/x")))
    assert c.get(f"{BASE}/workspace").status_code == 307
    assert c.get(f"{BASE}/workspace").status_code == 307
    assert len(seen) == 2


def test_async_redirects_are_not_followed_either():
    seen = []

    async def go():
        transport = AsyncSafetyTransport(httpx.MockTransport(_redirecting(
            seen, "http://localhost:8766/v1/convai/batch-calling/submit")), policy())
        async with httpx.AsyncClient(base_url=LOCAL, transport=transport,
                                     follow_redirects=True) as c:
            assert not safety.is_guarded(c)
            with pytest.raises(UnsafeRequest) as info:
                await c.post(f"{BASE}/submit", json=body())
        return info.value, transport.ledger

    exc, ledger = asyncio.run(go())
    assert exc.rule == "redirect" and len(seen) == 1 and not ledger.created


@pytest.mark.parametrize("host", [
    "evil.example", "127.0.0.1:9999", "127.0.0.1", "evil@127.0.0.1:8765", "127.0.0.1:8765 x",
    "127.0.0.1:8765, evil.example", "localhost:8765", "127.0.0.2:8765", "127.0.0.1:8765.",
    "", "[::1]:8765", "127.0.0.1:08765x",
])
def test_the_host_header_is_pinned_to_the_url(host):
    c, server = client()
    probe(c, server, "host", "GET", f"{BASE}/workspace", headers={"Host": host})


def test_the_host_header_may_only_restate_the_url():
    c, server = client(allowed_hosts=frozenset({"api.example.com", "127.0.0.1"}))
    c.get(f"{BASE}/workspace", headers={"Host": "127.0.0.1:8765"})
    c.get("https://api.example.com/x", headers={"Host": "API.example.com:443"})
    c.get("https://api.example.com/x", headers={"Host": "api.example.com"})
    assert len(server.seen) == 3
    probe(c, server, "host", "GET", "https://api.example.com/x",
          headers={"Host": "api.example.com:80"})


@pytest.mark.parametrize("header", ["X-Forwarded-Host", "Forwarded", "X-Original-URL",
                                    "X-Rewrite-URL", "X-Host", "X-Forwarded-Prefix"])
def test_routing_headers_are_refused(header):
    """A proxy or framework may route by these instead of Host or the path (X-Original-URL:
    DELETE an owned id, served as another)."""
    c, server = _owned_client()
    probe(c, server, "host", "DELETE", f"{BASE}/btcal_1",
          headers={header: f"{BASE}/btcal_2" if "URL" in header else "evil.example"})


def test_a_recipients_allowance_is_one_named_submit_only():
    """A documented boundary may carry more recipients than the run's cap: exactly the one
    submit named in the allowance, once; every other submit over the cap is refused."""
    import httpx

    from conformance.safety import SafetyPolicy, SafetyTransport, UnsafeRequest

    policy = SafetyPolicy(name_prefix="cst-r1-", base_path="/v1/convai/batch-calling",
                          allowed_hosts=frozenset({"127.0.0.1"}), max_recipients=5)
    transport = SafetyTransport(httpx.MockTransport(lambda r: httpx.Response(
        200, json={"id": "btcal_1"})), policy)
    url = "http://127.0.0.1/v1/convai/batch-calling/submit"

    def submit(name: str, count: int) -> None:
        body = {"call_name": name, "agent_id": "a",
                "scheduled_time_unix": int(time.time()) + 90 * 86400,
                "recipients": [{"phone_number": f"+120155501{i % 100:02d}"}
                               for i in range(count)]}
        transport.handle_request(httpx.Request("POST", url, json=body))

    transport.ledger.allow_recipients("cst-r1-boundary", 8)
    with pytest.raises(UnsafeRequest):
        submit("cst-r1-other", 8)            # another name: the cap holds
    submit("cst-r1-boundary", 8)             # the named one passes, once
    with pytest.raises(UnsafeRequest):
        submit("cst-r1-boundary", 8)         # used up
    submit("cst-r1-small", 0)                # no recipients, no allowance: as before
    assert transport.ledger.recipients_sent == 0
