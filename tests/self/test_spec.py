"""The bundled spec itself: valid OpenAPI 3.1, examples that validate, every operation complete."""

import json
import warnings
from pathlib import Path

import pytest
import schemathesis
import yaml
from openapi_spec_validator import validate as validate_openapi

from conformance import bundle
from conformance.api import Api, find_operation_by_id
from conformance.exchanges import validate_response
from conformance.profiles import DIALECTS, load_profile
from conformance.spec import SPEC_PATH, load_spec, schema_validator

EXAMPLES = Path(bundle.EXAMPLES_DIR)
OPERATION_IDS = {"submitBatchCall", "listBatchCalls", "getBatchCall", "cancelBatchCall",
                 "retryBatchCall", "deleteBatchCall", "exportBatchCall"}


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def _pointer(doc, ref):
    node = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_committed_spec_is_what_the_builder_produces():
    """openapi/batch-calling.yaml is regenerated from the vendor fragment, never hand-edited."""
    assert SPEC_PATH.read_text() == bundle.dump(bundle.build())


@pytest.mark.parametrize("vendor", DIALECTS)
def test_spec_validates_as_openapi_3_1(vendor):
    """The bundled spec and each derived dialect are valid OpenAPI 3.1 documents."""
    spec = load_spec(vendor)
    assert spec["openapi"].startswith("3.1")
    validate_openapi(spec)


@pytest.mark.parametrize("vendor", DIALECTS)
def test_every_ref_resolves(vendor):
    """Every $ref points at a node that exists in the same document."""
    spec = load_spec(vendor)
    refs = [node["$ref"] for _, node in _walk(spec) if isinstance(node.get("$ref"), str)]
    assert refs, "the spec uses $ref; finding none means the walk is broken"
    for ref in refs:
        assert ref.startswith("#/"), ref
        _pointer(spec, ref)


def test_all_seven_operations_with_readable_ids():
    """submit, list, get, cancel, retry, delete and export are all present, once each."""
    ids = list(Api(load_spec()).ids)
    assert sorted(ids) == sorted(OPERATION_IDS)


@pytest.mark.parametrize("vendor", DIALECTS)
def test_every_operation_documents_success_and_errors(vendor):
    """Each operation has a 2xx, 401, 422, and 404 when it takes a batch id."""
    spec = load_spec(vendor)
    for operation in Api(spec).operations:
        template = operation.template
        op = spec["paths"][template][operation.method.lower()]
        codes = set(op["responses"])
        assert any(c.startswith("2") for c in codes), op["operationId"]
        assert {"401", "422"} <= codes, op["operationId"]
        if "{batch_id}" in template:
            assert "404" in codes, op["operationId"]
        for code in codes - {"200", "204"}:
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            expected = {"422": "HTTPValidationError",
                        "429": "BusyErrorResponse"}.get(code, "ErrorResponse")
            assert schema["$ref"].endswith("/" + expected), (op["operationId"], code)


def test_documented_constraints_are_kept():
    """maxItems 10000, concurrency >= 1, ringing timeout 1..999, list limit default 100."""
    spec = load_spec()
    schemas = spec["components"]["schemas"]
    body = schemas["SubmitBatchCallRequest"]
    assert body["properties"]["recipients"]["maxItems"] == 10000
    assert set(body["required"]) == {"call_name", "agent_id", "recipients"}
    assert body["properties"]["target_concurrency_limit"]["anyOf"][0]["minimum"] == 1
    ringing = schemas["TelephonyCallConfig"]["properties"]["ringing_timeout_secs"]
    assert (ringing["minimum"], ringing["maximum"], ringing["default"]) == (1, 999, 60)
    _, _, list_op = find_operation_by_id(spec, "listBatchCalls")
    limit = next(p for p in list_op["parameters"] if p["name"] == "limit")
    assert limit["schema"]["default"] == 100
    assert "dispatched" in schemas["BatchCallRecipientStatus"]["enum"]
    assert "exotel" in schemas["TelephonyProvider"]["enum"]


def test_response_models_require_every_key():
    """Response models list every property as required, as the vendor's server emits them."""
    schemas = load_spec()["components"]["schemas"]
    for name in bundle.ALL_KEYS_REQUIRED:
        assert set(schemas[name]["required"]) == set(schemas[name]["properties"]), name


def test_submit_links_reach_every_batch_operation():
    """submit's 200 links to get, cancel, retry, delete and export with the returned id."""
    _, _, submit = find_operation_by_id(load_spec(), "submitBatchCall")
    links = submit["responses"]["200"]["links"]
    assert {link["operationId"] for link in links.values()} == set(bundle.LINK_TARGETS)
    for link in links.values():
        assert link["parameters"] == {"batch_id": "$response.body#/id"}


def test_every_example_validates_against_its_schema():
    """Every example in the spec (schema-level and media-level) validates against its schema."""
    spec = load_spec()
    checked = 0
    for _, node in _walk(spec):
        schema = node.get("schema") if isinstance(node.get("schema"), dict) else None
        if schema is not None and isinstance(node.get("examples"), dict):
            for example in node["examples"].values():
                errors = list(schema_validator(spec, schema).iter_errors(example["value"]))
                assert not errors, errors[0].message
                checked += 1
        if "example" in node and ("properties" in node or "type" in node):
            errors = list(schema_validator(spec, node).iter_errors(node["example"]))
            assert not errors, errors[0].message
            checked += 1
    assert checked >= 6


@pytest.mark.parametrize(
    ("example", "method", "path"),
    [
        ("submit-response.seed-002.json", "POST", "/v1/convai/batch-calling/submit"),
        ("get-response.seed-000.json", "GET", "/v1/convai/batch-calling/b1"),
        ("cancel-response.seed-004.json", "POST", "/v1/convai/batch-calling/b1/cancel"),
    ],
)
def test_vendor_page_payloads_validate(example, method, path):
    """The response payloads on the vendor's pages validate against the matching schema."""
    body = (EXAMPLES / example).read_bytes()
    assert validate_response(load_spec(), method, path, 200, "application/json", body) == []


def test_voiceai_page_payload_validates_in_its_dialect():
    """The look-alike vendor's get payload validates against the derived voiceai dialect."""
    body = (EXAMPLES / "voiceai-get-response.seed-003.json").read_bytes()
    spec = load_spec("voiceai")
    assert validate_response(spec, "GET", "/v1/voiceai/batch-calling/b1", 200,
                             "application/json", body) == []
    # ...and not against the elevenlabs one, which requires the fields voiceai lacks.
    assert validate_response(load_spec(), "GET", "/v1/convai/batch-calling/b1", 200,
                             "application/json", body)


def test_voiceai_dialect_is_derived_by_its_profile():
    """Base path, auth header, provider enum and dropped fields come from voiceai.toml."""
    profile = load_profile("voiceai")
    spec = load_spec("voiceai")
    assert all(p.startswith("/v1/voiceai/batch-calling/") for p in spec["paths"])
    assert spec["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "x-api-key"
    assert set(spec["components"]["schemas"]["TelephonyProvider"]["enum"]) == {
        "twilio", "sip_trunk", "vobiz"}
    detailed = spec["components"]["schemas"]["BatchCallDetailedResponse"]
    for key in profile.drop_response_fields:
        assert key not in detailed["properties"]
    # The bundled spec itself is untouched by the derivation.
    assert "branch_id" in load_spec()["components"]["schemas"]["BatchCallResponse"]["properties"]


def test_error_responses_validate():
    """The object error body and the FastAPI validation body both validate."""
    spec = load_spec()
    err = {"detail": {"type": "authentication_error", "code": "invalid_api_key",
                      "message": "Invalid API key", "status": "invalid_api_key",
                      "request_id": None}}
    assert validate_response(spec, "GET", "/v1/convai/batch-calling/b1", 401,
                             "application/json", json.dumps(err).encode()) == []
    bad = {"detail": {"message": "no"}}
    assert validate_response(spec, "GET", "/v1/convai/batch-calling/b1", 404,
                             "application/json", json.dumps(bad).encode())
    unprocessable = {"detail": [{"type": "missing", "loc": ["body", "recipients"],
                                 "msg": "Field required", "input": {}}]}
    assert validate_response(spec, "POST", "/v1/convai/batch-calling/submit", 422,
                             "application/json", json.dumps(unprocessable).encode()) == []


def test_schemathesis_loads_the_spec_without_warnings():
    """Schemathesis loads every operation, with no warnings about links or refs."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schema = schemathesis.openapi.from_path(str(SPEC_PATH))
        results = list(schema.get_all_operations())
    assert all(r.ok() is not None for r in results)
    labels = {r.ok().label for r in results}
    assert len(labels) == 7


def test_spec_yaml_parses_with_plain_yaml():
    """The file is plain YAML that any tool can read (no custom tags)."""
    assert yaml.safe_load(SPEC_PATH.read_text())["openapi"] == "3.1.0"
