"""The suite catches broken servers: every named fault fails at least one named test, the clean
mock fails none, and the live path catches faults too, not only the in-process one."""

from __future__ import annotations

import ast
import sys

import pytest
from livehelp import ROOT, finish, live_env, pytest_command, served_mock, start

from conformance.mock.faults import FAULTS
from conformance.tools.faultmatrix import load_matrix

LIVE_FAULTS = ("cancel-leaves-one-pending", "wrong-key-accepted", "page-overlap",
               "retry-count-not-incremented")


def test_there_are_at_least_thirty_faults_across_categories():
    """The mock carries 30+ named faults spread over at least 12 categories."""
    assert len(FAULTS) >= 30
    assert len({f.category for f in FAULTS.values()}) >= 12


def test_every_fault_has_known_catchers():
    """The committed matrix names, for every fault, the tests that catch it."""
    matrix = load_matrix()
    assert set(matrix) == set(FAULTS), "run `make faults` to refresh the matrix"
    assert all(matrix[f] for f in FAULTS)


def test_every_catcher_in_the_matrix_is_a_test_of_the_suite():
    """The committed matrix is fresh enough to use: each catcher it names is a test function
    of the suite as it is now (a renamed or removed test makes `make faults` due)."""
    missing = []
    for catchers in load_matrix().values():
        for node_id in catchers:
            path, _, name = node_id.partition("::")
            source = ROOT / path
            names = ({n.name for n in ast.walk(ast.parse(source.read_text()))
                      if isinstance(n, ast.FunctionDef)} if source.is_file() else set())
            if name.split("[")[0] not in names:
                missing.append(node_id)
    assert missing == [], "run `make faults` to refresh conformance/mock/fault_matrix.json"


@pytest.mark.slow
def test_quick_matrix_catches_every_fault_and_clean_mock_passes():
    """Against each fault at least one catcher fails; against the clean mock all pass."""
    code, out = finish(start([sys.executable, "-m", "conformance.tools.faultmatrix", "--quick",
                              "--md", "reports/faults-quick.md"]), timeout=600)
    assert code == 0, out[-3000:]
    assert f"**{len(FAULTS)}/{len(FAULTS)}**" in out


@pytest.mark.parametrize("fault", LIVE_FAULTS)
def test_live_path_catches_faults_too(fault):
    """The mock served with a fault, tested as live:elevenlabs, fails its catchers; the
    batches those failing tests created are still cleaned up."""
    catchers = load_matrix()[fault]
    with served_mock("elevenlabs", faults=[fault]) as (app, base_url):
        code, out = finish(start(pytest_command(*catchers, "--target=live:elevenlabs",
                                                "--allow-dispatch", "--mock-outcomes"),
                                 live_env("elevenlabs", base_url)))
        leftovers = app.state.store.all_batches()
    assert code == 1, out[-2000:]
    assert " failed" in out
    assert leftovers == [], "a failing live test left batches behind"


def test_events_a_server_never_sends_are_its_failure_not_could_not_run(tmp_path):
    """A fixture that waits for the server (here: a post-call event for every finished call)
    and runs out of mock time is the server's FAIL: `conformance run` says NOT CONFORMANT
    (exit 1), not COULD NOT RUN (the mock's time is the suite's own: nothing slow or external
    can be behind it)."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--target",
         "mock:webhook-failed-calls-unannounced", "--reports", str(tmp_path),
         "--suite", "conformance_suite/scenarios/test_webhooks.py", "--",
         "-n", "0", "-k", "every_finished_recipient"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    last = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert last.startswith("NOT CONFORMANT") and "post-call event" in last, last
