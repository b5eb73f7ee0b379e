"""The fault matrix: run the suite against every named fault of the mock and see what catches it.

    python -m conformance.tools.faultmatrix            # full: every scenario test x every fault
    python -m conformance.tools.faultmatrix --quick    # only the tests known to catch each fault

The full run writes `conformance/mock/fault_matrix.json` (fault -> the tests that failed) and
`reports/faults.md`; the quick run reads that file and checks that each fault is still caught
by at least one of its catchers and that the clean mock passes them all. A fault with no
catcher, or missing from the file, fails both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from conformance.mock.faults import FAULTS

ROOT = Path(__file__).resolve().parents[2]
MATRIX_FILE = ROOT / "conformance" / "mock" / "fault_matrix.json"
DEFAULT_SUITE = ("conformance_suite/scenarios",)
QUICK_CATCHERS = 2  # tests per fault in a quick run (the first ones the full run saw fail)
# Plugins the scenario suite does not need: skipping them halves each run's start-up.
LEAN = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest")


@dataclass
class FaultRun:
    fault: str | None  # None: the clean mock
    failed: list[str] = field(default_factory=list)
    passed: int = 0
    error: str | None = None
    seconds: float = 0.0


def _node_id(case: ET.Element) -> str:
    """The test's id relative to the checkout's root (pytest may have named it relative to
    the suite's own folder when it read conformance_suite/pytest.ini)."""
    classname, name = case.get("classname", ""), case.get("name", "")
    path = "/".join(classname.split(".")) + ".py"
    if not (ROOT / path).exists() and (ROOT / "conformance_suite" / path).exists():
        path = "conformance_suite/" + path
    return f"{path}::{name}"


def run_suite(fault: str | None, tests: list[str], *, target: str = "mock",
              extra: tuple[str, ...] = ()) -> FaultRun:
    """Run `tests` against the mock (with `fault`) in a subprocess; collect the failures."""
    result = FaultRun(fault)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        which = f"{target}:{fault}" if fault else target
        command = [sys.executable, "-m", "pytest", "-q", *LEAN, f"--target={which}",
                   f"--junitxml={junit}", *extra, *tests]
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        result.seconds = time.monotonic() - start
        if proc.returncode not in (0, 1) or not junit.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            result.error = f"pytest exit {proc.returncode}: {' | '.join(tail)}"
            return result
        for case in ET.parse(junit).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                result.failed.append(_node_id(case))
            elif case.find("skipped") is None:
                result.passed += 1
    return result


def _progress(done: int, total: int, run: FaultRun) -> None:
    width = 24
    filled = width * done // total
    verdict = ("ERROR " + run.error if run.error else
               f"caught by {len(run.failed)} test(s)" if run.failed else "NOT CAUGHT")
    print(f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
          f"{run.fault or '(clean mock)'}: {verdict} ({run.seconds:.1f}s)", flush=True)


def run_matrix(faults: list[str], tests_for, *, workers: int = 2) -> tuple[FaultRun, list]:
    """The clean mock and every fault, `workers` subprocesses at a time."""
    jobs = [None, *faults]
    runs: list[FaultRun] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_suite, f, tests_for(f)) for f in jobs]
        for index, future in enumerate(futures, 1):
            run = future.result()
            _progress(index, len(jobs), run)
            runs.append(run)
    return runs[0], runs[1:]


def load_matrix() -> dict[str, list[str]]:
    return json.loads(MATRIX_FILE.read_text()) if MATRIX_FILE.exists() else {}


def markdown(clean: FaultRun, runs: list[FaultRun], seconds: float) -> str:
    caught = [r for r in runs if r.failed and not r.error]
    lines = [
        "# Fault matrix",
        "",
        f"Kill rate: **{len(caught)}/{len(runs)}** named faults caught "
        f"({100 * len(caught) // max(len(runs), 1)}%); clean mock: "
        f"{'no failure' if not clean.failed and not clean.error else 'FAILURES'} "
        f"({clean.passed} passed). Full matrix in {seconds:.0f}s.",
        "",
        "| fault | category | caught by |",
        "|---|---|---|",
    ]
    for run in runs:
        category = FAULTS[run.fault].category if run.fault else "—"
        if run.error:
            cell = f"error: {run.error}"
        elif run.failed:
            names = [n.split("::", 1)[1] for n in run.failed]
            cell = f"{len(names)}: " + ", ".join(f"`{n}`" for n in names[:4]) + (
                " …" if len(names) > 4 else "")
        else:
            cell = "**not caught**"
        lines.append(f"| `{run.fault}` | {category} | {cell} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.tools.faultmatrix",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="run only each fault's known catchers (from fault_matrix.json)")
    parser.add_argument("--fault", action="append", help="only these faults (repeatable)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="fault runs at a time (default: every core)")
    parser.add_argument("--suite", action="append",
                        help="test folders (default conformance_suite/scenarios)")
    parser.add_argument("--md", default="reports/faults.md")
    args = parser.parse_args(argv)
    faults = args.fault or list(FAULTS)
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        print(f"faultmatrix: unknown fault(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    start = time.monotonic()
    if args.quick:
        known = load_matrix()
        missing = [f for f in faults if not known.get(f)]
        if missing:
            print(f"faultmatrix: no known catcher for {', '.join(missing)}: run the full "
                  "matrix (make faults)", file=sys.stderr)
            return 1
        picked = {f: known[f][:QUICK_CATCHERS] for f in faults}
        every = sorted({t for f in faults for t in picked[f]})
        clean, runs = run_matrix(faults, lambda f: picked[f] if f else every,
                                 workers=args.workers)
    else:
        suite = args.suite or list(DEFAULT_SUITE)
        clean, runs = run_matrix(faults, lambda f: suite, workers=args.workers)
    seconds = time.monotonic() - start
    report = markdown(clean, runs, seconds)
    Path(args.md).parent.mkdir(parents=True, exist_ok=True)
    Path(args.md).write_text(report)
    print(report)
    if not args.quick and not args.fault and not clean.error and not clean.failed:
        MATRIX_FILE.write_text(json.dumps({r.fault: r.failed for r in runs}, indent=1,
                                          sort_keys=True) + "\n")
    problems = []
    if clean.error or clean.failed:
        problems.append(f"the clean mock fails: {clean.error or clean.failed}")
    problems += [f"{r.fault}: {r.error or 'not caught'}" for r in runs
                 if r.error or not r.failed]
    for problem in problems:
        print(f"faultmatrix: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
