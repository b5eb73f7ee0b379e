"""Wiring of the Schemathesis runs: which items run on which target, the per-case runner,
and the canary (an operation that never answered 2xx fails its test).

What a target lets the fuzzer do, it says itself (conformance.targets):
  in-process  every case starts from a fresh mock (`fuzz.World`), so Hypothesis sees a
              deterministic function of the generated input;
  live        requests go through the run's one guard (the `live_run` fixture); mutating
              operations are fuzzed only in a safe form (docs/fuzzing.md);
  replaying   skipped (CASSETTE_REASON).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import fuzz
from conformance.fuzz import _compat

HERE = Path(__file__).resolve().parent
CASSETTE_REASON = (
    "fuzzing is not replayed from cassettes: Schemathesis' coverage phase and its checks "
    "(ignored_auth, follow-up GETs) send requests that depend on the target's answers, so a "
    "recording is only replayable by the exact code that made it, and any change to the spec, "
    "the seed or Schemathesis invalidates every cassette. Fuzz the mock, or a live target.")
LIVE_UNSAFE_REASON = (
    "retry may dial at once: on a live target it is fuzzed only with --allow-dispatch (the "
    "guard refuses it otherwise)")
#: Live: fuzzed submits per operation test (the run's caps are 200 batches).
LIVE_SUBMITS = 6


def _is_contract(item) -> bool:
    return Path(str(item.fspath)).resolve().parent == HERE


def _dialect_of(item) -> str | None:
    """`test_operation[<dialect>][<METHOD> <path>]` -> dialect."""
    name = item.name
    if not name.startswith("test_operation["):
        return None
    return name[len("test_operation["):].split("]", 1)[0]


def _operation_of(item):
    label = getattr(item, "operation_label", None)
    if not label:
        return None
    method, _, path = label.partition(" ")
    found = item.config.conformance_target.api.route(path)
    return next((op for op, _ in found if op.method == method), None)


def pytest_itemcollected(item):
    """One node id per operation (see _compat.fix_operation_node_id)."""
    if _is_contract(item) and getattr(item, "operation_label", None):
        _compat.fix_operation_node_id(item)


def pytest_collection_modifyitems(config, items):
    target = config.conformance_target
    keep, drop = [], []
    for item in items:
        if not _is_contract(item):
            keep.append(item)
            continue
        dialect = _dialect_of(item)
        if dialect is not None and dialect != target.dialect:
            drop.append(item)
            continue
        keep.append(item)
        op = _operation_of(item)
        if target.replays:
            item.add_marker(pytest.mark.skip(reason=CASSETTE_REASON))
        elif op is not None and op.name == "retry" and not target.may_dispatch:
            item.add_marker(pytest.mark.skip(reason=LIVE_UNSAFE_REASON))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --- the per-case runner --------------------------------------------------------------


@pytest.fixture
def fuzz_case(request, target, name_prefix, live_run, agent_id, validator):
    """The runner for this operation's generated cases (one per test item)."""
    runner = fuzz.CaseRunner(target, name_prefix, live_run, agent_id=agent_id,
                             live_submits=LIVE_SUBMITS, validator=validator)
    request.node.stash[_RUNNER] = runner
    return runner


_RUNNER = pytest.StashKey[fuzz.CaseRunner]()


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    """The canary: once all of an operation's cases passed, it must have answered 2xx."""
    result = yield
    runner = pyfuncitem.stash.get(_RUNNER, None)
    if runner is not None and runner.operation is not None:
        verdict = runner.reach.verdict(runner.operation)
        if verdict is not None:
            raise AssertionError(verdict)
    return result
