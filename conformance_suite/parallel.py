"""The suite over several processes (pytest-xdist) and several machines (`--shard i/n`).

* `--shard i/n` (1 <= i <= n) keeps every n-th collected test, by node id: shard i runs
  the tests whose position in the node-id order is i-1 modulo n. Deterministic (the same
  checkout collects the same ids on every machine), disjoint and complete; each shard
  writes its own JUnit file and `conformance report` merges files of the same `target`
  (tests/self/test_parallel.py compares a merged two-shard run with an unsharded one).
* Under xdist, junitxml lives in the controller only, so a worker's
  `record_testsuite_property` is a no-op and the suite's properties (`target`,
  `requirements`, `coverage`, `drift`) would never reach the file. Each worker sends its
  own in `workeroutput`; the controller adds them to the file: `target` and
  `requirements` once, `coverage` and `drift` once per worker (its own tests' exchanges),
  which the report adds up as it does for shards. The workers' drift entries are also
  added to the controller's own record, so `--strict-drift` (judged at the controller's
  session end) still fails the run.
"""

from __future__ import annotations

import json

import pytest
from _pytest.junitxml import xml_key

from conformance import requirements as reqs
from conformance_suite.pressure_plugin import live_run_of, stats_property

_KEY = "conformance_suite_properties"


def pytest_addoption(parser):
    parser.getgroup("conformance").addoption(
        "--shard", default=None, metavar="I/N",
        help="run only shard I of N (every N-th test by node id), e.g. a CI matrix job")


def parse_shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 1 <= int(index) <= int(count):
        raise pytest.UsageError(f"--shard {text!r}: expected I/N with 1 <= I <= N")
    return int(index), int(count)


def pytest_collection_modifyitems(config, items):
    text = config.getoption("--shard")
    if not text:
        return
    index, count = parse_shard(text)
    order = {nodeid: at for at, nodeid in enumerate(sorted(i.nodeid for i in items))}
    kept = [i for i in items if order[i.nodeid] % count == index - 1]
    dropped = [i for i in items if order[i.nodeid] % count != index - 1]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


#: What a test without a `lasts` mark is taken to last (seconds): most scenarios make a
#: handful of requests.
DEFAULT_LASTS_S = 1.0


def lasts(item, *, dispatch: bool) -> float:
    """The test's own estimate of its length on a live target (its `lasts` mark)."""
    mark = item.get_closest_marker("lasts")
    if mark is None or (mark.kwargs.get("dispatch") and not dispatch):
        return DEFAULT_LASTS_S
    return float(mark.args[0])


def balance(items: list, workers: int, weight) -> list:
    """`items` reordered for xdist's worksteal over `workers`: chunk k (the sizes worksteal
    hands out first: what is left divided by the workers still idle) gets the next
    heaviest item while it has room and the least weight so far; heaviest first inside
    each chunk, so the long tests start at once and the short ones are what gets stolen."""

    sizes, left = [], len(items)
    for k in range(workers):
        sizes.append(left // (workers - k))
        left -= sizes[-1]
    chunks: list[list] = [[] for _ in sizes]
    load = [0.0] * workers
    for item in sorted(items, key=weight, reverse=True):   # stable: ties keep their order
        k = min((k for k in range(workers) if len(chunks[k]) < sizes[k]),
                key=lambda k: (load[k], k))
        chunks[k].append(item)
        load[k] += weight(item)
    return [item for chunk in chunks for item in chunk]


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_long_tests_first(config, items):
    # Workers only (they collect; the controller schedules what they collected). A worker
    # does not know the controller's `--dist`; the order is laid out for worksteal, which
    # `conformance run --workers` uses, and is as valid (if less useful) under the others.
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return
    dispatch = bool(config.getoption("--allow-dispatch", False))
    items[:] = balance(items, int(workerinput["workercount"]),
                       lambda item: lasts(item, dispatch=dispatch))


def suite_properties(config) -> list[tuple[str, str]]:
    """The properties the plugin's `_suite_properties` fixture records, from the same
    sources (this process's target, requirement table, coverage and drift)."""

    target = getattr(config, "conformance_target", None)
    if target is None:
        return []
    pressure = stats_property(config)
    run = live_run_of(config)
    refusals = [] if run is None else [("guard_refusals", str(len(run.ledger.refusals)))]
    return [("target", target.text), ("requirements", reqs.as_json(reqs.load())),
            ("coverage", config.conformance_coverage.as_json()),
            ("drift", config.conformance_drift.as_json()), *([pressure] if pressure else []),
            *refusals]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    config = session.config
    if hasattr(config, "workeroutput"):   # an xdist worker: hand them to the controller
        config.workeroutput[_KEY] = json.dumps(suite_properties(config))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """Controller: add a finished worker's suite properties to the JUnit file, and its
    drift to the controller's own record."""

    sent = getattr(node, "workeroutput", {}).get(_KEY)
    if not sent:
        return
    properties = json.loads(sent)
    drift = getattr(node.config, "conformance_drift", None)
    for name, value in properties:
        if name == "drift" and drift is not None:
            for e in json.loads(value):
                for _ in range(e["count"]):
                    drift.add(e["kind"], e["operation"], e["where"], e["first_seen"],
                              e.get("hint", ""))
    xml = node.config.stash.get(xml_key, None)
    if xml is None:
        return
    seen = {(name, value) for name, value in xml.global_properties}
    for name, value in properties:
        if name in ("target", "requirements") and (name, value) in seen:
            continue
        xml.add_global_property(name, value)
