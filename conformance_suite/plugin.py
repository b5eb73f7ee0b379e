"""The suite's pytest wiring: one `--target` option, and fixtures that ask the target.

Fixtures never test which kind of target this is; they ask it (conformance.targets): how to
send, how to wait, what time it is, what it lets a test do, and how to clean up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conformance import requirements as reqs
from conformance.api import fictional_number, fictional_numbers
from conformance.drift import Drift
from conformance.exchanges import ContractViolation, Coverage, ResponseValidator
from conformance.safety import UnsafeRequest
from conformance.targets import RECORDED_RUN_ID, RunOptions, Target, TargetError, parse_target

SUITE = Path(__file__).resolve().parent
#: The contract tests' wiring (Schemathesis runs) and the webhook receiver, registered with
#: this plugin.
pytest_plugins = ["conformance_suite.contract.plugin", "conformance_suite.webhooks_plugin",
                  "conformance_suite.parallel"]
UNKNOWN_ID = "btcal_conformance_does_not_exist"
DIFFERS = "differs from our inference: "


def pytest_addoption(parser):
    group = parser.getgroup("conformance")
    group.addoption("--target", default=os.environ.get("API_TARGET", "mock"),
                    help="mock | mock:<fault> | cassette:<vendor> | live:<vendor> "
                    "(env API_TARGET; default mock)")
    group.addoption("--allow-dispatch", action="store_true",
                    default=os.environ.get("API_ALLOW_DISPATCH") == "1",
                    help="live: let batches start now (calls are placed; numbers stay fictional)")
    group.addoption("--mock-outcomes", action="store_true",
                    default=os.environ.get("API_MOCK_OUTCOMES") == "1",
                    help="live: the endpoint is this suite's mock, so its outcome table holds")
    group.addoption("--strict-inferred", action="store_true", dest="conformance_strict",
                    default=os.environ.get("API_STRICT") == "1",
                    help="vendor targets: inferred requirements fail too (they are reported as "
                    "'differs from our inference' otherwise)")
    group.addoption("--strict-drift", action="store_true",
                    default=os.environ.get("API_STRICT_DRIFT") == "1",
                    help="fail the run when the target sends what the spec does not declare")


def _recording(config) -> bool:
    return (config.getoption("--record-mode", None) or "none") != "none"


def pytest_configure(config):
    config.addinivalue_line("markers", "requirement(id): the requirement (conformance/"
                            "requirements.toml) this test checks")
    config.addinivalue_line("markers", "no_cassette: its exchanges cannot be recorded (e.g. "
                            "webhook deliveries reach a receiver, not the client)")
    options = RunOptions(allow_dispatch=config.getoption("--allow-dispatch"),
                         mock_outcomes=config.getoption("--mock-outcomes"),
                         strict=config.getoption("conformance_strict"),
                         recording=_recording(config))
    try:
        target = parse_target(config.getoption("--target"), options=options)
        target.check_ready()
        if not config.option.collectonly:
            target.check_reachable()
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.conformance_target = target
    config.conformance_coverage = Coverage()
    config.conformance_drift = Drift()
    if target.replays:
        # Replay only: any request that escapes the cassette hits a blocked network.
        config.option.block_network = True
        config.option.record_mode = "none"


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
        from conformance.profiles import ProfileError, load_deviations_file

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
        for item in suite:
            # Fuzzing is not recorded (contract/plugin.py skips it with its reason).
            if "/contract/" in item.nodeid or item.get_closest_marker("no_cassette"):
                continue
            item.add_marker(pytest.mark.vcr)
            if target.replays and not _cassette_path(target, item).exists():
                item.add_marker(pytest.mark.skip(
                    reason="no cassette: the test was skipped or not run when recording"))


def _cassette_path(target: Target, item) -> Path:
    return target.cassette_dir(str(item.fspath)) / f"{item.name}.yaml"


# --- target, spec, clients -------------------------------------------------------------


@pytest.fixture(scope="session")
def target(request) -> Target:
    """The target chosen by --target."""
    return request.config.conformance_target


@pytest.fixture(scope="session")
def api(target):
    """The dialect's operation table and paths (api.submit(), api.get(id), ...)."""
    return target.api


@pytest.fixture(scope="session")
def validator(request, target) -> ResponseValidator:
    """Validates every response against the target's dialect of the spec."""
    return ResponseValidator(target.spec, request.config.conformance_coverage,
                             target.redactor, request.config.conformance_drift)


@pytest.fixture(scope="session", autouse=True)
def _suite_properties(record_testsuite_property, target, request):
    record_testsuite_property("target", target.text)
    record_testsuite_property("requirements", reqs.as_json(reqs.load()))
    yield
    record_testsuite_property("coverage", request.config.conformance_coverage.as_json())
    record_testsuite_property("drift", request.config.conformance_drift.as_json())


@pytest.fixture(autouse=True)
def _own_record(request, validator):
    """Each test's exchanges are its own (a report never shows another test's request)."""
    validator.begin_test(request.node.nodeid)


@pytest.fixture(scope="session")
def run_id(target) -> str:
    """This run's id; every batch name starts with its prefix so leftovers can be swept.
    Recording and replaying cassettes use a fixed one, so replayed names echo as recorded."""
    from conformance.safety import new_run_id

    if target.uses_cassettes:
        return RECORDED_RUN_ID
    return os.environ.get("API_RUN_ID") or new_run_id()


@pytest.fixture(scope="session")
def name_prefix(run_id) -> str:
    from conformance.safety import name_prefix as prefix

    return prefix(run_id)


@pytest.fixture(scope="session")
def live_run(target, run_id, name_prefix):
    """The run's one safety set-up (guard, ledger, caps), shared by every client; whatever it
    still holds at the end is cancelled and deleted."""
    run = target.start_run(run_id, name_prefix)
    yield run
    failed = target.end_run(run)
    if failed:
        pytest.fail(f"clean-up left batches behind: {failed}")


@pytest.fixture
def mock_app(target):
    """A fresh in-process server per test, where the target has one (None elsewhere)."""
    return target.new_app()


@pytest.fixture
def client_for(target, validator, mock_app, live_run) -> Callable[..., httpx.Client]:
    """Factory: a validating client with a given key (`""` sends none)."""
    clients: list[httpx.Client] = []

    def make(api_key: str | None = None) -> httpx.Client:
        client = target.client(validator=validator, api_key=api_key, app=mock_app,
                               run=live_run)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(client_for) -> httpx.Client:
    """The client of the target's main workspace; every response is checked against the spec."""
    return client_for()


@pytest.fixture
def other_client(target, client_for) -> httpx.Client:
    """A client of a second workspace (another API key)."""
    if not target.other_api_key:
        pytest.skip(f"needs a second key: set {target.env_name('OTHER_API_KEY')}")
    return client_for(target.other_api_key)


@pytest.fixture(scope="session")
def strict(target) -> bool:
    """Whether checks hold the target to the mock's stricter (inferred) readings too."""
    return target.strict


@pytest.fixture
def unknown_id() -> str:
    """A batch id no server has issued."""
    return UNKNOWN_ID


@pytest.fixture
def sendable(target, live_run):
    """`sendable(method, path, json=...)`: skip the test when the live guard would refuse the
    request (the suite never trips its own guard)."""

    def check(method: str, path: str, *, json=None, headers=None) -> None:
        why = target.refusal(live_run, method, path, json=json, headers=headers)
        if why:
            pytest.skip(f"not sent on {target.text}: the live guard would refuse it ({why})")

    return check


@pytest.fixture
def list_pages(api):
    """`list_pages(http, **params)`: every page of the list, following next_doc as last_doc."""

    def pages(http: httpx.Client, max_pages: int = 1000, **params) -> list[dict]:
        out, cursor = [], None
        for _ in range(max_pages):
            page = http.get(api.list(), params={**params, **({"last_doc": cursor}
                                                              if cursor else {})}).json()
            out.append(page)
            if not page["has_more"]:
                return out
            assert page["next_doc"], "has_more is true but next_doc is empty"
            cursor = page["next_doc"]
        pytest.fail(f"more than {max_pages} pages")

    return pages


# --- time, outcomes, batches -------------------------------------------------------------


@pytest.fixture
def now(target, mock_app, client) -> Callable[[], int]:
    """The target's current unix time."""
    return target.clock(mock_app, client)


@pytest.fixture
def eventually(target, mock_app):
    """Wait for `predicate()` to return a truthy value: the mock's clock advances, cassettes
    replay the recorded polls, live polls with backoff until a deadline."""
    return target.eventually(mock_app)


class Numbers:
    """Fictional numbers (+1 NPA 555-01XX) by the outcome the mock's table gives them."""

    def __init__(self, named: dict[str, str]):
        self.__dict__.update(named)

    @staticmethod
    def completing(count: int) -> list[str]:
        """`count` distinct numbers that complete (XX = 00..09)."""
        return fictional_numbers(count)

    @staticmethod
    def failing(index: int = 0) -> str:
        return fictional_number(index, 10)


@pytest.fixture(scope="session")
def numbers() -> Numbers:
    """Fictional numbers by outcome: numbers.fails, numbers.completes, numbers.completing(n)."""
    from conformance.mock.outcomes import NUMBERS

    return Numbers(NUMBERS)


@pytest.fixture
def foreign_id_allowed(target):
    """Skip where cancel, retry or delete may not name an id this run did not create (on a
    vendor, an unknown id could be somebody's real batch)."""
    if not target.mutates_foreign_ids:
        pytest.skip(f"{target.text}: the live guard refuses mutations of batches this run did "
                    "not create")


@pytest.fixture
def needs_outcomes(target):
    """Skip unless the target's calls end as the mock's outcome table says."""
    if not target.controls_outcomes:
        pytest.skip("needs controlled call outcomes: only the mock (or --mock-outcomes) has them")


@pytest.fixture
def needs_dispatch(target):
    """Skip unless batches may start during the run (calls are placed)."""
    if not target.may_dispatch:
        pytest.skip(f"places calls: run with --allow-dispatch against {target.text}")


@pytest.fixture(scope="session")
def agent_id(target) -> str:
    """The agent batches are submitted for (live: <VENDOR>_AGENT_ID)."""
    return target.agent_ids()[0]


@pytest.fixture(scope="session")
def other_agent_id(target) -> str:
    """A second agent, for filtering (live: <VENDOR>_OTHER_AGENT_ID)."""
    return target.agent_ids()[1]


@pytest.fixture
def ledger(target, client_for, live_run):
    """Every batch a test creates; the target removes them at teardown, even when the test
    fails (the run's guard also holds any batch a test forgot)."""
    created: list[str] = []
    yield created
    failed = target.cleanup(live_run, client_for(), created)
    assert not failed, f"could not clean up: {failed}"


@pytest.fixture
def submit_batch(request, target, client, api, ledger, name_prefix, now, numbers, agent_id):
    """Factory: submit a batch of fictional recipients and return the response body.

    By default the batch is held (scheduled far enough ahead that it cannot start during the
    run). `dispatch=True` starts it now and `scheduled_in` (seconds) starts it during the
    test: both place calls, so they skip unless the target allows dispatch.
    """
    counter = iter(range(1, 10_000))

    def submit(recipients=2, *, scheduled_in: int | None = None, dispatch: bool = False,
               via: httpx.Client | None = None, expect: int = 200, **fields) -> dict:
        if (dispatch or scheduled_in is not None) and not target.may_dispatch:
            pytest.skip(f"places calls: run with --allow-dispatch against {target.text}")
        if isinstance(recipients, int):
            recipients = [{"phone_number": n} for n in numbers.completing(recipients)]
        else:
            recipients = [r if isinstance(r, dict) else {"phone_number": r} for r in recipients]
        body = {"call_name": f"{name_prefix}{request.node.name[:60]}-{next(counter)}",
                "agent_id": agent_id, "recipients": recipients, **fields}
        if "scheduled_time_unix" not in fields:
            if scheduled_in is not None:
                body["scheduled_time_unix"] = now() + scheduled_in
            elif not dispatch:
                body["scheduled_time_unix"] = now() + target.hold_seconds()
        response = (via or client).post(api.submit(), json=body)
        assert response.status_code == expect, response.text
        batch = response.json()
        if expect == 200:
            ledger.append(batch["id"])
        return batch

    return submit


# --- the verdict of each test --------------------------------------------------------------


def _unsafe(excinfo) -> UnsafeRequest | None:
    exc = excinfo.value if excinfo else None
    while exc is not None:
        if isinstance(exc, UnsafeRequest):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _requirement(item) -> reqs.Requirement | None:
    mark = item.get_closest_marker("requirement")
    return reqs.load().get(mark.args[0]) if mark and mark.args else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not _in_suite(item):
        report.user_properties = list(item.user_properties)
        return
    target: Target = item.config.conformance_target
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
        if last is not None:
            req, resp = last.describe()
            props += [("request", req), ("response", resp)]
        exc = call.excinfo.value if call.excinfo else None
        if refused is not None:
            # The suite broke its own rule: a defect of the suite, not of the target.
            props += [("verdict", "guard"), ("guard_rule", refused.rule),
                      ("violated_rule", f"guard ({refused.rule}): {refused.reason}")]
        else:
            if isinstance(exc, ContractViolation):
                rule = "schema: " + str(exc).splitlines()[1].strip()
            else:
                rule = getattr(exc, "rule", None) or (requirement.text if requirement else "")
            props.append(("violated_rule", rule))
            if requirement is not None and requirement.inferred and not target.strict:
                message = str(exc).strip().splitlines()[0][:300] if exc else "failed"
                props += [("verdict", "differs"), ("observed", message)]
                report.outcome = "skipped"
                report.longrepr = (str(item.fspath), item.location[1] or 0,
                                   f"{DIFFERS}{requirement.id}: {message}")
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
    if getattr(config, "conformance_drift", None) is None:
        return
    if config.getoption("--strict-drift") and config.conformance_drift.entries \
            and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- cassettes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vcr_config(target):
    """Keys never reach a cassette (redacted by value wherever they travel: headers of any
    name, query, body); requests match on method, path and query only."""
    from conformance.cassettes import vcr_filters

    return {
        **vcr_filters(target.redactor),
        "match_on": ["method", "path", "query"],
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request, target):
    """cassettes/<vendor>/<module>/."""
    return str(target.cassette_dir(str(request.node.fspath)))
