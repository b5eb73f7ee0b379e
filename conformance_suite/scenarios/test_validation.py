"""Validation: bodies and parameters the contract forbids are answered 422 with their `loc`.
Spec: HTTPValidationError on every operation (FastAPI on pydantic v2)."""

import pytest

from conformance.fictional import fictional_numbers


@pytest.fixture
def held(now, target) -> int:
    """A schedule that keeps a batch from starting during the run."""
    return now() + target.hold_seconds()


def _body(name_prefix, agent_id, held, /, **changes):
    body = {"call_name": f"{name_prefix}invalid", "agent_id": agent_id,
            "recipients": [{"phone_number": "+14155550100"}], "scheduled_time_unix": held}
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


CASES = {
    "missing_agent_id": ({"agent_id": ...}, ["body", "agent_id"]),
    "missing_recipients": ({"recipients": ...}, ["body", "recipients"]),
    "recipients_not_a_list": ({"recipients": "+14155550100"}, ["body", "recipients"]),
    "concurrency_below_one": ({"target_concurrency_limit": 0},
                              ["body", "target_concurrency_limit"]),
    "ringing_timeout_above_999": ({"telephony_call_config": {"ringing_timeout_secs": 1000}},
                                  ["body", "telephony_call_config", "ringing_timeout_secs"]),
    "ringing_timeout_below_1": ({"telephony_call_config": {"ringing_timeout_secs": 0}},
                                ["body", "telephony_call_config", "ringing_timeout_secs"]),
    "schedule_not_an_integer": ({"scheduled_time_unix": "tomorrow"},
                                ["body", "scheduled_time_unix"]),
    "agent_id_not_a_string": ({"agent_id": 42}, ["body", "agent_id"]),
}


def _post(client, api, sendable, body):
    """Submit an invalid body; on live, a body the guard cannot prove safe is not sent."""
    sendable("POST", api.paths.submit(), json=body)
    return client.post(api.paths.submit(), json=body)


def _locs(response):
    return [item["loc"] for item in response.json()["detail"]]


@pytest.mark.requirement("VALID-1")
@pytest.mark.parametrize("case", list(CASES))
def test_invalid_submit_is_422_with_its_loc(client, api, name_prefix, agent_id, held, ledger,
                                             sendable, case):
    """A submit body that breaks the schema is rejected with 422 naming the offending field."""
    changes, loc = CASES[case]
    response = _post(client, api, sendable, _body(name_prefix, agent_id, held, **changes))
    if response.status_code == 200:  # accepted by mistake: clean it up, then fail
        ledger.append(response.json()["id"])
    assert response.status_code == 422
    assert loc in _locs(response)


@pytest.mark.requirement("VALID-2")
def test_too_many_recipients_is_422(client, api, name_prefix, agent_id, held, ledger,
                                    sendable):
    """More than 10,000 recipients is rejected with 422 at ["body", "recipients"]."""
    numbers = fictional_numbers(10_001, xx=range(100))
    body = _body(name_prefix, agent_id, held,
                 recipients=[{"phone_number": n} for n in numbers])
    sendable("POST", api.paths.submit(), json=body)  # a live run's cap refuses 10,001 by design
    response = client.post(api.paths.submit(), json=body)
    if response.status_code == 200:
        ledger.append(response.json()["id"])
    assert response.status_code == 422
    assert ["body", "recipients"] in _locs(response)


@pytest.mark.requirement("VALID-5")
def test_ten_thousand_recipients_are_accepted(client, api, name_prefix, agent_id, held, ledger,
                                              sendable, recipients_allowance):
    """A submit of 10,000 recipients, the documented maximum, is accepted."""
    numbers = fictional_numbers(10_000, xx=range(100))
    body = _body(name_prefix, agent_id, held, call_name=f"{name_prefix}boundary-10000",
                 recipients=[{"phone_number": n} for n in numbers])
    recipients_allowance(body["call_name"], 10_000)  # beyond the run's cap, this submit only
    sendable("POST", api.paths.submit(), json=body)
    response = client.post(api.paths.submit(), json=body)
    if response.status_code == 200:
        ledger.append(response.json()["id"])
    assert response.status_code == 200, (
        f"10,000 recipients (the documented maximum) answered {response.status_code}: "
        f"{response.text[:200]}")
    assert response.json()["total_calls_scheduled"] == 10_000


@pytest.mark.requirement("VALID-3")
@pytest.mark.parametrize("limit", ["many", "many" * 30], ids=["short", "long"])
def test_list_limit_must_be_an_integer(client, api, limit):
    """A non-integer `limit` on list is rejected with 422 at ["query", "limit"], a long one
    too (an error that quotes the input must not break on its length)."""
    response = client.get(api.paths.list(), params={"limit": limit})
    assert response.status_code == 422
    assert ["query", "limit"] in _locs(response)


@pytest.mark.requirement("VALID-4")
def test_validation_errors_name_the_input(client, api, name_prefix, agent_id, held, sendable):
    """Each 422 item carries `type` and `msg`, as FastAPI reports them."""
    response = _post(client, api, sendable, _body(name_prefix, agent_id, held,
                                                  target_concurrency_limit=0))
    assert response.status_code == 422
    for item in response.json()["detail"]:
        assert item["type"] and item["msg"]


@pytest.mark.requirement("VALID-6")
def test_a_body_that_is_not_json_is_422(client, api, sendable, agent_id):
    """`NaN` is not JSON (RFC 8259 has no such literal), though many parsers read it: a body
    holding it is refused 422, like any body that is not JSON, and never answered 5xx."""
    raw = (f'{{"call_name": "not-json", "agent_id": "{agent_id}", "recipients": [], '
           '"scheduled_time_unix": NaN}').encode()
    # The guard judges the same body with null where NaN stands (no recipient either way).
    sendable("POST", api.paths.submit(), json={"call_name": "not-json", "agent_id": agent_id,
                                                "recipients": [], "scheduled_time_unix": None})
    response = client.post(api.paths.submit(), content=raw,
                           headers={"content-type": "application/json"})
    assert response.status_code == 422, f"answered {response.status_code}: {response.text[:200]}"
