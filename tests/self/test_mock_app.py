"""The mock over HTTP, in process: every operation in both dialects, every response checked
against the bundled spec (tests/self/conftest.py::Api), errors, workspaces, admin API, faults."""

from __future__ import annotations

import csv
import io
import warnings

import pytest

from conformance.api import api_for
from conformance.exchanges import validate_response
from conformance.fictional import fingerprint
from conformance.mock import FAULTS, NUMBERS, UnknownFault, create_app
from conformance.mock.__main__ import main as cli_main
from conformance.mock.clock import WallClock
from conformance.spec import load_spec

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

KEY, OTHER_KEY = "mock-key-local", "mock-key-other"



class Api:
    """Calls the app in process; every response is checked against the dialect's spec."""

    def __init__(self, app, key: str | None = KEY, check: bool = True) -> None:
        self.app = app
        self.store = app.state.store
        self.profile = app.state.profile
        self.base = self.profile.base_path
        self.spec = app.state.spec
        self.key = key
        self.check = check
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.http = TestClient(app)

    def as_key(self, key: str | None) -> Api:
        other = Api.__new__(Api)
        other.__dict__.update(self.__dict__)
        other.key = key
        return other

    def request(self, method: str, path: str, *, key: str | None = ..., headers=None,
                check: bool | None = None, **kw):
        key = self.key if key is ... else key
        headers = dict(headers or {})
        if key is not None:
            headers[self.profile.auth_header] = key
        url = path if path.startswith("/_mock") or path.startswith("/v1/other") \
            else self.base + path
        response = self.http.request(method, url, headers=headers, **kw)
        if self.check if check is None else check:
            errors = validate_response(self.spec, method, url.split("?")[0],
                                       response.status_code,
                                       response.headers.get("content-type"), response.content)
            assert errors == [], errors
        return response

    def submit(self, body, **kw):
        return self.request("POST", "/submit", json=body, **kw)

    def list(self, **params):
        check = params.pop("check", None)
        return self.request("GET", "/workspace", params=params, check=check)

    def get(self, batch_id, **kw):
        return self.request("GET", f"/{batch_id}", **kw)

    def cancel(self, batch_id, **kw):
        return self.request("POST", f"/{batch_id}/cancel", **kw)

    def retry(self, batch_id, **kw):
        return self.request("POST", f"/{batch_id}/retry", **kw)

    def delete(self, batch_id, **kw):
        return self.request("DELETE", f"/{batch_id}", **kw)

    def export(self, batch_id, **kw):
        return self.request("GET", f"/{batch_id}/export", **kw)

    def advance(self, seconds: int) -> int:
        return self.store.advance(seconds)


@pytest.fixture(params=["elevenlabs", "voiceai"])
def dialect(request) -> str:
    return request.param


@pytest.fixture
def mock_api(dialect) -> Api:
    return Api(create_app(dialect))

BATCH_STATUSES = {"pending", "in_progress", "completed", "failed", "cancelled"}


def sub(names=("completes",), **extra):
    return {"call_name": "App test", "agent_id": extra.pop("agent_id", "agent_1"),
            "recipients": [{"phone_number": NUMBERS[n]} for n in names], **extra}


def submit(api: Api, names=("completes",), **extra) -> dict:
    response = api.submit(sub(names, **extra))
    assert response.status_code == 200, response.text
    return response.json()


# --- every operation, both dialects -----------------------------------------------------
def test_every_operation_round_trip(mock_api):
    created = submit(mock_api, ("completes", "fails", "voicemail"), target_concurrency_limit=2)
    assert created["status"] == "pending"
    assert created["total_calls_scheduled"] == 3
    assert created["total_calls_dispatched"] == created["total_calls_finished"] == 0
    batch_id = created["id"]

    listed = mock_api.list().json()
    assert [b["id"] for b in listed["batch_calls"]] == [batch_id]
    assert listed["has_more"] is False and listed["next_doc"] is None
    assert "recipients" not in listed["batch_calls"][0]

    mock_api.advance(2)   # two calls in flight (limit 2); the third waits for a slot
    got = mock_api.get(batch_id).json()
    assert got["status"] == "in_progress"
    assert got["total_calls_dispatched"] == 2
    assert sum(r["status"] in ("dispatched", "initiated", "in_progress")
               for r in got["recipients"]) <= 2

    mock_api.advance(3600)
    got = mock_api.get(batch_id).json()
    assert got["status"] == "completed"
    assert [r["status"] for r in got["recipients"]] == ["completed", "failed", "voicemail"]
    assert got["total_calls_finished"] == got["total_calls_dispatched"] == 3

    exported = mock_api.export(batch_id)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["recipient_id", "phone_number", "whatsapp_user_id", "status",
                       "conversation_id", "created_at_unix", "updated_at_unix"]
    assert [row[3] for row in rows[1:]] == ["completed", "failed", "voicemail"]
    assert len(list(csv.reader(io.StringIO(mock_api.export(batch_id,
                                                       params={"limit": 1}).text)))) == 2
    assert len(list(csv.reader(io.StringIO(mock_api.export(batch_id,
                                                       params={"limit": 0}).text)))) == 1

    retried = mock_api.retry(batch_id).json()
    assert retried["retry_count"] == 1 and retried["status"] == "in_progress"
    assert retried["total_calls_dispatched"] == 1
    cancelled = mock_api.cancel(batch_id).json()
    assert cancelled["status"] == "cancelled"
    assert mock_api.cancel(batch_id).status_code == 409
    assert mock_api.retry(batch_id).status_code == 409

    deleted = mock_api.delete(batch_id)
    assert deleted.status_code == 204 and deleted.content == b""
    for call in (mock_api.get, mock_api.cancel, mock_api.retry, mock_api.delete, mock_api.export):
        assert call(batch_id).status_code == 404
    assert mock_api.list().json()["batch_calls"] == []


def test_response_keys_follow_the_dialect(mock_api, dialect):
    spec = load_spec(dialect)
    keys = set(spec["components"]["schemas"]["BatchCallResponse"]["properties"])
    created = submit(mock_api)
    assert set(created) == keys
    got = mock_api.get(created["id"]).json()
    assert set(got) == keys | {"recipients"}
    assert all(v is None for k, v in got.items() if k in ("branch_id", "environment",
                                                            "timezone", "phone_number_id"))
    if dialect == "voiceai":
        assert not {"branch_id", "environment", "timezone", "telephony_call_config",
                    "target_concurrency_limit", "branch_name"} & set(created)
    else:
        assert created["telephony_call_config"] == {"ringing_timeout_secs": 60,
                                                    "twilio_call_recording_enabled": False}


def test_echoes_optional_fields(dialect):
    api = Api(create_app(dialect))
    providers = api_for(dialect).lifecycle.providers
    body = sub(("completes",), agent_phone_number_id="sip_trunk_phone_1", branch_id="br_1",
               environment="staging", timezone="Europe/Paris",
               telephony_call_config={"ringing_timeout_secs": 30},
               target_concurrency_limit=5)
    body["recipients"][0]["conversation_initiation_client_data"] = {
        "dynamic_variables": {"first_name": "Ada"}}
    created = api.submit(body).json()
    assert created["name"] == "App test"
    assert created["phone_number_id"] == "sip_trunk_phone_1"
    assert created["phone_provider"] == "sip_trunk" and "sip_trunk" in providers
    if dialect == "elevenlabs":
        assert created["branch_id"] == "br_1" and created["branch_name"]
        assert created["timezone"] == "Europe/Paris"
        assert created["telephony_call_config"]["ringing_timeout_secs"] == 30
        assert created["target_concurrency_limit"] == 5
    got = api.get(created["id"]).json()
    assert got["recipients"][0]["conversation_initiation_client_data"] == {
        "dynamic_variables": {"first_name": "Ada"}}


def test_whatsapp_batch(mock_api):
    body = {"call_name": "WA", "agent_id": "agent_1",
            "whatsapp_params": {"whatsapp_call_permission_request_template_name": "tpl",
                                "whatsapp_call_permission_request_template_language_code": "en"},
            "recipients": [{"whatsapp_user_id": "wa_user_1"}]}
    created = mock_api.submit(body).json()
    assert created["phone_provider"] is None
    mock_api.advance(3600)
    assert mock_api.get(created["id"]).json()["recipients"][0]["status"] == "completed"
    # The schema lets a recipient lack the contact its batch dials: accepted, and its call
    # fails to set up (README "Recipients without a contact").
    body["recipients"] = [{"phone_number": NUMBERS["completes"]}, {}]
    created = mock_api.submit(body).json()
    mock_api.advance(3600)
    got = mock_api.get(created["id"]).json()
    assert [r["status"] for r in got["recipients"]] == ["failed", "failed"]


def test_scheduled_batch_over_http(mock_api):
    start = mock_api.store.now() + 300
    created = submit(mock_api, scheduled_time_unix=start)
    assert created["scheduled_time_unix"] == start
    mock_api.advance(299)
    assert mock_api.get(created["id"]).json()["status"] == "pending"
    mock_api.advance(1)
    assert mock_api.get(created["id"]).json()["status"] == "in_progress"


def test_list_paging_and_agent_filter(mock_api):
    ids = [submit(mock_api, agent_id=f"agent_{i % 2}")["id"] for i in range(5)]
    seen, last_doc = [], None
    while True:
        params = {"limit": 2} if last_doc is None else {"limit": 2, "last_doc": last_doc}
        page = mock_api.list(**params).json()
        assert len(page["batch_calls"]) <= 2
        seen += [b["id"] for b in page["batch_calls"]]
        if not page["has_more"]:
            assert page["next_doc"] is None
            break
        last_doc = page["next_doc"]
    assert seen == ids[::-1]
    only = mock_api.list(agent_id="agent_1").json()["batch_calls"]
    assert [b["id"] for b in only] == [ids[3], ids[1]]


def test_ten_thousand_recipients_fit(mock_api):
    body = sub(("completes",))
    body["recipients"] = [{"phone_number": NUMBERS["completes"], "id": f"r{i}"}
                          for i in range(10_000)]
    created = mock_api.submit(body).json()
    assert created["total_calls_scheduled"] == 10_000
    mock_api.advance(10**6)
    assert mock_api.get(created["id"]).json()["total_calls_finished"] == 10_000


# --- validation ------------------------------------------------------------------------
VALID = sub(("completes",))


@pytest.mark.parametrize("change,expected", [
    ({"recipients": None}, [("list_type", ["body", "recipients"])]),
    ({"recipients": "x"}, [("list_type", ["body", "recipients"])]),
    ({"recipients": [{"phone_number": 5}]},
     [("string_type", ["body", "recipients", 0, "phone_number"])]),
    ({"recipients": [5]}, [("model_attributes_type", ["body", "recipients", 0])]),
    ({"call_name": None}, [("string_type", ["body", "call_name"])]),
    ({"agent_id": 7}, [("string_type", ["body", "agent_id"])]),
    ({"target_concurrency_limit": 0}, [("greater_than_equal", ["body",
                                                                "target_concurrency_limit"])]),
    ({"target_concurrency_limit": "x"}, [("int_parsing", ["body", "target_concurrency_limit"])]),
    ({"scheduled_time_unix": 1.5}, [("int_from_float", ["body", "scheduled_time_unix"])]),
    ({"scheduled_time_unix": True}, [("int_type", ["body", "scheduled_time_unix"])]),
    ({"telephony_call_config": {"ringing_timeout_secs": 1000}},
     [("less_than_equal", ["body", "telephony_call_config", "ringing_timeout_secs"])]),
    ({"telephony_call_config": {"twilio_call_recording_enabled": "maybe"}},
     [("bool_type", ["body", "telephony_call_config", "twilio_call_recording_enabled"])]),
    ({"telephony_call_config": None},
     [("model_attributes_type", ["body", "telephony_call_config"])]),
    ({"whatsapp_params": {}},
     [("missing", ["body", "whatsapp_params",
                   "whatsapp_call_permission_request_template_name"]),
      ("missing", ["body", "whatsapp_params",
                   "whatsapp_call_permission_request_template_language_code"])]),
])
def test_submit_422_items(mock_api, change, expected):
    response = mock_api.submit({**VALID, **change})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [(d["type"], d["loc"]) for d in detail] == expected
    for item in detail:
        assert {"type", "loc", "msg", "input"} <= set(item) and item["msg"]


def test_missing_fields_in_declaration_order(mock_api):
    detail = mock_api.submit({}).json()["detail"]
    assert [(d["type"], d["loc"]) for d in detail] == [
        ("missing", ["body", "call_name"]), ("missing", ["body", "agent_id"]),
        ("missing", ["body", "recipients"])]
    assert detail[0]["input"] == {}


def test_too_many_recipients(mock_api):
    body = {**VALID, "recipients": [{"phone_number": NUMBERS["completes"]}] * 10_001}
    detail = mock_api.submit(body).json()["detail"]
    assert detail[0]["type"] == "too_long" and detail[0]["loc"] == ["body", "recipients"]
    assert detail[0]["ctx"] == {"field_type": "List", "max_length": 10000,
                                "actual_length": 10001}


@pytest.mark.parametrize("content,headers,status,type_", [
    (b"", {"content-type": "application/json"}, 422, "missing"),
    (b"{not json", {"content-type": "application/json"}, 422, "json_invalid"),
    (b"NaN", {"content-type": "application/json"}, 422, "json_invalid"),
    (b"\xff\xfe", {"content-type": "application/json"}, 422, "json_invalid"),
    (b"[]", {"content-type": "application/json"}, 422, "model_attributes_type"),
    (b'"text"', {}, 422, "model_attributes_type"),
    (b"call_name=x", {"content-type": "application/x-www-form-urlencoded"}, 415, None),
    (b"{}", {"content-type": "text/plain"}, 415, None),
])
def test_malformed_bodies(mock_api, content, headers, status, type_):
    response = mock_api.request("POST", "/submit", content=content, headers=headers)
    assert response.status_code == status
    detail = response.json()["detail"]
    if type_:
        assert detail[0]["type"] == type_ and detail[0]["loc"][0] == "body"
    else:
        assert detail["code"] == "unsupported_media_type"


def test_oversized_body():
    api = Api(create_app(max_body_bytes=1024))
    body = {**VALID, "recipients": [{"phone_number": NUMBERS["completes"]}] * 100}
    response = api.submit(body)
    assert response.status_code == 413
    assert response.json()["detail"]["code"] == "payload_too_large"


@pytest.mark.parametrize("path,params,loc,type_", [
    ("/workspace", {"limit": "abc"}, ["query", "limit"], "int_parsing"),
    ("/workspace", {"limit": "1.5"}, ["query", "limit"], "int_parsing"),
    ("/workspace", {"limit": "\u0661"}, ["query", "limit"], "int_parsing"),
    ("/workspace", {"limit": "5\n"}, ["query", "limit"], "int_parsing"),
    ("/workspace", {"limit": "9" * 5000}, ["query", "limit"], "int_parsing_size"),
    ("/workspace", {"last_doc": "garbage"}, ["query", "last_doc"], "value_error"),
    ("/btcal_unknown/export", {"limit": "x"}, ["query", "limit"], "int_parsing"),
])
def test_query_422(mock_api, path, params, loc, type_):
    response = mock_api.request("GET", path, params=params)
    assert response.status_code == 422
    assert [(d["type"], d["loc"]) for d in response.json()["detail"]] == [(type_, loc)]


def test_limits_the_spec_allows_are_served(mock_api):
    """The spec bounds neither `limit`: list clamps it into 1..100, export serves the header
    only for limit <= 0; an empty last_doc is the first page."""
    batch_id = submit(mock_api, ("completes",) * 3)["id"]
    assert len(mock_api.list(limit=-5).json()["batch_calls"]) == 1
    assert len(mock_api.list(limit=0).json()["batch_calls"]) == 1
    assert [b["id"] for b in mock_api.list(last_doc="").json()["batch_calls"]] == [batch_id]
    assert mock_api.export(batch_id, params={"limit": -279}).text.count("\r\n") == 1
    assert mock_api.export(batch_id, params={"limit": "9" * 20}).text.count("\r\n") == 4


def test_limit_is_clamped_to_100(mock_api):
    for _ in range(101):
        mock_api.store.submit("ws", {"call_name": "x", "agent_id": "a", "recipients": []})
    body = {"call_name": "x", "agent_id": "a", "recipients": []}
    for _ in range(101):
        mock_api.submit(body)
    page = mock_api.list(limit=500).json()
    assert len(page["batch_calls"]) == 100 and page["has_more"] is True


# --- auth, 404, workspaces --------------------------------------------------------------
def every_call(api: Api, batch_id: str):
    return {
        "submit": lambda: api.submit(VALID),
        "list": lambda: api.list(),
        "get": lambda: api.get(batch_id),
        "cancel": lambda: api.cancel(batch_id),
        "retry": lambda: api.retry(batch_id),
        "delete": lambda: api.delete(batch_id),
        "export": lambda: api.export(batch_id),
    }


@pytest.mark.parametrize("key,status", [(None, "needs_authorization"),
                                        ("wrong-key", "invalid_api_key"),
                                        ("", "needs_authorization")])
def test_401(mock_api, key, status):
    batch_id = submit(mock_api)["id"]
    for name, call in every_call(mock_api.as_key(key), batch_id).items():
        response = call()
        assert response.status_code == 401, name
        assert response.json()["detail"]["status"] == status


def test_auth_header_is_the_dialects(mock_api, dialect):
    other_header = "x-mock_api-key" if dialect == "elevenlabs" else "xi-mock_api-key"
    response = mock_api.request("GET", "/workspace", key=None, headers={other_header: KEY})
    assert response.status_code == 401


def test_404_unknown_id(mock_api):
    calls = every_call(mock_api, "btcal_does_not_exist")
    for name in ("get", "cancel", "retry", "delete", "export"):
        response = calls[name]()
        assert response.status_code == 404, name
        detail = response.json()["detail"]
        assert detail["code"] == "batch_call_not_found" and detail["request_id"]


def test_workspace_isolation_on_every_operation(mock_api):
    batch_id = submit(mock_api, ("fails",))["id"]
    mock_api.advance(3600)
    other = mock_api.as_key(OTHER_KEY)
    calls = every_call(other, batch_id)
    assert calls["list"]().json()["batch_calls"] == []
    for name in ("get", "cancel", "retry", "delete", "export"):
        assert calls[name]().status_code == 404, name
    assert mock_api.get(batch_id).json()["status"] == "failed"   # untouched
    own = submit(other)
    assert [b["id"] for b in mock_api.list().json()["batch_calls"]] == [batch_id]
    assert [b["id"] for b in other.list().json()["batch_calls"]] == [own["id"]]


def test_custom_keys_and_shared_workspace():
    app = create_app(keys={"k1": "team", "k2": "team", "k3": "solo"})
    a, b, c = Api(app, "k1"), Api(app, "k2"), Api(app, "k3")
    batch_id = submit(a)["id"]
    assert b.get(batch_id).status_code == 200
    assert c.get(batch_id).status_code == 404
    assert Api(app, KEY).list().status_code == 401


def test_unknown_routes_are_json_404_and_405(mock_api):
    assert mock_api.request("GET", "/v1/other", check=False).json() == {"detail": "Not Found"}
    response = mock_api.request("PUT", "/submit", check=False)
    assert response.status_code == 405


# --- admin API -----------------------------------------------------------------------
def test_admin_api_off_by_default(mock_api):
    for method, path in (("GET", "/_mock/clock"), ("POST", "/_mock/clock/advance"),
                         ("POST", "/_mock/reset"), ("GET", "/_mock/faults")):
        assert mock_api.request(method, path, check=False).status_code == 404


def test_admin_api(dialect):
    api = Api(create_app(dialect, admin=True, faults=["submit-201"]), check=False)
    now = api.request("GET", "/_mock/clock").json()
    assert now["kind"] == "manual"
    batch_id = api.submit(VALID).json()["id"]
    moved = api.request("POST", "/_mock/clock/advance", json={"seconds": 3600}).json()
    assert moved["now"] == now["now"] + 3600
    assert api.get(batch_id).json()["status"] == "completed"
    assert api.request("POST", "/_mock/clock/advance", json={"seconds": -1}).status_code == 400
    assert api.request("POST", "/_mock/clock/advance", json={"s": 1}).status_code == 400
    assert api.request("POST", "/_mock/clock/set",
                       json={"now": moved["now"] + 10}).json()["now"] == moved["now"] + 10
    state = api.request("GET", "/_mock/state").json()
    assert [b["id"] for b in state["batches"]] == [batch_id]
    faults = api.request("GET", "/_mock/faults").json()
    assert faults["active"] == ["submit-201"]
    assert {f["name"] for f in faults["available"]} == set(FAULTS)
    assert api.request("POST", "/_mock/reset").json()["reset"] is True
    assert api.get(batch_id).status_code == 404


def test_admin_cannot_move_a_wall_clock():
    api = Api(create_app(admin=True, clock=WallClock()), check=False)
    assert api.request("POST", "/_mock/clock/advance", json={"seconds": 1}).status_code == 409
    assert api.request("GET", "/_mock/clock").json()["kind"] == "wall"


# --- faults ----------------------------------------------------------------------------
def _statuses(api, batch_id):
    return [r["status"] for r in api.get(batch_id).json()["recipients"]]


def _in_flight(api, batch_id):
    return sum(s in ("dispatched", "initiated", "in_progress") for s in _statuses(api, batch_id))


def _page_ids(api, limit):
    ids, last_doc = [], None
    for _ in range(10):
        params = {"limit": limit, **({"last_doc": last_doc} if last_doc else {})}
        page = api.list(**params).json()
        ids += [b["id"] for b in page["batch_calls"]]
        if not page["has_more"]:
            break
        last_doc = page["next_doc"]
    return ids


def _probe_cancel_pending(api):
    batch_id = submit(api, ("completes",) * 3, target_concurrency_limit=1)["id"]
    api.advance(2)
    api.cancel(batch_id)
    return sorted(set(_statuses(api, batch_id)))


def _probe_retry(api, names):
    batch_id = submit(api, names)["id"]
    api.advance(3600)
    return api.retry(batch_id).json(), batch_id


def _probe_finished_cancelled(api):
    batch_id = submit(api, ("fails", "completes_long"), target_concurrency_limit=2)["id"]
    api.advance(10)
    api.cancel(batch_id)
    return _statuses(api, batch_id)


def _probe_delete_in_flight(api):
    batch_id = submit(api)["id"]
    api.advance(2)
    api.delete(batch_id)
    return api.get(batch_id).status_code


def _probe_export_lines(api, params):
    batch_id = submit(api, ("completes",) * 3)["id"]
    return api.export(batch_id, params=params).text.splitlines()


def _probe_filter_second_page(api):
    first = submit(api)
    submit(api, agent_id="agent_probe_other")
    submit(api)
    agent = first["agent_id"]
    page = api.list(limit=1, agent_id=agent).json()
    following = api.list(limit=1, agent_id=agent, last_doc=page["next_doc"]).json()
    return [b["agent_id"] for b in following["batch_calls"]] == [agent]


def _probe_non_ascii(api):
    try:
        return api.submit({**VALID, "call_name": "cst-名前-📞"}).status_code
    except UnicodeError:  # the in-process client raises what the server answers 500
        return 500


# name -> (probe(api) -> observation, observation of the clean mock)
PROBES = {
    "submit-text-plain": (
        lambda api: api.submit(VALID).headers["content-type"].split(";")[0],
        "application/json"),
    "page-has-more-on-exact-multiple": (
        lambda api: ([submit(api) for _ in range(2)], api.list(limit=2).json()["has_more"])[1],
        False),
    "list-filter-first-page-only": (_probe_filter_second_page, True),
    "cross-workspace-delete": (
        lambda api: api.as_key(OTHER_KEY).delete(submit(api)["id"]).status_code, 404),
    "cancel-undeclared-status": (
        lambda api: api.cancel(submit(api)["id"]).json()["status"], "cancelled"),
    "non-ascii-name-500": (_probe_non_ascii, 200),
    "reject-10000-recipients": (
        lambda api: api.submit(sub(("completes",) * 10_000)).status_code, 200),
    "drop-agent-name": (lambda api: "agent_name" in submit(api), True),
    "created-at-as-string": (lambda api: type(submit(api)["created_at_unix"]).__name__, "int"),
    "recipient-omits-null-conversation-id": (
        lambda api: "conversation_id" in api.get(submit(api)["id"]).json()["recipients"][0],
        True),
    "submit-201": (lambda api: api.submit(VALID).status_code, 200),
    "delete-200": (lambda api: api.delete(submit(api)["id"]).status_code, 204),
    "delete-200-body": (
        lambda api: (lambda r: (r.status_code, r.content))(api.delete(submit(api)["id"])),
        (204, b"")),
    "not-found-string-detail": (
        lambda api: type(api.get("btcal_nope").json()["detail"]).__name__, "dict"),
    "accept-too-many-recipients": (
        lambda api: api.submit({**VALID, "recipients": VALID["recipients"] * 10_001})
        .status_code, 422),
    "accept-missing-agent-id": (
        lambda api: api.submit({k: v for k, v in VALID.items() if k != "agent_id"})
        .status_code, 422),
    "limit-not-validated": (lambda api: api.list(limit="abc").status_code, 422),
    "missing-key-accepted": (lambda api: api.as_key(None).list().status_code, 401),
    "wrong-key-accepted": (lambda api: api.as_key("nope").list().status_code, 401),
    "cross-workspace-lookup": (
        lambda api: api.as_key(OTHER_KEY).get(submit(api)["id"]).status_code, 404),
    "list-all-workspaces": (
        lambda api: (submit(api), len(api.as_key(OTHER_KEY).list().json()["batch_calls"]))[1],
        0),
    "cancel-leaves-one-pending": (_probe_cancel_pending, ["cancelled"]),
    "cancel-finished-accepted": (
        lambda api: (api.advance(0), api.cancel((lambda b: (api.advance(3600), b)[1])(
            submit(api)["id"])).status_code)[1], 409),
    "retry-count-not-incremented": (
        lambda api: _probe_retry(api, ("fails",))[0]["retry_count"], 1),
    "retry-requeues-completed": (
        lambda api: _statuses(api, _probe_retry(api, ("completes", "fails"))[1]),
        ["completed", "dispatched"]),
    "soft-delete": (
        lambda api: (lambda b: (api.delete(b), api.get(b).status_code)[1])(submit(api)["id"]),
        404),
    "page-ignores-limit": (
        lambda api: ([submit(api) for _ in range(3)], len(api.list(limit=2)
                                                          .json()["batch_calls"]))[1], 2),
    "page-overlap": (
        lambda api: ([submit(api) for _ in range(3)], (lambda ids: (len(ids), len(set(ids))))(
            _page_ids(api, 2)))[1], (3, 3)),
    "finished-exceeds-dispatched": (
        lambda api: (lambda b: (api.advance(3600), (lambda g: g["total_calls_finished"] <=
                                                    g["total_calls_dispatched"])(
            api.get(b).json()))[1])(submit(api)["id"]), True),
    "scheduled-counts-dispatched": (
        lambda api: submit(api, ("completes", "fails"), scheduled_time_unix=api.store.now() +
                           600)["total_calls_scheduled"], 2),
    "concurrency-limit-exceeded": (
        lambda api: (lambda b: (api.advance(3), _in_flight(api, b))[1])(
            submit(api, ("completes_long",) * 5, target_concurrency_limit=2)["id"]), 2),
    "dispatch-before-schedule": (
        lambda api: (lambda b: (api.advance(1), api.get(b).json()["status"])[1])(
            submit(api, scheduled_time_unix=api.store.now() + 600)["id"]), "pending"),
    "conversation-id-never-set": (
        lambda api: (lambda b: (api.advance(10), api.get(b).json()["recipients"][0]
                                ["conversation_id"] is not None)[1])(submit(api)["id"]), True),
    "batch-never-completes": (
        lambda api: (lambda b: (api.advance(3600), api.get(b).json()["status"])[1])(
            submit(api)["id"]), "completed"),
    "finished-recipient-cancelled": (_probe_finished_cancelled, ["failed", "cancelled"]),
    "last-updated-before-created": (
        lambda api: (lambda b: b["last_updated_at_unix"] >= b["created_at_unix"])(submit(api)),
        True),
    "export-no-header": (lambda api: _probe_export_lines(api, {})[0].split(",")[0],
                         "recipient_id"),
    "export-ignores-limit": (lambda api: len(_probe_export_lines(api, {"limit": 1})), 2),
    "delete-in-flight-keeps-calling": (_probe_delete_in_flight, 404),
}


WHATSAPP = {"call_name": "WA", "agent_id": "agent_1",
            "whatsapp_params": {"whatsapp_call_permission_request_template_name": "tpl",
                                "whatsapp_call_permission_request_template_language_code": "en"},
            "recipients": [{"whatsapp_user_id": "14155550100"}]}


def _probe_export_statuses(api, cancel: bool):
    batch_id = submit(api, ("completes",) * 2)["id"]
    if cancel:
        api.cancel(batch_id)
    return [line.split(",")[3] for line in api.export(batch_id).text.splitlines()[1:]]


# The whole contract's faults (conformance/mock/faults/contract.py).
PROBES.update({
    "whatsapp-params-refused": (lambda api: api.submit(WHATSAPP).status_code, 200),
    "whatsapp-user-id-dropped": (
        lambda api: api.get(api.submit(WHATSAPP).json()["id"]).json()["recipients"][0]
        ["whatsapp_user_id"], "14155550100"),
    "export-status-disagrees": (lambda api: _probe_export_statuses(api, True),
                                ["cancelled", "cancelled"]),
    "export-drops-cancelled": (lambda api: len(_probe_export_statuses(api, True)), 2),
})


# Webhook faults need a receiver: their probes are in tests/self/test_mock_webhooks.py.
def test_every_fault_has_a_probe():
    assert set(PROBES) == {n for n, f in FAULTS.items() if f.category != "webhooks"}
    assert len(FAULTS) >= 12
    for f in FAULTS.values():
        assert f.category and f.description


@pytest.mark.parametrize("name", sorted(PROBES))
def test_fault_changes_behaviour(name):
    probe, clean_expected = PROBES[name]
    clean = Api(create_app(), check=False)
    assert probe(clean) == clean_expected
    faulty = Api(create_app(faults=[name]), check=False)
    assert probe(faulty) != clean_expected, f"{name} had no observable effect"


def test_clean_probes_conform_to_the_spec():
    """The probes' own traffic against the clean mock validates against the spec."""
    for name, (probe, expected) in PROBES.items():
        assert probe(Api(create_app())) == expected, name


def test_unknown_fault_is_refused():
    with pytest.raises(UnknownFault, match="no-such-fault"):
        create_app(faults=["no-such-fault"])


def test_cli_lists_faults_and_refuses_unknown(capsys):
    assert cli_main(["--list-faults"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in FAULTS)
    assert cli_main(["--fault", "no-such-fault", "--port", "0"]) == 2
    assert "no-such-fault" in capsys.readouterr().err


def test_readme_example_runs():
    """The in-process example of conformance/mock/README.md runs as written."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "conformance" / "mock" /
            "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- example:in-process -->", 1)[1].split("```python\n", 1)[1]
    code = block.split("```", 1)[0]
    assert "create_app" in code and "ASGITransport" in code
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})


def test_cli_names_keys_by_fingerprint_only(capsys, monkeypatch):
    """At start-up the mock says which keys it accepts without printing them."""
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(options))
    assert cli_main(["--port", "0", "--key", "secret-key-123456", "--choices",
                     "alternate"]) == 0
    err = capsys.readouterr().err
    assert "secret" not in err and fingerprint("secret-key-123456") in err
    assert "choices alternate" in err
    assert served["date_header"] is False and "http" in served
    assert "secret-key-123456" not in repr(create_app(keys=["secret-key-123456"])
                                           .state.parts)
