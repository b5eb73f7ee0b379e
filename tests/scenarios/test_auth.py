"""Authentication and workspaces: no key or a wrong key is 401; another key's batches do not
exist for you."""

import pytest

OPERATIONS = ["submit", "list", "get", "cancel", "retry", "delete", "export"]
METHODS = {"submit": "POST", "list": "GET", "get": "GET", "cancel": "POST", "retry": "POST",
           "delete": "DELETE", "export": "GET"}


def _call(http, api, operation, batch_id, submit_body):
    if operation == "submit":
        return http.post(api.submit(), json=submit_body)
    if operation == "list":
        return http.get(api.list())
    return http.request(METHODS[operation], getattr(api, operation)(batch_id))


@pytest.fixture
def existing(submit_batch):
    """A batch that exists in the main workspace."""
    return submit_batch(1)


@pytest.fixture
def submit_body(name_prefix, agent_id):
    return {"call_name": f"{name_prefix}auth", "agent_id": agent_id,
            "recipients": [{"phone_number": "+14155550100"}],
            "scheduled_time_unix": 4102444800}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_missing_key_is_401(client_for, api, existing, submit_body, operation):
    """Every operation answers 401 `needs_authorization` when no API key is sent."""
    response = _call(client_for(""), api, operation, existing["id"], submit_body)
    assert response.status_code == 401
    assert response.json()["detail"]["status"] == "needs_authorization"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_wrong_key_is_401(client_for, api, existing, submit_body, operation):
    """Every operation answers 401 `invalid_api_key` for a key the server does not know."""
    response = _call(client_for("sk_conformance_not_a_real_key"), api, operation,
                     existing["id"], submit_body)
    assert response.status_code == 401
    assert response.json()["detail"]["status"] == "invalid_api_key"


@pytest.mark.parametrize("operation", ["get", "cancel", "retry", "delete", "export"])
def test_other_workspace_cannot_touch_the_batch(client, other_client, api, existing, operation):
    """A batch made with one key does not exist for another key (404), and stays intact."""
    response = _call(other_client, api, operation, existing["id"], None)
    assert response.status_code == 404
    fetched = client.get(api.get(existing["id"]))
    assert fetched.status_code == 200
    assert fetched.json()["status"] == existing["status"]


def test_other_workspace_does_not_list_the_batch(other_client, api, existing):
    """Another key's workspace list does not contain the batch."""
    ids, cursor = set(), None
    for _ in range(50):
        page = other_client.get(api.list(), params={"last_doc": cursor} if cursor else {}).json()
        ids |= {i["id"] for i in page["batch_calls"]}
        if not page["has_more"]:
            break
        cursor = page["next_doc"]
    assert existing["id"] not in ids
