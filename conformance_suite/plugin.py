"""The suite's pytest wiring: one `--target` option, and fixtures that ask the target.

Fixtures never test which kind of target this is; they ask it (conformance.targets): how to
send, how to wait, what time it is, what it lets a test do, and how to clean up.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from conformance import requirements as reqs
from conformance.drift import Drift
from conformance.exchanges import Coverage
from conformance.profiles import DIALECTS, ProfileError, load_deviations_file
from conformance.targets import RunOptions, Target, TargetError, parse_target

SUITE = Path(__file__).resolve().parent
#: The fixtures, the verdict of each test, the contract tests' wiring (Schemathesis runs),
#: the webhook receiver and the xdist/shard wiring, registered with this plugin.
pytest_plugins = ["conformance_suite.fixtures", "conformance_suite.verdicts",
                  "conformance_suite.contract.plugin", "conformance_suite.webhooks_plugin",
                  "conformance_suite.parallel", "conformance_suite.pressure_plugin"]
UNKNOWN_ID = "btcal_conformance_does_not_exist"
DIFFERS = "differs from our inference: "


def pytest_addoption(parser):
    group = parser.getgroup("conformance")
    group.addoption("--target", default=os.environ.get("API_TARGET", "mock"),
                    help="mock | mock:<fault> | cassette:<dialect> | live:<dialect> "
                    "(env API_TARGET; default mock)")
    group.addoption("--allow-dispatch", action="store_true",
                    default=os.environ.get("API_ALLOW_DISPATCH") == "1",
                    help="live: let batches start now (calls are placed; numbers stay fictional)")
    group.addoption("--mock-outcomes", action="store_true",
                    default=os.environ.get("API_MOCK_OUTCOMES") == "1",
                    help="live: the endpoint is this suite's mock, so its outcome table holds")
    group.addoption("--strict-inferred", action="store_true", dest="conformance_strict",
                    default=os.environ.get("API_STRICT") == "1",
                    help="targets other than the mock: inferred requirements fail too (they "
                    "are reported as 'differs from our inference' otherwise)")
    group.addoption("--strict-drift", action="store_true",
                    default=os.environ.get("API_STRICT_DRIFT") == "1",
                    help="fail the run when the target sends what the spec does not declare")


def _recording(config) -> bool:
    return (config.getoption("--record-mode", None) or "none") != "none"


def _hypothesis_home() -> None:
    """Hypothesis keeps caches (constants, unicode data) in `.hypothesis/` of the current folder
    unless told otherwise: a run from any folder leaves nothing there (HYPOTHESIS_STORAGE_DIRECTORY
    still wins)."""
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "conformance-hypothesis")


def pytest_configure(config):
    _hypothesis_home()
    config.addinivalue_line("markers", "requirement(id): the requirement (conformance/"
                            "requirements.toml) this test checks")
    config.addinivalue_line("markers", "lasts(seconds, dispatch=False): about how long the "
                            "test lasts on a live target (dispatch=True: only when batches may "
                            "start); parallel runs start the long ones first (parallel.py)")
    config.addinivalue_line("markers", "no_cassette: its exchanges cannot be recorded (e.g. "
                            "webhook deliveries reach a receiver, not the client)")
    options = RunOptions(allow_dispatch=config.getoption("--allow-dispatch"),
                         mock_outcomes=config.getoption("--mock-outcomes"),
                         strict=config.getoption("conformance_strict"),
                         recording=_recording(config),
                         pressure_budget_s=config.getoption("--pressure-budget"))
    try:
        target = parse_target(config.getoption("--target"), options=options)
        target.check_ready()
        if not config.option.collectonly:
            target.check_reachable()
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.conformance_target = target
    _collected_dialects[:] = [target.dialect]
    # After pytest-recording: its own vcr_config ({}) must not shadow the key filters.
    config.pluginmanager.import_plugin("conformance_suite.cassette_fixtures")
    config.conformance_coverage = Coverage()
    config.conformance_drift = Drift()
    if target.replays:
        # Replay only: any request that escapes the cassette hits a blocked network.
        config.option.block_network = True
        config.option.record_mode = "none"


#: The configured target's dialect, once pytest_configure has run (one pytest run per target).
_collected_dialects: list[str] = []


def collected_dialects() -> tuple[str, ...]:
    """The dialects whose generated fuzz tests are collected: the configured target's only
    (building a dialect's Schemathesis tests costs a second of each worker's start-up, and
    the other dialect's would be deselected), or every dialect outside a configured run."""
    return tuple(_collected_dialects) or DIALECTS


def pytest_unconfigure(config):
    _collected_dialects.clear()


def _in_suite(item) -> bool:
    return Path(str(item.fspath)).resolve().is_relative_to(SUITE)


def _suite_files() -> set[str]:
    return {p.resolve().as_posix() for p in SUITE.rglob("test_*.py")}


def _check_requirements(items) -> None:
    """Every suite test names a known requirement; with the whole suite collected, every
    requirement is checked by some test."""
    table = reqs.load()
    used, problems = set(), []
    for item in items:
        marks = list(item.iter_markers("requirement"))
        if len(marks) != 1 or len(marks[0].args) != 1:
            problems.append(f"{item.nodeid}: needs exactly one @pytest.mark.requirement(ID)")
            continue
        rid = marks[0].args[0]
        if rid not in table:
            problems.append(f"{item.nodeid}: requirement {rid!r} is not in requirements.toml")
        used.add(rid)
    collected = {Path(str(i.fspath)).resolve().as_posix() for i in items}
    if collected >= _suite_files():
        problems += [f"requirement {rid} is checked by no test" for rid in table
                     if rid not in used]
    if problems:
        raise pytest.UsageError("requirements:\n  " + "\n  ".join(problems))


def _deviations(target: Target):
    deviations = list(target.deviations_profile.deviations)
    if os.environ.get("CONFORMANCE_DEVIATIONS"):

        try:
            deviations += load_deviations_file(os.environ["CONFORMANCE_DEVIATIONS"])
        except ProfileError as exc:
            raise pytest.UsageError(str(exc)) from None
    return deviations


def suite_id(nodeid: str) -> str:
    """A test's id within the suite (`scenarios/test_x.py::test_y`), however it was collected
    (from a checkout's root, from the suite's folder, from an installed wheel)."""
    head, sep, rest = nodeid.partition("conformance_suite/")
    return rest if sep and "::" not in head else nodeid


def _matches(nodeid: str, key: str) -> bool:
    """A deviation names a test by its suite id (`conformance_suite/` before it is allowed)."""
    return suite_id(nodeid) == suite_id(key)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    target: Target = config.conformance_target
    suite = [item for item in items if _in_suite(item)]
    _check_requirements(suite)
    files = {item.nodeid.split("::")[0] for item in suite}
    for deviation in _deviations(target):
        found = [item for item in suite if _matches(item.nodeid, deviation.node_id)]
        if not found:
            named_file = deviation.node_id.split("::")[0]
            if any(_matches(f, named_file) for f in files) or not suite:
                raise pytest.UsageError(
                    f"known deviation {deviation.node_id!r} of {target.deviations_profile.name}"
                    " matches no collected test")
            continue
        for item in found:
            item.add_marker(pytest.mark.xfail(
                strict=True, reason=f"known deviation: {deviation.reason} ({deviation.issue})"))
    if target.uses_cassettes:
        skipped_when_recorded = _recorded_skips(target) if target.replays else {}
        for item in suite:
            # Fuzzing is not recorded (contract/plugin.py skips it with its reason).
            if "/contract/" in item.nodeid or item.get_closest_marker("no_cassette"):
                continue
            item.add_marker(pytest.mark.vcr)
            if not target.replays:
                continue
            reason = skipped_when_recorded.get(suite_id(item.nodeid))
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=f"skipped when recorded: {reason}"))
            elif not _cassette_path(target, item).exists():
                item.add_marker(pytest.mark.skip(
                    reason="no cassette: the test was not run when recording"))


def _cassette_path(target: Target, item) -> Path:
    return target.cassette_dir(str(item.fspath)) / f"{item.name}.yaml"


def _skips_file(target: Target) -> Path:
    """cassettes/<dialect>/skipped.json: the tests a recording run skipped, and why (the
    recording target's guard decides what a test may send; a replay has no guard)."""
    return target.cassette_dir("skipped").parent / "skipped.json"


def _recorded_skips(target: Target) -> dict[str, str]:
    path = _skips_file(target)
    return json.loads(path.read_text()) if path.exists() else {}


def _note_recorded_skip(item, report) -> None:
    """While recording, remember each skipped suite test (and drop the cassette its set-up
    may have written: the replay skips the test instead)."""
    config = item.config
    target: Target = config.conformance_target
    if not (target.uses_cassettes and not target.replays and _in_suite(item)):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    config.stash.setdefault(SKIPS, {})[suite_id(item.nodeid)] = reason.removeprefix(
        "Skipped: ")


SKIPS = pytest.StashKey[dict]()


