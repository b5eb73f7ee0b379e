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


ADDITIONS: dict[str, tuple[Addition, ...]] = {
    "submitBatchCall": (_links_to_every_batch_operation, _submit_examples),
    "cancelBatchCall": (_refetch_link, _vendor_example("cancel-response.seed-004.json")),
    "retryBatchCall": (_refetch_link,),
    "getBatchCall": (_vendor_example("get-response.seed-000.json"),),
    "listBatchCalls": (_cursor_described,),
    "exportBatchCall": (_export_limit,),
}
