"""`conformance diff`: one case per rule of conformance/diff/rules.toml, the nullable and $ref
spellings read as equal, the API's real history (openapi/history/) change for change, ten
hand-made breaking edits of the bundled spec, the command line, and the cassette check."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import subprocess
import sys
import typing
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from conformance import bundle
from conformance.diff import cassettes, diff_contracts, history, load_contract
from conformance.diff.rules import LEVELS, rules
from conformance.spec import SPEC_PATH
from conformance.tools import bump

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data" / "diff"
HISTORY = ROOT / "openapi" / "history"
BASE = yaml.safe_load((DATA / "base.yaml").read_text())
S = "#/components/schemas/"


# ----------------------------------------------------------------------------- helpers


def schemas(doc):
    return doc["components"]["schemas"]


def props(doc, name):
    return schemas(doc)[name]["properties"]


def op(doc, path, method):
    return doc["paths"][path][method]


def changes_between(old, new):
    return diff_contracts(old, new)


def ids(changes):
    return [c.id for c in changes]


# ------------------------------------------------------------------- one case per rule
# rule id -> (edit of OLD or None, edit of NEW). Each edit changes one thing of base.yaml.


RULE_CASES = {
    "operation-removed": (None, lambda d: d["paths"].pop("/ping")),
    "operation-added": (None, lambda d: d["paths"].__setitem__(
        "/pong", {"post": {"operationId": "pong", "responses": {"204": {"description": "ok"}}}})),
    "operation-path-changed": (None, lambda d: d["paths"].__setitem__(
        "/pinged", d["paths"].pop("/ping"))),
    "operation-method-changed": (None, lambda d: d["paths"]["/ping"].__setitem__(
        "put", d["paths"]["/ping"].pop("post"))),
    "operation-id-changed": (None, lambda d: op(d, "/ping", "post").__setitem__(
        "operationId", "pingServer")),
    "path-parameter-renamed": (None, lambda d: d["paths"].__setitem__("/items/{id}", {
        "delete": {**d["paths"]["/items/{item_id}"].pop("delete"), "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]}})),
    "operation-deprecated": (None, lambda d: op(d, "/ping", "post").__setitem__(
        "deprecated", True)),
    "parameter-removed": (None, lambda d: op(d, "/items", "get")["parameters"].pop(1)),
    "parameter-added-required": (None, lambda d: op(d, "/items", "get")["parameters"].append(
        {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}})),
    "parameter-added": (None, lambda d: op(d, "/items", "get")["parameters"].append(
        {"name": "q", "in": "query", "schema": {"type": "string"}})),
    "parameter-became-required": (None, lambda d: op(d, "/items", "get")["parameters"][1]
                                  .__setitem__("required", True)),
    "parameter-became-optional": (lambda d: op(d, "/items", "get")["parameters"][1]
                                  .__setitem__("required", True), None),
    "request-body-added-required": (None, lambda d: op(d, "/ping", "post").__setitem__(
        "requestBody", {"required": True, "content": {"application/json": {"schema": {}}}})),
    "request-body-added": (None, lambda d: op(d, "/ping", "post").__setitem__(
        "requestBody", {"content": {"application/json": {"schema": {}}}})),
    "request-body-removed": (None, lambda d: op(d, "/items", "post").pop("requestBody")),
    "request-body-became-required": (lambda d: op(d, "/items", "post")["requestBody"]
                                     .__setitem__("required", False), None),
    "request-body-became-optional": (None, lambda d: op(d, "/items", "post")["requestBody"]
                                     .__setitem__("required", False)),
    "request-content-type-removed": (lambda d: op(d, "/items", "post")["requestBody"]["content"]
                                     .__setitem__("text/plain", {}), None),
    "request-content-type-added": (None, lambda d: op(d, "/items", "post")["requestBody"]
                                   ["content"].__setitem__("text/plain", {})),
    "status-code-removed": (None, lambda d: op(d, "/items/{item_id}", "delete")["responses"]
                            .pop("204")),
    "status-code-added": (None, lambda d: op(d, "/items/{item_id}", "delete")["responses"]
                          .__setitem__("202", {"description": "later"})),
    "error-status-code-removed": (None, lambda d: op(d, "/items/{item_id}", "get")["responses"]
                                  .pop("404")),
    "error-status-code-added": (None, lambda d: op(d, "/items/{item_id}", "delete")["responses"]
                                .__setitem__("409", {"description": "busy"})),
    "response-content-type-removed": (None, lambda d: op(d, "/items/{item_id}", "get")
                                      ["responses"]["200"]["content"].pop("text/csv")),
    "response-content-type-added": (None, lambda d: op(d, "/items/{item_id}", "get")
                                    ["responses"]["200"]["content"].__setitem__(
                                        "application/xml", {"schema": {"type": "string"}})),
    "schema-ref-changed": (None, lambda d: (
        schemas(d).__setitem__("Made", copy.deepcopy(schemas(d)["Created"])),
        op(d, "/items", "post")["responses"]["200"]["content"]["application/json"]
        .__setitem__("schema", {"$ref": S + "Made"}))),
    "type-changed": (None, lambda d: props(d, "Item")["count"].__setitem__("type", "string")),
    "type-widened-in-request": (None, lambda d: props(d, "ItemInput")["size"]
                                .__setitem__("type", "number")),
    "type-narrowed-in-response": (lambda d: props(d, "Item")["count"]
                                  .__setitem__("type", "number"), None),
    "became-nullable-in-response": (None, lambda d: props(d, "Item")["label"]
                                    .__setitem__("type", ["string", "null"])),
    "became-nullable-in-request": (None, lambda d: props(d, "ItemInput")["when"]
                                   .__setitem__("type", ["string", "null"])),
    "became-non-nullable-in-request": (None, lambda d: props(d, "ItemInput")
                                       .__setitem__("note", {"type": "string"})),
    "became-non-nullable-in-response": (None, lambda d: props(d, "Item")
                                        .__setitem__("parent", {"$ref": S + "Item"})),
    "enum-value-added-to-response": (None, lambda d: schemas(d)["Status"]["enum"]
                                     .append("archived")),
    "enum-value-removed-from-response": (None, lambda d: schemas(d)["Status"]["enum"]
                                         .remove("closed")),
    "enum-value-added-to-request": (None, lambda d: schemas(d)["Kind"]["enum"].append("medium")),
    "enum-value-removed-from-request": (None, lambda d: schemas(d)["Kind"]["enum"]
                                        .remove("large")),
    "request-constraint-tightened": (None, lambda d: props(d, "ItemInput")["name"]
                                     .__setitem__("maxLength", 20)),
    "request-constraint-relaxed": (None, lambda d: props(d, "ItemInput")["name"]
                                   .__setitem__("maxLength", 80)),
    "response-constraint-relaxed": (None, lambda d: props(d, "ItemPage")["items"]
                                    .__setitem__("maxItems", 500)),
    "response-constraint-tightened": (None, lambda d: props(d, "Item")["count"]
                                      .__setitem__("maximum", 5)),
    "pattern-changed": (None, lambda d: props(d, "ItemInput")["name"]
                        .__setitem__("pattern", "^[a-z0-9]+$")),
    "format-changed": (None, lambda d: props(d, "ItemInput")["when"]
                       .__setitem__("format", "date")),
    "request-default-changed": (None, lambda d: op(d, "/items", "get")["parameters"][0]
                                ["schema"].__setitem__("default", 20)),
    "request-property-removed": (None, lambda d: props(d, "ItemInput").pop("note")),
    "request-property-added": (None, lambda d: props(d, "ItemInput")
                               .__setitem__("colour", {"type": "string"})),
    "request-required-property-added": (None, lambda d: (
        props(d, "ItemInput").__setitem__("colour", {"type": "string"}),
        schemas(d)["ItemInput"]["required"].append("colour"))),
    "request-property-became-required": (None, lambda d: schemas(d)["ItemInput"]["required"]
                                         .append("kind")),
    "request-property-became-optional": (None, lambda d: schemas(d)["ItemInput"]
                                         .__setitem__("required", [])),
    "response-property-removed": (None, lambda d: props(d, "Item").pop("extra")),
    "response-property-added": (None, lambda d: props(d, "Item")
                                .__setitem__("colour", {"type": "string"})),
    "response-required-property-added": (None, lambda d: (
        props(d, "Item").__setitem__("colour", {"type": "string"}),
        schemas(d)["Item"]["required"].append("colour"))),
    "response-property-became-optional": (None, lambda d: schemas(d)["Item"]["required"]
                                          .remove("label")),
    "response-property-became-required": (None, lambda d: schemas(d)["Item"]["required"]
                                          .append("extra")),
    "request-variant-added": (None, lambda d: props(d, "ItemInput")["shape"]["oneOf"]
                              .append({"$ref": S + "Triangle"})),
    "request-variant-removed": (None, lambda d: props(d, "ItemInput")["shape"]["oneOf"].pop()),
    "response-variant-added": (None, lambda d: props(d, "Item")["detail"]["anyOf"]
                               .append({"$ref": S + "Triangle"})),
    "response-variant-removed": (None, lambda d: props(d, "Item")["detail"]["anyOf"].pop()),
}

# What each rule's record concerns, in words: the message must name it after the operationId.
SUBJECTS = {
    "became-non-nullable-in-request": "request body property 'note'",
    "became-non-nullable-in-response": "response 200 (application/json) property 'parent'",
    "became-nullable-in-request": "request body property 'when'",
    "became-nullable-in-response": "response 200 (application/json) property 'label'",
    "enum-value-added-to-request": "request body property 'kind'",
    "enum-value-added-to-response": "response 200 (application/json) property 'status'",
    "enum-value-removed-from-request": "request body property 'kind'",
    "enum-value-removed-from-response": "response 200 (application/json) property 'status'",
    "error-status-code-added": "response 409",
    "error-status-code-removed": "response 404",
    "format-changed": "request body property 'when'",
    "operation-added": "operation POST /pong",
    "operation-deprecated": "operation POST /ping",
    "operation-id-changed": "operation POST /ping",
    "path-parameter-renamed": "operation DELETE /items/{id}",
    "operation-method-changed": "operation /ping",
    "operation-path-changed": "operation POST",
    "operation-removed": "operation POST /ping",
    "parameter-added": "query parameter 'q'",
    "parameter-added-required": "query parameter 'q'",
    "parameter-became-optional": "query parameter 'cursor'",
    "parameter-became-required": "query parameter 'cursor'",
    "parameter-removed": "query parameter 'cursor'",
    "pattern-changed": "request body property 'name'",
    "request-body-added": "request body",
    "request-body-added-required": "request body",
    "request-body-became-optional": "request body",
    "request-body-became-required": "request body",
    "request-body-removed": "request body",
    "request-constraint-relaxed": "request body property 'name'",
    "request-constraint-tightened": "request body property 'name'",
    "request-content-type-added": "request body",
    "request-content-type-removed": "request body",
    "request-default-changed": "query parameter 'limit'",
    "request-property-added": "request body property 'colour'",
    "request-property-became-optional": "request body property 'name'",
    "request-property-became-required": "request body property 'kind'",
    "request-property-removed": "request body property 'note'",
    "request-required-property-added": "request body property 'colour'",
    "request-variant-added": "request body property 'shape'",
    "request-variant-removed": "request body property 'shape'",
    "response-constraint-relaxed": "response 200 property 'items'",
    "response-constraint-tightened": "response 200 (application/json) property 'count'",
    "response-content-type-added": "response 200",
    "response-content-type-removed": "response 200",
    "response-property-added": "response 200 (application/json) property 'colour'",
    "response-property-became-optional": "response 200 (application/json) property 'label'",
    "response-property-became-required": "response 200 (application/json) property 'extra'",
    "response-property-removed": "response 200 (application/json) property 'extra'",
    "response-required-property-added": "response 200 (application/json) property 'colour'",
    "response-variant-added": "response 200 (application/json) property 'detail'",
    "response-variant-removed": "response 200 (application/json) property 'detail'",
    "schema-ref-changed": "response 200",
    "status-code-added": "response 202",
    "status-code-removed": "response 204",
    "type-changed": "response 200 (application/json) property 'count'",
    "type-narrowed-in-response": "response 200 (application/json) property 'count'",
    "type-widened-in-request": "request body property 'size'",
}


def test_every_rule_message_names_its_subject():
    """Each rule's template has a {subject}; each case's record names its operation and the
    parameter, property, body, status or operation it concerns, with the pointer as detail."""
    assert set(SUBJECTS) == set(rules())
    for rule_id, (old_edit, new_edit) in RULE_CASES.items():
        assert "{subject}" in rules()[rule_id].message, rule_id
        (change,) = changes_between(_edited(old_edit), _edited(new_edit))
        assert change.subject == SUBJECTS[rule_id], rule_id
        assert change.message.startswith(f"{change.operation}: {SUBJECTS[rule_id]} "), rule_id
        assert change.pointer.startswith("/paths/"), rule_id


def test_a_moved_operation_is_one_record_naming_both_paths_and_still_compared():
    """Same operationId on a new path: one breaking record per operation with both paths; a
    change inside the moved operation is still found (compared, not added and removed)."""
    new = _edited(RULE_CASES["parameter-removed"][1])
    new["paths"]["/things"] = new["paths"].pop("/items")
    found = sorted((c.id, c.level, c.message) for c in changes_between(BASE, new))
    assert found == [
        ("operation-path-changed", "breaking",
         "createItem: operation POST moved from path `/items` to `/things`."),
        ("operation-path-changed", "breaking",
         "listItems: operation GET moved from path `/items` to `/things`."),
        ("parameter-removed", "breaking", "listItems: query parameter 'cursor' was removed."),
    ]


def test_bundled_spec_list_path_renamed_and_limit_retyped(tmp_path):
    """The issue's two blind spots on the real contract: the list operation moved to
    `.../list` is exit 1 with both paths named; a retyped `limit` names the parameter."""
    old = _bundled()
    new = copy.deepcopy(old)
    new["paths"][bundle.BASE + "/list"] = new["paths"].pop(bundle.BASE + "/workspace")
    code, out, _ = _cli("diff", str(SPEC_PATH), _write(tmp_path, "moved.yaml", new))
    assert code == 1
    assert (f"listBatchCalls: operation GET moved from path `{bundle.BASE}/workspace` to "
            f"`{bundle.BASE}/list`.") in out
    retyped = copy.deepcopy(old)
    limit = next(p for p in _path(retyped, "/workspace")["get"]["parameters"]
                 if p["name"] == "limit")
    limit["schema"] = {"type": "string"}
    messages = [c.message for c in changes_between(old, retyped)]
    assert "listBatchCalls: query parameter 'limit' type integer → string." in messages, messages


def test_a_renamed_path_parameter_is_not_a_moved_operation():
    """`{batch_id}` -> `{id}` in every path of the bundled spec: the request lines are the
    same, so one warning per operation and nothing breaking (no parameter removed or added)."""
    old = _bundled()
    new = copy.deepcopy(old)
    new["paths"] = {path.replace("{batch_id}", "{id}"): item
                    for path, item in new["paths"].items()}
    for item in new["paths"].values():
        for operation in item.values():
            for param in operation.get("parameters", []):
                if param.get("name") == "batch_id":
                    param["name"] = "id"
    found = changes_between(old, new)
    assert {c.id for c in found} == {"path-parameter-renamed"}
    assert sorted(c.operation for c in found) == sorted(
        ["getBatchCall", "deleteBatchCall", "cancelBatchCall", "retryBatchCall",
         "exportBatchCall"])


def test_same_place_new_operation_id_is_not_added_and_removed():
    new = copy.deepcopy(BASE)
    op(new, "/items", "get")["operationId"] = "listAllItems"
    assert [(c.id, c.level) for c in changes_between(BASE, new)] == [
        ("operation-id-changed", "warning")]


def _edited(edit):
    doc = copy.deepcopy(BASE)
    if edit is not None:
        edit(doc)
    return doc


def test_every_rule_has_a_case_and_a_valid_level():
    """rules.toml and this table name the same rules; every rule has a level, a description
    and a sentence."""
    table = rules()
    assert set(table) == set(RULE_CASES)
    for rule in table.values():
        assert rule.level in LEVELS and rule.description and rule.message, rule.id


@pytest.mark.parametrize("rule_id", sorted(RULE_CASES))
def test_rule(rule_id):
    """The edit yields exactly one record: this rule, at its level, with a sentence."""
    old_edit, new_edit = RULE_CASES[rule_id]
    found = changes_between(_edited(old_edit), _edited(new_edit))
    assert ids(found) == [rule_id], [c.message for c in found]
    change = found[0]
    assert change.level == rules()[rule_id].level
    assert change.pointer.startswith("/paths/") and change.operation
    assert change.message.endswith(".")
    assert not any(f"{{{key}}}" in change.message
                   for key in ("subject", "name", "old", "new", "detail")), change.message


def test_levels_follow_the_clients_view():
    """The judgments the issue spells out, pinned."""
    level = {r.id: r.level for r in rules().values()}
    assert level["enum-value-added-to-response"] == "warning"
    assert level["response-property-removed"] == "breaking"
    assert level["request-property-added"] == "info"
    assert level["enum-value-removed-from-request"] == "breaking"
    assert level["request-property-became-required"] == "breaking"
    assert level["response-required-property-added"] == "info"


def test_identical_contracts_have_no_changes():
    assert changes_between(BASE, copy.deepcopy(BASE)) == []


@pytest.mark.parametrize("old_form, new_form", [
    ({"type": "string", "nullable": True}, {"type": ["string", "null"]}),
    ({"type": ["string", "null"]}, {"anyOf": [{"type": "string"}, {"type": "null"}]}),
    ({"type": "string", "nullable": True}, {"oneOf": [{"type": "null"}, {"type": "string"}]}),
    ({"type": "string", "nullable": True}, {"anyOf": [{"type": "string"}, {"enum": [None]}]}),
])
def test_nullable_spellings_are_equivalent(old_form, new_form):
    """OpenAPI 3.0 `nullable: true`, 3.1 `type: [x, "null"]` and anyOf/oneOf with null agree."""
    old, new = copy.deepcopy(BASE), copy.deepcopy(BASE)
    props(old, "Item")["label"] = old_form
    props(new, "Item")["label"] = new_form
    assert changes_between(old, new) == []
    props(new, "Item")["label"] = {"type": "string"}
    assert ids(changes_between(old, new)) == ["became-non-nullable-in-response"]


def test_allof_and_refs_are_followed():
    """`allOf: [$ref]`, an inlined copy of a $ref'd parameter: no change; an edit behind two
    $refs is still found."""
    new = copy.deepcopy(BASE)
    props(new, "Item")["status"] = {"allOf": [{"$ref": S + "Status"}], "description": "x"}
    op(new, "/items", "get")["parameters"][2] = dict(BASE["components"]["parameters"]["Trace"])
    assert changes_between(BASE, new) == []
    schemas(new)["Summary"]["properties"]["id"]["type"] = "integer"
    found = changes_between(BASE, new)
    assert ids(found) == ["type-changed"]
    assert found[0].pointer.endswith("/schema/properties/items/items/properties/id")
    assert found[0].schema == "Summary"


def test_recursive_schemas_terminate_and_changes_inside_are_found_once():
    """Item.parent is an Item: the walk stops at the cycle, an edit of Item is one record."""
    new = copy.deepcopy(BASE)
    props(new, "Item")["id"]["type"] = "integer"
    assert ids(changes_between(BASE, new)) == ["type-changed"]


def test_self_referencing_allof_and_dangling_refs():
    """An allOf that includes itself terminates; a $ref to nothing cannot run (exit 2)."""
    new = copy.deepcopy(BASE)
    schemas(new)["Loop"] = {"allOf": [{"$ref": S + "Loop"}], "type": "object"}
    props(new, "Item")["extra"] = {"$ref": S + "Loop"}
    assert ids(changes_between(BASE, new)) == ["type-changed"]


def test_dangling_ref_is_exit_2(tmp_path):
    new = copy.deepcopy(BASE)
    props(new, "Item")["extra"] = {"$ref": S + "Nowhere"}
    code, out, err = _cli("diff", _write(tmp_path, "old.yaml", BASE),
                          _write(tmp_path, "new.yaml", new))
    assert code == 2 and "points at nothing" in err and "Traceback" not in err


def test_allof_merges_properties_and_required():
    old, new = copy.deepcopy(BASE), copy.deepcopy(BASE)
    schemas(new)["Item"] = {"allOf": [
        {"type": "object", "required": ["id", "status"],
         "properties": {k: v for k, v in props(old, "Item").items() if k in ("id", "status")}},
        {"type": "object", "required": ["count", "label", "parent"],
         "properties": {k: v for k, v in props(old, "Item").items()
                        if k not in ("id", "status")}},
    ]}
    assert changes_between(old, new) == []


# ------------------------------------------------------------------- the API's history

PAIRS = ["0-before-2025-05", "1-2025-05-initiated", "2-2025-08-voicemail",
         "3-2026-01-dispatched", "4-2026-05-exotel", "5-2026-08-22", "6-sdk-2.78.0"]
B = "/paths/~1v1~1convai~1batch-calling"
JSON = "content/application~1json/schema"
RESPONSE_200 = {  # operation -> its 200 schema pointer
    "submitBatchCall": f"{B}~1submit/post/responses/200/{JSON}",
    "listBatchCalls": f"{B}~1workspace/get/responses/200/{JSON}/properties/batch_calls/items",
    "getBatchCall": f"{B}~1{{batch_id}}/get/responses/200/{JSON}",
    "cancelBatchCall": f"{B}~1{{batch_id}}~1cancel/post/responses/200/{JSON}",
    "retryBatchCall": f"{B}~1{{batch_id}}~1retry/post/responses/200/{JSON}",
}
RECIPIENT_STATUS = RESPONSE_200["getBatchCall"] + "/properties/recipients/items/properties/status"
TCC = "/properties/telephony_call_config"
MD = TCC + "/properties/twilio_machine_detection"
EXPECTED_HISTORY = {
    ("0-before-2025-05", "1-2025-05-initiated"): {
        ("enum-value-added-to-response", "warning", "getBatchCall", RECIPIENT_STATUS)},
    ("1-2025-05-initiated", "2-2025-08-voicemail"): {
        ("enum-value-added-to-response", "warning", "getBatchCall", RECIPIENT_STATUS)},
    ("2-2025-08-voicemail", "3-2026-01-dispatched"): {
        ("enum-value-added-to-response", "warning", "getBatchCall", RECIPIENT_STATUS)},
    ("3-2026-01-dispatched", "4-2026-05-exotel"): {
        ("enum-value-added-to-response", "warning", o, p + "/properties/phone_provider")
        for o, p in RESPONSE_200.items()},
    ("4-2026-05-exotel", "5-2026-08-22"): {
        ("operation-added", "info", "exportBatchCall", f"{B}~1{{batch_id}}~1export/get")},
    ("5-2026-08-22", "6-sdk-2.78.0"): (
        {("request-property-added", "info", "submitBatchCall",
          f"{B}~1submit/post/requestBody/{JSON}{MD}")}
        | {("schema-ref-changed", "info", o, p + TCC) for o, p in RESPONSE_200.items()}
        | {("response-property-added", "info", o, p + MD) for o, p in RESPONSE_200.items()}),
}
EXPECTED_VALUES = {
    ("0-before-2025-05", "1-2025-05-initiated"): "`initiated`",
    ("1-2025-05-initiated", "2-2025-08-voicemail"): "`voicemail`",
    ("2-2025-08-voicemail", "3-2026-01-dispatched"): "`dispatched`",
    ("3-2026-01-dispatched", "4-2026-05-exotel"): "`exotel`",
}


def _history(name):
    return load_contract(HISTORY / f"{name}.json")


@pytest.mark.parametrize("pair", list(zip(PAIRS, PAIRS[1:], strict=False)),
                         ids=lambda p: f"{p[0]}->{p[1]}")
def test_history_exact_changes(pair):
    """Between consecutive contracts of the API's history: exactly these changes, no other."""
    found = changes_between(_history(pair[0]), _history(pair[1]))
    assert {(c.id, c.level, c.operation, c.pointer) for c in found} == EXPECTED_HISTORY[pair]
    assert len(found) == len(EXPECTED_HISTORY[pair])
    if pair in EXPECTED_VALUES:
        assert all(EXPECTED_VALUES[pair] in c.message for c in found)


def test_history_as_published_shows_the_vendor_names():
    """Without the bundled overlay the SDK step is the vendor's: both halves renamed, and
    export's `limit` is new (the overlay had it already)."""
    old = load_contract(HISTORY / "5-2026-08-22.json", as_published=True)
    new = load_contract(HISTORY / "6-sdk-2.78.0.json", as_published=True)
    found = changes_between(old, new)
    refs = sorted(c.message for c in found if c.id == "schema-ref-changed")
    assert len(refs) == 6
    assert sum("`TelephonyCallConfig-Input`" in message for message in refs) == 1
    assert [(c.id, c.operation) for c in found if c.id == "parameter-added"] == [
        ("parameter-added", "export_batch_call")]
    assert len(found) == 13


def test_history_files_are_what_the_script_generates():
    """openapi/history/ is regenerated by conformance.diff.history, never hand-edited, and its
    anchor is the 2026-08-22 vendor fragment byte for byte."""
    assert history.main(["--check"]) == 0
    anchor = (HISTORY / "5-2026-08-22.json").read_bytes()
    assert hashlib.sha256(anchor).hexdigest() == history.ANCHOR_SHA256
    assert sorted(p.stem for p in HISTORY.glob("*.json")) == PAIRS


def _literal_values(alias) -> set:
    """The strings of `Literal[...]` or of `Union[Literal[...], Any]` (Fern's open enums)."""
    if typing.get_origin(alias) is typing.Literal:
        return set(typing.get_args(alias))
    return {v for arg in typing.get_args(alias) if typing.get_origin(arg) is typing.Literal
            for v in typing.get_args(arg)}


def test_newer_contract_matches_the_installed_sdk():
    """What 6-sdk-2.78.0.json adds is what elevenlabs==2.78.0 declares, field for field."""
    import importlib.metadata

    from elevenlabs.types import (
        BatchCallResponse,
        TelephonyCallConfigInput,
        TelephonyCallConfigOutput,
        TwilioMachineDetectionConfig,
        TwilioMachineDetectionRule,
    )
    from elevenlabs.types.twilio_answered_by import TwilioAnsweredBy
    from elevenlabs.types.twilio_machine_detection_action import TwilioMachineDetectionAction
    from elevenlabs.types.twilio_machine_detection_mode import TwilioMachineDetectionMode

    assert importlib.metadata.version("elevenlabs") == "2.78.0"
    newer = schemas(json.loads((HISTORY / "6-sdk-2.78.0.json").read_text()))
    for model, name in ((TelephonyCallConfigInput, "TelephonyCallConfig-Input"),
                        (TelephonyCallConfigOutput, "TelephonyCallConfig-Output"),
                        (TwilioMachineDetectionConfig, "TwilioMachineDetectionConfig"),
                        (TwilioMachineDetectionRule, "TwilioMachineDetectionRule")):
        assert set(model.model_fields) == set(newer[name]["properties"]), name
        required = {k for k, f in model.model_fields.items() if f.is_required()}
        assert required == set(newer[name].get("required", [])), name
    assert _literal_values(TwilioAnsweredBy) == set(newer["TwilioAnsweredBy"]["enum"])
    assert _literal_values(TwilioMachineDetectionMode) == set(
        newer["TwilioMachineDetectionMode"]["enum"])
    assert _literal_values(TwilioMachineDetectionAction) == set(
        newer["TwilioMachineDetectionAction"]["enum"])
    assert BatchCallResponse.model_fields["telephony_call_config"].annotation is (
        TelephonyCallConfigOutput)
    assert "TelephonyCallConfig" not in newer


# ------------------------------------------------------------ ten hand-made breaking edits

def _bundled():
    return yaml.safe_load(SPEC_PATH.read_text())


def _path(doc, suffix):
    return doc["paths"][bundle.BASE + suffix]


def _drop_has_more(d):
    model = schemas(d)["WorkspaceBatchCallsResponse"]
    model["properties"].pop("has_more")
    model["required"].remove("has_more")


def _rename_retry(d):
    d["paths"][bundle.BASE + "/{batch_id}/redial"] = d["paths"].pop(
        bundle.BASE + "/{batch_id}/retry")


def _agent_id_required(d):
    next(p for p in _path(d, "/workspace")["get"]["parameters"]
         if p["name"] == "agent_id")["required"] = True


BREAKING_EDITS = {
    "required response key dropped": (_drop_has_more, [
        ("response-property-removed", "breaking", "listBatchCalls")]),
    "type changed": (lambda d: props(d, "OutboundCallRecipientResponseModel")["created_at_unix"]
                     .__setitem__("type", "string"),
                     [("type-changed", "breaking", "getBatchCall")]),
    "path renamed": (_rename_retry, [("operation-path-changed", "breaking", "retryBatchCall")]),
    "status code removed": (lambda d: _path(d, "/{batch_id}")["delete"]["responses"].pop("204"),
                            [("status-code-removed", "breaking", "deleteBatchCall")]),
    "request property made required": (
        lambda d: schemas(d)["SubmitBatchCallRequest"]["required"].append("timezone"),
        [("request-property-became-required", "breaking", "submitBatchCall")]),
    "request enum value removed": (
        lambda d: schemas(d)["TTSConversationalModel"]["enum"].pop(),
        [("enum-value-removed-from-request", "breaking", "submitBatchCall"),
         ("enum-value-removed-from-response", "info", "getBatchCall")]),
    "parameter made required": (_agent_id_required, [
        ("parameter-became-required", "breaking", "listBatchCalls")]),
    "response property made nullable": (
        lambda d: props(d, "OutboundCallRecipientResponseModel").__setitem__(
            "updated_at_unix", {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
        [("became-nullable-in-response", "breaking", "getBatchCall")]),
    "content type removed": (
        lambda d: _path(d, "/{batch_id}/export")["get"]["responses"]["200"]["content"]
        .pop("text/csv"),
        [("response-content-type-removed", "breaking", "exportBatchCall")]),
    "operation removed": (lambda d: _path(d, "/{batch_id}").pop("delete"),
                          [("operation-removed", "breaking", "deleteBatchCall")]),
}


@pytest.mark.parametrize("edit", sorted(BREAKING_EDITS))
def test_hand_made_breaking_edit_is_found_exactly_once(edit):
    change, expected = BREAKING_EDITS[edit]
    old = _bundled()
    new = copy.deepcopy(old)
    change(new)
    found = sorted((c.id, c.level, c.operation) for c in changes_between(old, new))
    assert found == sorted(expected)
    assert sum(c.level == "breaking" for c in changes_between(old, new)) == 1


# -------------------------------------------------------------------- extraction, loading

def test_extract_keeps_the_fragment_as_it_is():
    """The committed fragment is exactly its paths and the schemas they reach."""
    fragment = json.loads(bundle.VENDOR_FRAGMENT.read_text())
    assert bundle.extract(fragment) == fragment


def test_extract_drops_what_batch_calling_does_not_reach():
    fragment = json.loads(bundle.VENDOR_FRAGMENT.read_text())
    full = copy.deepcopy(fragment)
    full["paths"]["/v1/voices"] = {"get": {"operationId": "voices", "responses": {
        "200": {"description": "ok", "content": {"application/json": {
            "schema": {"$ref": S + "Voice"}}}}}}}
    schemas(full)["Voice"] = {"type": "object", "properties": {"x": {"$ref": S + "Unused"}}}
    schemas(full)["Unused"] = {"type": "string"}
    assert bundle.extract(full) == fragment


def test_vendor_file_compares_with_the_bundled_spec_change_for_change(tmp_path):
    """A vendor file is built into the bundled form: the committed fragment against the
    committed spec is no change at all; a vendor edit is one record."""
    assert changes_between(_bundled(), load_contract(bundle.VENDOR_FRAGMENT)) == []
    full = json.loads(bundle.VENDOR_FRAGMENT.read_text())
    schemas(full)["BatchCallStatus"]["enum"].append("paused")
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(full))
    found = changes_between(_bundled(), load_contract(path))
    assert {c.id for c in found} == {"enum-value-added-to-response"} and len(found) == 5


# ------------------------------------------------------------------------ command line

def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "conformance", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def _write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_cli_exit_codes_and_fail_on(tmp_path):
    old = _write(tmp_path, "old.yaml", BASE)
    warn = _edited(RULE_CASES["enum-value-added-to-response"][1])
    new = _write(tmp_path, "new.yaml", warn)
    assert _cli("diff", old, old)[0] == 0
    code, out, err = _cli("diff", old, new)
    assert code == 0 and "enum-value-added-to-response" in out and err == ""
    assert _cli("diff", old, new, "--fail-on", "warning")[0] == 1
    broken = _write(tmp_path, "broken.yaml", _edited(RULE_CASES["operation-removed"][1]))
    assert _cli("diff", old, broken)[0] == 1


@pytest.mark.parametrize("make_bad, reason", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_text("{not yaml: ["), "not JSON or YAML"),
    (lambda p: p.write_text('{"title": "a list of things"}'), "not an OpenAPI document"),
    (lambda p: p.write_text(json.dumps({"openapi": "3.1.0", "paths": {"/v1/voices": {}}})),
     "not a batch-calling contract"),
])
def test_cli_cannot_run_is_exit_2_with_one_line(tmp_path, make_bad, reason):
    bad = tmp_path / "bad.json"
    make_bad(bad)
    code, out, err = _cli("diff", str(SPEC_PATH), str(bad))
    assert code == 2 and out == ""
    assert reason in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_formats(tmp_path):
    old = _write(tmp_path, "old.yaml", BASE)
    new_doc = _edited(RULE_CASES["operation-removed"][1])
    RULE_CASES["enum-value-added-to-response"][1](new_doc)
    new = _write(tmp_path, "new.yaml", new_doc)
    code, out, _ = _cli("diff", old, new, "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["summary"] == {"breaking": 1, "warning": 1, "info": 0}
    assert {c["id"] for c in report["changes"]} == {"operation-removed",
                                                     "enum-value-added-to-response"}
    assert set(report["changes"][0]) >= {"id", "level", "operation", "pointer", "message"}
    _, out, _ = _cli("diff", old, new, "--format", "markdown")
    assert "| breaking | `operation-removed` | ping: operation POST /ping was removed. |" in out
    assert "**1 change(s) at or above `breaking`**" in out
    _, out, _ = _cli("diff", old, new, "--format", "junit", "--fail-on", "warning")
    suite = ET.fromstring(out)
    assert (suite.get("tests"), suite.get("failures")) == ("2", "2")
    code, out, _ = _cli("diff", old, old, "--format", "junit")
    assert code == 0 and ET.fromstring(out).get("failures") == "0"
    text_path = tmp_path / "out.txt"
    assert _cli("diff", old, new, "--output", str(text_path))[0] == 1
    assert "1 breaking, 1 warning" in text_path.read_text()


def test_history_through_the_command_line():
    code, out, _ = _cli("diff", str(HISTORY / "3-2026-01-dispatched.json"),
                        str(HISTORY / "4-2026-05-exotel.json"), "--fail-on", "warning")
    assert code == 1 and out.count("enum-value-added-to-response") == 5


# ------------------------------------------------------------ cassettes against a spec

def _cassette(tmp_path, body: dict) -> Path:
    """One recorded get (vcrpy format) with a recipient in status `dispatched`."""
    root = tmp_path / "cassettes"
    folder = root / "elevenlabs" / "test_get"
    folder.mkdir(parents=True)
    interaction = {
        "request": {"method": "GET", "uri": "http://127.0.0.1:18080"
                    + bundle.BASE + "/b1", "body": "", "headers": {}},
        "response": {"status": {"code": 200, "message": "OK"},
                     "headers": {"content-type": ["application/json"]},
                     "body": {"string": json.dumps(body)}},
    }
    (folder / "test_one.yaml").write_text(yaml.safe_dump({"interactions": [interaction],
                                                          "version": 1}))
    return root


def _get_body(status: str) -> dict:
    body = json.loads((bundle.EXAMPLES_DIR / "get-response.seed-000.json").read_text())
    body["recipients"][0]["status"] = status
    return body


def test_cassette_check_finds_the_exchange_an_older_contract_rejects(tmp_path):
    root = _cassette(tmp_path, _get_body("dispatched"))
    assert cassettes.check(_bundled(), root).failures == ()
    result = cassettes.check(_history("2-2025-08-voicemail"), root)
    assert result.checked == 1 and len(result.failures) == 1
    failure = result.failures[0]
    assert failure.cassette == "elevenlabs/test_get/test_one.yaml" and failure.status == 200
    assert "'dispatched' is not one of" in failure.errors[0]
    assert "1 of 1 recorded exchanges" in cassettes.report(result)


def test_cassettes_check_command(tmp_path):
    root = _cassette(tmp_path, _get_body("dispatched"))
    code, out, _ = _cli("cassettes", "check", "--spec", str(SPEC_PATH), "--cassettes", str(root))
    assert code == 0 and out.startswith("0 of 1")
    code, out, _ = _cli("cassettes", "check", "--spec",
                        str(HISTORY / "2-2025-08-voicemail.json"), "--cassettes", str(root))
    assert code == 1 and "test_get/test_one.yaml #0: GET" in out
    code, _, err = _cli("cassettes", "check", "--spec", str(tmp_path / "none.yaml"))
    assert code == 2 and "no such file" in err and "Traceback" not in err
    (root / "elevenlabs" / "test_get" / "test_one.yaml").write_text("interactions: {a: 1}\n")
    code, _, err = _cli("cassettes", "check", "--spec", str(SPEC_PATH), "--cassettes", str(root))
    assert code == 2 and "not a vcrpy cassette" in err


def test_committed_cassettes_all_validate_against_the_committed_spec():
    result = cassettes.check(_bundled())
    assert result.failures == () and result.checked > 100
    assert result.dialects == ("elevenlabs", "voiceai")


def test_committed_cassettes_against_the_oldest_contract_fail_where_history_says():
    """Against the contract before 2025-05 every failure is a status or provider added since,
    or the export endpoint that did not exist."""
    result = cassettes.check(_history("0-before-2025-05"))
    assert result.failures
    later = ("'initiated'", "'voicemail'", "'dispatched'", "'exotel'", "no such operation")
    for failure in result.failures:
        assert any(word in " ".join(failure.errors) for word in later), failure.line()


def test_bump_dry_run_prints_the_diff_and_the_cassette_verdict():
    """`make spec VENDOR_SPEC=...` without writing, to a contract older than the committed
    one: the diff against the committed spec, then each recorded exchange it would reject."""
    out = io.StringIO()
    code = bump.run(HISTORY / "2-2025-08-voicemail.json", write=False, out=out)
    text = out.getvalue()
    assert code == 1
    assert "operation-removed" in text and "exportBatchCall" in text
    assert "enum-value-removed-from-response" in text and "`dispatched`" in text
    verdict = next(line for line in text.splitlines() if "recorded exchanges" in line)
    assert verdict.endswith("would now fail:") and not verdict.startswith("0 of")
    assert "test_export/" in text and "'dispatched' is not one of" in text
    assert bump.run(ROOT / "README.md", write=False, out=io.StringIO()) == 2
