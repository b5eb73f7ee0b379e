"""Delete: "Permanently delete a batch call and all recipient records."
Spec: vendor docs, DELETE /v1/convai/batch-calling/{batch_id} (204)."""

import pytest

from conformance.api import api_for


@pytest.mark.requirement("DELETE-1")
def test_delete_answers_204_with_no_body(client, api, submit_batch):
    """Deleting a batch answers 204 with an empty body."""
    batch = submit_batch(1)
    client.post(api.paths.cancel(batch["id"]))
    response = client.delete(api.paths.delete(batch["id"]))
    assert response.status_code == 204
    assert response.content == b""


ON_A_BATCH = [op.name for op in api_for().operations if op.params]


def _carries(response, batch_id: str, phones) -> bool:
    if not 200 <= response.status_code < 300:
        return False
    return batch_id in response.text or any(phone in response.text for phone in phones)


@pytest.mark.requirement("DELETE-2")
@pytest.mark.parametrize("operation", ON_A_BATCH)
def test_deleted_batch_is_never_returned_again(client, api, submit_batch, sendable, numbers,
                                               operation):
    """After a delete, no operation returns the batch again: get, cancel, retry, delete and
    export carry none of it, whatever status they answer."""
    batch = submit_batch(1)
    method, path = api.request_args(operation, batch["id"])
    sendable(method, path)
    client.post(api.paths.cancel(batch["id"]))
    deleted = client.delete(api.paths.delete(batch["id"]))
    assert 200 <= deleted.status_code < 300, f"delete answered {deleted.status_code}"
    response = client.request(method, path)
    assert not _carries(response, batch["id"], numbers.completing(1)), (
        f"{operation} after delete answered {response.status_code} with the batch: "
        f"{response.text[:200]}")
    fetched = client.get(api.paths.get(batch["id"]))
    assert not _carries(fetched, batch["id"], ()), (
        f"get after delete and {operation} answered {fetched.status_code} with the batch")


@pytest.mark.requirement("DELETE-5")
@pytest.mark.parametrize("operation", ON_A_BATCH)
def test_deleted_batch_is_gone_for_every_operation(client, api, submit_batch, sendable,
                                                   operation):
    """After delete, get, cancel, retry, delete and export of that batch answer 404."""
    batch = submit_batch(1)
    method, path = api.request_args(operation, batch["id"])
    sendable(method, path)
    client.post(api.paths.cancel(batch["id"]))
    assert client.delete(api.paths.delete(batch["id"])).status_code == 204
    assert client.request(method, path).status_code == 404


@pytest.mark.requirement("DELETE-3")
def test_deleted_batch_leaves_the_list(client, api, submit_batch, list_pages, agent_id):
    """A deleted batch no longer appears in the workspace list."""
    batch = submit_batch(1)
    client.post(api.paths.cancel(batch["id"]))
    client.delete(api.paths.delete(batch["id"]))
    assert batch["id"] not in {i["id"] for p in list_pages(client, agent_id=agent_id)
                               for i in p["batch_calls"]}


@pytest.mark.requirement("DELETE-7")
def test_deleting_a_batch_leaves_the_others(client, api, submit_batch, list_pages, agent_id):
    """Deleting one batch removes that batch only: another batch of the same agent is still
    returned by get and still in the list."""
    kept, gone = submit_batch(1), submit_batch(1)
    client.post(api.paths.cancel(gone["id"]))
    assert 200 <= client.delete(api.paths.delete(gone["id"])).status_code < 300
    assert client.get(api.paths.get(kept["id"])).status_code == 200
    listed = {i["id"] for p in list_pages(client, agent_id=agent_id, until=lambda page: any(
        i["id"] == kept["id"] for i in page["batch_calls"])) for i in p["batch_calls"]}
    assert kept["id"] in listed, "deleting one batch took another out of the agent's list"
    assert gone["id"] not in listed


@pytest.mark.requirement("NOTFOUND-1")
def test_delete_unknown_batch_is_404(client, api, foreign_id_allowed, unknown_id):
    """Deleting a batch id that does not exist answers 404."""
    assert client.delete(api.paths.delete(unknown_id)).status_code == 404


def _delete_running(client, api, submit_batch, eventually, numbers):
    """A batch with calls in flight, and the answer to deleting it."""
    batch = submit_batch([numbers.completes_long] * 2, dispatch=True)
    status = eventually(lambda: (s := client.get(api.paths.get(batch["id"])).json()["status"])
                        != "pending" and s, what="the batch starting")
    if status != "in_progress":
        pytest.skip(f"the batch was {status} before it could be seen running")
    return batch, client.delete(api.paths.delete(batch["id"]))


@pytest.mark.requirement("DELETE-4")
def test_delete_of_a_running_batch_is_accepted(client, api, submit_batch, eventually, numbers):
    """Deleting a batch with calls in flight answers 204."""
    _, response = _delete_running(client, api, submit_batch, eventually, numbers)
    assert response.status_code == 204


@pytest.mark.requirement("DELETE-6")
def test_an_accepted_delete_removes_a_running_batch_at_once(client, api, submit_batch,
                                                            eventually, numbers, list_pages,
                                                            agent_id):
    """A delete the server accepts (2xx) removes the batch at once, calls in flight or not:
    get no longer returns it and the list no longer shows it."""
    batch, response = _delete_running(client, api, submit_batch, eventually, numbers)
    if not 200 <= response.status_code < 300:
        pytest.skip(f"the server refused to delete a running batch ({response.status_code}): "
                    "whether it may is DELETE-4")
    fetched = client.get(api.paths.get(batch["id"]))
    assert not _carries(fetched, batch["id"], ()), (
        f"delete answered {response.status_code}, yet get still returns the batch")
    assert batch["id"] not in {i["id"] for p in list_pages(client, agent_id=agent_id)
                               for i in p["batch_calls"]}, (
        f"delete answered {response.status_code}, yet the list still shows the batch")
