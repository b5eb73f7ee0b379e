"""The suite split over machines (`--shard i/n`) and processes (pytest-xdist) reports what
one unsharded run reports: a two-shard run merged by the report equals one run, and the
suite properties (target, requirements, coverage, drift) reach the JUnit file under xdist.
Subprocess runs, each with its own JUnit file under tmp_path (ports are port 0)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conformance.report.junit import load_junit
from conformance_suite.parallel import balance, parse_shard

SUITE = ["conformance_suite/scenarios/test_cancel.py", "conformance_suite/scenarios/test_get.py"]


def _pytest(junit, *args):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *SUITE, "--target=mock", f"--junitxml={junit}", *args],
                          capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    return done


def _matrix(runs):
    return {run.target: sorted((t.node_id, t.outcome) for t in run.tests) for run in runs}


def _properties(junit):
    root = ET.parse(junit).getroot()
    return [p.get("name") for p in root.iter("property")
            if p.get("name") in ("target", "requirements", "coverage", "drift")]


# The module's runs share one unsharded serial run, on one xdist worker.
pytestmark = pytest.mark.xdist_group("parallel")


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    junit = tmp_path_factory.mktemp("serial") / "serial.xml"
    _pytest(junit)
    return junit


def test_two_shards_merged_equal_one_run(tmp_path, serial_run):
    one, two = (tmp_path / f"{n}.xml" for n in ("one", "two"))
    _pytest(one, "--shard", "1/2")
    _pytest(two, "--shard", "2/2")
    shards = [load_junit(p)[0] for p in (one, two)]
    ids = [{t.node_id for t in run.tests} for run in shards]
    assert ids[0] and ids[1] and not ids[0] & ids[1]          # disjoint, neither empty
    merged = load_junit([one, two])
    assert len(merged) == 1
    assert _matrix(merged) == _matrix(load_junit(serial_run))  # complete: the same matrix
    assert merged[0].coverage == load_junit(serial_run)[0].coverage


def test_xdist_keeps_the_suite_properties(tmp_path, serial_run):
    pytest.importorskip("xdist")
    parallel = tmp_path / "parallel.xml"
    _pytest(parallel, "-n", "2")
    assert set(_properties(parallel)) == {"target", "requirements", "coverage", "drift"}
    assert _properties(parallel).count("target") == 1
    assert _matrix(load_junit(parallel)) == _matrix(load_junit(serial_run))
    assert load_junit(parallel)[0].coverage == load_junit(serial_run)[0].coverage


@pytest.mark.parametrize("text", ["0/2", "3/2", "a/b", "1"])
def test_a_bad_shard_is_refused(text):
    with pytest.raises(pytest.UsageError, match="--shard"):
        parse_shard(text)


def test_a_bad_shard_is_a_usage_error():
    """Through pytest itself: exit 4 (usage error) and the option named."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           SUITE[0], "--target=mock", "--shard", "3/2"],
                          capture_output=True, text=True)
    assert done.returncode == 4 and "--shard" in done.stderr


def _first_chunks(order, workers):
    """The contiguous chunks worksteal first hands its idle workers: what is left divided
    by the workers still to serve (xdist's WorkStealingScheduling.check_schedule)."""
    chunks, at = [], 0
    for k in range(workers):
        size = (len(order) - at) // (workers - k)
        chunks.append(order[at:at + size])
        at += size
    return chunks


def _simulate_worksteal(order, workers, weight):
    """Each worker runs the chunk worksteal first hands it, in order, with no stealing: the
    time the last one finishes (what the ordering has to keep short)."""
    return max(sum(weight(x) for x in chunk) for chunk in _first_chunks(order, workers))


def test_long_tests_are_spread_over_the_workers_and_start_first():
    # Collection order as the suite has it: the long fuzz tests side by side, the two long
    # waits of a dispatch run at the end.
    weights = {**{f"fuzz{i}": 12.0 for i in range(7)}, "stateful": 24.0,
               **{f"short{i}": 1.0 for i in range(100)}, "scheduled": 65.0, "cancelled": 95.0}
    items = list(weights)
    order = balance(items, 8, weights.__getitem__)
    assert sorted(order) == sorted(items)           # a permutation: nothing lost or repeated
    assert order == balance(items, 8, weights.__getitem__)   # the same on every worker
    # Each of the eight long tests heads a chunk of its own, so all start at once ...
    heads = [chunk[0] for chunk in _first_chunks(order, 8)]
    assert set(heads) == {"cancelled", "scheduled", "stateful", *(f"fuzz{i}" for i in range(5))}
    # ... and the run lasts about as long as its longest test, not the sum of a queue.
    before = _simulate_worksteal(items, 8, weights.__getitem__)
    after = _simulate_worksteal(order, 8, weights.__getitem__)
    assert after < before
    assert after <= weights["cancelled"] + 13, after


def test_balance_keeps_worksteals_chunk_sizes_with_few_items():
    assert balance(["a"], 4, lambda x: 1.0) == ["a"]
    assert balance([], 3, lambda x: 1.0) == []
    assert sorted(balance(list("abcde"), 2, "edcba".index)) == list("abcde")
