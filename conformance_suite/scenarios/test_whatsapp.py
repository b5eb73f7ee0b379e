"""WhatsApp batches: `whatsapp_params` on submit and every batch answer, `whatsapp_user_id` on
every recipient. Spec: vendor spec BatchCallWhatsAppParams, BatchCallResponse.whatsapp_params,
OutboundCallRecipientResponseModel.whatsapp_user_id; vendor pages "Submit batch calling job"
and "Get batch call information" (their examples carry both)."""

import csv
import io

import pytest

TEMPLATE_FIELDS = ("whatsapp_call_permission_request_template_name",
                   "whatsapp_call_permission_request_template_language_code")


@pytest.fixture
def submit_whatsapp(submit_batch, numbers, whatsapp_params):
    """Factory: submit a held WhatsApp batch of `count` fictional WhatsApp users."""
    def submit(count: int = 2) -> tuple[dict, list[str]]:
        users = numbers.whatsapp(count)
        batch = submit_batch([{"whatsapp_user_id": u} for u in users],
                             whatsapp_params=whatsapp_params)
        return batch, users
    return submit


def _echoes(answer: dict, sent: dict) -> bool:
    """The answer carries the params as sent (a dialect where the key is optional may leave
    it out; the response validator judges that)."""
    return answer.get("whatsapp_params", sent) == sent


def _by_user(recipients) -> dict:
    return {r["whatsapp_user_id"]: r for r in recipients}


@pytest.mark.requirement("WHATSAPP-1")
def test_whatsapp_batch_is_accepted_and_its_params_echoed(client, api, submit_whatsapp,
                                                          whatsapp_params, list_pages):
    """A WhatsApp batch is accepted, and submit, get, list and cancel answer with its
    `whatsapp_params` as sent."""
    batch, _ = submit_whatsapp(2)
    assert _echoes(batch, whatsapp_params), batch.get("whatsapp_params")
    fetched = client.get(api.paths.get(batch["id"])).json()
    assert _echoes(fetched, whatsapp_params), fetched.get("whatsapp_params")
    listed = [i for p in list_pages(client) for i in p["batch_calls"] if i["id"] == batch["id"]]
    assert len(listed) == 1 and _echoes(listed[0], whatsapp_params), listed
    cancelled = client.post(api.paths.cancel(batch["id"]))
    assert cancelled.status_code == 200
    assert _echoes(cancelled.json(), whatsapp_params), cancelled.json().get("whatsapp_params")


@pytest.mark.requirement("WHATSAPP-2")
def test_get_keeps_each_whatsapp_user_id(client, api, submit_whatsapp):
    """Get returns one recipient per WhatsApp user sent, each with its `whatsapp_user_id`,
    pending before the batch starts."""
    batch, users = submit_whatsapp(3)
    recipients = client.get(api.paths.get(batch["id"])).json()["recipients"]
    assert sorted(r["whatsapp_user_id"] for r in recipients) == sorted(users)
    assert {r["status"] for r in recipients} == {"pending"}


@pytest.mark.requirement("WHATSAPP-3")
def test_export_keeps_each_whatsapp_user_id(client, api, submit_whatsapp):
    """Export has one row per WhatsApp recipient, with its `whatsapp_user_id` and the id get
    gives it."""
    batch, users = submit_whatsapp(3)
    recipients = client.get(api.paths.get(batch["id"])).json()["recipients"]
    client.post(api.paths.cancel(batch["id"]))  # export is for a batch that has ended
    rows = list(csv.DictReader(io.StringIO(client.get(api.paths.export(batch["id"])).text)))
    assert sorted(r.get("whatsapp_user_id") for r in rows) == sorted(users), rows
    ids = {r["whatsapp_user_id"]: r["id"] for r in recipients}
    assert {r["whatsapp_user_id"]: r.get("recipient_id") for r in rows} == ids


@pytest.mark.requirement("CANCEL-1")
def test_cancel_whatsapp_batch_cancels_every_recipient(client, api, submit_whatsapp):
    """Cancelling a held WhatsApp batch cancels it and every recipient, who keep their
    `whatsapp_user_id`."""
    batch, users = submit_whatsapp(2)
    assert client.post(api.paths.cancel(batch["id"])).status_code == 200
    fetched = client.get(api.paths.get(batch["id"])).json()
    assert fetched["status"] == "cancelled"
    assert {u: r["status"] for u, r in _by_user(fetched["recipients"]).items()} == dict.fromkeys(
        users, "cancelled")


@pytest.mark.requirement("DELETE-1")
def test_delete_whatsapp_batch_answers_204_and_it_is_gone(client, api, submit_whatsapp):
    """A cancelled WhatsApp batch is deleted like any other: 204, then get answers 404."""
    batch, _ = submit_whatsapp(1)
    client.post(api.paths.cancel(batch["id"]))
    response = client.delete(api.paths.delete(batch["id"]))
    assert response.status_code == 204 and response.content == b""
    assert client.get(api.paths.get(batch["id"])).status_code == 404


@pytest.mark.requirement("WHATSAPP-4")
@pytest.mark.parametrize("field", TEMPLATE_FIELDS)
def test_whatsapp_submit_missing_a_template_field_is_422(client, api, name_prefix, agent_id,
                                                         now, target, numbers, whatsapp_params,
                                                         sendable, ledger, field):
    """A WhatsApp submit whose `whatsapp_params` lacks a required template field is rejected
    with 422 at [body, whatsapp_params, <field>]."""
    params = {k: v for k, v in whatsapp_params.items() if k != field}
    body = {"call_name": f"{name_prefix}wa-missing", "agent_id": agent_id,
            "recipients": [{"whatsapp_user_id": numbers.whatsapp(1)[0]}],
            "scheduled_time_unix": now() + target.hold_seconds(), "whatsapp_params": params}
    sendable("POST", api.paths.submit(), json=body)
    response = client.post(api.paths.submit(), json=body)
    if response.status_code == 200:  # accepted by mistake: clean it up, then fail
        ledger.append(response.json()["id"])
    assert response.status_code == 422, response.text
    assert ["body", "whatsapp_params", field] in [e["loc"] for e in response.json()["detail"]]
