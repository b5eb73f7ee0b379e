"""Self-tests of the fuzzing harness (conformance/fuzz/) and of the canary."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from conformance import fuzz
from conformance.api import api_for
from conformance.fictional import is_fictional_whatsapp_id
from conformance.fuzz.live import FOREIGN_REFERENCES, LIVE_MAX_RECIPIENTS, TEMPLATE_FIELDS
from conformance.safety import SafetyPolicy, UnsafeRequest, guarded_client, is_fictional_phone
from conformance.targets import parse_target

PREFIX = "cst-selftest-0000-"


@pytest.fixture(scope="module")
def schema():
    return fuzz.load_schema("elevenlabs")


def op(schema, operation_id):
    return schema.find_operation_by_id(operation_id)


# --- settings -------------------------------------------------------------------------


def test_settings_are_reproducible_and_deep_only_raises_counts():
    ci, deep = fuzz.settings_dict("ci"), fuzz.settings_dict("deep")
    assert isinstance(ci["seed"], int)
    assert ci["generation"]["deterministic"] is True
    assert ci["generation"]["database"] == "none"
    assert ci["generation"]["max-examples"] >= 100
    assert ci["hooks"] == "conformance.fuzz"
    assert all(ci["phases"][p]["enabled"] for p in ("examples", "coverage", "fuzzing",
                                                      "stateful"))
    assert ci["checks"]["enabled"] is True
    assert deep["generation"]["max-examples"] > ci["generation"]["max-examples"]
    assert deep["phases"]["stateful"]["max-steps"] > ci["phases"]["stateful"]["max-steps"]
    assert fuzz.STATEFUL_SCENARIOS["deep"] > fuzz.STATEFUL_SCENARIOS["ci"]
    assert {k: v for k, v in deep.items() if k not in ("generation", "phases")} == {
        k: v for k, v in ci.items() if k not in ("generation", "phases")}
    config = fuzz.load_config("ci")
    assert config.seed == ci["seed"]


def test_depth_comes_from_the_environment():
    assert fuzz.depth({}) == "ci"
    assert fuzz.depth({"CONFORMANCE_FUZZ": "deep"}) == "deep"
    with pytest.raises(ValueError):
        fuzz.depth({"CONFORMANCE_FUZZ": "forever"})


def test_every_operation_is_in_the_schema_and_links_start_at_submit(schema):
    assert {o.ok().definition.raw["operationId"] for o in schema.get_all_operations()} == set(
        api_for().ids)
    machine = fuzz.state_machine(fuzz.load_schema("elevenlabs"))
    assert any("submit" in rule for rule in machine.root_rules)


# --- bodies -----------------------------------------------------------------------------


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=10)
submit_like = st.fixed_dictionaries({}, optional={
    "call_name": json_values, "agent_id": json_values, "recipients": st.lists(
        st.dictionaries(st.sampled_from(["phone_number", "whatsapp_user_id", "id",
                                         "conversation_initiation_client_data"]),
                        json_values, max_size=4) | json_values, max_size=12),
    "scheduled_time_unix": json_values, "whatsapp_params": json_values,
    "timezone": json_values})


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(submit_like)
def test_live_safe_body_always_passes_the_live_guard(body):
    now = int(time.time())
    safe = fuzz.live_safe_body(body, PREFIX, now)
    assert safe["call_name"].startswith(PREFIX)
    assert 1 <= len(safe["recipients"]) <= LIVE_MAX_RECIPIENTS
    assert all(is_fictional_phone(r["phone_number"]) and "whatsapp_user_id" not in r
               for r in safe["recipients"])
    assert "whatsapp_params" not in safe
    assert safe["scheduled_time_unix"] >= now + 30 * 24 * 3600
    # And the transport that guards live runs lets exactly this through.
    sent = []
    inner = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(
        200, json={"id": "b1", "name": safe["call_name"]}))
    policy = SafetyPolicy(name_prefix=PREFIX, allowed_hosts=frozenset({"api.example.com"}))
    with guarded_client("https://api.example.com", policy, inner=inner) as client:
        client.post("/v1/convai/batch-calling/submit", json=safe)
    assert len(sent) == 1


SENDER = "109876543210987"  # a configured WhatsApp number id: all digits, as vendors issue


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(submit_like)
def test_live_safe_body_keeps_whatsapp_batches_when_the_number_id_is_configured(body):
    """With <VENDOR>_WHATSAPP_PHONE_NUMBER_ID set, a drawn `whatsapp_params` object stays (a
    WhatsApp batch: the configured sender, fictional WhatsApp users) and the guard, told the
    same id, lets it through; without it, it is dropped as before."""
    now = int(time.time())
    safe = fuzz.live_safe_body(body, PREFIX, now, whatsapp_phone_number_id=SENDER)
    if isinstance(body.get("whatsapp_params"), dict):
        params = safe["whatsapp_params"]
        assert params["whatsapp_phone_number_id"] == SENDER
        assert all(isinstance(params[k], str) for k in TEMPLATE_FIELDS)
        assert all(is_fictional_whatsapp_id(r["whatsapp_user_id"]) and "phone_number" not in r
                   for r in safe["recipients"])
    else:
        assert "whatsapp_params" not in safe
    sent = []
    inner = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(
        200, json={"id": "b1", "name": safe["call_name"]}))
    policy = SafetyPolicy(name_prefix=PREFIX, allowed_hosts=frozenset({"api.example.com"}),
                          whatsapp_phone_number_id=SENDER)
    with guarded_client("https://api.example.com", policy, inner=inner) as client:
        client.post("/v1/convai/batch-calling/submit", json=safe)
    assert len(sent) == 1


def test_live_safe_body_names_the_configured_agent_and_no_foreign_resource():
    """A drawn agent, phone number id, branch or environment names nothing on a vendor's
    server, and a drawn timezone may not be one: the rewrite keeps only what can be valid."""
    body = {"agent_id": "drawn", "timezone": "Mars/Olympus", "recipients": [{}],
            **dict.fromkeys(FOREIGN_REFERENCES, "drawn")}
    safe = fuzz.live_safe_body(body, PREFIX, 0, agent_id="agent_configured")
    assert safe["agent_id"] == "agent_configured"
    assert not set(FOREIGN_REFERENCES) & set(safe) and "timezone" not in safe
    assert fuzz.live_safe_body({"timezone": "Europe/Paris"}, PREFIX, 0)["timezone"] == \
        "Europe/Paris"
    dispatched = fuzz.live_safe_body({"scheduled_time_unix": 5}, PREFIX, 0, dispatch=True)
    assert "scheduled_time_unix" not in dispatched


def test_live_safe_body_refuses_what_is_not_an_object():
    assert fuzz.live_safe_body([1, 2], PREFIX, 0) is None
    assert fuzz.live_safe_body("x", PREFIX, 0) is None


def test_recipient_rule_is_satisfied_only_where_missing():
    body = {"recipients": [{}, {"phone_number": "+14155550100"}, {"phone_number": None}, 3]}
    fuzz.satisfy_recipient_rule(body)
    numbers = [r.get("phone_number") if isinstance(r, dict) else r for r in body["recipients"]]
    assert numbers[1] == "+14155550100" and numbers[3] == 3
    assert is_fictional_phone(numbers[0]) and is_fictional_phone(numbers[2])
    whatsapp = {"whatsapp_params": {}, "recipients": [{}]}
    assert fuzz.satisfy_recipient_rule(whatsapp)["recipients"][0]["whatsapp_user_id"]


def test_fictional_numbers_complete_and_fail_alternately():
    from conformance.mock.outcomes import outcome_for

    kinds = [outcome_for(fuzz.mixed_number(i)).result for i in range(4)]
    assert kinds == ["completes", "fails", "completes", "fails"]
    assert all(is_fictional_phone(fuzz.mixed_number(i)) for i in range(500))


@given(st.lists(st.one_of(st.text(max_size=12), st.none()), min_size=1, max_size=8))
def test_stateful_numbers_first_fail_and_keep_equality(drawn):
    """The in-process state machine's batches always have someone for retry to call again,
    and the rewrite keeps which recipients shared a number."""
    from conformance.mock.outcomes import outcome_for

    body = {"recipients": [{} if d is None else {"phone_number": d} for d in drawn]}
    fuzz.vary_outcomes(body)
    numbers = [r["phone_number"] for r in body["recipients"]]
    assert all(is_fictional_phone(n) and outcome_for(n).result != "completes" for n in numbers)
    same = {(i, j) for i, a in enumerate(drawn) for j, b in enumerate(drawn) if a == b and a}
    assert same == {(i, j) for i, a in enumerate(numbers) for j, b in enumerate(numbers)
                    if a == b and drawn[i] and drawn[j]}
    whatsapp = {"whatsapp_params": {}, "recipients": [{"whatsapp_user_id": "x"}]}
    assert fuzz.vary_outcomes(whatsapp)["recipients"] == [{"whatsapp_user_id": "x"}]


# --- world, pinning ---------------------------------------------------------------------


def test_world_has_a_batch_in_each_state_and_is_deterministic():
    target = parse_target("mock")
    worlds = [fuzz.World.build(target.new_app, target.api_key)
              for _ in range(2)]
    assert worlds[0].ids == worlds[1].ids and worlds[0].cursor == worlds[1].cursor
    store = worlds[0].app.state.store
    ws = worlds[0].app.state.parts.auth.keys[target.api_key]
    assert {state: store.get(ws, i).status for state, i in worlds[0].ids.items()} == {
        s: s for s in ("completed", "in_progress", "cancelled", "pending")}
    pins = {worlds[0].pin(f"id-{n}") for n in range(200)}
    assert set(worlds[0].ids.values()) < pins   # every batch, and some drawn ids kept


# --- checks and the runner ----------------------------------------------------------------


def _run(target_text, operation_id, schema, examples=25):
    target = parse_target(target_text)
    runner = fuzz.CaseRunner(target, PREFIX)

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(op(schema, operation_id).as_strategy())
    def run(case):
        runner.run(case)

    run()
    return runner


def test_canary_fails_a_run_whose_key_is_wrong(schema):
    good = _run("mock", "getBatchCall", schema)
    assert good.reach.verdict("getBatchCall") is None
    runner = fuzz.CaseRunner(parse_target("mock"), PREFIX)
    runner.headers = {"xi-api-key": "not-a-key"}

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(op(schema, "getBatchCall").as_strategy())
    def run(case):
        runner.run(case)

    run()   # every answer is a well-formed 401: no single case fails ...
    verdict = runner.reach.verdict("getBatchCall")
    assert verdict is not None and "401x" in verdict   # ... but the canary does


@pytest.mark.parametrize("fault, operation_id, rule", [
    ("finished-exceeds-dispatched", "getBatchCall", "counters.finished_le_dispatched"),
    ("last-updated-before-created", "listBatchCalls", "timestamps.created_le_updated"),
    ("cancel-leaves-one-pending", "cancelBatchCall", "status.cancelled_no_active_recipients"),
])
def test_domain_checks_catch_their_fault(schema, fault, operation_id, rule):
    with pytest.raises(BaseException) as excinfo:   # a FailureGroup
        _run(f"mock:{fault}", operation_id, schema, examples=40)
    failures = getattr(excinfo.value, "exceptions", [excinfo.value])
    assert any(rule in f"{f} {getattr(f, 'message', '')}" for f in failures), failures


def test_the_correct_mock_passes_every_check(schema):
    for operation_id in ("submitBatchCall", "getBatchCall", "cancelBatchCall",
                         "listBatchCalls"):
        runner = _run("mock", operation_id, schema, examples=15)
        assert runner.reach.verdict(operation_id) is None


# --- live path: the guard applies at the transport ------------------------------------------


def test_live_requests_and_check_probes_go_through_the_safety_transport():
    # Its own schema: the module's is shared with in-process runner tests, which set
    # `schema.app` (the probes would then go to that app, not through the live guard).
    schema = fuzz.load_schema("elevenlabs")
    target = parse_target("mock")
    app = target.new_app()
    policy = SafetyPolicy(name_prefix=PREFIX, allowed_hosts=frozenset({"localhost"}))
    inner = TestClient(app, base_url="http://localhost")._transport
    client = guarded_client("http://localhost", policy, inner=inner)
    headers = {target.profile.auth_header: target.api_key}
    submit = op(schema, "submitBatchCall")
    unsafe = submit.Case(body={"call_name": "x", "agent_id": "a",
                               "recipients": [{"phone_number": "+14155551234"}]},
                         media_type="application/json")
    with pytest.raises(UnsafeRequest):
        fuzz.send_httpx(client, unsafe, base_url="http://localhost", headers=headers)
    safe = submit.Case(body=fuzz.live_safe_body(unsafe.body, PREFIX, int(time.time())),
                       media_type="application/json")
    response = fuzz.send_httpx(client, safe, base_url="http://localhost", headers=headers)
    assert response.status_code == 200, response.text
    batch_id = response.json()["id"]
    assert batch_id in client._transport.ledger
    # A check's follow-up GET (batch_settles) travels the guarded session as well, and so do
    # Schemathesis' auth probes (`ignored_auth` drops the session it was given and opens its
    # own: the suite runs checks inside `probes_through`, as here; outside it, the probe went
    # to localhost:80 directly).
    session = fuzz.requests_session(client)
    seen = len(client._transport.ledger.refusals)
    with fuzz.probes_through(client):
        safe.validate_response(response, headers=headers, transport_kwargs={
            "session": session, "base_url": "http://localhost", "headers": headers})
    assert len(client._transport.ledger.refusals) == seen
    # ... and that session cannot be used to send what the guard refuses.
    with pytest.raises(UnsafeRequest):
        session.post("http://localhost/v1/convai/batch-calling/other/cancel")
    assert json.loads(session.get(f"http://localhost/v1/convai/batch-calling/{batch_id}",
                                  headers=headers).content)["id"] == batch_id


def test_live_fuzzing_keeps_generated_text_in_the_name_but_no_numerals():
    """Generated call_names reach a live server after the run's prefix, scripts and emoji
    included (a server that breaks on them must fail), but no numerals of any script (the
    guard would read them as a phone number)."""
    from conformance.fuzz.live import live_safe_body
    from conformance.safety import real_numbers

    generated = "Ωmega-名前-📞 ٤١٥٥٥٥٠١٩٩ 4155550199\x00"
    body = live_safe_body({"call_name": generated, "recipients": []}, "cst-run-", 1_800_000_000)
    assert body["call_name"] == "cst-run-fuzz-Ωmega-名前-📞"
    assert not real_numbers(body["call_name"])
