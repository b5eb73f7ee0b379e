"""What reaches which line: the coverage map of the correct mock, taken by runs that are
also the baselines every mutant is judged against.

Tests that never execute the mutated line cannot see it (every run is deterministic: a
manual clock in-process, a fixed seed and derandomized generation), so each mutant runs only
the tests that reach its line, and Schemathesis' CLI only the phases whose requests reach it;
one that nothing reaches survives without a run ("not reached"). Lines that ran while the
modules were imported, and lines outside any function, count as reached by everything.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from conformance.tools.mutants import forked
from conformance.tools.mutants.generate import MOCK, MODULES, Mutant
from conformance.tools.mutants.runners import CLI_PHASES, Run, cli_phase, first_failure

#: The choice set that judges the lines the default set never runs (its branches: list
#: oldest first, cancel and retry accepted, voicemail not finished, scaled call times).
ALTERNATE = "alternate"


@dataclass
class Reach:
    tests: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    all_tests: list[str] = field(default_factory=list)
    cli_lines: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    #: Lines of the mutated modules that ran while the suite was imported (forked.prepare).
    import_lines: set[tuple[str, int]] = field(default_factory=set)
    #: Lines the suite's run ran outside any test (collection, session set-up).
    session_lines: set[tuple[str, int]] = field(default_factory=set)
    #: Mutant id -> the lines that read the module-level constant it changes (patching.rebind).
    readers: dict[str, set[int]] = field(default_factory=dict)
    #: The same map with the mock on another choice set (ALTERNATE), leaving out the tests
    #: that fail there on the correct mock (those whose inferred requirement the set flips).
    other_tests: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    other_failing: list[str] = field(default_factory=list)

    def unreached(self, m: Mutant) -> bool:
        """A line in a function that no test reaches with the default choices."""
        return not (self.everywhere(m) or m.id in self.readers or self.suite_tests(m))

    def other_choices_tests(self, m: Mutant) -> list[str]:
        """For an unreached line: the tests that reach it, and pass, on the alternate set."""
        return self.other_tests.get((m.module, m.line), []) if self.unreached(m) else []

    def everywhere(self, m: Mutant) -> bool:
        return not m.in_function or (m.module, m.line) in self.import_lines

    def patchable(self, m: Mutant) -> bool:
        """The fast path can apply it (patching.patch may still refuse)."""
        return not self.everywhere(m)

    def suite_tests(self, m: Mutant) -> list[str]:
        if m.id in self.readers:
            lines = {(m.module, n) for n in self.readers[m.id]}
            if lines & self.session_lines:
                return self.all_tests
            return sorted({t for key in lines for t in self.tests.get(key, [])})
        if self.everywhere(m) or (m.module, m.line) in self.session_lines:
            return self.all_tests
        return self.tests.get((m.module, m.line), [])

    def cli_phases(self, m: Mutant) -> list[str]:
        if m.id in self.readers:
            lines = {(m.module, n) for n in self.readers[m.id]}
            return [p for p in CLI_PHASES if lines & self.cli_lines.get(p, set())]
        return [p for p in CLI_PHASES
                if self.everywhere(m) or (m.module, m.line) in self.cli_lines.get(p, set())]


def read_coverage(path: Path) -> dict[tuple[str, int], set[str]]:
    """(module, line) -> the coverage contexts (test ids) that ran it."""
    import coverage  # lazy: a test extra

    data = coverage.CoverageData(basename=str(path))
    data.read()
    out: dict[tuple[str, int], set[str]] = defaultdict(set)
    for filename in data.measured_files():
        module = Path(filename).stem
        if Path(filename).parent != MOCK or module not in MODULES:
            continue
        for line, contexts in (data.contexts_by_lineno(filename) or {}).items():
            out[(module, line)].update(c for c in contexts if c)
    return out


def start_map(work: Path, choices: str | None = None) -> tuple[int, float]:
    """Start the whole suite on the correct mock in a forked child, every test, coverage per
    test (`finish_map` waits for it): (its pid, when it started). `choices`: on that choice
    set (`finish_other_map` waits for it)."""
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    pid = forked.fork(lambda: forked.suite_main(work / "suite", None,
                                                cover=work / "suite.coverage",
                                                first_failure_only=False, choices=choices),
                      work / "suite.log")
    return pid, started


def finish_other_map(work: Path, pid: int, started: float, timeout: float,
                     reach: Reach) -> Run:
    """The map on the alternate set: every test that passes there, by line. Its verdict is
    NOT CONFORMANT (the mock target enforces the inferred requirements the set flips); the
    tests that fail are left out of every mutant's run on that set."""
    data = work / "suite.coverage"
    code = forked.wait(pid, max(1.0, timeout - (time.monotonic() - started)))
    seconds = time.monotonic() - started
    failed = work / "suite" / "failed.json"
    if code not in (0, 1) or not failed.exists() or not data.exists():
        return Run(code, seconds, "the map on the alternate choices did not finish",
                   timeout=code is None)
    reach.other_failing = json.loads(failed.read_text())
    bad = set(reach.other_failing)
    for key, tests in read_coverage(data).items():
        keep = sorted(t for t in tests if t not in bad)
        if keep:
            reach.other_tests[key] = keep
    return Run(code, seconds)


def finish_map(work: Path, pid: int, started: float, timeout: float, reach: Reach) -> Run:
    """The mapping run's verdict (must be CONFORMANT: the baseline of every mutant on the
    fast path), and its map in `reach`."""
    data = work / "suite.coverage"
    code = forked.wait(pid, max(1.0, timeout - (time.monotonic() - started)))
    seconds = time.monotonic() - started
    if code != 0:
        log = (work / "suite.log").read_text(errors="replace") if (work / "suite.log").exists() \
            else ""
        return Run(code, seconds, first_failure(work / "suite") + "\n" + log[-2000:],
                   timeout=code is None)
    names: set[str] = set()
    for key, tests in read_coverage(data).items():
        if not tests:
            reach.session_lines.add(key)
        reach.tests[key] = sorted(tests)
        names.update(tests)
    reach.all_tests = sorted(names)
    return Run(0, seconds)


def map_cli(work: Path, timeout: float, reach: Reach
            ) -> tuple[dict[str, set[str]], float, dict[str, float]]:
    """Each CLI phase once against the correct mock (its findings: that phase's baseline),
    recording which lines its requests run."""
    findings: dict[str, set[str]] = {}
    seconds = 0.0
    each: dict[str, float] = {}
    for phase in CLI_PHASES:
        data = work / f"cli-{phase}.coverage"

        def serve(w, keys, args, data=data):
            return forked.ForkServed(w, keys, args, cover=data)
        run, found = cli_phase(serve, phase, work / f"cli-{phase}", timeout, None)
        seconds += run.seconds
        each[phase] = run.seconds
        if run.exit == 2 or run.timeout:
            raise RuntimeError(f"Schemathesis' CLI could not run its {phase} phase against the "
                               f"correct mock: {run.detail}")
        findings[phase] = found
        reach.cli_lines[phase] = set(read_coverage(data)) if data.exists() else set()
    return findings, seconds, each
