"""The bundled spec `openapi/batch-calling.yaml`, built from the vendor's published fragment
plus our overlay (the words; `conformance/tools/specbuild.py` is the command that writes it).

The package: `sources.py` (the files and tables it is built from), `extract.py` (the
batch-calling part of a vendor document), `parts.py` (errors, links, renames, webhooks),
`operations.py` (what each operation gains: one table).

The vendor fragment (`openapi/vendor/…json`) is kept verbatim; everything this package adds
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

from conformance.bundle.extract import extract, is_batch_calling_path
from conformance.bundle.operations import ADDITIONS
from conformance.bundle.parts import (
    busy_response,
    busy_schemas,
    error_response,
    error_schemas,
    rename,
    rewrite_refs,
)
from conformance.bundle.parts import webhooks as webhooks_of_the_api
from conformance.bundle.sources import (
    ALL_KEYS_REQUIRED,
    BASE,
    COVERAGE_ENUMS,
    EXAMPLES_DIR,
    EXTRA_ERRORS,
    FRAGMENT_PREFIX,
    LINK_TARGETS,
    OPENAPI_DIR,
    OPERATIONS,
    OUTPUT,
    RENAMES,
    ROOT,
    SUBMIT_BODY,
    SUBMIT_BODY_VENDOR_NAME,
    TRANSITIONS,
    VENDOR_DIR,
    WEBHOOKS_DIR,
    load_example,
    vendor_fragment,
)

__all__ = ["ALL_KEYS_REQUIRED", "BASE", "EXAMPLES_DIR", "FRAGMENT_PREFIX", "LINK_TARGETS",
           "OPENAPI_DIR", "OUTPUT", "ROOT", "SUBMIT_BODY", "SUBMIT_BODY_VENDOR_NAME",
           "VENDOR_DIR", "WEBHOOKS_DIR", "build", "dump", "extract", "is_batch_calling_path",
           "vendor_fragment"]


def __getattr__(name: str) -> Path:
    """`VENDOR_FRAGMENT`, found when asked for: an installed wheel carries no vendor folder
    (building the spec is a checkout's job), and importing this module must not fail there."""
    if name == "VENDOR_FRAGMENT":
        return vendor_fragment()
    raise AttributeError(name)


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
        schemas = rename(schemas, vendor_name, name)

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

    schemas.update(error_schemas())
    schemas.update(busy_schemas())
    webhook_schemas, webhooks, delivery = webhooks_of_the_api()
    schemas.update(webhook_schemas)

    for name, example in (("BatchCallDetailedResponse", "get-response.seed-000.json"),
                          ("BatchCallResponse", "submit-response.seed-002.json")):
        if name in schemas:
            schemas[name]["example"] = load_example(example)

    paths: dict = {}
    for vendor_path, methods in vendor["paths"].items():
        for method, vop in methods.items():
            op_id, path, _ = OPERATIONS.get(vop.get("operationId"),
                                            (vop.get("operationId"), vendor_path, method))
            op = copy.deepcopy(vop)
            for vendor_name, name in renames.items():
                op = rewrite_refs(op, f"#/components/schemas/{vendor_name}",
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
            responses["401"] = error_response("401")
            for status in EXTRA_ERRORS.get(op_id, []):
                responses[status] = error_response(status)
            responses["429"] = busy_response()   # pressure, on every operation
            for addition in ADDITIONS.get(op_id, ()):
                addition(op, responses)
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
