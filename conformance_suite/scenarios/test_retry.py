"""Retry: "Retry a batch call, calling failed and no-response recipients again."
Spec: vendor docs, POST /v1/convai/batch-calling/{batch_id}/retry."""

import pytest

from conformance.api import lifecycle
from conformance.invariants import check_batch, check_monotonic

TERMINAL_BATCH = lifecycle().batch_finished


def _finished(client, api, batch_id):
    batch = client.get(api.paths.get(batch_id)).json()
    return batch if batch["status"] in TERMINAL_BATCH else None


@pytest.fixture
def finished_batch(client, api, submit_batch, eventually, numbers, needs_outcomes):
    """A batch run to its end: one recipient completed, one failed once, one unanswered once."""
    batch = submit_batch([numbers.completes, numbers.fails_once, numbers.no_answer_once],
                         dispatch=True)
    return eventually(lambda: _finished(client, api, batch["id"]), within=3600,
                      what="the batch finishing")


def _by_number(batch):
    return {r["phone_number"]: r for r in batch["recipients"]}


@pytest.mark.requirement("RETRY-1")
def test_retry_requeues_failed_and_unanswered_recipients(client, api, finished_batch, numbers,
                                                         eventually, strict):
    """Retry calls failed and no-response recipients again; completed ones are not called again."""
    before = _by_number(finished_batch)
    assert before[numbers.fails_once]["status"] == "failed"
    assert before[numbers.no_answer_once]["status"] == "failed"
    response = client.post(api.paths.retry(finished_batch["id"]))
    assert response.status_code == 200
    requeued = _by_number(client.get(api.paths.get(finished_batch["id"])).json())
    assert requeued[numbers.completes] == before[numbers.completes]
    assert requeued[numbers.fails_once]["status"] != "failed"
    assert requeued[numbers.no_answer_once]["status"] != "failed"
    after = eventually(lambda: _finished(client, api, finished_batch["id"]), within=3600,
                       what="the retried batch finishing")
    assert {r["status"] for r in after["recipients"]} == {"completed"}
    check_batch(after)
    if strict:  # counters never going back is our inference (LIFE-5), not the vendor's word
        check_monotonic(finished_batch, after)


@pytest.mark.requirement("RETRY-2")
def test_retry_increments_retry_count(client, api, finished_batch):
    """Each retry adds one to retry_count."""
    retried = client.post(api.paths.retry(finished_batch["id"])).json()
    assert retried["retry_count"] == finished_batch["retry_count"] + 1


@pytest.mark.requirement("RETRY-4")
def test_retry_of_a_running_batch_with_a_failed_call_is_refused(client, api, submit_batch,
                                                                eventually, numbers,
                                                                needs_outcomes):
    """A batch still running is not retried even when one of its calls already failed (so
    there is something to call again): 409, and nothing changes."""
    batch = submit_batch([numbers.fails, numbers.completes_long], dispatch=True)

    def failed_while_running():
        now = client.get(api.paths.get(batch["id"])).json()
        statuses = {r["phone_number"]: r["status"] for r in now["recipients"]}
        return now if statuses[numbers.fails] == "failed" else None
    running = eventually(failed_while_running, what="the failing call ending")
    if running["status"] in TERMINAL_BATCH:
        pytest.skip("the batch finished before a look found it running with a failed call")
    response = client.post(api.paths.retry(batch["id"]))
    after = client.get(api.paths.get(batch["id"])).json()
    if response.status_code != 409 and \
            _by_number(after)[numbers.completes_long]["status"] == "completed":
        pytest.skip("the batch finished between the look and the retry (its long call had "
                    "ended): a retry of a finished batch may be accepted")
    assert response.status_code == 409, (
        f"retry of a running batch answered {response.status_code}: {response.text[:200]}")
    assert after["retry_count"] == 0
    assert _by_number(after)[numbers.fails]["status"] == "failed"


@pytest.mark.requirement("NOTFOUND-1")
def test_retry_unknown_batch_is_404(client, api, foreign_id_allowed, unknown_id):
    """Retrying a batch id that does not exist answers 404."""
    assert client.post(api.paths.retry(unknown_id)).status_code == 404


@pytest.mark.requirement("RETRY-3")
def test_retry_calls_voicemail_recipients_again(client, api, submit_batch, eventually, numbers,
                                                 needs_outcomes):
    """A call that reached voicemail counts as no-response: retry calls it again."""
    batch = submit_batch([numbers.voicemail_once], dispatch=True)
    done = eventually(lambda: _finished(client, api, batch["id"]), what="the batch finishing")
    assert done["recipients"][0]["status"] == "voicemail"
    assert client.post(api.paths.retry(batch["id"])).status_code == 200
    after = eventually(lambda: _finished(client, api, batch["id"]),
                       what="the retried batch finishing")
    assert after["recipients"][0]["status"] == "completed"


@pytest.mark.requirement("RETRY-4")
def test_retry_of_a_running_batch_is_refused(client, api, submit_batch, sendable):
    """Retrying a batch that has not finished answers 409 and changes nothing."""
    batch = submit_batch(1)  # held: it has not finished
    sendable("POST", api.paths.retry(batch["id"]))
    assert client.post(api.paths.retry(batch["id"])).status_code == 409
    assert client.get(api.paths.get(batch["id"])).json()["retry_count"] == 0
