"""Redaction by value: a key in use never reaches a cassette, a JUnit file or a report,
whatever header, query parameter or body field it travels in.

The end-to-end test records a cassette for real: pytest with the project's plugin,
`--target=live:elevenlabs --record-mode=rewrite` (as conformance/tools/record.py runs it) against
the mock served on 127.0.0.1 with two keys made up for this run, so the plugin's own
`vcr_config` (conformance.cassettes.vcr_filters over the target's Redactor) and the live
guard are the code under test. Only the cassette folder is moved to a temporary one.
"""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from urllib.parse import quote, quote_plus

import pytest
import yaml
from livehelp import ROOT

from conformance.cassettes import vcr_filters
from conformance.fictional import fingerprint
from conformance.mock.app import create_app
from conformance.mock.clock import WallClock
from conformance.mock.server import served
from conformance.redact import VENDOR_KEY_SHAPE, Redactor


def _key() -> str:
    """Made up now; not vendor-shaped; no digits (the guard would read a run of them as a
    phone number); `+` and `/` so that its percent-encoded forms differ from it."""
    def letters(n):
        return "".join(secrets.choice(string.ascii_letters) for _ in range(n))
    return f"tk{letters(12)}+{letters(12)}/{letters(8)}"


def _flat(node) -> str:
    """Every string and byte string in a parsed cassette, as one text (a YAML scalar may be
    folded over lines or stored as !!binary: the raw file alone could hide a key)."""
    if isinstance(node, dict):
        return " ".join(_flat(k) + " " + _flat(v) for k, v in node.items())
    if isinstance(node, list):
        return " ".join(map(_flat, node))
    if isinstance(node, bytes):
        return node.decode("utf-8", "replace")
    return str(node)


def _forms(key: str) -> set[str]:
    return {key, quote(key, safe=""), quote_plus(key), key[:-1]} - {""}


# ------------------------------------------------------------------------------- units


def test_every_form_of_a_key_is_replaced_by_its_fingerprint():
    key, other = _key(), _key()
    r = Redactor([key, other, None, "abc"])  # None and too-short secrets are ignored
    text = f"a={key}&b={quote(key + '/x', safe='')} {other}{key}"
    out = r.text(text)
    assert key not in out and other not in out
    assert out.count(fingerprint(key)) == 3 and fingerprint(other) in out
    assert r.bytes(text.encode()) == out.encode()
    assert key not in repr(r) and other not in repr(r)


def test_a_key_containing_another_is_replaced_whole():
    short = _key()
    long = short + "zz"
    out = Redactor([short, long]).text(long)
    assert out == fingerprint(long)


def test_credential_headers_blanked_by_name_others_redacted_by_value():
    key = _key()
    headers = {"X-Auth-Token": "anything", "Proxy-Authorization": "Basic x",
               "X-Trace": f"t={key}", "Set-Cookie": ["a=b"], "X-List": [key, 1]}
    out = Redactor([key]).headers(headers)
    assert out["X-Auth-Token"] == "<redacted>" and out["Proxy-Authorization"] == "<redacted>"
    assert out["Set-Cookie"] == ["<redacted>"]
    assert out["X-Trace"] == f"t={fingerprint(key)}" and out["X-List"] == [fingerprint(key), 1]


def test_vcr_filters_clean_a_request_and_a_response_in_place():
    from vcr.request import Request

    key = _key()
    filters = vcr_filters(Redactor([key]))
    req = Request("POST", f"http://127.0.0.1:1/x?api_key={quote(key)}&k={key}&n=1",
                  f'{{"note": "{key}"}}'.encode(),
                  {"xi-api-key": key, "X-Auth-Token": key, "X-Trace": key})
    req = filters["before_record_request"](req)
    seen = f"{req.uri} {req.body!r} {req.headers}"
    assert key not in seen and quote(key) not in seen
    assert "xi-api-key" not in req.headers and "X-Auth-Token" not in req.headers
    assert req.headers["X-Trace"] == fingerprint(key) and "n=1" in req.uri
    resp = {"headers": {"Set-Cookie": [key], "X-Echo": [key]},
            "body": {"string": f"echo {key}".encode()}}
    resp = filters["before_record_response"](resp)
    assert key not in str(resp) and "Set-Cookie" not in resp["headers"]


# --------------------------------------------------------------------------- end to end

PROBE_MODULE = '''
import os
import time

import pytest

pytestmark = pytest.mark.vcr


if os.environ.get("REDACT_SAME_CONFIG"):
    @pytest.fixture(scope="module")
    def vcr_config(target):
        """What conformance_suite.cassette_fixtures.vcr_config returns, in force whatever the plugin
        order."""
        from conformance.cassettes import vcr_filters

        return {**vcr_filters(target.redactor), "match_on": ["method", "path", "query"],
                "decode_compressed_response": True, "allow_playback_repeats": False}


@pytest.fixture(scope="module")
def vcr_cassette_dir():
    return os.environ["REDACT_CASSETTES"]


def test_the_key_travels_everywhere(target, client, api, name_prefix, validator):
    key = os.environ["ELEVENLABS_API_KEY"]
    other = os.environ["ELEVENLABS_OTHER_API_KEY"]
    # in query parameters, known and unknown names
    client.get(api.paths.list(), params={"api_key": key, "token": other, "limit": 1})
    # under the other dialect's header, Proxy-Authorization, X-Auth-Token, a plain header
    client.get(api.paths.list(), headers={"x-api-key": key, "Proxy-Authorization": "Bearer " + key,
                                    "X-Auth-Token": other, "X-Trace": "t=" + key})
    # inside a JSON body: one the mock refuses and echoes (422 "input"), one it stores
    bad = client.post(api.paths.submit(), json={"call_name": key, "agent_id": other,
                                          "recipients": "nobody " + key})
    assert bad.status_code == 422
    good = client.post(api.paths.submit(), json={
        "call_name": name_prefix + "redact", "agent_id": key,
        "scheduled_time_unix": int(time.time()) + target.hold_seconds(),
        "recipients": [{"phone_number": "+14155550100", "id": "r-" + other,
                        "conversation_initiation_client_data": {
                            "dynamic_variables": {"secret": key}}}]})
    assert good.status_code == 200, good.text
    batch = client.get(api.paths.get(good.json()["id"]))
    assert key in batch.text  # the server echoes it: the recording must still not
    # a failure whose message prints the target and the last exchange
    req, resp = validator.last.describe()
    print("captured:", req, resp)
    assert batch.status_code == 999, f"{target!r}: {req} -> {resp}"
'''


@pytest.mark.parametrize("wiring", [
    "as-loaded",
    "same-config",
])
def test_a_recorded_cassette_and_its_reports_carry_no_key(tmp_path, wiring):
    """`as-loaded`: the plugin exactly as conformance/tools/record.py's pytest loads it.
    `same-config`: the probe module restates the plugin's vcr_config, so the filters are in
    force: vcr_filters over the live target's Redactor, recorded by pytest-recording."""
    key, other = _key(), _key()
    cassettes = tmp_path / "cassettes"
    module = tmp_path / "test_redact_probe.py"
    module.write_text(PROBE_MODULE)
    junit, html, md = tmp_path / "junit.xml", tmp_path / "report.html", tmp_path / "report.md"
    app = create_app("elevenlabs", keys=[key, other], clock=WallClock(60))
    with served(app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
               "ELEVENLABS_BASE_URL": base_url,
               "ELEVENLABS_API_KEY": key, "ELEVENLABS_OTHER_API_KEY": other,
               "REDACT_CASSETTES": str(cassettes), "API_LIVE_POLL_MAX": "0.5",
               **({"REDACT_SAME_CONFIG": "1"} if wiring == "same-config" else {}),
               "PYTHONPATH": str(ROOT / "tests" / "self")}
        run = subprocess.run(
            [sys.executable, "-m", "pytest", str(module), "-p", "conformance_suite.plugin",
             "-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest",
             "--target=live:elevenlabs", "--record-mode=rewrite", f"--junitxml={junit}",
             "-o", "junit_logging=all", "--rootdir", str(tmp_path), "-q"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 1 and "1 failed" in out, out[-3000:]  # the deliberate failure
    assert "batch.status_code == 999" in out
    report = subprocess.run([sys.executable, "-m", "conformance.report", str(junit),
                             "--html", str(html), "--md", str(md)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert html.exists() and md.exists(), report.stdout + report.stderr

    recorded = sorted(cassettes.rglob("*.yaml"))
    assert len(recorded) == 1, recorded
    interactions = yaml.safe_load(recorded[0].read_text())["interactions"]
    assert len(interactions) == 5  # list, list, refused submit, submit, get
    text = recorded[0].read_text() + "\n" + _flat(interactions)
    # the redaction happened (fingerprints in place of the key), it did not just drop things
    assert fingerprint(key) in text and fingerprint(other) in text, text
    assert "api_key=" in text and "x-trace" in text.lower() and "dynamic_variables" in text
    sent = [i["request"]["headers"] for i in interactions]
    assert not any(h.lower() in {"xi-api-key", "x-api-key", "proxy-authorization",
                                 "x-auth-token"} for hs in sent for h in hs)
    assert junit.read_text().count("999") and "captured:" in junit.read_text()
    places = {"cassette": text, "junit": junit.read_text(), "html": html.read_text(),
              "markdown": md.read_text(), "pytest output": out,
              "report output": report.stdout + report.stderr}
    for where, content in places.items():
        for secret in (key, other):
            for form in _forms(secret):
                assert form not in content, f"a form of a key is in the {where}"
        assert not VENDOR_KEY_SHAPE.search(content), where


def test_the_probe_is_not_blind():
    """The scan above would see a key: the same check on unredacted text finds it."""
    key = _key()
    leaked = f"GET /x?api_key={quote_plus(key)}"
    assert any(form in leaked for form in _forms(key))
    assert not any(form in Redactor([key]).text(leaked) for form in _forms(key))
    assert quote(key, safe="") != key and key in _flat({"b": [key.encode()]})
