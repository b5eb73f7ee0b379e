"""`conformance webhook-check` judges a user's receiver: a careful receiver passes every
case, a careless one (no signature checks) fails with each reason named, and the verdicts
reach the JUnit file `conformance report` renders."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from conformance import cli
from conformance.fictional import fingerprint
from conformance.report import load_junit
from conformance.webhooks.check import EXIT_CANNOT_RUN, build_cases, run_check
from conformance.webhooks.receiver import Receiver, careful_handler

SECRET = "whsec-check-0123456789abcdef"
LIMIT = 16 * 1024 * 1024
FORGED = ("tampered-body", "wrong-secret", "stale-timestamp", "future-timestamp",
          "missing-header", "wrong-scheme", "replayed", "oversized")


@pytest.fixture
def careful():
    with Receiver(respond=careful_handler(SECRET), max_body_bytes=LIMIT) as receiver:
        yield receiver


@pytest.fixture
def careless():
    """Accepts everything: never looks at the signature, the timestamp or the size."""
    with Receiver() as receiver:
        yield receiver


def test_cases_cover_every_forgery():
    """The check sends a valid delivery and each named forgery."""
    assert [c.name for c in build_cases(SECRET)] == ["valid", *FORGED]


def test_careful_receiver_passes_every_case(careful, tmp_path, capsys):
    """A receiver that verifies signatures, timestamps, replays and size answers as expected;
    the command exits 0 and prints the secret only as a fingerprint."""
    junit = tmp_path / "webhook-check.xml"
    code = cli.main(["webhook-check", "--url", careful.url, "--secret", SECRET,
                     "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "9/9 as expected" in out
    assert SECRET not in out and fingerprint(SECRET) in out
    assert SECRET.encode() not in junit.read_bytes()
    statuses = [r.status for r in careful.requests]
    # Ten deliveries (the replay is sent twice): only the valid one and the replay's first
    # copy are accepted; every other answer is a 4xx.
    assert len(statuses) == 10 and statuses.count(200) == 2
    assert all(s == 200 or 400 <= s < 500 for s in statuses)


def test_careless_receiver_fails_with_each_reason(careless, tmp_path, capsys):
    """A receiver that skips signature checks fails every forged case, each by name, with
    exit code 1 and one failing JUnit testcase per forgery."""
    junit = tmp_path / "webhook-check.xml"
    code = cli.main(["webhook-check", "--url", careless.url, "--secret", SECRET,
                     "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 1
    for name in FORGED:
        assert f"FAIL {name}" in out
        assert f"accepted {name}" in out
    assert "ok   valid" in out
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert {n for n, c in cases.items() if c.find("failure") is not None} == set(FORGED)
    assert cases["stale-timestamp"].find("failure").get("message") == \
        "accepted (200) a delivery it must reject"
    (run,) = load_junit(junit)
    assert run.target.startswith("webhook-check:127.0.0.1")
    assert {t.name for t in run.tests if t.outcome == "FAIL"} == set(FORGED)
    assert {t.operation for t in run.tests} == {"webhookReceiver"}


def test_a_receiver_answering_5xx_fails_even_when_it_rejects(tmp_path):
    """Rejecting a forgery with 500 is wrong too: the vendor would retry it."""
    def respond(received):
        return 200 if received.headers.get("elevenlabs-signature") else 500

    with Receiver(respond=respond) as receiver:
        results = {r.case.name: r for r in run_check(receiver.url, SECRET,
                                                      oversized_bytes=1024)}
    assert not results["missing-header"].ok
    assert "never 5xx" in results["missing-header"].reason


def test_unreachable_receiver_cannot_run(capsys):
    """Nothing listening: exit 2 with a one-line reason."""
    from conformance.mock.server import free_port

    url = f"http://127.0.0.1:{free_port()}/webhook"
    assert cli.main(["webhook-check", "--url", url, "--secret", SECRET, "--junit", ""]) == \
        EXIT_CANNOT_RUN
    assert "unreachable" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["http://example.com/hook", "ftp://127.0.0.1/hook",
                                 "http://user:pw@127.0.0.1/hook"])
def test_urls_other_than_loopback_or_https_are_refused(url, capsys):
    """Plain http only to loopback; any other host needs https; no credentials in URLs."""
    assert cli.main(["webhook-check", "--url", url, "--secret", SECRET, "--junit", ""]) == \
        EXIT_CANNOT_RUN
    assert "webhook-check:" in capsys.readouterr().err


def test_missing_secret_cannot_run(careful, capsys, monkeypatch):
    monkeypatch.delenv("CONFORMANCE_WEBHOOK_SECRET", raising=False)
    assert cli.main(["webhook-check", "--url", careful.url, "--junit", ""]) == EXIT_CANNOT_RUN
    assert "no secret" in capsys.readouterr().err
