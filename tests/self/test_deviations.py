"""Known deviations are data: each becomes a strict xfail with its reason and issue; an entry
that matches no collected test fails collection; the mock's profile has none."""

from __future__ import annotations

import os

import pytest
from livehelp import finish, pytest_command, start

from conformance.profiles import ProfileError, available, load_profile, parse_deviations

TEST = "scenarios/test_retry.py::test_retry_increments_retry_count"
ISSUE = "https://example.invalid/issues/42"


def test_the_mock_profile_has_no_deviations():
    """The reference implementation conforms: mock.toml lists no known deviation."""
    assert load_profile("mock").deviations == ()


def test_every_profile_loads_and_names_reason_and_issue():
    """Each vendor profile loads, and every deviation it lists has a reason and an issue."""
    for name in available():
        for deviation in load_profile(name).deviations:
            assert deviation.reason and deviation.issue.startswith("http")


def test_a_deviation_without_an_issue_is_rejected():
    """A deviation entry must give both a reason and an issue link."""
    with pytest.raises(ProfileError):
        parse_deviations({TEST: {"reason": "known"}}, "x.toml")


def _run(tmp_path, entries: str, target: str):
    path = tmp_path / "deviations.toml"
    path.write_text("[deviations]\n" + entries)
    return finish(start(pytest_command("conformance_suite/scenarios/test_retry.py",
                                       f"--target={target}", "-rxX"),
                        env={**os.environ, "CONFORMANCE_DEVIATIONS": str(path)}))


def test_a_known_deviation_becomes_an_expected_failure(tmp_path):
    """A listed test that fails is reported as a known deviation (xfail) and the run passes."""
    code, out = _run(tmp_path, f'"{TEST}" = {{ reason = "count lags", issue = "{ISSUE}" }}\n',
                     "mock:retry-count-not-incremented")
    assert code == 0, out
    assert "xfailed" in out and ISSUE in out


def test_a_known_deviation_that_passes_fails_the_run(tmp_path):
    """Strict: a listed test that now passes fails the run, so stale entries get removed."""
    code, out = _run(tmp_path, f'"{TEST}" = {{ reason = "count lags", issue = "{ISSUE}" }}\n',
                     "mock")
    assert code == 1 and "XPASS(strict)" in out


def test_an_entry_matching_no_collected_test_fails_collection(tmp_path):
    """A deviation naming a test that does not exist in a collected file is an error."""
    code, out = _run(
        tmp_path, f'"conformance_suite/scenarios/test_retry.py::test_gone" = {{ reason = "r", '
        f'issue = "{ISSUE}" }}\n', "mock")
    assert code != 0 and "matches no collected test" in out
