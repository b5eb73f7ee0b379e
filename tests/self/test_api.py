"""conformance.api: one operation table and one lifecycle, built from the spec, for every
router, guard, report and test."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from conformance.api import Api, LifecycleError, api_for, lifecycle
from conformance.fictional import fictional_number, fictional_numbers, is_fictional_phone
from conformance.spec import load_spec

BASE = "/v1/convai/batch-calling"


def test_every_operation_of_the_spec_is_in_the_table_once():
    """One Operation per operationId, with its method, template and documented statuses."""
    spec = load_spec("elevenlabs")
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()
           if isinstance(op, dict) and "operationId" in op]
    api = api_for()
    assert sorted(api.ids) == sorted(ids) and len(set(ids)) == 7
    delete = api.operation("delete")
    assert (delete.method, delete.template, delete.mutating) == ("DELETE", BASE + "/{batch_id}",
                                                                 True)
    assert "204" in delete.statuses and "404" in delete.statuses
    assert not api.operation("getBatchCall").mutating
    assert api.mutating_ids == {"submitBatchCall", "cancelBatchCall", "retryBatchCall",
                                "deleteBatchCall"}


@pytest.mark.parametrize("method, path, op, batch_id", [
    ("POST", f"{BASE}/submit", "submit", None),
    ("GET", f"{BASE}/workspace?limit=5", "list", None),
    ("GET", f"https://api.example.com{BASE}/btcal_1", "get", "btcal_1"),
    ("DELETE", f"{BASE}/btcal_1", "delete", "btcal_1"),
    ("post", f"{BASE}/btcal_1/cancel", "cancel", "btcal_1"),
    ("POST", f"{BASE}/btcal%5F1/retry", "retry", "btcal_1"),
    ("GET", f"{BASE}/btcal_1/export", "export", "btcal_1"),
    ("GET", f"{BASE}/submit", None, None),
    ("POST", f"{BASE}/btcal_1", None, None),
    ("POST", "/v1/other/submit", None, None),
    ("POST", f"{BASE}/btcal_1/cancel/x", None, None),
])
def test_match_routes_a_request_to_its_operation(method, path, op, batch_id):
    """Literal segments win over templates (`workspace` is not a batch id)."""
    found = api_for().match(method, unquote(urlsplit(path).path))
    assert (found[0].name if found else None) == op
    assert (found[1].get("batch_id") if found else None) == batch_id


def test_url_encodes_a_parameter_as_one_segment():
    api = api_for()
    assert api.paths.cancel("a/b") == f"{BASE}/a%2Fb/cancel"
    assert api.request_args("list") == ("GET", f"{BASE}/workspace")
    with pytest.raises(TypeError):
        api.operation("get").url()


def test_dialects_differ_in_base_path_and_auth_header():
    voiceai = api_for("voiceai")
    assert voiceai.base_path == "/v1/voiceai/batch-calling"
    assert voiceai.auth_header == "x-api-key"
    assert voiceai.paths.get("b") == "/v1/voiceai/batch-calling/b"
    rebased = api_for().rebased("/v1/voiceai/batch-calling")
    assert [o.template for o in rebased.operations] == [o.template for o in voiceai.operations]
    # A rebased table's path builders build under its own base path, not the original's.
    assert rebased.paths.cancel("b") == "/v1/voiceai/batch-calling/b/cancel"
    assert api_for().paths.cancel("b") == f"{BASE}/b/cancel"


def test_path_builders_are_named_as_paths():
    """A builder on the table itself (`Api.get(id)`) read as a request and returned a path
    (issue 22): the builders live under `Api.paths` only, one per short operation name."""
    api = api_for()
    assert {n for n in vars(type(api.paths)) if not n.startswith("_")} == set(api.by_name)
    assert not any(hasattr(api, name) for name in ("submit", "list", "get", "cancel", "retry",
                                                    "delete", "export"))
    assert api.paths.submit() == f"{BASE}/submit" and api.paths.list() == f"{BASE}/workspace"


def test_lifecycle_sets_come_from_the_spec_enums():
    life = lifecycle()
    spec = load_spec()["components"]["schemas"]
    assert life.batch_statuses == tuple(spec["BatchCallStatus"]["enum"])
    assert life.recipient_statuses == tuple(spec["BatchCallRecipientStatus"]["enum"])
    assert life.batch_terminal == {"completed", "failed", "cancelled"}
    assert life.recipient_finished == {"completed", "failed", "voicemail"}
    assert life.recipient_active == {"pending", "dispatched", "initiated", "in_progress"}
    assert life.recipient_terminal == life.recipient_finished | {"cancelled"}


def test_a_status_the_suite_cannot_read_fails_loudly():
    """A value the vendor adds to an enum must be given a meaning, not pass unclassified."""
    spec = load_spec()
    changed = {**spec, "components": {**spec["components"], "schemas": {
        **spec["components"]["schemas"],
        "BatchCallRecipientStatus": {"enum": ["pending", "ringing"]}}}}
    with pytest.raises(LifecycleError, match="ringing"):
        Api(changed)


def test_fictional_numbers_are_distinct_and_fictional():
    numbers = fictional_numbers(10_001, xx=range(100))
    assert len(set(numbers)) == 10_001 and all(is_fictional_phone(n) for n in numbers)
    assert fictional_number(0, 10) == "+12015550110"
    assert not is_fictional_phone("+14155550100\n") and not is_fictional_phone("+1415555٠١٠٠")
    with pytest.raises(ValueError):
        fictional_number(0, 100)
