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


#: The vendor's page "AI rate limiting for voice: Concurrency, queues, and 429s"
#: (elevenlabs.io/blog/ai-rate-limiting-for-voice; openapi/README.md "Pressure").
PRESSURE_SOURCE = ("ElevenLabs, \"AI rate limiting for voice: Concurrency, queues, and "
                   "429s\" (elevenlabs.io/blog/ai-rate-limiting-for-voice)")
BUSY_STATUSES = ["too_many_concurrent_requests", "system_busy"]


def busy_schemas() -> dict:
    return {
        "BusyErrorDetail": {
            "type": "object",
            "title": "BusyErrorDetail",
            "x-conformance-source": "documented",
            "x-conformance-provenance": PRESSURE_SOURCE,
            "description": "Why the server pushed back: `too_many_concurrent_requests` (wait "
            "for a slot, then retry) or `system_busy` (back off). The page names only "
            "`status`; other keys (the object error's) may come with it.",
            "properties": {
                "status": {"type": "string", "enum": list(BUSY_STATUSES)},
                "message": {"type": "string"},
            },
            "required": ["status"],
        },
        "BusyErrorResponse": {
            "type": "object",
            "title": "BusyErrorResponse",
            "x-conformance-source": "documented",
            "x-conformance-provenance": PRESSURE_SOURCE,
            "properties": {"detail": {"$ref": "#/components/schemas/BusyErrorDetail"}},
            "required": ["detail"],
        },
    }


def busy_response() -> dict:
    """429 on every operation: the workspace's concurrency limit (plan-dependent) or a busy
    system. Pressure, never a failure of the server; a client waits and sends again."""
    def header(description: str, schema: dict) -> dict:
        return {"description": description, "required": False, "schema": schema,
                "x-conformance-source": "documented"}

    return {
        "description": "Over the workspace's limit on concurrent requests "
        "(`too_many_concurrent_requests`: wait for a slot, then retry) or the system is busy "
        "(`system_busy`: back off). Requests first queue briefly, then get this answer.",
        "x-conformance-source": "documented",
        "x-conformance-provenance": PRESSURE_SOURCE,
        "headers": {
            "Retry-After": header("How long to wait: delta-seconds or an HTTP date "
                                  "(RFC 9110); may be absent.", {"type": "string"}),
            "current-concurrent-requests": header(
                "Requests of the workspace in flight now.", {"type": "integer"}),
            "maximum-concurrent-requests": header(
                "The workspace's limit on concurrent requests.", {"type": "integer"}),
        },
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BusyErrorResponse"}}
        },
    }
