"""What the overlay adds to each operation beyond the vendor's own (after the 401, the extra
error statuses and the security scheme every operation gets): one table, `ADDITIONS`,
operationId -> the additions applied in order. Each addition edits the operation object and
its `responses` in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance.bundle.parts import links
from conformance.bundle.sources import load_example

#: addition(operation, responses)
Addition = Callable[[dict[str, Any], dict[str, Any]], None]


def _links_to_every_batch_operation(op: dict[str, Any], responses: dict[str, Any]) -> None:
    responses["200"]["links"] = links()


def _submit_examples(op: dict[str, Any], responses: dict[str, Any]) -> None:
    media = op["requestBody"]["content"]["application/json"]
    media["examples"] = {
        "vendorDocs": {
            "summary": "The request on the vendor's submit page",
            "x-conformance-source": "documented",
            "value": load_example("submit-request.seed-002.json"),
        },
        "fictionalRecipients": {
            "summary": "Two recipients with fictional numbers, scheduled ahead",
            "x-conformance-source": "inferred",
            "value": load_example("submit-request.fictional.json"),
        },
    }
    _vendor_example("submit-response.seed-002.json")(op, responses)


def _refetch_link(op: dict[str, Any], responses: dict[str, Any]) -> None:
    responses["200"]["links"] = {
        "GetBatchCall": {
            "operationId": "getBatchCall",
            "parameters": {"batch_id": "$response.body#/id"},
            "description": "The batch just changed, fetched again.",
        }
    }


def _vendor_example(name: str) -> Addition:
    """The 200 response's example from the vendor's documentation page."""

    def add(op: dict[str, Any], responses: dict[str, Any]) -> None:
        responses["200"]["content"]["application/json"]["examples"] = {
            "vendorDocs": {
                "x-conformance-source": "documented",
                "value": load_example(name),
            }
        }

    return add


def _cursor_described(op: dict[str, Any], responses: dict[str, Any]) -> None:
    for p in op["parameters"]:
        if p["name"] == "last_doc":
            p["description"] = "Cursor: the `next_doc` of the previous page."
            p["x-conformance-source"] = "documented"


def _export_limit(op: dict[str, Any], responses: dict[str, Any]) -> None:
    if any(p["name"] == "limit" for p in op["parameters"]):
        return
    op["parameters"].append({
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Only export the first N recipients; used to preview the "
        "columns. Omit to export every recipient.",
        "x-conformance-source": "documented",
        "x-conformance-note": "Present in the official SDK (elevenlabs 2.78.0), "
        "absent from the 2026-08-22 schema fragment.",
        "schema": {"anyOf": [{"type": "integer"}, {"type": "null"}], "title": "Limit"},
    })
    responses["200"]["description"] = "Batch call results CSV."


#: Export's CSV header, as what it is: nobody publishes it. The vendor's schema says
#: `text/csv` (a string), its pages show no export, and the official SDK (2.78.0,
#: `batch_calls.export`) returns the bytes without naming a column; no vendor export has been
#: recorded. So the columns are our inference, one per field of get's recipient, and a test
#: of them is graded inferred (EXPORT-6): enforced on the mock, "differs" on a vendor.
EXPORT_CSV = {
    "x-conformance-source": "inferred",
    "x-conformance-note": "Columns: no published source (vendor schema: text/csv string; "
    "vendor pages: none; SDK 2.78.0 export returns bytes); none observed. One row per "
    "recipient, in get's order; each column is the get recipient field it names.",
    "x-conformance-csv-columns": [
        {"name": "recipient_id", "recipient_field": "id"},
        {"name": "phone_number", "recipient_field": "phone_number"},
        {"name": "whatsapp_user_id", "recipient_field": "whatsapp_user_id"},
        {"name": "status", "recipient_field": "status"},
        {"name": "conversation_id", "recipient_field": "conversation_id"},
        {"name": "created_at_unix", "recipient_field": "created_at_unix"},
        {"name": "updated_at_unix", "recipient_field": "updated_at_unix"},
    ],
}


def _export_columns(op: dict[str, Any], responses: dict[str, Any]) -> None:
    media = responses["200"].get("content", {}).get("text/csv")
    if isinstance(media, dict):
        media.update(EXPORT_CSV)


ADDITIONS: dict[str, tuple[Addition, ...]] = {
    "submitBatchCall": (_links_to_every_batch_operation, _submit_examples),
    "cancelBatchCall": (_refetch_link, _vendor_example("cancel-response.seed-004.json")),
    "retryBatchCall": (_refetch_link,),
    "getBatchCall": (_vendor_example("get-response.seed-000.json"),),
    "listBatchCalls": (_cursor_described,),
    "exportBatchCall": (_export_limit, _export_columns),
}
