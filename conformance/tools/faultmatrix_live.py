"""The fault matrix through the live path: each named fault of the mock, served on loopback,
tested as `live:elevenlabs` by its known catchers, in safe mode first and, when a safe client
cannot see it, with `--allow-dispatch --mock-outcomes`; under the default choices and under
the alternate set (a fault is a bug whatever the server chose where the vendor is silent).

    python -m conformance.tools.faultmatrix_live [--choices default|alternate] [--fault NAME]

Each wait is bounded at 45 s (an hour of the served mock's time, which runs 60x): a fault
that stops a batch from finishing makes its catchers wait that long, not the default 10 min.
A fault counts as caught when one of its catchers fails, or (for a catcher of an inferred
requirement, which a vendor target reports instead of failing) differs from our inference.
The clean mock must pass every catcher in every mode. Writes reports/faults-live-<set>.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from conformance.mock.app import create_app
from conformance.mock.clock import WallClock
from conformance.mock.faults import FAULTS
from conformance.mock.server import served
from conformance.report.junit import load_junit
from conformance.targets import MOCK_KEYS
from conformance.tools.faultmatrix import LEAN, ROOT, load_matrix
from conformance.tools.liveproof import TIME_SCALE, live_env

#: (label, extra arguments, extra environment) of each way a catcher is run.
MODES: tuple[tuple[str, tuple[str, ...], dict[str, str]], ...] = (
    ("safe", (), {}), ("outcomes", ("--allow-dispatch", "--mock-outcomes"), {}),
    # 10,001 recipients in one submit: past the run's default cap of 1,000 by design.
    ("outcomes, cap 20,000", ("--allow-dispatch", "--mock-outcomes"),
     {"API_LIVE_MAX_RECIPIENTS": "20000"}))
#: Faults a broken server under the alternate choices shows no differently: the alternate
#: set itself cancels finished recipients (conformance/mock/README.md).
SAME_AS_ALTERNATE = {"alternate": {"finished-recipient-cancelled"}}


@dataclass
class LiveFaultRun:
    fault: str | None
    mode: str = ""
    failed: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def caught(self) -> bool:
        return bool(self.failed or self.differs)


def _run(fault: str | None, tests: list[str], choices: str, extra: tuple[str, ...],
         env: dict | None = None) -> LiveFaultRun:


    result = LiveFaultRun(fault)
    start = time.monotonic()
    app = create_app("elevenlabs", keys=list(MOCK_KEYS), clock=WallClock(TIME_SCALE),
                     faults=[fault] if fault else [], choices=choices)
    with served(app) as base_url, tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", *LEAN, "--target=live:elevenlabs",
             f"--junitxml={junit}", *extra, *tests],
            cwd=ROOT, env=live_env("elevenlabs", base_url, API_LIVE_DEADLINE="45",
                                   **(env or {})),
            capture_output=True, text=True, timeout=1200)
        result.seconds = time.monotonic() - start
        if proc.returncode not in (0, 1) or not junit.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            result.error = f"pytest exit {proc.returncode}: {' | '.join(tail)}"
            return result
        run = load_junit([str(junit)])[0]
    result.failed = [t.node_id for t in run.tests if t.outcome in ("FAIL", "ERROR")]
    result.differs = [t.node_id for t in run.tests if t.outcome == "DIFFERS"]
    return result


def catch(fault: str, tests: list[str], choices: str) -> LiveFaultRun:
    """The first mode in which the fault shows; the last run when none does."""
    for mode, extra, env in MODES:
        run = _run(fault, tests, choices, extra, env)
        run.mode = mode
        if run.caught or run.error:
            return run
    return run


def markdown(choices: str, clean: list[LiveFaultRun], runs: list[LiveFaultRun],
             skipped: set[str], seconds: float) -> str:
    caught = [r for r in runs if r.caught and not r.error]
    safe = [r for r in caught if r.mode == "safe"]
    lines = [f"# Fault matrix through the live path ({choices} choices)", "",
             f"**{len(caught)}/{len(runs)}** faults caught through `live:elevenlabs` against "
             f"the mock served on loopback: {len(safe)} by a safe client, "
             f"{len(caught) - len(safe)} only with dispatch and controlled outcomes (and, for "
             "10,001 recipients, a raised cap). Clean mock: "
             + ", ".join(f"{r.mode} {'ok' if not r.failed and not r.error else 'FAILS'}"
                         for r in clean) + f". {seconds:.0f}s.", "",
             "| fault | category | caught in | by |", "|---|---|---|---|"]
    for run in runs:
        how = (f"error: {run.error}" if run.error else
               ", ".join(f"`{n.split('::', 1)[1]}` (fails)" for n in run.failed[:3])
               + ", ".join(f"`{n.split('::', 1)[1]}` (differs)" for n in run.differs[:3])
               if run.caught else "**not caught**")
        lines.append(f"| `{run.fault}` | {FAULTS[run.fault or ''].category} | "
                     f"{run.mode if run.caught else '—'} | {how} |")
    for fault in sorted(skipped):
        lines.append(f"| `{fault}` | {FAULTS[fault].category} | — | the {choices} set does "
                     "what this fault does: nothing to break |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.tools.faultmatrix_live",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--choices", default="default", choices=("default", "alternate"))
    parser.add_argument("--fault", action="append", help="only these faults (repeatable)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--md", help="default reports/faults-live-<choices>.md")
    args = parser.parse_args(argv)
    known = load_matrix()
    skipped = SAME_AS_ALTERNATE.get(args.choices, set())
    faults = [f for f in (args.fault or list(FAULTS)) if f not in skipped]
    # Webhook faults need a receiver the vendor can reach: tests/self/test_webhook_live.py.
    faults = [f for f in faults if FAULTS[f].category != "webhooks"]
    start = time.monotonic()
    every = sorted({t for f in faults for t in known.get(f, [])})
    with ThreadPoolExecutor(args.workers) as pool:
        clean = list(pool.map(lambda m: _run(None, every, args.choices, m[1], m[2]), MODES))
        for run, (mode, _, _) in zip(clean, MODES, strict=True):
            run.mode = mode
        runs = list(pool.map(lambda f: catch(f, known[f], args.choices), faults))
    report = markdown(args.choices, clean, runs, skipped, time.monotonic() - start)
    md = Path(args.md or f"reports/faults-live-{args.choices}.md")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(report)
    print(report)
    problems = [f"clean mock, {r.mode}: {r.error or r.failed}" for r in clean
                if r.error or r.failed]
    problems += [f"{r.fault}: {r.error or 'not caught'}" for r in runs
                 if r.error or not r.caught]
    for problem in problems:
        print(f"faultmatrix_live: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
