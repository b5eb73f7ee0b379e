"""Authentication and workspaces: no key or a wrong key is 401; another key's batches do not
exist for you."""

import pytest

from conformance.api import api_for

OPERATIONS = [op.name for op in api_for().operations]
ON_A_BATCH = [op.name for op in api_for().operations if op.params]


def _call(http, api, operation, batch_id, submit_body, sendable):
    method, path = api.request_args(operation, batch_id)
    body = submit_body if operation == "submit" else None
    sendable(method, path, json=body, headers=dict(http.headers))
    return http.request(method, path, json=body)


@pytest.fixture
def existing(submit_batch):
    """A batch that exists in the main workspace."""
    return submit_batch(1)


@pytest.fixture
def submit_body(name_prefix, agent_id, now, target):
    """A valid submit body that would not start during the run."""
    return {"call_name": f"{name_prefix}auth", "agent_id": agent_id,
            "recipients": [{"phone_number": "+14155550100"}],
            "scheduled_time_unix": now() + target.hold_seconds()}


@pytest.mark.requirement("AUTH-1")
@pytest.mark.parametrize("operation", OPERATIONS)
def test_missing_key_is_401(client_for, api, existing, submit_body, sendable, operation):
    """Every operation answers 401 `needs_authorization` when no API key is sent."""
    response = _call(client_for(""), api, operation, existing["id"], submit_body, sendable)
    assert response.status_code == 401
    assert response.json()["detail"]["status"] == "needs_authorization"


@pytest.mark.requirement("AUTH-2")
@pytest.mark.parametrize("operation", OPERATIONS)
def test_wrong_key_is_401(client_for, api, existing, submit_body, sendable, operation):
    """Every operation answers 401 `invalid_api_key` for a key the server does not know."""
    response = _call(client_for("sk_conformance_not_a_real_key"), api, operation,
                     existing["id"], submit_body, sendable)
    assert response.status_code == 401
    assert response.json()["detail"]["status"] == "invalid_api_key"


def carries(response, batch_id: str, phones=()) -> bool:
    """Whether a 2xx answer hands out the batch: its id, or one of its recipients' numbers
    (an export's rows), anywhere in the body."""
    if not 200 <= response.status_code < 300:
        return False
    text = response.text
    return batch_id in text or any(phone in text for phone in phones)


@pytest.mark.requirement("WORKSPACE-1")
@pytest.mark.parametrize("operation", ON_A_BATCH)
def test_other_workspace_cannot_touch_the_batch(client, other_client, api, existing, sendable,
                                                numbers, operation):
    """Another workspace's key cannot read, change, cancel, retry, delete or export a batch,
    whatever status it answers: no answer carries the batch, and it stays intact."""
    response = _call(other_client, api, operation, existing["id"], None, sendable)
    assert not carries(response, existing["id"], numbers.completing(1)), (
        f"another workspace's key got the batch: {operation} answered "
        f"{response.status_code} {response.text[:200]}")
    fetched = client.get(api.paths.get(existing["id"]))
    assert fetched.status_code == 200, (
        f"after another workspace's {operation} ({response.status_code}), the owner's get "
        f"answers {fetched.status_code}")
    marks = foreign_marks(existing, fetched.json())
    assert not marks, f"another workspace's {operation} changed the batch: {'; '.join(marks)}"


#: What a batch is: keys no operation but a submit sets.
IDENTITY = ("id", "name", "agent_id", "created_at_unix", "scheduled_time_unix",
            "phone_number_id")


def foreign_marks(before: dict, after: dict) -> list[str]:
    """What another key's operation would leave on the batch had it reached it: a changed
    identity, a cancel, a retry. The batch's own progress in time (pending to in_progress) is
    not that key's doing, so it is not compared here: a batch that starts before its time
    breaks LIFE-3 / GET-1, not workspace isolation."""
    marks = [f"{key} {before[key]!r} -> {after[key]!r}" for key in IDENTITY
             if key in before and key in after and before[key] != after[key]]
    if after.get("status") == "cancelled" != before.get("status"):
        marks.append(f"status {before.get('status')!r} -> 'cancelled'")
    cancelled = [r.get("id") for r in after.get("recipients") or ()
                 if isinstance(r, dict) and r.get("status") == "cancelled"]
    if cancelled:
        marks.append(f"recipient(s) cancelled: {cancelled[:3]}")
    tries = (before.get("retry_count"), after.get("retry_count"))
    if all(isinstance(n, int) for n in tries) and tries[1] > tries[0]:
        marks.append(f"retry_count {tries[0]} -> {tries[1]}")
    phones = [sorted(str(r.get("phone_number")) for r in doc.get("recipients") or ()
                     if isinstance(r, dict)) for doc in (before, after)]
    if "recipients" in before and "recipients" in after and phones[0] != phones[1]:
        marks.append(f"recipients {phones[0]} -> {phones[1]}")
    return marks


@pytest.mark.requirement("WORKSPACE-3")
@pytest.mark.parametrize("operation", ON_A_BATCH)
def test_other_workspace_gets_404(other_client, api, existing, sendable, operation):
    """Another workspace's key gets 404 for a batch it cannot see."""
    response = _call(other_client, api, operation, existing["id"], None, sendable)
    assert response.status_code == 404


@pytest.mark.requirement("WORKSPACE-2")
def test_other_workspace_does_not_list_the_batch(other_client, existing, list_pages, agent_id):
    """Another key's workspace list does not contain the batch."""
    # Its agent's batches in the other workspace (a bounded walk of a lived-in workspace).
    ids = {i["id"] for page in list_pages(other_client, agent_id=agent_id)
           for i in page["batch_calls"]}
    assert existing["id"] not in ids
