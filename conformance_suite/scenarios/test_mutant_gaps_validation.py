"""Validation gaps the mutation score found (`make mutants`, benchmarks/results/mutants.md):
mutants of the mock's body-bounds check survived because no test sent a number that JSON can
write but no field can hold."""

import json

import pytest


@pytest.mark.requirement("VALID-1")
def test_an_overflowing_number_is_422_naming_its_field(client, api, name_prefix, agent_id,
                                                       now, target, live_run, ledger):
    """`1e400` is valid JSON that every parser reads as infinity: as target_concurrency_limit
    (an integer) it breaks the schema, so the submit is 422 naming that field."""
    body = {"call_name": f"{name_prefix}invalid", "agent_id": agent_id,
            "recipients": [{"phone_number": "+14155550100"}],
            "scheduled_time_unix": now() + target.hold_seconds(),
            "target_concurrency_limit": 7}
    raw = json.dumps(body).replace('"target_concurrency_limit": 7',
                                   '"target_concurrency_limit": 1e400').encode()
    assert b"1e400" in raw
    headers = {"content-type": "application/json"}
    why = target.refusal(live_run, "POST", api.paths.submit(), content=raw, headers=headers)
    if why:
        pytest.skip(f"not sent on {target.text}: the live guard would refuse it ({why})")
    response = client.post(api.paths.submit(), content=raw, headers=headers)
    if response.status_code == 200:   # accepted by mistake: clean it up, then fail
        ledger.append(response.json()["id"])
    assert response.status_code == 422
    locs = [item["loc"] for item in response.json()["detail"]]
    assert ["body", "target_concurrency_limit"] in locs, locs
