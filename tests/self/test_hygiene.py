"""Secrets hygiene: no key in a committed cassette, a report, a repr or a failure message.

Scanned for (a) the key values of the current run (every `*_API_KEY` in the environment),
(b) anything vendor-key-shaped (conformance.redact.VENDOR_KEY_SHAPE), (c) the mock's own keys:
every committed cassette (cassettes/**), every committed report fixture (tests/self/data/**),
any report a `make conformance` run left in reports/, and a report written by a fresh run
here. Keys used here are made up at run time.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from livehelp import ROOT, finish, pytest_command, start

from conformance.fictional import fingerprint
from conformance.redact import VENDOR_KEY_SHAPE
from conformance.targets import MOCK_KEYS, parse_target

CASSETTES = ROOT / "cassettes"
SCANNED = [CASSETTES, ROOT / "tests" / "self" / "data", ROOT / "reports"]


def _made_up_key(vendor_shaped: bool = False) -> str:
    if vendor_shaped:  # only where the test is about that shape
        return "sk_" + "".join(secrets.choice(string.ascii_letters) for _ in range(32))
    return "hk" + secrets.token_hex(16)


def _run_keys() -> set[str]:
    """The key values the current run has in its environment (none in CI: that is fine)."""
    return {v for k, v in os.environ.items() if k.endswith("_API_KEY") and len(v) >= 4}


def _files(roots) -> list[Path]:
    return sorted(p for root in roots if root.exists() for p in root.rglob("*") if p.is_file())


def leaks(text: str, keys) -> list[str]:
    """What in `text` is a key: a value of `keys` or the mock's keys, or vendor-shaped."""
    found = [f"a key ({fingerprint(k)})" for k in {*keys, *MOCK_KEYS} if k in text]
    found += [f"vendor-key-shaped {m[:5]}..." for m in VENDOR_KEY_SHAPE.findall(text)]
    return found


def test_the_scan_sees_what_it_looks_for():
    """`leaks` is not blind: each of (a), (b), (c) is found, and a fingerprint is not."""
    run_key, shaped = _made_up_key(), _made_up_key(vendor_shaped=True)
    assert leaks(f"x {run_key} y", [run_key]) == [f"a key ({fingerprint(run_key)})"]
    assert leaks(f"key={shaped}", []) and leaks(f"xi-api-key: {MOCK_KEYS[1]}", [])
    assert leaks(f"{fingerprint(run_key)} {fingerprint(shaped)}", [run_key, shaped]) == []
    assert leaks("sk_short sk_" + "a" * 15, []) == []  # shorter than a vendor key


def test_committed_cassettes_and_reports_hold_no_key():
    files = _files(SCANNED)
    cassettes = [p for p in files if p.suffix == ".yaml" and CASSETTES in p.parents]
    assert len(cassettes) > 50, "no cassettes found: the scan is looking in the wrong place"
    keys = _run_keys()
    problems = []
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        problems += [f"{path.relative_to(ROOT)}: {what}" for what in leaks(text, keys)]
    assert problems == []


def test_a_fresh_run_writes_no_key_into_its_junit_or_report(tmp_path):
    """A run of the scenarios against the mock (which sends the mock's keys on every request,
    and a wrong key in the auth tests), its JUnit file and the report rendered from it."""
    junit, html, md = tmp_path / "mock.xml", tmp_path / "report.html", tmp_path / "report.md"
    code, out = finish(start(pytest_command("conformance_suite/scenarios/test_auth.py",
                                            "--target=mock", f"--junitxml={junit}",
                                            "-o", "junit_logging=all")))
    assert code == 0, out[-2000:]
    subprocess.run([sys.executable, "-m", "conformance.report", str(junit), "--html",
                    str(html), "--md", str(md)], cwd=ROOT, capture_output=True, timeout=120)
    assert "<testcase" in junit.read_text() and html.stat().st_size > 1000
    for path in (junit, html, md):
        assert leaks(path.read_text(), _run_keys()) == [], path.name
    assert leaks(out, _run_keys()) == []


ENV_KEY, ENV_OTHER = _made_up_key(), _made_up_key(vendor_shaped=True)


@pytest.mark.parametrize("text, env", [
    ("mock", {}),
    ("mock:wrong-key-accepted", {}),
    ("cassette:elevenlabs", {}),
    ("live:elevenlabs", {"ELEVENLABS_BASE_URL": "http://127.0.0.1:1",
                         "ELEVENLABS_API_KEY": ENV_KEY, "ELEVENLABS_OTHER_API_KEY": ENV_OTHER}),
    ("live:voiceai", {"VOICEAI_BASE_URL": "http://127.0.0.1:1", "VOICEAI_API_KEY": ENV_OTHER}),
])
def test_target_reprs_carry_a_fingerprint_never_a_key(text, env):
    target = parse_target(text, env=env)
    keys = {k for k in (target.api_key, target.other_api_key) if k}
    assert keys, "the target has no key: nothing is tested"
    for shown in (repr(target), str(target), f"{target!r}", repr(target.redactor)):
        assert leaks(shown, keys) == [], shown
    assert fingerprint(target.api_key) in repr(target)


def test_a_live_runs_guard_and_its_repr_carry_no_key():
    target = parse_target("live:elevenlabs", env={"ELEVENLABS_BASE_URL": "http://127.0.0.1:1",
                                                   "ELEVENLABS_API_KEY": ENV_KEY})
    run = target.start_run("20260101t000000-r0000", "cst-20260101t000000-r0000-")
    try:
        shown = " ".join(map(repr, (run, run.policy, run.ledger, run.transport)))
        assert leaks(shown, [ENV_KEY]) == []
        client = target.client(validator=lambda r: None, run=run)
        assert client.headers["xi-api-key"] == ENV_KEY  # it is there; the client hides it
        assert leaks(repr(client), [ENV_KEY]) == []
        # NB: repr(client.headers) shows it (httpx masks only Authorization headers)
        client.close()
    finally:
        run.transport.close()


FAILING = '''
from conformance.targets import parse_target


def test_prints_the_target():
    target = parse_target("live:elevenlabs")
    assert target.base_url is None, f"unexpected target {target}"


def test_compares_the_target():
    target = parse_target("live:elevenlabs")
    assert target == "something else"
'''


def test_an_assertion_message_printing_the_target_carries_no_key(tmp_path):
    """pytest's own failure output (the message, the rewritten comparison, --showlocals)
    names the target by its repr: a fingerprint."""
    module = tmp_path / "test_prints.py"
    module.write_text(FAILING)
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(ELEVENLABS_API_KEY=ENV_OTHER, ELEVENLABS_BASE_URL="http://127.0.0.1:1")
    run = subprocess.run([sys.executable, "-m", "pytest", str(module), "-q", "-p",
                          "no:cacheprovider", "--showlocals", "--rootdir", str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = run.stdout + run.stderr
    assert run.returncode == 1 and "2 failed" in out, out[-2000:]
    assert out.count(fingerprint(ENV_OTHER)) >= 2  # the target was printed, as a fingerprint
    assert leaks(out, [ENV_OTHER]) == []


def test_the_mock_start_up_line_names_keys_by_fingerprint_only():
    """The real process: `python -m conformance.mock`, its first line on stderr."""
    from conformance.mock.server import free_port

    keys = [_made_up_key(), _made_up_key()]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "conformance.mock", "--host", "127.0.0.1",
                             "--port", str(port), "--key", keys[0], "--key", keys[1],
                             "--no-access-log"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert line.startswith("conformance-mock:") and f"127.0.0.1:{port}" in line, line
    for key in keys:
        assert key not in line and key[:8] not in line
        assert hashlib.sha256(key.encode()).hexdigest()[:8] in line
    assert leaks(line, keys) == []
