"""Delete: "Permanently delete a batch call and all recipient records."
Spec: vendor docs, DELETE /v1/convai/batch-calling/{batch_id} (204)."""

import pytest

from conformance.api import api_for


@pytest.mark.requirement("DELETE-1")
def test_delete_answers_204_with_no_body(client, api, submit_batch):
    """Deleting a batch answers 204 with an empty body."""
    batch = submit_batch(1)
    client.post(api.cancel(batch["id"]))
    response = client.delete(api.delete(batch["id"]))
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.requirement("DELETE-2")
@pytest.mark.parametrize("operation", [op.name for op in api_for().operations if op.params])
def test_deleted_batch_is_gone_for_every_operation(client, api, submit_batch, sendable,
                                                   operation):
    """After delete, get, cancel, retry, delete and export of that batch answer 404."""
    batch = submit_batch(1)
    method, path = api.request_args(operation, batch["id"])
    sendable(method, path)
    client.post(api.cancel(batch["id"]))
    assert client.delete(api.delete(batch["id"])).status_code == 204
    assert client.request(method, path).status_code == 404


@pytest.mark.requirement("DELETE-3")
def test_deleted_batch_leaves_the_list(client, api, submit_batch, list_pages, agent_id):
    """A deleted batch no longer appears in the workspace list."""
    batch = submit_batch(1)
    client.post(api.cancel(batch["id"]))
    client.delete(api.delete(batch["id"]))
    assert batch["id"] not in {i["id"] for p in list_pages(client, agent_id=agent_id)
                               for i in p["batch_calls"]}


@pytest.mark.requirement("NOTFOUND-1")
def test_delete_unknown_batch_is_404(client, api, foreign_id_allowed, unknown_id):
    """Deleting a batch id that does not exist answers 404."""
    assert client.delete(api.delete(unknown_id)).status_code == 404


@pytest.mark.requirement("DELETE-4")
def test_delete_of_a_running_batch_removes_it_at_once(client, api, submit_batch, eventually,
                                                       numbers, list_pages, agent_id):
    """Deleting a batch with calls in flight answers 204, and the batch is gone from get and
    list at once."""
    batch = submit_batch([numbers.completes_long] * 2, dispatch=True)
    status = eventually(lambda: (s := client.get(api.get(batch["id"])).json()["status"])
                        != "pending" and s, what="the batch starting")
    if status != "in_progress":
        pytest.skip(f"the batch was {status} before it could be seen running")
    assert client.delete(api.delete(batch["id"])).status_code == 204
    assert client.get(api.get(batch["id"])).status_code == 404
    assert batch["id"] not in {i["id"] for p in list_pages(client, agent_id=agent_id)
                               for i in p["batch_calls"]}
