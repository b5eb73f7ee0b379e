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
    check_list_item_agrees(ours[0], client.get(api.paths.get(batch["id"])).json())


@pytest.mark.lasts(3)
@pytest.mark.requirement("LIST-2")
def test_list_honours_limit(client, api, submit_batch):
    """`limit` caps the page size, and has_more says that more remain."""
    for _ in range(3):
        submit_batch(1)
    for limit in (1, 2):   # 1: the smallest page, which a server's own floor could widen
        page = client.get(api.paths.list(), params={"limit": limit}).json()
        assert len(page["batch_calls"]) == limit, f"limit={limit}"
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


@pytest.mark.lasts(7)
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


def _ours(http, api, agent_id: str, limit: int, cursor: str | None = None) -> dict:
    params = {"limit": limit, "agent_id": agent_id, **({"last_doc": cursor} if cursor else {})}
    return http.get(api.paths.list(), params=params).json()


def _count(http, api, agent_id: str, bound: int = 100) -> int | None:
    """How many batches the agent has, read as one page of `bound` (None: more than `bound`,
    too many for a bounded test)."""
    page = _ours(http, api, agent_id, bound)
    return None if page["has_more"] else len(page["batch_calls"])


@pytest.mark.lasts(4)
@pytest.mark.requirement("LIST-5")
def test_a_full_last_page_says_no_more(client, api, submit_batch, agent_id):
    """has_more is true exactly when the next page holds batches: a last page that is full
    (the count an exact multiple of limit) says has_more false."""
    for _ in range(2):
        submit_batch(1)
    # Other clients (another run, this run's other workers) may add or remove the agent's
    # batches meanwhile: judge only a page that was full when it was read, and an empty next
    # page only when the agent's count did not move in between.
    for _ in range(5):
        total = _count(client, api, agent_id)
        if total is None:
            pytest.skip("the agent has more than 100 batches: no page can be the last full one")
        page = _ours(client, api, agent_id, total)
        if len(page["batch_calls"]) == total:
            break
    else:
        pytest.skip("the agent's batches kept changing while they were read (other clients)")
    if page["has_more"]:
        following = _ours(client, api, agent_id, total, page["next_doc"])
        if not following["batch_calls"] and _count(client, api, agent_id) != total:
            pytest.skip("the agent's batches changed while the next page was read")
        assert following["batch_calls"], (
            f"a full last page ({total} of {total}) says has_more: true, and its next_doc "
            "leads to an empty page")


@pytest.mark.lasts(6)
@pytest.mark.requirement("LIST-5")
def test_has_more_means_the_next_page_holds_batches(client, api, submit_batch, agent_id):
    """has_more is true exactly when the next page holds batches: following next_doc after
    has_more true always finds batches, and the walk ends on has_more false."""
    for _ in range(3):
        submit_batch(1)
    cursor = None
    for _ in range(60):  # a bounded walk: pages of 2 of this agent's batches
        page = _ours(client, api, agent_id, 2, cursor)
        if not page["has_more"]:
            return
        assert page["next_doc"], "has_more is true but next_doc is empty"
        following = _ours(client, api, agent_id, 2, page["next_doc"])
        if not following["batch_calls"]:
            # Another client (this run's other workers) may have deleted the batches that
            # followed: a server that keeps the rule says has_more false when the page is read
            # again; one that breaks it says has_more true again, with an empty next page.
            page = _ours(client, api, agent_id, 2, cursor)
            if not page["has_more"]:
                return
            following = _ours(client, api, agent_id, 2, page["next_doc"])
        assert following["batch_calls"], "has_more is true, but the next page is empty"
        cursor = page["next_doc"]
    pytest.skip("the agent has more than 120 batches: the walk stopped before the end")


@pytest.mark.lasts(8)
@pytest.mark.requirement("LIST-3")
def test_the_agent_filter_holds_on_every_page(client, submit_batch, agent_id, other_agent_id,
                                              api):
    """`agent_id` returns only that agent's batches, and all of them: on every page, not only
    the first."""
    mine = set()
    for _ in range(3):  # interleaved, so any page past the first would meet the other agent's
        mine.add(submit_batch(1)["id"])
        submit_batch(1, agent_id=other_agent_id)
    seen, cursor = set(), None
    for number in range(1, 61):  # bounded: pages of 1 until the run's own three are seen
        page = _ours(client, api, agent_id, 1, cursor)
        agents = {i["agent_id"] for i in page["batch_calls"]}
        assert agents <= {agent_id}, f"page {number} of the {agent_id} filter lists {agents}"
        seen |= {i["id"] for i in page["batch_calls"]}
        if mine <= seen or not page["has_more"]:
            break
        cursor = page["next_doc"]
    assert mine <= seen, "a batch of the agent is missing from the filtered pages"
