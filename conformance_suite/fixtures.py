"""The suite's fixtures: each asks the target (conformance.targets) instead of testing its
kind. Registered by conformance_suite.plugin."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import httpx
import pytest

from conformance import requirements as reqs
from conformance.exchanges import BrokenAnswer, ResponseValidator
from conformance.fictional import fictional_number, fictional_numbers, fictional_whatsapp_id
from conformance.safety import name_prefix as prefix
from conformance.safety import new_run_id
from conformance.targets import RECORDED_RUN_ID, Target
from conformance_suite.plugin import (
    UNKNOWN_ID,
)
from conformance_suite.pressure_plugin import LIVE_RUN, slots_dir, stats_property

# --- target, spec, clients -------------------------------------------------------------


@pytest.fixture(scope="session")
def target(request) -> Target:
    """The target chosen by --target."""
    return request.config.conformance_target


@pytest.fixture(scope="session")
def api(target):
    """The dialect's operation table and paths (api.paths.submit(), api.paths.get(id), ...)."""
    return target.api


@pytest.fixture(scope="session")
def validator(request, target) -> ResponseValidator:
    """Validates every response against the target's dialect of the spec."""
    return ResponseValidator(target.spec, request.config.conformance_coverage,
                             target.redactor, request.config.conformance_drift)


@pytest.fixture(scope="session", autouse=True)
def _suite_properties(record_testsuite_property, target, request):
    record_testsuite_property("target", target.text)
    if request.config.getoption("--shard", None):
        # The report checks every shard of the split arrived (conformance.report.junit).
        record_testsuite_property("shard", request.config.getoption("--shard"))
    record_testsuite_property("requirements", reqs.as_json(reqs.load()))
    yield
    record_testsuite_property("coverage", request.config.conformance_coverage.as_json())
    record_testsuite_property("drift", request.config.conformance_drift.as_json())
    run = request.config.stash.get(_LIVE_RUN, None)
    if run is not None:
        # Requests the run's guard refused: each one is a defect of the suite (0 expected).
        record_testsuite_property("guard_refusals", str(len(run.ledger.refusals)))
    pressure = stats_property(request.config)
    if pressure is not None:   # how often the server pushed back, how long the run waited
        record_testsuite_property(*pressure)


@pytest.fixture(autouse=True)
def _own_record(request, validator):
    """Each test's exchanges are its own (a report never shows another test's request)."""
    validator.begin_test(request.node.nodeid)


@pytest.fixture(scope="session")
def run_id(target) -> str:
    """This run's id; every batch name starts with its prefix so leftovers can be swept.
    Recording and replaying cassettes use a fixed one, so replayed names echo as recorded."""

    if target.uses_cassettes:
        return RECORDED_RUN_ID
    return os.environ.get("API_RUN_ID") or new_run_id()


@pytest.fixture(scope="session")
def name_prefix(run_id) -> str:

    return prefix(run_id)


_LIVE_RUN = LIVE_RUN


@pytest.fixture(scope="session")
def live_run(request, target, run_id, name_prefix):
    """The run's one safety set-up (guard, ledger, caps), shared by every client; whatever it
    still holds at the end is cancelled and deleted."""
    # An xdist worker knows how many share the run (its config, not the environment, which a
    # subprocess would inherit): each gets an even share of the caps.
    workers = getattr(request.config, "workerinput", {}).get("workercount", 1)
    run = target.start_run(run_id, name_prefix, workers=workers,
                           slots_dir=slots_dir(request.config))
    if run is not None:
        request.config.stash[_LIVE_RUN] = run
    yield run
    failed = target.end_run(run)
    if failed:
        pytest.fail(f"clean-up left batches behind: {failed}")


@pytest.fixture
def mock_app(target):
    """A fresh in-process server per test, where the target has one (None elsewhere)."""
    return target.new_app()


@pytest.fixture
def client_for(target, validator, mock_app, live_run) -> Iterator[Callable[..., httpx.Client]]:
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


#: The most list pages one test walks (env API_LIVE_LIST_PAGES): a lived-in workspace holds
#: thousands of other batches, and no test's request count may grow with it.
LIST_WALK_PAGES = int(os.environ.get("API_LIVE_LIST_PAGES", "50"))


@pytest.fixture
def list_pages(request, api):
    """`list_pages(http, *, until=None, max_pages=LIST_WALK_PAGES, **params)`: the list's
    pages, following next_doc as last_doc, until the last page or `until(page)` is true.

    A bounded walk: tests list what the run controls (its agent's batches), and when the
    bound stops the walk before the list's end, the test is skipped with the reason (it could
    not judge), never failed. How much was walked is a property of the test ("list_walk")."""

    def pages(http: httpx.Client, *, until=None, max_pages: int = LIST_WALK_PAGES,
              **params) -> list[dict]:
        out: list[dict] = []
        cursor = None

        def walked(why: str) -> None:
            items = sum(len(p.get("batch_calls") or []) for p in out)
            request.node.user_properties.append(
                ("list_walk", f"{len(out)} page(s), {items} batch(es), {why}"))

        for _ in range(max_pages):
            page = http.get(api.paths.list(), params={**params, **({"last_doc": cursor}
                                                              if cursor else {})}).json()
            out.append(page)
            if until is not None and until(page):
                walked("found what it looked for")
                return out
            if not page["has_more"]:
                walked("to the end")
                return out
            assert page["next_doc"], "has_more is true but next_doc is empty"
            cursor = page["next_doc"]
        walked("stopped by its bound")
        pytest.skip(f"not judged: the list walk stopped at its bound of {max_pages} pages "
                    f"({sum(len(p['batch_calls']) for p in out)} batches) before the end of "
                    "the list (API_LIVE_LIST_PAGES)")

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

    @staticmethod
    def whatsapp(count: int) -> list[str]:
        """`count` distinct fictional WhatsApp user ids (a fictional number's digits)."""
        return [fictional_whatsapp_id(i) for i in range(count)]


@pytest.fixture(scope="session")
def numbers() -> Numbers:
    """Fictional numbers by outcome: numbers.fails, numbers.completes, numbers.completing(n)."""
    from conformance.mock.outcomes import (
        NUMBERS,  # lazy: the mock, only when the target is the mock
    )

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
def whatsapp_params(target) -> dict:
    """`whatsapp_params` of a WhatsApp batch: the vendor's WhatsApp number (live:
    <VENDOR>_WHATSAPP_PHONE_NUMBER_ID; unset: the test skips) and a call-permission template."""
    number_id = target.whatsapp_phone_number_id()
    if number_id is None:
        pytest.skip(f"WhatsApp batches name the vendor's WhatsApp number: set "
                    f"{target.env_name('WHATSAPP_PHONE_NUMBER_ID')}")
    return {"whatsapp_phone_number_id": number_id,
            "whatsapp_call_permission_request_template_name": "cst_call_permission",
            "whatsapp_call_permission_request_template_language_code": "en_US"}


@pytest.fixture
def ledger(target, client_for, live_run):
    """Every batch a test creates; the target removes them at teardown, even when the test
    fails (the run's guard also holds any batch a test forgot)."""
    created: list[str] = []
    yield created
    failed = target.cleanup(live_run, client_for(), created)
    assert not failed, f"could not clean up: {failed}"


@pytest.fixture
def recipients_allowance(live_run):
    """`allow(call_name, count)`: let the one submit named `call_name` carry `count`
    recipients beyond the run's cap, for a documented boundary (10,000). On by default up to
    API_LIVE_BOUNDARY_RECIPIENTS (10000; 0 turns it off and the test skips); the guard still
    refuses every other submit over the cap."""

    def allow(call_name: str, count: int) -> None:
        if live_run is None:
            return
        limit = int(os.environ.get("API_LIVE_BOUNDARY_RECIPIENTS", "10000"))
        if count > limit:
            pytest.skip(f"{count} recipients: above API_LIVE_BOUNDARY_RECIPIENTS={limit}")
        live_run.ledger.allow_recipients(call_name, count)

    return allow


@pytest.fixture
def submit_batch(request, target, client, api, ledger, name_prefix, now, numbers, agent_id,
                 validator):
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
        response = (via or client).post(api.paths.submit(), json=body)
        status = response.status_code
        if status != expect:
            why = f"a valid submit answered {status}, not {expect}"
            if status in (401, 403):  # the run's own key: configuration, not the server
                raise AssertionError(f"{why}: {response.text[:300]}")
            raise BrokenAnswer(f"{why}: {response.text[:300]}", requirement="SUBMIT-1",
                               rule=why, exchange=validator.last)
        batch = response.json()
        if expect == 200:
            ledger.append(batch["id"])
        return batch

    return submit


