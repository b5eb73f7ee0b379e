"""conformance.invariants: each check passes on a valid object and names the right rule when
a minimally broken one fails it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import pytest

from conformance import invariants as inv
from conformance.invariants import RULES, InvariantViolation

BASE = "/v1/convai/batch-calling"
EXAMPLES = Path(__file__).resolve().parents[2] / "openapi" / "examples"


def recipient(rid, status, created=100, updated=120):
    return {"id": rid, "phone_number": "+14155550100", "whatsapp_user_id": None,
            "status": status, "created_at_unix": created, "updated_at_unix": updated,
            "conversation_id": None, "conversation_initiation_client_data": None}


def batch(**over):
    """A valid in-progress batch with 4 recipients: 1 completed, 1 voicemail, 1 in_progress,
    1 pending; counters agree with them even under strict rules."""
    b = {
        "id": "btcal_1", "phone_number_id": "phnum_1", "phone_provider": "twilio",
        "whatsapp_params": None, "name": "cst-run-a", "agent_id": "agent_1",
        "branch_id": None, "environment": None, "created_at_unix": 100,
        "scheduled_time_unix": 100, "timezone": None, "total_calls_dispatched": 3,
        "total_calls_scheduled": 4, "total_calls_finished": 2, "last_updated_at_unix": 150,
        "status": "in_progress", "retry_count": 0,
        "telephony_call_config": {"ringing_timeout_secs": 60},
        "target_concurrency_limit": None, "agent_name": "Agent", "branch_name": None,
        "recipients": [recipient("r0", "completed"), recipient("r1", "voicemail"),
                       recipient("r2", "in_progress"), recipient("r3", "pending")],
    }
    b.update(over)
    return b


def list_item(**over):
    b = batch(**over)
    b.pop("recipients", None)
    return b


def set_statuses(b, *statuses, **counters):
    """Give `b` recipients in `statuses` and counters consistent with them (even under the
    strict rules); `counters` then override single values to break one rule."""
    b["recipients"] = [recipient(f"r{i}", s) for i, s in enumerate(statuses)]
    b["total_calls_scheduled"] = len(statuses)
    b["total_calls_dispatched"] = sum(s in inv.RECIPIENT_DIALLED for s in statuses)
    b["total_calls_finished"] = sum(s in inv.RECIPIENT_FINISHED for s in statuses)
    b.update(counters)
    return b


def expect(rule, fn, *args, **kw):
    with pytest.raises(InvariantViolation) as info:
        fn(*args, **kw)
    assert info.value.rule == rule, str(info.value)
    assert rule in RULES
    assert rule in str(info.value)


# ------------------------------------------------------------------------- valid objects

VALID = {
    "in_progress detailed": batch(),
    "list item": list_item(),
    "voiceai (keys missing)": {"id": "x", "name": "n", "agent_id": "a", "created_at_unix": 1,
                               "scheduled_time_unix": 1, "last_updated_at_unix": 1,
                               "status": "pending", "agent_name": "n", "recipients": []},
    "cancelled": set_statuses(batch(status="cancelled"),
                              "completed", "cancelled", "cancelled", "cancelled"),
    "cancelled after dialling": set_statuses(batch(status="cancelled"), "completed",
                                             "cancelled", total_calls_dispatched=2),
    "completed with failures": set_statuses(batch(status="completed"),
                                            "completed", "failed", "voicemail", "failed"),
    "pending after retry": set_statuses(batch(status="pending", retry_count=1),
                                        "completed", "voicemail", "pending", "pending"),
    "null counters (schema's job)": batch(total_calls_finished=None),
}


@pytest.mark.parametrize("obj", VALID.values(), ids=VALID.keys())
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_valid_objects_pass(obj, strict):
    inv.check_batch(obj, strict=strict)


def test_vendor_examples_pass_lenient_single_batch_checks():
    for name in ("cancel-response.seed-004.json", "submit-response.seed-002.json"):
        inv.check_batch(json.loads((EXAMPLES / name).read_text()))
    # The vendors' get examples are placeholders: 0 calls scheduled beside 1 recipient.
    for name in ("get-response.seed-000.json", "voiceai-get-response.seed-003.json"):
        expect("counters.scheduled_eq_recipients", inv.check_batch,
               json.loads((EXAMPLES / name).read_text()))


# ------------------------------------------------------------------ single-batch breakage

def _b(**over):
    return batch(**over)


BROKEN = [
    # (id, check, object, strict, rule)
    ("not an object", inv.check_counters, [], False, "shape.object"),
    ("string counter", inv.check_counters, _b(total_calls_finished="2"), False,
     "types.integer"),
    ("bool counter", inv.check_counters, _b(total_calls_dispatched=True), False,
     "types.integer"),
    ("negative finished", inv.check_counters,
     set_statuses(_b(), total_calls_finished=-1),
     False, "counters.non_negative"),
    ("negative retry", inv.check_counters, _b(retry_count=-1), False, "counters.non_negative"),
    ("dispatched > scheduled", inv.check_counters, _b(total_calls_dispatched=5), False,
     "counters.dispatched_le_scheduled"),
    ("finished > dispatched", inv.check_counters, _b(total_calls_finished=4), False,
     "counters.finished_le_dispatched"),
    ("scheduled != recipients", inv.check_counters,
     _b(total_calls_scheduled=5), False, "counters.scheduled_eq_recipients"),
    ("strict: finished != finished recipients", inv.check_counters,
     _b(total_calls_finished=1), True, "counters.finished_eq_finished_recipients"),
    ("strict: cancelled is not finished", inv.check_counters,
     set_statuses(_b(status="cancelled"), "completed", "failed", "voicemail", "cancelled",
                  total_calls_finished=4, total_calls_dispatched=4),
     True, "counters.finished_eq_finished_recipients"),
    ("strict: dispatched < dialled", inv.check_counters,
     set_statuses(_b(), "dispatched", "initiated", "in_progress", "pending",
                  total_calls_dispatched=2),
     True, "counters.dispatched_ge_dialled_recipients"),
    ("strict: scheduled != recipients after retry", inv.check_counters,
     _b(total_calls_scheduled=6, retry_count=1), True, "counters.scheduled_eq_recipients"),
    ("created > updated", inv.check_timestamps, _b(created_at_unix=151), False,
     "timestamps.created_le_updated"),
    ("float timestamp", inv.check_timestamps, _b(last_updated_at_unix=150.5), False,
     "types.integer"),
    ("string scheduled_time", inv.check_timestamps, _b(scheduled_time_unix="100"), False,
     "types.integer"),
    ("recipient created > updated", inv.check_timestamps,
     set_statuses(_b(), "pending", "completed", "voicemail", "in_progress")
     | {"recipients": [recipient("r0", "completed"), recipient("r1", "voicemail"),
                       recipient("r2", "in_progress"),
                       recipient("r3", "pending", created=130, updated=120)]}, False,
     "timestamps.recipient_created_le_updated"),
    ("recipient not an object", inv.check_timestamps, _b(recipients=["r0"]), False,
     "shape.object"),
    ("cancelled with active recipient", inv.check_status_sets,
     set_statuses(_b(status="cancelled"), "cancelled", "initiated"), False,
     "status.cancelled_no_active_recipients"),
    ("completed with pending recipient", inv.check_status_sets,
     set_statuses(_b(status="completed"), "completed", "pending"), False,
     "status.completed_no_active_recipients"),
    ("completed with dispatched recipient", inv.check_status_sets,
     set_statuses(_b(status="completed"), "completed", "dispatched"), False,
     "status.completed_no_active_recipients"),
    ("pending with finished recipient", inv.check_status_sets,
     set_statuses(_b(status="pending"), "pending", "voicemail"), False,
     "status.pending_no_finished_recipients"),
]


@pytest.mark.parametrize("check, obj, strict, rule", [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_broken_objects_fail_with_rule(check, obj, strict, rule):
    kw = {"strict": strict} if strict else {}
    expect(rule, check, obj, **kw)
    # and check_batch surfaces the same rule
    expect(rule, inv.check_batch, obj, strict=strict)


def test_strict_rules_are_not_applied_leniently():
    inv.check_counters(batch(total_calls_finished=1))
    inv.check_counters(batch(total_calls_scheduled=6, retry_count=1))
    inv.check_counters(set_statuses(batch(total_calls_dispatched=2, total_calls_finished=0),
                                    "dispatched", "initiated", "in_progress", "pending"))


def test_status_sets_ignore_unknown_values_and_other_states():
    inv.check_status_sets(set_statuses(batch(status="failed"), "pending", "failed"))
    inv.check_status_sets(set_statuses(batch(status="in_progress"), "pending", "completed"))
    inv.check_status_sets(set_statuses(batch(status="cancelled"), "someday_new_state"))


# ---------------------------------------------------------------------------- monotonic

def later(**over):
    b = batch(last_updated_at_unix=160)
    b.update(over)
    return b


MONOTONIC_OK = {
    "same": (batch(), batch()),
    "moves forward": (batch(), later(total_calls_dispatched=4, total_calls_finished=3,
                                     status="completed")),
    "retry reopens completed": (batch(status="completed"),
                                later(status="pending", retry_count=1, total_calls_finished=0)),
    "retry reopens failed": (batch(status="failed"), later(status="in_progress", retry_count=1)),
    "terminal to terminal": (batch(status="completed"), later(status="cancelled")),
    "keys missing": ({"id": "btcal_1"}, {"id": "btcal_1", "status": "pending"}),
}

MONOTONIC_BAD = [
    ("other id", batch(), later(id="btcal_2"), "monotonic.same_id"),
    ("created moved", batch(), later(created_at_unix=101), "monotonic.created_at_unchanged"),
    ("updated back", batch(), later(last_updated_at_unix=149),
     "monotonic.last_updated_not_backwards"),
    ("retry_count back", batch(retry_count=2), later(retry_count=1),
     "monotonic.retry_count_not_backwards"),
    ("dispatched back", batch(), later(total_calls_dispatched=2),
     "monotonic.counters_not_backwards"),
    ("finished back", batch(), later(total_calls_finished=1),
     "monotonic.counters_not_backwards"),
    ("completed -> pending, no retry", list_item(status="completed"),
     list_item(status="pending", last_updated_at_unix=160),
     "monotonic.terminal_not_reopened"),
    ("failed -> in_progress, no retry", batch(status="failed"), later(status="in_progress"),
     "monotonic.terminal_not_reopened"),
    ("cancelled -> pending even with retry", batch(status="cancelled"),
     later(status="pending", retry_count=1), "monotonic.terminal_not_reopened"),
]


@pytest.mark.parametrize("before, after", MONOTONIC_OK.values(), ids=MONOTONIC_OK.keys())
def test_monotonic_ok(before, after):
    inv.check_monotonic(before, after)


@pytest.mark.parametrize("before, after, rule", [m[1:] for m in MONOTONIC_BAD],
                         ids=[m[0] for m in MONOTONIC_BAD])
def test_monotonic_broken(before, after, rule):
    expect(rule, inv.check_monotonic, before, after)
    expect(rule, inv.check_batch, after, previous=before)


# ------------------------------------------------------------------------- list vs get

def test_list_item_agrees_with_later_get():
    inv.check_list_item_agrees(list_item(), batch())
    inv.check_list_item_agrees(list_item(), later(total_calls_finished=3, status="in_progress"))
    inv.check_list_item_agrees(list_item(total_calls_finished=3), batch(),
                               detailed_is_later=False)
    # order unknown: moving keys are not compared
    inv.check_list_item_agrees(list_item(total_calls_finished=3), batch(),
                               detailed_is_later=None)
    # voiceai list items may lack keys the get has, and vice versa
    item = list_item()
    del item["branch_id"], item["retry_count"]
    inv.check_list_item_agrees(item, batch())


LIST_BAD = [
    ("recipients in list", batch(), batch(), {}, "list.no_recipients"),
    ("name differs", list_item(name="other"), batch(), {}, "list.agrees_with_get"),
    ("agent differs", list_item(agent_id="agent_2"), batch(), {}, "list.agrees_with_get"),
    ("scheduled differs", list_item(total_calls_scheduled=5), batch(), {},
     "list.agrees_with_get"),
    ("later get went back", list_item(total_calls_finished=3), batch(), {},
     "list.agrees_with_get"),
    ("later list went back", list_item(last_updated_at_unix=140), batch(),
     {"detailed_is_later": False}, "list.agrees_with_get"),
]


@pytest.mark.parametrize("item, detailed, kw, rule", [x[1:] for x in LIST_BAD],
                         ids=[x[0] for x in LIST_BAD])
def test_list_item_disagrees(item, detailed, kw, rule):
    expect(rule, inv.check_list_item_agrees, item, detailed, **kw)


# ------------------------------------------------------------------------------- echo

REQUEST = {
    "call_name": "cst-run-a", "agent_id": "agent_1", "agent_phone_number_id": "phnum_1",
    "scheduled_time_unix": 100, "timezone": "America/New_York", "branch_id": "br_1",
    "environment": "staging", "target_concurrency_limit": 2,
    "recipients": [{"phone_number": "+14155550100"}] * 4,
}


def echoed(**over):
    b = list_item(timezone="America/New_York", branch_id="br_1", environment="staging",
                  target_concurrency_limit=2, status="pending", total_calls_dispatched=0,
                  total_calls_finished=0)
    b.update(over)
    return b


def test_echo_ok():
    inv.check_echo(REQUEST, echoed())
    # nulls and omitted optional keys in the request are not echoed
    minimal = {"call_name": "cst-run-a", "agent_id": "agent_1", "scheduled_time_unix": None,
               "agent_phone_number_id": None, "recipients": REQUEST["recipients"]}
    inv.check_echo(minimal, echoed(phone_number_id="chosen_by_vendor", timezone=None,
                                   scheduled_time_unix=12345))
    # voiceai: response keys absent
    voiceai = echoed()
    for key in ("timezone", "branch_id", "environment", "target_concurrency_limit",
                "phone_number_id", "total_calls_scheduled"):
        del voiceai[key]
    inv.check_echo(REQUEST, voiceai)


ECHO_BAD = [
    ("name", {"name": "cst-run-b"}, "echo.name"),
    ("agent_id", {"agent_id": "agent_2"}, "echo.agent_id"),
    ("phone_number_id", {"phone_number_id": None}, "echo.phone_number_id"),
    ("scheduled_time_unix", {"scheduled_time_unix": 101}, "echo.scheduled_time_unix"),
    ("total_calls_scheduled", {"total_calls_scheduled": 3}, "echo.total_calls_scheduled"),
    ("target_concurrency_limit", {"target_concurrency_limit": None},
     "echo.target_concurrency_limit"),
    ("timezone", {"timezone": "UTC"}, "echo.timezone"),
    ("branch_id", {"branch_id": None}, "echo.branch_id"),
    ("environment", {"environment": "production"}, "echo.environment"),
]


@pytest.mark.parametrize("over, rule", [e[1:] for e in ECHO_BAD], ids=[e[0] for e in ECHO_BAD])
def test_echo_broken(over, rule):
    expect(rule, inv.check_echo, REQUEST, echoed(**over))
    expect(rule, inv.check_batch, echoed(**over), request=REQUEST)


# ------------------------------------------------------------------ per-operation dispatch

def test_check_response_accepts_good_exchanges():
    cr = inv.check_response
    cr("POST", f"{BASE}/submit", 200, REQUEST, echoed(), BASE)
    cr("GET", f"{BASE}/btcal_1", 200, None, batch(), BASE, strict=True)
    cr("GET", f"{BASE}/workspace", 200, None,
       {"batch_calls": [list_item(), list_item(id="btcal_2")], "next_doc": None,
        "has_more": False}, BASE)
    cancelled = set_statuses(batch(status="cancelled", total_calls_finished=1),
                             "completed", "cancelled", "cancelled", "cancelled")
    cr("POST", f"{BASE}/btcal_1/cancel", 200, None, cancelled, BASE)
    cr("POST", f"{BASE}/btcal_1/retry", 200, None, list_item(retry_count=1), BASE, strict=True)
    cr("DELETE", f"{BASE}/btcal_1", 204, None, None, BASE)
    cr("GET", f"{BASE}/btcal_1/export", 200, None, "id,status\n", BASE)
    # errors are the schema's business
    cr("GET", f"{BASE}/btcal_1", 404, None, {"detail": {"status": "not_found"}}, BASE)
    cr("POST", f"{BASE}/btcal_1/cancel", 409, None, batch(status="completed"), BASE)
    # a non-batch-calling path is ignored
    cr("POST", "/v1/elsewhere", 200, None, [], BASE)


CR_BAD = [
    ("submit echo", "POST", "/submit", REQUEST, echoed(name="x"), False, "echo.name"),
    ("submit counters", "POST", "/submit", REQUEST, echoed(total_calls_dispatched=5), False,
     "counters.dispatched_le_scheduled"),
    ("get other id", "GET", "/btcal_2", None, batch(), False, "response.id_matches_path"),
    ("get status sets", "GET", "/btcal_1", None,
     set_statuses(batch(status="completed", total_calls_scheduled=2, total_calls_dispatched=1,
                        total_calls_finished=1), "completed", "pending"), False,
     "status.completed_no_active_recipients"),
    ("get strict", "GET", "/btcal_1", None, batch(total_calls_finished=1), True,
     "counters.finished_eq_finished_recipients"),
    ("list recipients", "GET", "/workspace", None, {"batch_calls": [batch()]}, False,
     "list.no_recipients"),
    ("list counters", "GET", "/workspace", None,
     {"batch_calls": [list_item(), list_item(total_calls_finished=9)]}, False,
     "counters.finished_le_dispatched"),
    ("list timestamps", "GET", "/workspace", None,
     {"batch_calls": [list_item(created_at_unix=999)]}, False, "timestamps.created_le_updated"),
    ("list not array", "GET", "/workspace", None, {"batch_calls": {}}, False, "list.shape"),
    ("list item not object", "GET", "/workspace", None, {"batch_calls": [1]}, False,
     "shape.object"),
    ("cancel status", "POST", "/btcal_1/cancel", None, list_item(status="in_progress"), False,
     "cancel.status_cancelled"),
    ("cancel other id", "POST", "/btcal_1/cancel", None, list_item(id="b2", status="cancelled"),
     False, "response.id_matches_path"),
    ("retry strict count", "POST", "/btcal_1/retry", None, list_item(retry_count=0), True,
     "retry.retry_count_positive"),
    ("retry counters", "POST", "/btcal_1/retry", None, list_item(total_calls_dispatched=9),
     False, "counters.dispatched_le_scheduled"),
    ("response not an object", "GET", "/btcal_1", None, [], False, "shape.object"),
]


@pytest.mark.parametrize("method, suffix, req, resp, strict, rule", [c[1:] for c in CR_BAD],
                         ids=[c[0] for c in CR_BAD])
def test_check_response_broken(method, suffix, req, resp, strict, rule):
    expect(rule, inv.check_response, method, BASE + suffix, 200, req, resp, BASE,
           strict=strict)


def test_retry_count_zero_is_fine_without_strict():
    inv.check_response("POST", f"{BASE}/btcal_1/retry", 200, None, list_item(), BASE)


def test_check_exchange_on_httpx_response():
    request = httpx.Request("POST", f"http://127.0.0.1{BASE}/submit", json=REQUEST)
    inv.check_exchange(httpx.Response(200, json=echoed(), request=request), BASE)
    with pytest.raises(InvariantViolation) as info:
        inv.check_exchange(httpx.Response(200, json=echoed(agent_id="z"), request=request), BASE)
    assert info.value.rule == "echo.agent_id"
    inv.check_exchange(httpx.Response(422, json={"detail": []}, request=request), BASE)
    inv.check_exchange(httpx.Response(200, text="not json", request=request), BASE)


def test_rules_table_is_complete_and_unknown_rules_are_refused():
    assert all(isinstance(v, str) and v.endswith(".") for v in RULES.values())
    for rule_id in RULES:
        assert "." in rule_id and rule_id == rule_id.lower()
    with pytest.raises(KeyError):
        InvariantViolation("no.such_rule", "x")


def test_checks_do_not_mutate_their_input():
    b, item = batch(), list_item()
    snapshot = copy.deepcopy((b, item))
    inv.check_batch(b, previous=copy.deepcopy(b), strict=True)
    inv.check_list_item_agrees(item, b)
    assert (b, item) == snapshot
