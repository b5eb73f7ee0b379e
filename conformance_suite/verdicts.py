"""The verdict of each suite test: its requirement and grade, the operations it exercised and
its own last exchange; an inferred requirement that does not hold on a vendor becomes
"differs from our inference"; a request the live guard refused is a defect of the suite.
Registered by conformance_suite.plugin."""

from __future__ import annotations

import json
from typing import TypeVar

import pytest

from conformance import requirements as reqs
from conformance.exchanges import BrokenAnswer
from conformance.safety import UnsafeRequest
from conformance.targets import Target
from conformance_suite.plugin import (
    DIFFERS,
    SKIPS,
    _in_suite,
    _note_recorded_skip,
    _recorded_skips,
    _skips_file,
)

E = TypeVar("E", bound=BaseException)

# --- the verdict of each test --------------------------------------------------------------


def _cause(excinfo, kind: type[E]) -> E | None:
    """The exception of `kind` behind the test's exception (itself or along its causes)."""
    exc = excinfo.value if excinfo else None
    while exc is not None:
        if isinstance(exc, kind):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _unsafe(excinfo) -> UnsafeRequest | None:
    return _cause(excinfo, UnsafeRequest)


def _broken(excinfo) -> BrokenAnswer | None:
    """The server's broken answer behind an exception, if that is what it is."""
    return _cause(excinfo, BrokenAnswer)


def _fixture_failure(item, report, call) -> None:
    """A fixture's set-up or tear-down got a broken answer from the server (a submit answered
    201, a clean-up cancel with a status the spec does not list, ...): that is the server's
    FAIL, attributed to the operation and requirement it broke, with its exchange. pytest's
    JUnit writes it as <error>; the `verdict=fail` property makes the report read a FAIL.
    Anything else failing in a fixture (the guard, a transport error) stays an ERROR."""
    broken = _broken(call.excinfo)
    if broken is None or _unsafe(call.excinfo) is not None:
        return
    if any(k == "verdict" and v == "fail" for k, v in item.user_properties):
        return  # the test already failed on its own: that failure is what it reports
    requirement = reqs.load().get(broken.requirement) or _requirement(item)
    props = item.user_properties
    if requirement is not None:
        props += [("requirement", requirement.text), ("requirement_id", requirement.id),
                  ("requirement_grade", requirement.grade)]
    if broken.operation:
        props += [("operations", broken.operation), ("problem_operation", broken.operation)]
    if broken.exchange is not None:
        req, resp = broken.exchange.describe()
        props += [("request", req), ("response", resp)]
    props += [("violated_rule", broken.rule), ("verdict", "fail"), ("phase", report.when)]


def _requirement(item) -> reqs.Requirement | None:
    mark = item.get_closest_marker("requirement")
    return reqs.load().get(mark.args[0]) if mark and mark.args else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "setup" and report.skipped:
        _note_recorded_skip(item, report)
    if report.when != "call" or not _in_suite(item):
        if report.failed and _in_suite(item):
            _fixture_failure(item, report, call)
        report.user_properties = list(item.user_properties)
        return
    target: Target = item.config.conformance_target
    if report.skipped and not hasattr(report, "wasxfail"):
        _note_recorded_skip(item, report)
    requirement = _requirement(item)
    validator = item.funcargs.get("validator") if hasattr(item, "funcargs") else None
    props = item.user_properties
    if requirement is not None:
        props += [("requirement", requirement.text), ("requirement_id", requirement.id),
                  ("requirement_grade", requirement.grade)]
    if validator is not None and validator.test_operations:
        props.append(("operations", " ".join(sorted(validator.test_operations))))
    if report.failed and not hasattr(report, "wasxfail"):
        refused = _unsafe(call.excinfo)
        if refused is not None and validator is not None and refused.request is not None:
            validator.refused(refused.request)
        last = validator.last if validator is not None else None
        broken = _broken(call.excinfo)
        if broken is not None and broken.exchange is not None:
            last = broken.exchange  # the answer that broke the rule, not a later one
        if last is not None:
            req, resp = last.describe()
            props += [("request", req), ("response", resp)]
            if last.operation:
                props.append(("problem_operation", last.operation))
        exc = call.excinfo.value if call.excinfo else None
        if refused is not None:
            # The suite broke its own rule: a defect of the suite, not of the target.
            props += [("verdict", "guard"), ("guard_rule", refused.rule),
                      ("violated_rule", f"guard ({refused.rule}): {refused.reason}")]
        else:
            if broken is not None:
                rule = broken.rule
            else:
                rule = getattr(exc, "rule", None) or (requirement.text if requirement else "")
            props.append(("violated_rule", rule))
            # Only what the server answered can differ from an inference: an assertion about
            # it. An error of the harness (a cassette without the request, a transport
            # failure) stays a failure. A broken answer (a response that breaks the spec, or
            # a documented requirement) fails whatever the test's grade.
            if (requirement is not None and requirement.inferred and not target.strict
                    and isinstance(exc, AssertionError) and broken is None):
                message = str(exc).strip().splitlines()[0][:300] if exc else "failed"
                props += [("verdict", "differs"), ("observed", message)]
                report.outcome = "skipped"
                report.longrepr = (str(item.fspath), item.location[1] or 0,
                                   f"{DIFFERS}{requirement.id}: {message}")
            else:
                props.append(("verdict", "fail"))
    report.user_properties = list(props)


def pytest_report_teststatus(report, config):
    """Show a differing inference as its own letter, not as a plain skip."""
    if report.when == "call" and report.skipped and any(
            k == "verdict" and v == "differs" for k, v in report.user_properties):
        return "differs", "D", "DIFFERS"
    return None


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    skips = config.stash.get(SKIPS, None)
    if skips:
        target: Target = config.conformance_target
        for nodeid in skips:
            module, _, name = nodeid.partition("::")
            target.cassette_dir(module).joinpath(f"{name}.yaml").unlink(missing_ok=True)
        path = _skips_file(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A partial re-recording (conformance.tools.record --suite) keeps the other modules' skips.
        skips = {**_recorded_skips(target), **skips}
        path.write_text(json.dumps(dict(sorted(skips.items())), indent=1) + "\n")
    if getattr(config, "conformance_drift", None) is None:
        return
    if config.getoption("--strict-drift") and config.conformance_drift.entries \
            and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
