"""Delete: "Permanently delete a batch call and all recipient records."
Spec: vendor docs, DELETE /v1/convai/batch-calling/{batch_id} (204)."""

import pytest


def test_delete_answers_204_with_no_body(client, api, submit_batch):
    """Deleting a batch answers 204 with an empty body."""
    batch = submit_batch(1)
    client.post(api.cancel(batch["id"]))
    response = client.delete(api.delete(batch["id"]))
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize("operation", ["get", "cancel", "retry", "delete", "export"])
def test_deleted_batch_is_gone_for_every_operation(client, api, submit_batch, operation):
    """After delete, get, cancel, retry, delete and export of that batch answer 404."""
    batch = submit_batch(1)
    client.post(api.cancel(batch["id"]))
    assert client.delete(api.delete(batch["id"])).status_code == 204
    method = {"get": "GET", "cancel": "POST", "retry": "POST", "delete": "DELETE",
              "export": "GET"}[operation]
    response = client.request(method, getattr(api, operation)(batch["id"]))
    assert response.status_code == 404


def test_deleted_batch_leaves_the_list(client, api, submit_batch):
    """A deleted batch no longer appears in the workspace list."""
    batch = submit_batch(1)
    client.post(api.cancel(batch["id"]))
    client.delete(api.delete(batch["id"]))
    ids, cursor = set(), None
    for _ in range(50):
        page = client.get(api.list(), params={"last_doc": cursor} if cursor else {}).json()
        ids |= {i["id"] for i in page["batch_calls"]}
        if not page["has_more"]:
            break
        cursor = page["next_doc"]
    assert batch["id"] not in ids


def test_delete_unknown_batch_is_404(client, api, foreign_id_allowed):
    """Deleting a batch id that does not exist answers 404."""
    assert client.delete(api.delete("btcal_conformance_does_not_exist")).status_code == 404


def test_delete_of_a_running_batch_removes_it_at_once(client, api, submit_batch, eventually,
                                                       numbers):
    """Deleting a batch with calls in flight answers 204, and the batch is gone from get and
    list at once."""
    batch = submit_batch([numbers.completes_long] * 2, dispatch=True)
    eventually(lambda: client.get(api.get(batch["id"])).json()["status"] == "in_progress",
               what="the batch starting")
    assert client.delete(api.delete(batch["id"])).status_code == 204
    assert client.get(api.get(batch["id"])).status_code == 404
    page = client.get(api.list(), params={"limit": 100}).json()
    assert batch["id"] not in {i["id"] for i in page["batch_calls"]}
