"""Wiring of the Schemathesis runs: which items run on which target, the per-case runner,
and the canary (an operation that never answered 2xx fails its test).

Targets:
  mock       every case starts from a fresh in-process mock (`fuzz.World`), so Hypothesis
             sees a deterministic function of the generated input;
  live       requests go through an httpx client whose transport is the SafetyTransport;
             mutating operations are fuzzed only in a safe form (docs/fuzzing.md);
  cassette   skipped (docs/fuzzing.md says why).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from conformance import fuzz
from conformance.targets import Target

HERE = Path(__file__).resolve().parent
CASSETTE_REASON = (
    "fuzzing is not replayed from cassettes: Schemathesis' coverage phase and its checks "
    "(ignored_auth, follow-up GETs) send requests that depend on the target's answers, so a "
    "recording is only replayable by the exact code that made it, and any change to the spec, "
    "the seed or Schemathesis invalidates every cassette. Fuzz the mock, or a live target.")
LIVE_UNSAFE_REASON = (
    "not fuzzed statelessly on a live target: a drawn batch_id names no batch of this run, "
    "and the safety transport refuses cancel/retry/delete of batches the run did not create; "
    "the stateful run exercises them on batches it submitted (tests/contract/test_stateful.py)")
#: Live: fuzzed submits per operation test and per stateful run (the safety policy's caps
#: are 20 batches / 50 recipients per run).
LIVE_SUBMITS = 6


def _is_contract(item) -> bool:
    return Path(str(item.fspath)).resolve().parent == HERE


def _dialect_of(item) -> str | None:
    """`test_operation[<dialect>][<METHOD> <path>]` -> dialect."""
    name = item.name
    if not name.startswith("test_operation["):
        return None
    return name[len("test_operation["):].split("]", 1)[0]


def _operation_of(item) -> str | None:
    label = getattr(item, "operation_label", None)
    if not label:
        return None
    method, _, path = label.partition(" ")
    from conformance.spec import find_operation, load_spec

    target: Target = item.config.conformance_target
    found = find_operation(load_spec(target.vendor), method, path.replace("{batch_id}", "x"))
    return found[1]["operationId"] if found else None


def pytest_itemcollected(item):
    """Schemathesis 4.32.5 under pytest 9 gives every operation's item the node id of the
    bare function (`...::test_operation`), so deviations could not name one operation and
    reports would merge them. Give each item the id its name says."""
    if _is_contract(item) and getattr(item, "operation_label", None):
        if item.nodeid != f"{item.parent.nodeid}::{item.name}":
            item._id = item.parent.id.child(item.name)


def pytest_collection_modifyitems(config, items):
    target: Target = config.conformance_target
    keep, drop = [], []
    for item in items:
        if not _is_contract(item):
            keep.append(item)
            continue
        dialect = _dialect_of(item)
        if dialect is not None and dialect != target.vendor:
            drop.append(item)
            continue
        keep.append(item)
        # Fuzz runs are neither recorded nor replayed (CASSETTE_REASON): drop the vcr marker
        # the root conftest gives every targeted test.
        item.own_markers[:] = [m for m in item.own_markers if m.name != "vcr"]
        if target.kind == "cassette":
            item.add_marker(pytest.mark.skip(reason=CASSETTE_REASON))
        elif target.kind == "live" and _operation_of(item) in (
                "cancelBatchCall", "retryBatchCall", "deleteBatchCall"):
            item.add_marker(pytest.mark.skip(reason=LIVE_UNSAFE_REASON))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --- live: the guarded client ---------------------------------------------------------


@pytest.fixture(scope="session")
def fuzz_live(request, target, name_prefix):
    """Live only: (guarded httpx client, its SafetyTransport); every batch it created is
    cancelled and deleted at the end of the session."""
    if target.kind != "live":
        yield None
        return
    from conformance.safety import SafetyPolicy, cleanup, guarded_client

    policy = SafetyPolicy(name_prefix=name_prefix, base_path=target.profile.base_path,
                          allowed_hosts=frozenset({urlsplit(target.base_url).hostname}),
                          allow_dispatch=request.config.getoption("--allow-dispatch"))
    client = guarded_client(target.base_url, policy, timeout=30.0)
    yield client
    # Same transport (same ledger), with the key: the fuzz client itself sends none by default.
    with httpx.Client(base_url=target.base_url, transport=client._transport, trust_env=False,
                      headers={target.profile.auth_header: target.api_key}) as owner:
        report = cleanup(owner, client._transport.ledger, target.profile.base_path)
    client.close()
    if not report.ok:
        pytest.fail(f"fuzz cleanup left batches behind: {report.failed}")


# --- the per-case runner --------------------------------------------------------------


@pytest.fixture
def fuzz_case(request, target, name_prefix, fuzz_live):
    """The runner for this operation's generated cases (one per test item)."""
    runner = fuzz.CaseRunner(target, name_prefix, fuzz_live, live_submits=LIVE_SUBMITS)
    request.node.stash[_RUNNER] = runner
    return runner


_RUNNER = pytest.StashKey[fuzz.CaseRunner]()


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    """The canary: once all of an operation's cases passed, it must have answered 2xx."""
    result = yield
    runner = pyfuncitem.stash.get(_RUNNER, None)
    if runner is not None and runner.operation is not None:
        statuses = runner.reach.statuses.get(runner.operation, {})
        pyfuncitem.user_properties.append(
            ("fuzz_statuses", " ".join(f"{k}:{v}" for k, v in sorted(statuses.items()))))
        verdict = runner.reach.verdict(runner.operation)
        if verdict is not None:
            raise AssertionError(verdict)
    return result
