"""Get: the batch with every recipient, as submitted."""

import pytest

from conformance.invariants import check_batch, check_list_item_agrees


@pytest.mark.requirement("GET-1")
def test_get_returns_every_recipient_with_the_fields_sent(client, api, submit_batch, numbers):
    """Get returns one recipient per submitted recipient, with its number, pending."""
    sent = numbers.completing(4)
    batch = submit_batch(sent)
    fetched = client.get(api.paths.get(batch["id"])).json()
    check_batch(fetched)
    assert sorted(r["phone_number"] for r in fetched["recipients"]) == sorted(sent)
    assert {r["status"] for r in fetched["recipients"]} == {"pending"}
    assert len({r["id"] for r in fetched["recipients"]}) == len(sent)


@pytest.mark.requirement("GET-2")
def test_get_agrees_with_submit(client, api, submit_batch):
    """The batch fetched by id is the batch submit returned (same id, name, agent, schedule)."""
    batch = submit_batch(2)
    fetched = client.get(api.paths.get(batch["id"])).json()
    check_list_item_agrees(batch, fetched)


@pytest.mark.requirement("GET-3")
def test_get_keeps_conversation_data_per_recipient(client, api, submit_batch, numbers):
    """Per-recipient conversation initiation data (dynamic variables) is kept."""
    batch = submit_batch([
        {"phone_number": numbers.completes,
         "conversation_initiation_client_data": {"dynamic_variables": {"customer": "Ada"}}},
    ])
    recipient = client.get(api.paths.get(batch["id"])).json()["recipients"][0]
    data = recipient["conversation_initiation_client_data"]
    assert data["dynamic_variables"] == {"customer": "Ada"}


@pytest.mark.requirement("NOTFOUND-1")
def test_get_unknown_batch_is_404(client, api, unknown_id):
    """Getting a batch id that does not exist answers 404 with the object error."""
    response = client.get(api.paths.get(unknown_id))
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], dict)
