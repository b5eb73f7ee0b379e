"""List: the workspace's batches, without recipients, filtered and paged."""

import pytest

from conformance.invariants import check_list_item_agrees


@pytest.mark.requirement("LIST-1")
def test_list_contains_the_new_batch_without_recipients(client, api, submit_batch, list_pages,
                                                        agent_id):
    """A submitted batch appears in the workspace list, and list items carry no recipients."""
    batch = submit_batch(2)
    # The run's agent's batches, up to the page holding the new one (a bounded walk).
    items = [i for p in list_pages(client, agent_id=agent_id, until=lambda page: any(
        i["id"] == batch["id"] for i in page["batch_calls"])) for i in p["batch_calls"]]
    ours = [i for i in items if i["id"] == batch["id"]]
    assert len(ours) == 1
    assert all("recipients" not in i for i in items)
    check_list_item_agrees(ours[0], client.get(api.get(batch["id"])).json())


@pytest.mark.requirement("LIST-2")
def test_list_honours_limit(client, api, submit_batch):
    """`limit` caps the page size, and has_more says that more remain."""
    for _ in range(3):
        submit_batch(1)
    page = client.get(api.list(), params={"limit": 2}).json()
    assert len(page["batch_calls"]) == 2
    assert page["has_more"] is True
    assert page["next_doc"]


@pytest.mark.requirement("LIST-3")
def test_list_filters_by_agent_id(client, submit_batch, agent_id, other_agent_id, list_pages):
    """`agent_id` returns only that agent's batches, and all of them."""
    mine = submit_batch(1)
    theirs = submit_batch(1, agent_id=other_agent_id)
    items = [i for p in list_pages(client, agent_id=agent_id) for i in p["batch_calls"]]
    assert {i["agent_id"] for i in items} == {agent_id}
    ids = {i["id"] for i in items}
    assert mine["id"] in ids and theirs["id"] not in ids


@pytest.mark.requirement("LIST-4")
def test_list_pages_without_duplicates_or_gaps(client, submit_batch, list_pages, agent_id):
    """Paging with next_doc/last_doc visits every batch exactly once."""
    created = {submit_batch(1)["id"] for _ in range(5)}
    # The run's agent's batches only: a lived-in workspace's thousands are not walked.
    pages = list_pages(client, limit=2, agent_id=agent_id)
    ids = [i["id"] for p in pages for i in p["batch_calls"]]
    assert len(ids) == len(set(ids)), "a batch appears on two pages"
    assert created <= set(ids), "a batch is missing from every page"
    assert all(len(p["batch_calls"]) <= 2 for p in pages)
    assert pages[-1]["has_more"] is False

