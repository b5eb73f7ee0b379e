"""Submit: the batch comes back as sent, pending, with its counters at their start."""

import pytest

from conformance.invariants import check_batch, check_echo


@pytest.mark.requirement("SUBMIT-1")
def test_submit_echoes_what_was_sent(client, api, name_prefix, numbers, now, ledger, agent_id,
                                     target):
    """Submit returns the batch with name, agent, phone number id, schedule and limits as sent.
    Spec: openapi/batch-calling.yaml (BatchCallResponse; `name` echoes `call_name`)."""
    body = {
        "call_name": f"{name_prefix}echo",
        "agent_id": agent_id,
        "agent_phone_number_id": "phnum_conformance_0001",
        "recipients": [{"phone_number": n} for n in numbers.completing(3)],
        "scheduled_time_unix": now() + target.hold_seconds(),
        "timezone": "America/New_York",
        "target_concurrency_limit": 2,
    }
    response = client.post(api.paths.submit(), json=body)
    assert response.status_code == 200
    batch = response.json()
    ledger.append(batch["id"])
    check_echo(body, batch)
    check_batch(batch, request=body)
    assert batch["status"] == "pending"
    assert batch["total_calls_scheduled"] == 3
    assert batch.get("total_calls_dispatched", 0) == 0
    assert batch.get("total_calls_finished", 0) == 0
    assert batch.get("retry_count", 0) == 0


#: One name in several scripts and emoji (no digits: the live guard reads digits of any
#: script as a possible phone number): Latin with accents, Cyrillic, Greek, Arabic,
#: Devanagari, CJK, Hangul, a flag and a zero-width joiner sequence.
MANY_SCRIPTS = "Café-Привет-Γειά-مرحبا-नमस्ते-你好-안녕-🇫🇷-👩‍💻-📞"


@pytest.mark.requirement("SUBMIT-1")
def test_a_name_in_any_script_reads_back_exactly(client, api, submit_batch, name_prefix,
                                                 agent_id, list_pages):
    """Submit returns the batch as sent, name included: a call_name in several scripts and
    emoji comes back exactly from submit, get and list."""
    name = f"{name_prefix}{MANY_SCRIPTS}"
    batch = submit_batch(1, call_name=name)
    assert batch["name"] == name
    fetched = client.get(api.paths.get(batch["id"]))
    assert fetched.status_code == 200 and fetched.json()["name"] == name
    listed = [i for p in list_pages(client, agent_id=agent_id, limit=100)
              for i in p["batch_calls"] if i["id"] == batch["id"]]
    assert [i["name"] for i in listed] == [name]


@pytest.mark.requirement("SUBMIT-2")
def test_submit_gives_each_batch_its_own_id(submit_batch):
    """Two submits create two batches with different ids."""
    first, second = submit_batch(1), submit_batch(1)
    assert first["id"] and second["id"] and first["id"] != second["id"]


@pytest.mark.requirement("SUBMIT-3")
def test_submit_without_phone_number_id_echoes_null(submit_batch):
    """A batch submitted without `agent_phone_number_id` reports `phone_number_id` as null."""
    batch = submit_batch(1)
    assert batch.get("phone_number_id") is None
