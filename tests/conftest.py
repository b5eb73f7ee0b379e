"""The suite's pytest wiring: one `--target` option, and fixtures that hide which target it is."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from conformance.targets import (
    CASSETTES,
    Api,
    ContractViolation,
    Coverage,
    ResponseValidator,
    Target,
    TargetError,
    build_mock_app,
    make_client,
    parse_target,
)

ROOT = Path(__file__).resolve().parents[1]
FAR_FUTURE = 40 * 24 * 3600  # live batches are scheduled 40 days ahead unless dispatch is allowed
TARGETED = ("tests/scenarios", "tests/contract")  # the folders whose tests talk to the target
LIVE_DEADLINE = int(os.environ.get("API_LIVE_DEADLINE", "600"))  # seconds eventually() polls
LIVE_POLL_MAX = float(os.environ.get("API_LIVE_POLL_MAX", "5"))  # longest pause between polls


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


def pytest_configure(config):
    config.addinivalue_line("markers", "dispatch: the test needs calls to be placed")
    config.addinivalue_line("markers", "outcomes: the test needs the mock's outcome table")
    config.addinivalue_line("markers", "mock_only: the test inspects the mock's internals")
    try:
        target = parse_target(config.getoption("--target"))
        target.check_ready()
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.conformance_target = target
    config.conformance_coverage = Coverage()
    if target.kind == "cassette":
        # Replay only: any request that escapes the cassette hits a blocked network.
        config.option.block_network = True
        config.option.record_mode = "none"


def _cassette_path(target: Target, item) -> Path:
    return CASSETTES / target.vendor / Path(str(item.fspath)).stem / f"{item.name}.yaml"


def _targeted(item) -> bool:
    rel = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
    return rel.startswith(TARGETED)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    target: Target = config.conformance_target
    by_id = {item.nodeid: item for item in items}
    collected_files = {item.nodeid.split("::")[0] for item in items}
    deviations = list(target.deviations_profile.deviations)
    if os.environ.get("CONFORMANCE_DEVIATIONS"):
        from conformance.profiles import ProfileError, load_deviations_file

        try:
            deviations += load_deviations_file(os.environ["CONFORMANCE_DEVIATIONS"])
        except ProfileError as exc:
            raise pytest.UsageError(str(exc)) from None
    for deviation in deviations:
        item = by_id.get(deviation.node_id)
        if item is None:
            if deviation.node_id.split("::")[0] in collected_files or not items:
                raise pytest.UsageError(
                    f"known deviation {deviation.node_id!r} of {target.deviations_profile.name} "
                    "matches no collected test")
            continue
        item.add_marker(pytest.mark.xfail(
            strict=True, reason=f"known deviation: {deviation.reason} ({deviation.issue})"))
    if target.kind == "cassette" or (target.kind == "live" and _recording(config)):
        for item in items:
            # Fuzzing is not recorded (tests/contract/conftest.py skips it with its reason).
            if not _targeted(item) or "mock_only" in item.keywords or "/contract/" in item.nodeid:
                continue
            item.add_marker(pytest.mark.vcr)
            if target.kind == "cassette" and not _cassette_path(target, item).exists():
                item.add_marker(pytest.mark.skip(
                    reason="no cassette: the test was skipped or not run when recording"))


# --- target, spec, clients -------------------------------------------------------------


@pytest.fixture(scope="session")
def target(request) -> Target:
    """The target chosen by --target."""
    return request.config.conformance_target


@pytest.fixture(scope="session")
def api(target) -> Api:
    """The dialect's paths (api.submit(), api.get(id), ...)."""
    return Api(target.profile)


@pytest.fixture(scope="session")
def validator(request, target) -> ResponseValidator:
    """Validates every response against the target's dialect of the spec."""
    from conformance.spec import load_spec

    return ResponseValidator(load_spec(target.vendor), request.config.conformance_coverage)


@pytest.fixture(scope="session", autouse=True)
def _suite_properties(record_testsuite_property, target, request):
    record_testsuite_property("target", target.text)
    yield
    record_testsuite_property("coverage", request.config.conformance_coverage.as_json())


@pytest.fixture
def mock_app(target):
    """A fresh in-process mock per test (only on the mock target)."""
    if target.kind != "mock":
        return None
    return build_mock_app(target)


@pytest.fixture
def mock_store(target, mock_app):
    """The in-process mock's store, for tests that move its clock."""
    if target.kind != "mock":
        pytest.skip("inspects the in-process mock")
    return mock_app.state.store


RECORDED_RUN_ID = "recorded"  # cassettes are recorded and replayed under this run id


def _recording(config) -> bool:
    return (config.getoption("--record-mode", None) or "none") != "none"


@pytest.fixture(scope="session")
def run_id(request, target) -> str:
    """This run's id; every batch name starts with its prefix so leftovers can be swept.
    Recording and replaying cassettes use a fixed one, so replayed names echo as recorded."""
    from conformance.safety import new_run_id

    if target.kind == "cassette" or (target.kind == "live" and _recording(request.config)):
        return RECORDED_RUN_ID
    return os.environ.get("API_RUN_ID") or new_run_id()


@pytest.fixture(scope="session")
def name_prefix(run_id) -> str:
    from conformance.safety import name_prefix as prefix

    return prefix(run_id)


@pytest.fixture(scope="session")
def safety(request, target, name_prefix):
    """The live-safety guard every live request passes through (None elsewhere)."""
    if target.kind != "live":
        yield None
        return
    from urllib.parse import urlsplit

    from conformance.safety import SafetyPolicy, SafetyTransport

    policy = SafetyPolicy(
        name_prefix=name_prefix, base_path=target.profile.base_path,
        allowed_hosts=frozenset({urlsplit(target.base_url).hostname}),
        allow_dispatch=request.config.getoption("--allow-dispatch"),
        max_batches=int(os.environ.get("API_LIVE_MAX_BATCHES", "200")),
        max_recipients=int(os.environ.get("API_LIVE_MAX_RECIPIENTS", "1000")))
    transport = SafetyTransport(httpx.HTTPTransport(), policy)
    yield transport
    transport.close()


@pytest.fixture
def client_for(target, validator, mock_app, safety) -> Callable[..., httpx.Client]:
    """Factory: a validating client with a given key (`""` sends none)."""
    clients: list[httpx.Client] = []

    def make(api_key: str | None = None) -> httpx.Client:
        client = make_client(target, validator=validator, api_key=api_key, app=mock_app,
                             transport=safety)
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
        pytest.skip(f"needs a second key: set {target.vendor.upper()}_OTHER_API_KEY")
    return client_for(target.other_api_key)


# --- time, outcomes, batches -------------------------------------------------------------


@pytest.fixture
def now(target, mock_app, client, api) -> Callable[[], int]:
    """The target's current unix time: the mock's clock in-process, else the server's own
    `Date` header (a vendor's clock, or a served mock's sped-up one)."""
    if target.kind == "mock":
        return mock_app.state.store.now

    def server_now() -> int:
        date = client.get(api.list(), params={"limit": 1}).headers.get("date")
        return int(parsedate_to_datetime(date).timestamp()) if date else int(time.time())

    return server_now


@pytest.fixture
def eventually(target, mock_app):
    """Wait for `predicate()` to return a truthy value: the mock's clock advances, cassettes
    replay the recorded polls, live polls with backoff until a deadline."""

    def wait(predicate, *, within: int = 3600, step: int = 5, what: str = "the condition"):
        if target.kind == "mock":
            store = mock_app.state.store
            for _ in range(within // step + 1):
                value = predicate()
                if value:
                    return value
                store.advance(step)
            raise AssertionError(f"{what} did not happen within {within}s of mock time")
        deadline = time.monotonic() + LIVE_DEADLINE
        delay = 0.2
        polls = 0
        while True:
            value = predicate()
            polls += 1
            if value:
                return value
            if target.kind == "cassette":
                if polls > 10_000:
                    raise AssertionError(f"{what}: cassette replay never reached it")
                continue
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what} did not happen within {LIVE_DEADLINE}s on {target.text}")
            time.sleep(delay)
            delay = min(delay * 1.5, LIVE_POLL_MAX)

    return wait


class Numbers:
    """Fictional numbers (+1 NPA 555-01XX) by the outcome the mock's table gives them."""

    def __init__(self, named: dict[str, str]):
        self.__dict__.update(named)

    @staticmethod
    def completing(count: int) -> list[str]:
        """`count` distinct numbers that complete (XX = 00..09, area codes 201, 202, ...)."""
        return [f"+1{201 + i // 10:03d}55501{i % 10:02d}" for i in range(count)]


@pytest.fixture(scope="session")
def numbers() -> Numbers:
    """Fictional numbers by outcome: numbers.fails, numbers.completes, numbers.completing(n)."""
    from conformance.mock.outcomes import NUMBERS

    return Numbers(NUMBERS)


@pytest.fixture
def foreign_id_allowed(target):
    """Skip on live: the guard never sends cancel, retry or delete for an id this run did not
    create (an unknown id could be somebody's real batch)."""
    if target.kind == "live":
        pytest.skip("the live guard refuses mutations of batches this run did not create")


@pytest.fixture
def needs_outcomes(request, target):
    """Skip unless the target follows the mock's outcome table."""
    if target.kind == "live" and not request.config.getoption("--mock-outcomes"):
        pytest.skip("needs controlled call outcomes: only the mock (or --mock-outcomes) has them")


@pytest.fixture(scope="session")
def agent_id(target) -> str:
    """The agent batches are submitted for (live: <VENDOR>_AGENT_ID)."""
    if target.kind == "live":
        return os.environ.get(f"{target.vendor.upper()}_AGENT_ID", "agent_conformance_0001")
    return "agent_conformance_0001"


@pytest.fixture(scope="session")
def other_agent_id(target) -> str:
    """A second agent, for filtering (live: <VENDOR>_OTHER_AGENT_ID)."""
    if target.kind == "live":
        return os.environ.get(f"{target.vendor.upper()}_OTHER_AGENT_ID", "agent_conformance_0002")
    return "agent_conformance_0002"


@pytest.fixture
def ledger(target, client_for, api, safety):
    """Every batch a test creates; on live all are cancelled and deleted at teardown, even
    when the test fails (the guard's own ledger also holds any batch a test forgot)."""
    created: list[str] = []
    yield created
    if safety is None:
        return
    from conformance.safety import cleanup

    for batch_id in created:
        safety.ledger.record(batch_id)
    report = cleanup(client_for(), safety.ledger, api.base)
    assert not report.failed, f"could not clean up: {report.failed}"


@pytest.fixture
def submit_batch(request, target, client, api, ledger, name_prefix, now, numbers, agent_id):
    """Factory: submit a batch of fictional recipients and return the response body.

    `scheduled_in` (seconds) schedules ahead; `dispatch=True` starts it now, which on a live
    target needs --allow-dispatch (the test is skipped otherwise).
    """
    counter = iter(range(1, 10_000))

    def submit(recipients=2, *, scheduled_in: int | None = None, dispatch: bool = False,
               via: httpx.Client | None = None, expect: int = 200, **fields) -> dict:
        if dispatch and target.kind == "live" and not request.config.getoption(
                "--allow-dispatch"):
            pytest.skip("places calls: run with --allow-dispatch against a live target")
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
                body["scheduled_time_unix"] = now() + FAR_FUTURE
        response = (via or client).post(api.submit(), json=body)
        assert response.status_code == expect, response.text
        batch = response.json()
        if expect == 200:
            ledger.append(batch["id"])
        return batch

    return submit


# --- report details ------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call":
        return
    doc = (getattr(item.function, "__doc__", None) or "").strip().splitlines()
    if doc:
        item.user_properties.append(("requirement", doc[0]))
    if report.failed:
        validator = item.funcargs.get("validator") if hasattr(item, "funcargs") else None
        last = validator.last if validator is not None else None
        if last is not None:
            req, resp = last.describe()
            item.user_properties.append(("request", req))
            item.user_properties.append(("response", resp))
        exc = call.excinfo.value if call.excinfo else None
        if isinstance(exc, ContractViolation):
            rule = "schema: " + str(exc).splitlines()[1].strip()
        else:
            rule = getattr(exc, "rule", None) or (doc[0] if doc else "")
        item.user_properties.append(("violated_rule", rule))
    report.user_properties = list(item.user_properties)


# --- cassettes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vcr_config(target):
    """Keys never reach a cassette; requests match on method, path and query only."""
    return {
        "filter_headers": [target.profile.auth_header, "authorization", "cookie"],
        "match_on": ["method", "path", "query"],
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request, target):
    """cassettes/<vendor>/<module>/."""
    return str(CASSETTES / target.vendor / Path(str(request.node.fspath)).stem)
