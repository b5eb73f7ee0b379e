"""The fault matrix judged the way a user is judged: each named fault of the mock, served on
loopback, against `conformance run --target live:<dialect>` (the whole suite), in safe mode
first and, when a safe client cannot see it, with `--allow-dispatch --mock-outcomes` (and a
raised recipients cap); under the default choices and under the alternate set (a fault is a
bug whatever the server chose where the vendor is silent).

    python -m conformance.tools.faultmatrix_live [--choices default|alternate]
        [--dialect elevenlabs|voiceai] [--fault NAME] [--self-test]

What counts is what a CI gate reads: the exit code and the verdict line. A fault is caught
when a run ends NOT CONFORMANT (exit 1). COULD NOT RUN (exit 2) is never a catch: the suite
blamed itself for the server's bug. CONFORMANT with tests "differing from our inference" is a
catch only for the faults in INFERRED_ONLY, whose one broken requirement is honestly an
inference. The clean mock must be CONFORMANT in every mode. Each wait is bounded at 45 s (an
hour of the served mock's time, which runs 60x). Writes reports/faults-live-<set>.md
(reports/faults-live-<set>-voiceai.md for `--dialect voiceai`).

`--self-test` runs SELF_TEST, a small table of (fault, arguments, expected exit, expected
first words) that `make test` runs too (tests/self/test_faultmatrix_live.py).
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
from conformance.targets.base import WHATSAPP_PHONE_NUMBER_ID
from conformance.tools.faultmatrix import ROOT
from conformance.tools.liveproof import TIME_SCALE, live_env

#: (mode, `conformance run` arguments after `--`, extra environment)
MODES: tuple[tuple[str, tuple[str, ...], dict[str, str]], ...] = (
    ("safe", (), {}), ("outcomes", ("--allow-dispatch", "--mock-outcomes"), {}),
    # 10,001 recipients in one submit: past the run's default cap of 1,000 by design.
    ("outcomes, cap 20,000", ("--allow-dispatch", "--mock-outcomes"),
     {"API_LIVE_MAX_RECIPIENTS": "20000"}))
#: Faults a broken server under the alternate choices shows no differently: the alternate
#: set itself cancels finished recipients (conformance/mock/README.md).
SAME_AS_ALTERNATE = {"alternate": {"finished-recipient-cancelled"}}
#: Faults whose only broken requirement is an inference (a vendor may honestly differ): on a
#: live target they show as "differs", and CONFORMANT with differs counts as caught.
INFERRED_ONLY = {
    "cancel-finished-accepted": "CANCEL-5: whether a finished batch may be cancelled",
    "export-no-header": "EXPORT-1: the export's columns",
    "export-ignores-limit": "EXPORT-2: what export's limit means",
    "finished-recipient-cancelled": "CANCEL-4: a finished call keeps its outcome on cancel",
    # The export's CSV is undocumented (its columns and rows are our reading of get).
    "export-status-disagrees": "EXPORT-3: export's rows agree with get",
    "export-drops-cancelled": "EXPORT-3: export's rows agree with get",
    "not-found-string-detail": "NOTFOUND-1: the body of a 404",
}
#: The sample `make test` runs: (fault or None, `conformance run` args, exit, first words).
#: `-x` stops at the first failure, as the project's stop hook does; a clean run takes one
#: module to stay quick.
SELF_TEST = (
    ("submit-201", ("--suite", "conformance_suite/scenarios/test_auth.py", "--", "-x"), 1,
     "NOT CONFORMANT"),
    # test_get's bodies never cancel: only the tear-down clean-up meets the broken cancel.
    ("cancel-undeclared-status", ("--suite", "conformance_suite/scenarios/test_get.py",
                                  "--", "-x"), 1, "NOT CONFORMANT"),
    ("cross-workspace-delete", ("--suite", "conformance_suite/scenarios/test_auth.py",
                                "--", "-k", "touch"), 1, "NOT CONFORMANT"),
    # Live fuzzing of export needs a batch of its own: the submit it makes is answered 201,
    # the server's failure in the same words as every scenario's (not a guard error, not a
    # second "problem" in Schemathesis' words).
    ("submit-201", ("--suite", "conformance_suite/contract/test_operations.py", "--", "-k",
                    "export"), 1,
     "NOT CONFORMANT: 1 distinct problem in 1 failing test; first: live:elevenlabs schema: "
     "submitBatchCall 201: status 201 is not documented"),
    (None, ("--suite", "conformance_suite/scenarios/test_delete.py"), 0, "CONFORMANT"),
)
LABELS = ("NOT CONFORMANT", "COULD NOT RUN", "CONFORMANT")


@dataclass
class UserRun:
    """One `conformance run` as a user runs it: its exit code and verdict line."""

    fault: str | None
    mode: str = ""
    code: int = -1
    line: str = ""
    failed: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def caught(self) -> bool:
        return self.code == 1 or (self.code == 0 and bool(self.differs)
                                  and self.fault in INFERRED_ONLY)


def verdict_line(output: str) -> str:
    """The verdict line `conformance run` prints last (or its one-line exit-2 reason)."""
    for line in reversed(output.splitlines()):
        if line.startswith(LABELS) or line.startswith("conformance:"):
            return line.strip()
    return (output.strip().splitlines() or [""])[-1]


def user_run(fault: str | None, args: tuple[str, ...] = (), *, choices: str = "default",
             dialect: str = "elevenlabs", env: dict[str, str] | None = None) -> UserRun:
    """Serve the mock (with `fault`) and run `conformance run --target live:<dialect>` at it."""
    result = UserRun(fault)
    start = time.monotonic()
    app = create_app(dialect, keys=list(MOCK_KEYS), clock=WallClock(TIME_SCALE),
                     faults=[fault] if fault else [], choices=choices)
    with served(app) as base_url, tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "conformance", "run", "--target", f"live:{dialect}",
             "--reports", tmp, *args],
            # The mock's WhatsApp number configured, as a user with WhatsApp batches does:
            # unset, the WhatsApp scenarios skip and the WhatsApp faults go unseen.
            cwd=ROOT, env=live_env(dialect, base_url, API_LIVE_DEADLINE="45",
                                   **{f"{dialect.upper()}_WHATSAPP_PHONE_NUMBER_ID":
                                      WHATSAPP_PHONE_NUMBER_ID}, **(env or {})),
            capture_output=True, text=True, timeout=1500)
        result.seconds = time.monotonic() - start
        result.code = proc.returncode
        result.line = verdict_line(proc.stdout + proc.stderr)
        junit = Path(tmp) / f"live-{dialect}.xml"
        if junit.exists():
            run = load_junit([str(junit)])[0]
            result.failed = [t.node_id for t in run.tests if t.outcome == "FAIL"]
            result.differs = [t.node_id for t in run.tests if t.outcome == "DIFFERS"]
    return result


def catch(fault: str, choices: str, dialect: str) -> UserRun:
    """The first mode whose run catches the fault; stops at an exit 2 (never a catch)."""
    for mode, extra, env in MODES:
        run = user_run(fault, ("--", *extra) if extra else (), choices=choices,
                       dialect=dialect, env=env)
        run.mode = mode
        if run.caught or run.code not in (0, 1):
            return run
    return run


def _how(run: UserRun) -> str:
    if run.code == 2:
        return f"**exit 2**: {run.line[:160]}"
    if run.code == 1:
        return f"exit 1: {run.line[:160]}"
    if run.caught:
        return f"exit 0, differs (inferred only: {INFERRED_ONLY[run.fault or '']})"
    return "**not caught**: " + (f"only differs ({len(run.differs)})" if run.differs
                                 else run.line[:120])


def markdown(choices: str, dialect: str, clean: list[UserRun], runs: list[UserRun],
             skipped: set[str], seconds: float) -> str:
    caught = [r for r in runs if r.caught]
    safe = [r for r in caught if r.mode == "safe"]
    exit2 = [r for r in runs if r.code == 2]
    lines = [f"# Fault matrix as a user runs it ({choices} choices, live:{dialect})", "",
             f"**{len(caught)}/{len(runs)}** faults caught by `conformance run --target "
             f"live:{dialect}` (the whole suite) against the mock served on loopback: "
             f"{len(safe)} in safe mode, {len(caught) - len(safe)} only with dispatch and "
             f"controlled outcomes; {len(exit2)} ended COULD NOT RUN. Clean mock: "
             + ", ".join(f"{r.mode} exit {r.code}" for r in clean) + f". {seconds:.0f}s.", "",
             "| fault | category | mode | exit | verdict |", "|---|---|---|---|---|"]
    for run in runs:
        lines.append(f"| `{run.fault}` | {FAULTS[run.fault or ''].category} | {run.mode} | "
                     f"{run.code} | {_how(run).replace('|', '/')} |")
    for fault in sorted(skipped):
        lines.append(f"| `{fault}` | {FAULTS[fault].category} | — | — | the {choices} set "
                     "does what this fault does: nothing to break |")
    return "\n".join(lines) + "\n"


def self_test(workers: int = 2) -> list[str]:
    """Run SELF_TEST; the problems (empty when every row ends as expected)."""
    def one(row):
        fault, args, code, words = row
        run = user_run(fault, args)
        ok = run.code == code and run.line.startswith(words)
        return "" if ok else (f"{fault or 'clean mock'} {' '.join(args)}: expected exit "
                              f"{code} '{words}...', got exit {run.code}: {run.line[:200]}")

    with ThreadPoolExecutor(workers) as pool:
        return [p for p in pool.map(one, SELF_TEST) if p]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.tools.faultmatrix_live",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--choices", default="default", choices=("default", "alternate"))
    parser.add_argument("--dialect", default="elevenlabs", choices=("elevenlabs", "voiceai"))
    parser.add_argument("--fault", action="append", help="only these faults (repeatable)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--self-test", action="store_true", help="only the SELF_TEST table")
    parser.add_argument("--md", help="default reports/faults-live-<choices>.md "
                        "(-<choices>-voiceai.md for the voiceai dialect)")
    args = parser.parse_args(argv)
    if args.self_test:
        problems = self_test(args.workers)
        for problem in problems:
            print(f"faultmatrix_live: {problem}", file=sys.stderr)
        print(f"self-test: {len(SELF_TEST) - len(problems)}/{len(SELF_TEST)} as expected")
        return 1 if problems else 0
    skipped = SAME_AS_ALTERNATE.get(args.choices, set())
    faults = [f for f in (args.fault or list(FAULTS)) if f not in skipped]
    # Webhook faults need a receiver the vendor can reach: tests/self/test_webhook_live.py.
    faults = [f for f in faults if FAULTS[f].category != "webhooks"]
    start = time.monotonic()
    with ThreadPoolExecutor(args.workers) as pool:
        clean = list(pool.map(
            lambda m: user_run(None, ("--", *m[1]) if m[1] else (), choices=args.choices,
                               dialect=args.dialect, env=m[2]), MODES))
        for run, (mode, _, _) in zip(clean, MODES, strict=True):
            run.mode = mode
        runs = list(pool.map(lambda f: catch(f, args.choices, args.dialect), faults))
    report = markdown(args.choices, args.dialect, clean, runs, skipped,
                      time.monotonic() - start)
    # One file per choice set and dialect: a voiceai run never overwrites elevenlabs' table.
    suffix = "" if args.dialect == "elevenlabs" else f"-{args.dialect}"
    md = Path(args.md or f"reports/faults-live-{args.choices}{suffix}.md")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(report)
    print(report)
    problems = [f"clean mock, {r.mode}: exit {r.code}: {r.line}" for r in clean if r.code != 0]
    problems += [f"{r.fault}: {_how(r)}" for r in runs if not r.caught]
    for problem in problems:
        print(f"faultmatrix_live: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
