"""The pieces the overlay adds to every operation and to the components: error schemas and
responses, links, renames, and the post-call webhooks read from openapi/webhooks/."""

from __future__ import annotations

import yaml

from conformance.bundle.sources import ERROR_STATUSES, LINK_TARGETS, WEBHOOKS_DIR


def rewrite_refs(node, old: str, new: str):
    if isinstance(node, dict):
        return {k: (new if k == "$ref" and v == old else rewrite_refs(v, old, new))
                for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite_refs(v, old, new) for v in node]
    return node


def error_schemas() -> dict:
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


def error_response(status: str) -> dict:
    description, source = ERROR_STATUSES[status]
    return {
        "description": description,
        "x-conformance-source": source,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
        },
    }


def links() -> dict:
    return {
        f"{target[0].upper()}{target[1:]}": {
            "operationId": target,
            "parameters": {"batch_id": "$response.body#/id"},
            "description": f"The batch just returned, passed to {target}.",
        }
        for target in LINK_TARGETS
    }


def rename(schemas: dict, vendor_name: str, name: str) -> dict:
    """A readable name for a vendor schema; the vendor's name is kept as metadata."""
    if vendor_name not in schemas:
        return schemas
    schemas[name] = schemas.pop(vendor_name)
    schemas[name]["title"] = name
    schemas[name]["x-vendor-schema-name"] = vendor_name
    return rewrite_refs(schemas, f"#/components/schemas/{vendor_name}",
                         f"#/components/schemas/{name}")


def webhooks() -> tuple[dict, dict, dict]:
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
