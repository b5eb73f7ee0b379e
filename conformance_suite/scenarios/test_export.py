"""Export: the batch's recipients and results as CSV, agreeing with get.

Spec: vendor spec (GET .../{batch_id}/export, 200 text/csv); official SDK 2.78.0
`batch_calls.export(limit)`. The columns are the spec's `x-conformance-csv-columns`
(inferred: nobody publishes them), each the get recipient field it names."""

import csv
import io

import pytest

from conformance.api import lifecycle

#: The fields export and get must agree on, by get's name.
AGREED = ("id", "phone_number", "whatsapp_user_id", "status", "conversation_id")


def _rows(response):
    return list(csv.DictReader(io.StringIO(response.text)))


def _as_get(api, rows) -> list[dict]:
    """Rows in get's vocabulary: {recipient field: value or None} (CSV has no null)."""
    return [{field: (row.get(column) or None) for column, field in api.export_columns
             if field in AGREED} for row in rows]


def _agrees(client, api, batch_id, **params) -> tuple[list[dict], list[dict]]:
    """get's recipients and export's rows, read at the same moment, in get's vocabulary."""
    recipients = client.get(api.paths.get(batch_id)).json()["recipients"]
    response = client.get(api.paths.export(batch_id), params=params)
    assert response.status_code == 200, response.text
    wanted = [{field: r.get(field) for field in AGREED} for r in recipients]
    return wanted, _as_get(api, _rows(response))


def _same_recipients(wanted, rows):
    """One row per recipient, each with get's values (order aside)."""
    key = lambda r: r["id"] or ""  # noqa: E731
    assert len(rows) == len(wanted), f"{len(rows)} rows for {len(wanted)} recipients"
    assert sorted(rows, key=key) == sorted(wanted, key=key)


@pytest.mark.requirement("EXPORT-1")
def test_export_has_a_row_per_recipient(client, api, submit_batch, numbers):
    """Export answers text/csv with a header and one row per recipient."""
    batch = submit_batch(numbers.completing(3))
    client.post(api.paths.cancel(batch["id"]))  # ended: what export is for (EXPORT-4: otherwise)
    response = client.get(api.paths.export(batch["id"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert len(_rows(response)) == 3


@pytest.mark.requirement("EXPORT-2")
def test_export_limit_previews_the_first_rows_in_gets_order(client, api, submit_batch,
                                                            numbers):
    """`limit` exports the first N recipients, in get's order. Spec: official SDK 2.78.0
    export(limit)."""
    batch = submit_batch(numbers.completing(4))
    client.post(api.paths.cancel(batch["id"]))
    wanted, rows = _agrees(client, api, batch["id"], limit=2)
    assert [r["id"] for r in rows] == [r["id"] for r in wanted[:2]]


@pytest.mark.requirement("EXPORT-3")
def test_export_of_a_cancelled_batch_agrees_with_get(client, api, submit_batch, numbers):
    """After cancel, export has every recipient once (none left out) with get's id, number,
    WhatsApp id, status (cancelled) and conversation id."""
    batch = submit_batch(numbers.completing(3))
    assert client.post(api.paths.cancel(batch["id"])).status_code == 200
    wanted, rows = _agrees(client, api, batch["id"])
    assert {r["status"] for r in wanted} == {"cancelled"}
    _same_recipients(wanted, rows)


@pytest.mark.requirement("EXPORT-3")
def test_export_of_a_finished_batch_agrees_with_get(client, api, submit_batch, numbers,
                                                    eventually):
    """A batch run to its end (calls completed and failed) exports every recipient with
    get's status and conversation id."""
    batch = submit_batch([numbers.completes, numbers.fails, numbers.completes_long],
                         dispatch=True)
    finished = lifecycle().batch_finished
    eventually(lambda: client.get(api.paths.get(batch["id"])).json()["status"] in finished,
               within=7200, what="the batch to finish")
    wanted, rows = _agrees(client, api, batch["id"])
    _same_recipients(wanted, rows)


@pytest.mark.requirement("EXPORT-3")
def test_export_of_a_batch_cancelled_mid_run_agrees_with_get(client, api, submit_batch,
                                                             numbers, eventually):
    """Cancelled with one call done: the finished call's row keeps its status and
    conversation id, the cancelled ones are there too."""
    batch = submit_batch([numbers.completes, numbers.completes_long, numbers.completes_long],
                         dispatch=True, target_concurrency_limit=1)
    life = lifecycle()
    eventually(lambda: client.get(api.paths.get(batch["id"])).json()["recipients"][0]["status"]
               in life.recipient_terminal, what="the first call to end")
    client.post(api.paths.cancel(batch["id"]))
    wanted, rows = _agrees(client, api, batch["id"])
    _same_recipients(wanted, rows)


@pytest.mark.requirement("EXPORT-4")
def test_export_of_an_unfinished_batch_is_its_rows_as_they_stand(client, api, submit_batch,
                                                                 numbers):
    """Export of a batch that has not finished (held) answers 200 with its recipients as
    get reports them at that moment (pending)."""
    batch = submit_batch(numbers.completing(2))
    wanted, rows = _agrees(client, api, batch["id"])
    assert {r["status"] for r in wanted} == {"pending"}
    _same_recipients(wanted, rows)


@pytest.mark.requirement("EXPORT-6")
def test_export_header_names_the_specs_columns(client, api, submit_batch, numbers):
    """The CSV header names every column the spec lists (extra columns are allowed)."""
    batch = submit_batch(numbers.completing(1))
    client.post(api.paths.cancel(batch["id"]))
    header = next(csv.reader(io.StringIO(client.get(api.paths.export(batch["id"])).text)), [])
    missing = [column for column, _ in api.export_columns if column not in header]
    assert api.export_columns and not missing, f"header {header} lacks {missing}"


@pytest.mark.requirement("NOTFOUND-1")
def test_export_unknown_batch_is_404(client, api, unknown_id):
    """Exporting a batch id that does not exist answers 404."""
    assert client.get(api.paths.export(unknown_id)).status_code == 404
