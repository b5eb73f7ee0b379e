"""A live run under pressure (conformance/pressure.py), in pytest terms.

* `--pressure-budget S`: the longest total wait on pushback (429s, transport-error backoff)
  before the run gives up (default conformance.pressure.DEFAULT_BUDGET_S).
* A test that could not be judged because of pressure is never a failure: once the budget
  ran out, whatever a test still had to send fails fast and the test is reported skipped
  ("not judged: ..."), and the session ends with exit 2 ("could not run") and the numbers in
  one line (also written next to the JUnit file as `<junit>.stop`, for `conformance run`).
  A test whose submit's answer was lost (the batch is found by name and cleaned up) is
  skipped with that reason.
* The pressure a run met (429s by status, requests sent again, seconds waited, whether it
  gave up) is the `pressure` JUnit property (one per xdist worker; the report adds them up).
* Under xdist, the controller gives every worker one folder of slot locks, so the adaptive
  concurrency limit is the run's, not each worker's.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from conformance.pressure import DEFAULT_BUDGET_S, AnswerLost, PressureExhausted

_DIR = "conformance_pressure_dir"
#: The run's live set-up (conformance_suite.fixtures' `live_run` puts it there).
LIVE_RUN = pytest.StashKey[object]()


def live_run_of(config):
    """The run's live set-up (None off live targets, or before it started)."""
    return config.stash.get(LIVE_RUN, None)

_GAVE_UP = pytest.StashKey[list]()


def pytest_addoption(parser):
    parser.getgroup("conformance").addoption(
        "--pressure-budget", type=float, default=DEFAULT_BUDGET_S, metavar="S",
        help="live: the longest total wait on pushback (429, transport errors) before the "
        f"run ends 'could not run' (default {DEFAULT_BUDGET_S:g} s; env "
        "API_LIVE_PRESSURE_BUDGET)")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: one folder of slot locks shared by every worker of this run."""
    config = node.config
    folder = getattr(config, "_conformance_pressure_dir", None)
    if folder is None:
        folder = tempfile.mkdtemp(prefix="conformance-pressure-")
        config._conformance_pressure_dir = folder
    node.workerinput[_DIR] = folder


def slots_dir(config) -> str | None:
    return getattr(config, "workerinput", {}).get(_DIR)


def _pressure(item):
    run = live_run_of(item.config)
    return getattr(run, "pressure", None)


def _chain(excinfo):
    exc = excinfo.value if excinfo else None
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    pressure = _pressure(item)
    if pressure is not None:
        item.stash[_SEEN] = pressure.answers_lost
        item.stash[_SENT] = (pressure.sent, pressure.rate_limited, pressure.waited_s)


_SEEN = pytest.StashKey[int]()
_SENT = pytest.StashKey[tuple]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield
    pressure = _pressure(item)
    start = item.stash.get(_SENT, None)
    if pressure is not None and start is not None:
        # What this test cost the server, and how much it was pushed back (the report's
        # "requests" column; a test's count must not grow with the workspace).
        item.user_properties.append(
            ("requests", f"{pressure.sent - start[0]} sent, {pressure.rate_limited - start[1]}"
                         f" rate limited, waited {pressure.waited_s - start[2]:.1f} s"))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Outermost: a failure caused by pressure becomes "not judged" (skipped with the
    reason) before any other verdict is taken."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or hasattr(report, "wasxfail"):
        return
    pressure = _pressure(item)
    if pressure is None:
        return
    reason = None
    for exc in _chain(call.excinfo):
        if isinstance(exc, (PressureExhausted, AnswerLost)):
            reason = str(exc)
            break
    if reason is None and pressure.gave_up:
        reason = pressure.gave_up   # raised inside a library that wrapped the exception
    if reason is None and pressure.answers_lost > item.stash.get(_SEEN, pressure.answers_lost):
        reason = "an answer was lost on the network"
    if reason is None:
        return
    report.outcome = "skipped"
    report.longrepr = (str(item.fspath), item.location[1] or 0, f"not judged: {reason}")
    report.user_properties = [*report.user_properties, ("verdict", "pressure")]


def stats_property(config) -> tuple[str, str] | None:
    run = live_run_of(config)
    pressure = getattr(run, "pressure", None)
    return None if pressure is None else ("pressure", json.dumps(pressure.stats()))


def _stop_file(config) -> Path | None:
    xml = getattr(config.option, "xmlpath", None)
    return Path(xml).with_suffix(".stop") if xml else None


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    sent = getattr(node, "workeroutput", {}).get("conformance_pressure_gave_up")
    if sent:
        node.config.stash.setdefault(_GAVE_UP, []).append(sent)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    config = session.config
    pressure = getattr(live_run_of(config), "pressure", None)
    gave_up = list(config.stash.get(_GAVE_UP, []))
    if pressure is not None and pressure.gave_up:
        gave_up.append(pressure.gave_up)
    if hasattr(config, "workeroutput"):
        if gave_up:
            config.workeroutput["conformance_pressure_gave_up"] = gave_up[0]
        return
    stop = _stop_file(config)
    if stop is not None:
        stop.unlink(missing_ok=True)
    if not gave_up:
        return
    line = f"{config.conformance_target.text}: still pushed back after the pressure budget: " \
           f"{gave_up[0]}"
    if stop is not None:
        stop.write_text(line + "\n")
    session.exitstatus = pytest.ExitCode.INTERRUPTED   # 2: the suite could not judge
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"COULD NOT RUN: {line}", red=True, bold=True)
