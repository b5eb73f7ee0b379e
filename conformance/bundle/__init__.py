"""The bundled spec `openapi/batch-calling.yaml`, built from the vendor's published fragment
plus our overlay (the words; `conformance/tools/specbuild.py` is the command that writes it).

The vendor fragment (`openapi/vendor/…json`) is kept verbatim; everything this module adds
or changes is marked in the output with `x-conformance-source`:

- `documented`: the vendor's own schema, pages or official SDK say so;
- `observed`: what the official SDK does on the wire;
- `inferred`: our choice where the vendor is silent (never asserted against a vendor
  without being listed in `openapi/README.md`).

Run `python -m conformance.tools.specbuild` (`make spec`) to regenerate;
`tests/self/test_spec.py` fails when the committed YAML differs from what this module
produces.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from conformance.resources import ROOT

OPENAPI_DIR = ROOT / "openapi"
VENDOR_DIR = OPENAPI_DIR / "vendor"
FRAGMENT_PREFIX = "elevenlabs-batch-calling-openapi-"
EXAMPLES_DIR = OPENAPI_DIR / "examples"
WEBHOOKS_DIR = OPENAPI_DIR / "webhooks"
OUTPUT = OPENAPI_DIR / "batch-calling.yaml"

BASE = "/v1/convai/batch-calling"


def vendor_fragment() -> Path:
    """The one vendor fragment in `openapi/vendor/` (a spec bump replaces it)."""
    found = sorted(VENDOR_DIR.glob("*.json"))
    if len(found) != 1:
        raise SystemExit(f"{VENDOR_DIR} must hold exactly one vendor fragment, found "
                         f"{len(found)}")
    return found[0]


def __getattr__(name: str):
    """`VENDOR_FRAGMENT`, found when asked for: an installed wheel carries no vendor folder
    (building the spec is a checkout's job), and importing this module must not fail there."""
    if name == "VENDOR_FRAGMENT":
        return vendor_fragment()
    raise AttributeError(name)

# vendor operationId -> (our operationId, vendor path, method)
OPERATIONS = {
    "create_batch_call": ("submitBatchCall", f"{BASE}/submit", "post"),
    "get_workspace_batch_calls": ("listBatchCalls", f"{BASE}/workspace", "get"),
    "get_batch_call": ("getBatchCall", f"{BASE}/{{batch_id}}", "get"),
    "delete_batch_call": ("deleteBatchCall", f"{BASE}/{{batch_id}}", "delete"),
    "cancel_batch_call": ("cancelBatchCall", f"{BASE}/{{batch_id}}/cancel", "post"),
    "retry_batch_call": ("retryBatchCall", f"{BASE}/{{batch_id}}/retry", "post"),
    "export_batch_call": ("exportBatchCall", f"{BASE}/{{batch_id}}/export", "get"),
}

SUBMIT_BODY_VENDOR_NAME = "Body_Submit_a_batch_call_request__v1_convai_batch_calling_submit_post"
SUBMIT_BODY = "SubmitBatchCallRequest"
# Vendor schema names -> ours. FastAPI splits a model used in requests and responses into
# `-Input` and `-Output` (SDK 2.78.0 shows it for TelephonyCallConfig); the request half keeps
# the name clients and this suite already know.
RENAMES = {
    SUBMIT_BODY_VENDOR_NAME: SUBMIT_BODY,
    "TelephonyCallConfig-Input": "TelephonyCallConfig",
}

# Response models whose every key the vendor's server always emits (null where nullable).
ALL_KEYS_REQUIRED = [
    "BatchCallResponse",
    "BatchCallDetailedResponse",
    "OutboundCallRecipientResponseModel",
    "WorkspaceBatchCallsResponse",
    "HTTPValidationError",
]

ERROR_STATUSES = {
    "401": (
        "Missing or invalid API key (`status` is `needs_authorization` without a key, "
        "`invalid_api_key` with a wrong one).",
        "documented",
    ),
    "403": (
        "The workspace has not accepted the batch-calling terms "
        "(`status`: `batch_calling_agreement_required`).",
        "documented",
    ),
    "404": ("No batch with this id in the caller's workspace.", "inferred"),
    "409": (
        "The batch's state does not allow this operation (for example cancelling a batch "
        "that already finished).",
        "inferred",
    ),
    "413": ("Request body larger than the server accepts.", "inferred"),
    "415": ("Request body is not `application/json`.", "inferred"),
}

# Which extra error statuses each operation documents, beyond 401 and 422.
EXTRA_ERRORS = {
    "submitBatchCall": ["403", "413", "415"],
    "listBatchCalls": [],
    "getBatchCall": ["404"],
    "deleteBatchCall": ["404"],
    "cancelBatchCall": ["404", "409"],
    "retryBatchCall": ["404", "409"],
    "exportBatchCall": ["404"],
}

LINK_TARGETS = ["getBatchCall", "cancelBatchCall", "retryBatchCall", "deleteBatchCall",
                "exportBatchCall"]


# The lifecycle every client relies on and no vendor publishes (inferred; the mock implements
# it, conformance/mock/README.md explains it). Reports measure coverage against it.
TRANSITIONS = {
    "batch": [
        "pending->in_progress", "pending->cancelled", "in_progress->completed",
        "in_progress->failed", "in_progress->cancelled", "completed->in_progress",
        "failed->in_progress",
    ],
    "recipient": [
        "pending->dispatched", "dispatched->initiated", "initiated->in_progress",
        "in_progress->completed", "in_progress->voicemail", "initiated->failed",
        "pending->cancelled", "dispatched->cancelled", "initiated->cancelled",
        "in_progress->cancelled", "failed->pending", "voicemail->pending",
    ],
}
# The enums whose values a conformance run should see (the rest are the vendor's catalogues
# of LLMs and SDK names, which say nothing about batch calling).
COVERAGE_ENUMS = ["BatchCallStatus", "BatchCallRecipientStatus", "TelephonyProvider"]


def _local_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                yield value
            else:
                yield from _local_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _local_refs(value)


def is_batch_calling_path(path: str) -> bool:
    return path == BASE or path.startswith(BASE + "/")


def extract(openapi: dict) -> dict:
    """The batch-calling paths of a vendor's full `openapi.json` and every component they
    reach (transitively, in the source's order), unchanged: how the fragment in
    `openapi/vendor/` was made. Extracting a fragment again returns it as it is."""
    paths = {p: copy.deepcopy(item) for p, item in (openapi.get("paths") or {}).items()
             if is_batch_calling_path(p)}
    if not paths:
        raise ValueError(f"no path under {BASE} (not a batch-calling contract)")
    components = openapi.get("components") or {}
    reached: set[tuple[str, str]] = set()
    todo = list(_local_refs(paths))
    while todo:
        ref = todo.pop()
        parts = ref.removeprefix("#/components/").split("/")
        if len(parts) != 2 or tuple(parts) in reached:
            continue
        kind, name = parts
        if name not in components.get(kind, {}):
            raise ValueError(f"$ref {ref} points at nothing")
        reached.add((kind, name))
        todo.extend(_local_refs(components[kind][name]))
    out_components = {
        kind: {name: copy.deepcopy(node) for name, node in section.items()
               if (kind, name) in reached}
        for kind, section in components.items() if isinstance(section, dict)}
    out = {k: copy.deepcopy(openapi[k]) for k in ("openapi", "info", "servers") if k in openapi}
    out["paths"] = paths
    out["components"] = {k: v for k, v in out_components.items() if v}
    return out


def _load_example(name: str) -> dict:
    return json.loads((EXAMPLES_DIR / name).read_text())


def _rewrite_refs(node, old: str, new: str):
    if isinstance(node, dict):
        return {k: (new if k == "$ref" and v == old else _rewrite_refs(v, old, new))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v, old, new) for v in node]
    return node


def _error_schemas() -> dict:
    return {
        "ErrorDetail": {
            "type": "object",
            "title": "ErrorDetail",
            "x-conformance-source": "documented",
            "description": "Object error detail the vendor uses for non-validation errors.",
            "properties": {
                "type": {"type": "string"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "status": {"type": "string"},
                "request_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            "required": ["type", "code", "message", "status", "request_id"],
        },
        "ErrorResponse": {
            "type": "object",
            "title": "ErrorResponse",
            "x-conformance-source": "documented",
            "properties": {"detail": {"$ref": "#/components/schemas/ErrorDetail"}},
            "required": ["detail"],
        },
    }


def _error_response(status: str) -> dict:
    description, source = ERROR_STATUSES[status]
    return {
        "description": description,
        "x-conformance-source": source,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
        },
    }


def _links() -> dict:
    return {
        f"{target[0].upper()}{target[1:]}": {
            "operationId": target,
            "parameters": {"batch_id": "$response.body#/id"},
            "description": f"The batch just returned, passed to {target}.",
        }
        for target in LINK_TARGETS
    }


def _rename(schemas: dict, vendor_name: str, name: str) -> dict:
    """A readable name for a vendor schema; the vendor's name is kept as metadata."""
    if vendor_name not in schemas:
        return schemas
    schemas[name] = schemas.pop(vendor_name)
    schemas[name]["title"] = name
    schemas[name]["x-vendor-schema-name"] = vendor_name
    return _rewrite_refs(schemas, f"#/components/schemas/{vendor_name}",
                         f"#/components/schemas/{name}")


def _webhooks() -> tuple[dict, dict, dict]:
    """(component schemas, `webhooks:`, delivery rules) from openapi/webhooks/*.yaml.

    Each file holds `schemas`, `headers`, `webhooks` (name -> payload schema, summary, grade)
    and `delivery` (signature, tolerance, retry rules); docs/webhooks.md gives the sources.
    """
    schemas: dict = {}
    webhooks: dict = {}
    delivery: dict = {}
    for path in sorted(WEBHOOKS_DIR.glob("*.yaml")):
        part = yaml.safe_load(path.read_text())
        schemas.update(part.get("schemas", {}))
        delivery.update(part.get("delivery", {}))
        headers = part.get("headers", {})
        for name, hook in part.get("webhooks", {}).items():
            parameters = [{"name": header, "in": "header", **spec}
                          for header, spec in headers.items()]
            webhooks[name] = {"post": {
                "operationId": name,
                "summary": hook["summary"],
                "x-conformance-source": hook["x-conformance-source"],
                "x-conformance-file": f"openapi/webhooks/{path.name}",
                "parameters": parameters,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{hook['schema']}"}}}},
                "responses": {
                    "200": {"description": "Delivered. Any other status counts as a failed "
                            "delivery; 408, 429 and 5xx are retried when the webhook has "
                            "retries enabled (post_call_transcription only).",
                            "x-conformance-source": "documented"},
                },
            }}
    return schemas, webhooks, delivery




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


def build(vendor: dict | None = None, fragment_name: str | None = None) -> dict:
    """The bundled spec from a vendor fragment (default: the one in `openapi/vendor/`).

    Also builds any other contract of this API in the vendor's form (an older or newer
    fragment, `conformance diff` compares them in this form): operations and models this
    module does not know are kept as the vendor publishes them."""
    if vendor is None:
        fragment = vendor_fragment()
        vendor = json.loads(fragment.read_text())
        fragment_name = fragment.name
    fragment_name = fragment_name or vendor_fragment().name
    schemas = copy.deepcopy(vendor.get("components", {}).get("schemas", {}))
    renames = {vendor_name: name for vendor_name, name in RENAMES.items() if vendor_name in schemas}
    for vendor_name, name in renames.items():
        schemas = _rename(schemas, vendor_name, name)

    for name in ALL_KEYS_REQUIRED:
        model = schemas.get(name)
        if model is None:
            continue
        before = set(model.get("required", []))
        model["required"] = list(model["properties"])
        added = [k for k in model["required"] if k not in before]
        if added:
            model["x-conformance-required-added"] = added
            model["x-conformance-source"] = "observed"
            model["description"] = (
                (model.get("description", "") + " ").lstrip()
                + "Every key is always present in the vendor's responses (null where nullable); "
                "the vendor's schema marks these optional: " + ", ".join(added) + "."
            )

    # pydantic v2 (the vendor's FastAPI) also sends `input` and, for constraints, `ctx`.
    if "ValidationError" in schemas:
        schemas["ValidationError"]["properties"]["input"] = {
            "title": "Input", "x-conformance-source": "observed"}
        schemas["ValidationError"]["properties"]["ctx"] = {
            "type": "object", "title": "Context", "x-conformance-source": "observed"}

    schemas.update(_error_schemas())
    webhook_schemas, webhooks, delivery = _webhooks()
    schemas.update(webhook_schemas)

    for name, example in (("BatchCallDetailedResponse", "get-response.seed-000.json"),
                          ("BatchCallResponse", "submit-response.seed-002.json")):
        if name in schemas:
            schemas[name]["example"] = _load_example(example)

    paths: dict = {}
    for vendor_path, methods in vendor["paths"].items():
        for method, vop in methods.items():
            op_id, path, _ = OPERATIONS.get(vop.get("operationId"),
                                            (vop.get("operationId"), vendor_path, method))
            op = copy.deepcopy(vop)
            for vendor_name, name in renames.items():
                op = _rewrite_refs(op, f"#/components/schemas/{vendor_name}",
                                   f"#/components/schemas/{name}")
            op["operationId"] = op_id
            op["x-vendor-operation-id"] = vop["operationId"]
            op["x-conformance-source"] = "documented"
            # The key travels as the `ApiKeyAuth` security scheme rather than a header parameter,
            # so fuzzers know it is authentication (the vendor declares it an optional header).
            op["parameters"] = [p for p in op.get("parameters", []) if p["name"] != "xi-api-key"]
            op["security"] = [{"ApiKeyAuth": []}]
            responses = op["responses"]
            if "422" in responses:
                responses["422"]["x-conformance-source"] = "documented"
            responses["401"] = _error_response("401")
            for status in EXTRA_ERRORS.get(op_id, []):
                responses[status] = _error_response(status)
            if op_id == "submitBatchCall":
                responses["200"]["links"] = _links()
                media = op["requestBody"]["content"]["application/json"]
                media["examples"] = {
                    "vendorDocs": {
                        "summary": "The request on the vendor's submit page",
                        "x-conformance-source": "documented",
                        "value": _load_example("submit-request.seed-002.json"),
                    },
                    "fictionalRecipients": {
                        "summary": "Two recipients with fictional numbers, scheduled ahead",
                        "x-conformance-source": "inferred",
                        "value": _load_example("submit-request.fictional.json"),
                    },
                }
                responses["200"]["content"]["application/json"]["examples"] = {
                    "vendorDocs": {
                        "x-conformance-source": "documented",
                        "value": _load_example("submit-response.seed-002.json"),
                    }
                }
            if op_id in ("cancelBatchCall", "retryBatchCall"):
                responses["200"]["links"] = {
                    "GetBatchCall": {
                        "operationId": "getBatchCall",
                        "parameters": {"batch_id": "$response.body#/id"},
                        "description": "The batch just changed, fetched again.",
                    }
                }
            if op_id == "cancelBatchCall":
                responses["200"]["content"]["application/json"]["examples"] = {
                    "vendorDocs": {
                        "x-conformance-source": "documented",
                        "value": _load_example("cancel-response.seed-004.json"),
                    }
                }
            if op_id == "getBatchCall":
                responses["200"]["content"]["application/json"]["examples"] = {
                    "vendorDocs": {
                        "x-conformance-source": "documented",
                        "value": _load_example("get-response.seed-000.json"),
                    }
                }
            if op_id == "listBatchCalls":
                for p in op["parameters"]:
                    if p["name"] == "last_doc":
                        p["description"] = "Cursor: the `next_doc` of the previous page."
                        p["x-conformance-source"] = "documented"
            if op_id == "exportBatchCall" and not any(
                    p["name"] == "limit" for p in op["parameters"]):
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
            if op_id == "exportBatchCall":
                csv_media = responses["200"].get("content", {}).get("text/csv")
                if isinstance(csv_media, dict):
                    csv_media.update(EXPORT_CSV)
            paths.setdefault(path, {})[method] = op

    label = fragment_name.removesuffix(".json").removeprefix(FRAGMENT_PREFIX)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Batch calling API (conformance suite's bundled contract)",
            "version": f"{label}+conformance.1",
            "description": (
                "The whole batch-calling API as the vendor publishes it (schema fragment of "
                f"{label}, its documentation pages and the official SDK 2.78.0), plus the "
                "behaviour every client relies on but no schema states. Every addition is "
                "marked with `x-conformance-source` (documented | observed | inferred); see "
                "openapi/README.md for provenance and the choices made where the vendor is silent."
            ),
        },
        "servers": [
            {"url": "https://api.elevenlabs.io"},
            {"url": "https://api.us.elevenlabs.io"},
            {"url": "https://api.eu.residency.elevenlabs.io"},
            {"url": "https://api.in.residency.elevenlabs.io"},
            {"url": "https://api.sg.residency.elevenlabs.io"},
        ],
        "x-conformance-vendor-fragment": {
            "file": "openapi/vendor/" + fragment_name,
            "title": vendor.get("info", {}).get("title", ""),
        },
        "x-transitions": TRANSITIONS,
        "x-coverage-enums": COVERAGE_ENUMS,
        "x-conformance-webhook-delivery": delivery,
        "security": [{"ApiKeyAuth": []}],
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "securitySchemes": {
                "ApiKeyAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "xi-api-key",
                    "description": "Your API key. The live service answers 401 without it.",
                }
            },
            "schemas": dict(sorted(schemas.items())),
        },
    }


def dump(spec: dict) -> str:
    header = ("# GENERATED by `python -m conformance.tools.specbuild` from openapi/vendor/, "
              "openapi/examples/ and openapi/webhooks/.\n"
              "# Do not edit by hand: change conformance/bundle/ and regenerate.\n")
    return header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)
