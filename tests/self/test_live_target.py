"""The live target, proven against the mock served by uvicorn on loopback: the same scenario
files pass in both dialects, the guard refuses every unsafe request before it leaves, nothing
is left behind, the sweeper removes leftovers, and a missing key fails fast."""

from __future__ import annotations

import json
import sys
import time

import httpx
import pytest
from livehelp import finish, live_env, pytest_command, served_mock, start

from conformance.safety import SafetyPolicy, UnsafeRequest, guarded_client, name_prefix
from conformance.targets import MOCK_KEYS

DIALECTS = ("elevenlabs", "voiceai")
#: Held far enough ahead for the guard (30 days) and within its window (5 years).
FAR = int(time.time()) + 40 * 24 * 3600


@pytest.mark.slow
def test_the_whole_suite_passes_live_against_two_correct_servers(tmp_path):
    """Through the live path, the whole suite (scenarios and contract) against the mock with
    its default choices (safe mode, what a user points at staging) and against the alternate
    set (every undocumented choice flipped; dispatch and controlled outcomes): no failure, no
    error, no guard refusal, nothing left behind, and exactly the inferences the flipped
    choices contradict are reported as differing (conformance/tools/liveproof.py)."""
    from concurrent.futures import ThreadPoolExecutor

    from conformance.tools.liveproof import run_one

    plan = [("elevenlabs", "default", "safe"), ("voiceai", "alternate", "outcomes")]
    with ThreadPoolExecutor(len(plan)) as pool:
        results = list(pool.map(lambda p: run_one(*p, tmp_path), plan))
    for result in results:
        assert not result.problems, (result.dialect, result.choices, result.mode,
                                     result.problems)
        assert result.counts["PASS"] > 40 and result.guard_refusals == 0
    default, alternate = results
    assert default.differs == set()
    assert {"NOTFOUND-1", "CANCEL-5", "RETRY-4"} <= alternate.differs


@pytest.fixture(scope="module")
def served():
    with served_mock("elevenlabs") as (app, base_url):
        yield app, base_url


def _guarded(base_url, **policy):
    prefix = name_prefix("20261123t000000-abcd")
    pol = SafetyPolicy(name_prefix=prefix, base_path="/v1/convai/batch-calling",
                       allowed_hosts=frozenset({"127.0.0.1"}), **policy)
    return prefix, guarded_client(base_url, pol, headers={"xi-api-key": MOCK_KEYS[0]})


def _body(prefix, number="+14155550100", ahead=FAR, **extra):
    return {"call_name": f"{prefix}guard", "agent_id": "agent_conformance_0001",
            "recipients": [{"phone_number": number}], "scheduled_time_unix": ahead, **extra}


@pytest.mark.parametrize(("why", "change"), [
    ("a real phone number", {"number": "+14155552671"}),
    ("a schedule of now", {"ahead": None}),
    ("a name without the run prefix", {"name": "quarterly-survey"}),
])
def test_guard_refuses_unsafe_submits_before_they_leave(served, why, change):
    """An unsafe submit raises UnsafeRequest and never reaches the server."""
    app, base_url = served
    before = len(app.state.store.all_batches())
    prefix, client = _guarded(base_url)
    body = _body(prefix, change.get("number", "+14155550100"), change.get("ahead", FAR))
    if "name" in change:
        body["call_name"] = change["name"]
    with client, pytest.raises(UnsafeRequest):
        client.post("/v1/convai/batch-calling/submit", json=body)
    assert len(app.state.store.all_batches()) == before, why


def test_guard_caps_batches_per_run(served):
    """Past max_batches, the next submit is refused before it is sent."""
    app, base_url = served
    prefix, client = _guarded(base_url, max_batches=2)
    with client:
        ids = [client.post("/v1/convai/batch-calling/submit", json=_body(prefix)).json()["id"]
               for _ in range(2)]
        count = len(app.state.store.all_batches())
        with pytest.raises(UnsafeRequest):
            client.post("/v1/convai/batch-calling/submit", json=_body(prefix))
        assert len(app.state.store.all_batches()) == count
        for batch_id in ids:
            client.post(f"/v1/convai/batch-calling/{batch_id}/cancel")
            client.delete(f"/v1/convai/batch-calling/{batch_id}")


def test_guard_refuses_touching_batches_it_did_not_create(served):
    """Cancel or delete of another run's batch is refused; that batch stays as it was."""
    app, base_url = served
    foreign = httpx.post(f"{base_url}/v1/convai/batch-calling/submit",
                         headers={"xi-api-key": MOCK_KEYS[0]},
                         json=_body("someone-else-")).json()
    _, client = _guarded(base_url)
    with client:
        with pytest.raises(UnsafeRequest):
            client.post(f"/v1/convai/batch-calling/{foreign['id']}/cancel")
        with pytest.raises(UnsafeRequest):
            client.delete(f"/v1/convai/batch-calling/{foreign['id']}")
        assert client.get(f"/v1/convai/batch-calling/{foreign['id']}").json()[
            "status"] == "pending"


def test_guard_refuses_hosts_outside_the_policy(served):
    """A request to a host the policy does not name is refused (here: localhost by name)."""
    _, base_url = served
    prefix, client = _guarded(base_url.replace("127.0.0.1", "localhost"))
    with client, pytest.raises(UnsafeRequest):
        client.get("/v1/convai/batch-calling/workspace")


def test_sweeper_removes_leftovers_by_prefix(served):
    """`conformance sweep` cancels and deletes batches named with the prefix, and only those."""
    app, base_url = served
    store = app.state.store
    workspace = app.state.parts.auth.keys[MOCK_KEYS[0]]
    left = [store.submit(workspace, _body("cst-20200101t000000-dead-")).id for _ in range(3)]
    keep = store.submit(workspace, _body("production-")).id
    code, out = finish(start([sys.executable, "-m", "conformance", "sweep", "--target",
                              "live:elevenlabs"], live_env("elevenlabs", base_url)))
    assert code == 0, out
    remaining = {b.id for b in store.all_batches()}
    assert not set(left) & remaining
    assert keep in remaining
    assert "swept 3 batch(es)" in out


def _sweep_against(faults, dialect="elevenlabs", leftovers=2):
    """`conformance sweep` against the mock served with `faults`, holding `leftovers`
    batches of an interrupted run: (exit code, output, ids still stored)."""
    with served_mock(dialect, faults=faults) as (app, base_url):
        store = app.state.store
        workspace = app.state.parts.auth.keys[MOCK_KEYS[0]]
        for _ in range(leftovers):
            store.submit(workspace, _body("cst-20200101t000000-dead-"))
        code, out = finish(start([sys.executable, "-m", "conformance", "sweep", "--target",
                                  f"live:{dialect}"], live_env(dialect, base_url)))
        return code, out, {b.id for b in store.all_batches()}


@pytest.mark.parametrize(("fault", "dialect", "words"), [
    ("drop-agent-name", "elevenlabs", "'agent_name' is a required property"),
    ("created-at-as-string", "voiceai", "created_at_unix"),
])
def test_sweep_over_a_broken_list_answer_is_not_conformant(fault, dialect, words):
    """A list answer that breaks the spec is the server's failure: exit 1 and one line naming
    the operation, the requirement, the rule and the exchange; nothing is swept on it."""
    code, out, remaining = _sweep_against([fault], dialect)
    lines = [line for line in out.splitlines() if "NOT CONFORMANT" in line]
    assert code == 1, out
    assert len(lines) == 1 and "Traceback" not in out, out
    assert "listBatchCalls broke CONTRACT-1" in lines[0] and words in lines[0], lines[0]
    assert "GET http://127.0.0.1:" in lines[0] and "→ 200" in lines[0], lines[0]
    assert len(remaining) == 2, "a sweep over a list the server broke removed batches"


def test_sweep_over_a_list_answered_500_is_not_conformant_not_could_not_run():
    """A list answered with a status the spec does not document (500) was "sweep failed"
    (exit 2, the suite's trouble); it is the server's broken answer: exit 1, one line."""
    from starlette.responses import JSONResponse

    from conformance.mock.server import served as serve

    async def broken_list(scope, receive, send):
        await JSONResponse({"detail": "internal error"}, status_code=500)(scope, receive, send)

    with serve(broken_list) as base_url:
        code, out = finish(start([sys.executable, "-m", "conformance", "sweep", "--target",
                                  "live:elevenlabs"], live_env("elevenlabs", base_url)))
    assert code == 1 and "Traceback" not in out, out
    line = out.strip().splitlines()[-1]
    assert line.startswith("conformance sweep: NOT CONFORMANT: listBatchCalls broke "
                           "CONTRACT-1") and "status 500 is not documented" in line, line
    assert "→ 500" in line and "internal error" in line, line


def test_sweep_over_a_broken_cancel_answer_sweeps_and_is_not_conformant():
    """A cancel whose answer breaks the spec (an undeclared status) is charged to the server
    (exit 1, naming cancelBatchCall), and the sweep still deletes every leftover."""
    code, out, remaining = _sweep_against(["cancel-undeclared-status"])
    assert code == 1, out
    assert "swept 2 batch(es)" in out and not remaining, out
    line = next(line for line in out.splitlines() if "NOT CONFORMANT" in line)
    assert "cancelBatchCall broke CONTRACT-1" in line and "canceled" in line, line
    assert "(and 1 more broken answer)" in line, line


def test_sweep_of_a_correct_server_stays_exit_0_in_both_dialects():
    for dialect in DIALECTS:
        code, out, remaining = _sweep_against([], dialect)
        assert code == 0 and not remaining, (dialect, out)


def test_live_target_without_key_fails_fast_with_one_line():
    """No key: `conformance run` exits 2 with one line naming the variable; no traceback."""
    env = live_env("elevenlabs", "http://127.0.0.1:9")
    env.pop("ELEVENLABS_API_KEY")
    code, out = finish(start([sys.executable, "-m", "conformance", "run", "--target",
                              "live:elevenlabs"], env))
    assert code == 2
    assert "ELEVENLABS_API_KEY" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1
    code, out = finish(start(pytest_command("conformance_suite/scenarios",
                                            "--target=live:elevenlabs"), env))
    assert code != 0 and "ELEVENLABS_API_KEY" in out and "Traceback" not in out


def test_unknown_target_is_a_usage_error():
    """A target that names no kind or vendor exits 2 with the list of valid forms."""
    code, out = finish(start([sys.executable, "-m", "conformance", "run", "--target", "staging"]))
    assert code == 2 and "mock, mock:<fault>, cassette:<dialect> or live:<dialect>" in out
    assert json.dumps(out)  # printable, one message
