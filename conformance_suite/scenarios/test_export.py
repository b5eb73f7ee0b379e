"""Export: the batch's recipients and results as CSV."""

import csv
import io

import pytest


def _rows(response):
    return list(csv.DictReader(io.StringIO(response.text)))


@pytest.mark.requirement("EXPORT-1")
def test_export_has_a_row_per_recipient(client, api, submit_batch, numbers):
    """Export answers text/csv with a header and one row per recipient."""
    batch = submit_batch(numbers.completing(3))
    response = client.get(api.export(batch["id"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert len(_rows(response)) == 3


@pytest.mark.requirement("EXPORT-2")
def test_export_limit_previews_the_first_rows(client, api, submit_batch, numbers):
    """`limit` exports only the first N recipients. Spec: official SDK 2.78.0 export(limit)."""
    batch = submit_batch(numbers.completing(3))
    assert len(_rows(client.get(api.export(batch["id"]), params={"limit": 1}))) == 1


@pytest.mark.requirement("NOTFOUND-1")
def test_export_unknown_batch_is_404(client, api, unknown_id):
    """Exporting a batch id that does not exist answers 404."""
    assert client.get(api.export(unknown_id)).status_code == 404
