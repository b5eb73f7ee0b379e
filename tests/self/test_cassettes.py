"""Committed cassettes: no key material, only fictional numbers, every recorded response still
valid against the current spec, and the replay passes with no server and the network blocked."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from livehelp import finish, pytest_command, start

from conformance.exchanges import validate_response
from conformance.fictional import is_fictional_phone
from conformance.profiles import DIALECTS, load_profile
from conformance.resources import CASSETTES
from conformance.targets import MOCK_KEYS

SCENARIOS = "conformance_suite/scenarios"

PHONE_LIKE = re.compile(r"\+\d[\d\- ]{6,}\d")
SECRET_HEADERS = {"xi-api-key", "x-api-key", "authorization", "cookie", "set-cookie"}


def _cassettes(vendor):
    return sorted((CASSETTES / vendor).rglob("*.yaml"))


def _interactions(path: Path):
    return yaml.safe_load(path.read_text()).get("interactions") or []


@pytest.mark.parametrize("vendor", DIALECTS)
def test_both_dialects_have_a_full_set(vendor):
    """Every scenario module has cassettes for both dialects."""
    # test_webhooks: deliveries reach a receiver, not the client; nothing to record.
    modules = {p.stem for p in Path(SCENARIOS).glob("test_*.py")} - {"test_webhooks"}
    recorded = {p.parent.name for p in _cassettes(vendor)}
    assert modules <= recorded


@pytest.mark.parametrize("vendor", DIALECTS)
def test_cassettes_hold_no_key_material(vendor):
    """No auth header is recorded and no key value appears anywhere in a cassette."""
    for path in _cassettes(vendor):
        text = path.read_text()
        for key in MOCK_KEYS:
            assert key not in text, path
        for interaction in _interactions(path):
            headers = {h.lower() for h in interaction["request"].get("headers", {})}
            assert not headers & SECRET_HEADERS, path


@pytest.mark.parametrize("vendor", DIALECTS)
def test_cassettes_hold_only_fictional_numbers(vendor):
    """Every phone number in a cassette is in +1 NPA 555-0100..0199."""
    seen = 0
    for path in _cassettes(vendor):
        for number in PHONE_LIKE.findall(path.read_text()):
            assert is_fictional_phone(number), f"{path}: {number}"
            seen += 1
    assert seen, "no phone number found at all: the scan is broken"


@pytest.mark.parametrize("vendor", DIALECTS)
def test_recorded_responses_validate_against_the_current_spec(vendor):
    """Every recorded response still conforms to the vendor's dialect of the spec."""
    from conformance.spec import load_spec

    spec = load_spec(vendor)
    base = load_profile(vendor).base_path
    checked = 0
    for path in _cassettes(vendor):
        for interaction in _interactions(path):
            request, response = interaction["request"], interaction["response"]
            url_path = urlsplit(request["uri"]).path
            if not url_path.startswith(base):
                continue
            headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
            content_type = (headers.get("content-type") or [None])[0]
            body = response["body"]["string"]
            body = body.encode() if isinstance(body, str) else body
            errors = validate_response(spec, request["method"], url_path,
                                       response["status"]["code"], content_type, body)
            assert errors == [], f"{path}: {errors}"
            checked += 1
    assert checked > 100


def test_replay_passes_with_no_server_and_the_network_blocked():
    """cassette:elevenlabs and cassette:voiceai replay the scenarios green, with no server."""
    procs = {vendor: start(pytest_command(SCENARIOS, f"--target=cassette:{vendor}"))
             for vendor in DIALECTS}
    for vendor, proc in procs.items():
        code, out = finish(proc)
        assert code == 0, f"{vendor}:\n{out[-3000:]}"
        assert " passed" in out
