"""Lifecycle gaps the mutation score found (`make mutants`, benchmarks/results/mutants.md): a
batch whose status changes while none of its recipients does (it has none) was never
watched, so a server that kept showing its first answer survived."""

import pytest


@pytest.mark.lasts(5)
@pytest.mark.requirement("LIFE-6")
def test_a_batch_without_recipients_leaves_pending_when_its_time_comes(
        client, api, name_prefix, agent_id, now, sendable, ledger, eventually):
    """The spec's `recipients` has no minItems: a batch with none, seen pending before its
    time, is no longer pending once its time has come (nothing to call), and get says so."""
    body = {"call_name": f"{name_prefix}no-recipients", "agent_id": agent_id,
            "recipients": [], "scheduled_time_unix": now() + 5}   # short: live waits for real
    sendable("POST", api.paths.submit(), json=body)
    response = client.post(api.paths.submit(), json=body)
    if response.status_code != 200:
        pytest.skip(f"the target refuses a batch without recipients "
                    f"({response.status_code}): nothing to watch")
    batch = response.json()
    ledger.append(batch["id"])
    first = client.get(api.paths.get(batch["id"])).json()
    if first["status"] == "pending":
        def moved():
            current = client.get(api.paths.get(batch["id"])).json()
            return current if current["status"] != "pending" else None

        first = eventually(moved, within=900, step=1, what="the empty batch leaving pending")
    assert first["status"] != "pending"
    assert first["recipients"] == []
    assert first["total_calls_dispatched"] == 0
