"""`make mutants`: the suite's mutation score on generated mutants of the mock.

The fault matrix proves the suite catches the bugs we wrote on purpose; this measures it on
bugs nobody chose. Mutants of the mock's request handling (`conformance/mock/`: store,
shaping, validation, simulation, errors; not the admin API, not the faults) are generated
with Cosmic Ray's mutation operators (`cosmic_ray.mutating.mutate_code`, in memory). Cosmic
Ray's own runner is not used: it writes each mutant into the source file on disk and runs a
test command per mutant, which would change the tracked tree under every other process that
imports it, and it judges by the test command's exit alone. Here each mutant is applied to
one process only, through an import overlay (a `sitecustomize` on a temporary PYTHONPATH
that serves the mutated source for its one module), and judged as a user would judge it:

* **suite, mock target**: `conformance run --target mock -- -x` in the overlaid process,
  reduced fuzz profile (`CONFORMANCE_FUZZ=mutants`); killed = NOT CONFORMANT (exit 1);
  exit 2 ("could not run") is counted apart, never as a kill.
* **Schemathesis' CLI alone**: `st run` on the bundled spec, `--checks all`, every phase,
  against the served mutant (`python -m conformance.mock` in the overlaid process); killed =
  a failure (operation, check) that the same run against the correct mock does not report.
* **suite, live path** (a sample): `conformance run --target live:elevenlabs` (safe mode)
  against the served mutant, judged by its exit code.

Tests that never execute the mutated line cannot see it (every run is deterministic: a
manual clock in-process, a fixed seed and derandomized generation): a coverage pass of the
correct mock maps each line to the tests (and, for the CLI, the Schemathesis run) that
reach it; each mutant runs only the tests that reach it, and one that nothing reaches
survives without a run, reported as "not reached". Lines outside any function (run at
import) count as reached by every test.

Survivors are triaged by hand in `conformance/tools/mutants_triage.toml` (equivalent, with
a reason a person can check, or a gap with the test that closes it); the score's
denominator leaves out only the equivalent ones.

    python -m conformance.tools.mutants [--quick] [--limit N] [--live-sample N] [--jobs 2]
    MUTANTS=quick make mutants
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from conformance.profiles import load_profile

ROOT = Path(__file__).resolve().parents[2]
MOCK = ROOT / "conformance" / "mock"
SPEC = ROOT / "openapi" / "batch-calling.yaml"
TRIAGE = Path(__file__).with_name("mutants_triage.toml")
#: The mock's request handling (not app.py's routing and admin API, not the faults).
MODULES = ("store", "shaping", "validation", "simulation", "errors")
#: Cosmic Ray's core operators, one replacement per kind of site (selective mutation: the
#: full cross product of operator replacements multiplies the count by ten for little
#: more information). NumberReplacer yields +1 then -1 at each number; both are kept.
OPERATORS = (
    "ReplaceComparisonOperator_Eq_NotEq", "ReplaceComparisonOperator_NotEq_Eq",
    "ReplaceComparisonOperator_Lt_LtE", "ReplaceComparisonOperator_LtE_Lt",
    "ReplaceComparisonOperator_Gt_GtE", "ReplaceComparisonOperator_GtE_Gt",
    "ReplaceComparisonOperator_Is_IsNot", "ReplaceComparisonOperator_IsNot_Is",
    "ReplaceBinaryOperator_Add_Sub", "ReplaceBinaryOperator_Sub_Add",
    "ReplaceBinaryOperator_Mul_Div", "ReplaceBinaryOperator_Div_Mul",
    "ReplaceBinaryOperator_FloorDiv_Mul", "ReplaceBinaryOperator_Mod_Mul",
    "ReplaceBinaryOperator_Pow_Mul",
    "ReplaceAndWithOr", "ReplaceOrWithAnd", "ReplaceTrueWithFalse", "ReplaceFalseWithTrue",
    "ReplaceUnaryOperator_Delete_Not", "ReplaceUnaryOperator_USub_UAdd", "AddNot",
    "NumberReplacer", "ZeroIterationForLoop", "ReplaceBreakWithContinue",
    "ReplaceContinueWithBreak", "ExceptionReplacer",
)
QUICK_COUNT = 50
SEED = 20261203
EXIT_NAMES = {0: "CONFORMANT", 1: "NOT CONFORMANT", 2: "COULD NOT RUN"}


# --------------------------------------------------------------------------- mutants

@dataclass
class Mutant:
    module: str
    operator: str
    occurrence: int
    line: int
    before: str
    after: str
    in_function: bool
    scope: str = ""             # the enclosing class / function, "" at module level

    @property
    def id(self) -> str:
        return f"{self.module}:{self.operator}:{self.occurrence}"

    @property
    def key(self) -> str:
        """What the triage file names: stable while the line, its function and its
        mutation stay (line numbers are not: any edit above moves them)."""
        where = f"{self.module}.{self.scope}" if self.scope else self.module
        return f"{where}: {self.before.strip()} => {self.after.strip()}"


def _operator(name: str):
    from cosmic_ray.plugins import get_operator  # lazy: a test extra

    return get_operator(f"core/{name}")()


def _function_lines(source: str) -> set[int]:
    """Lines inside a function body (run when called, not at import)."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str) and len(node.body) > 1):
                first = node.body[1]
            lines.update(range(first.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _scopes(source: str) -> dict[int, str]:
    """Line -> qualified name of the innermost class or function around it."""
    out: dict[int, str] = {}

    def walk(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}.{child.name}" if prefix else child.name
                for line in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    out[line] = name
                walk(child, name)
            else:
                walk(child, prefix)
    walk(ast.parse(source), "")
    return out


def _annotation_lines(source: str) -> set[tuple[int, int]]:
    """(line, col) spans of annotations: lazy strings here (`from __future__ import
    annotations`), so a mutant there changes nothing any code runs."""
    spans: set[tuple[int, int]] = set()

    def add(node):
        if node is not None:
            for sub in ast.walk(node):
                if hasattr(sub, "lineno"):
                    spans.add((sub.lineno, sub.col_offset))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arg):
            add(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add(node.returns)
        elif isinstance(node, ast.AnnAssign):
            add(node.annotation)
    return spans


def _positions(source: str, operator) -> list[tuple[int, int]]:
    from cosmic_ray.ast import Visitor, get_ast  # lazy: a test extra

    found: list[tuple[int, int]] = []

    class Count(Visitor):
        def visit(self, node):
            for _ in operator.mutation_positions(node):
                found.append(node.start_pos)
            return node
    Count().walk(get_ast(source))
    return found


def mutated_source(module: str, operator: str, occurrence: int) -> str | None:
    from cosmic_ray.mutating import mutate_code  # lazy: a test extra

    source = (MOCK / f"{module}.py").read_text()
    return mutate_code(source, _operator(operator), occurrence)


def _changed_line(original: str, mutated: str) -> tuple[int, str, str]:
    a, b = original.splitlines(), mutated.splitlines()
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index + 1, x, y
    return min(len(a), len(b)), "", ""


def enumerate_mutants(modules=MODULES, operators=OPERATORS) -> list[Mutant]:
    """Every mutant of the operators over the modules, in a stable order. Mutants inside
    docstrings or annotations are left out (they change no code that runs)."""
    from cosmic_ray.mutating import mutate_code  # lazy: a test extra

    out: list[Mutant] = []
    for module in modules:
        source = (MOCK / f"{module}.py").read_text()
        inside = _function_lines(source)
        scopes = _scopes(source)
        annotations = _annotation_lines(source)
        for name in operators:
            operator = _operator(name)
            for occurrence, (line, col) in enumerate(_positions(source, operator)):
                if (line, col) in annotations:
                    continue
                try:
                    mutated = mutate_code(source, operator, occurrence)
                except AttributeError:      # ExceptionReplacer on `except (A, B)`
                    continue
                if mutated is None or mutated == source:
                    continue
                try:
                    compile(mutated, module, "exec")
                except SyntaxError:
                    continue
                changed, before, after = _changed_line(source, mutated)
                out.append(Mutant(module, name, occurrence, changed, before, after,
                                  changed in inside, scopes.get(changed, "")))
    return out


# --------------------------------------------------------------------------- overlay

#: Written as `sitecustomize.py` into a temporary folder put first on PYTHONPATH: the
#: process it starts imports the mutated source for one module, and nothing else changes.
#: With CONFORMANCE_MUTANTS_COVER it records which lines of the mock the process runs.
SHIM = '''\
import atexit, builtins, importlib.abc, importlib.util, json, os, sys

_spec = os.environ.get("CONFORMANCE_MUTANT")
if _spec:
    # ExceptionReplacer's mutants catch this instead of the original exception.
    builtins.CosmicRayTestingException = type("CosmicRayTestingException", (Exception,), {})
    _m = json.load(open(_spec))

    class _Loader(importlib.abc.Loader):
        def create_module(self, spec):
            return None

        def exec_module(self, module):
            module.__file__ = _m["origin"]
            exec(compile(_m["source"], _m["origin"], "exec"), module.__dict__)

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name != _m["module"]:
                return None
            return importlib.util.spec_from_loader(name, _Loader(), origin=_m["origin"])

    sys.meta_path.insert(0, _Finder())

_cover = os.environ.get("CONFORMANCE_MUTANTS_COVER")
if _cover:
    import coverage
    _cov = coverage.Coverage(data_file=_cover, include=[os.environ["CONFORMANCE_MUTANTS_INCLUDE"]])
    _cov.start()

    def _save():
        _cov.stop()
        _cov.save()
    atexit.register(_save)
    # uvicorn re-raises SIGTERM once shut down: exit through atexit, not the default kill.
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
'''


def make_overlay(folder: Path, mutant: Mutant | None, source: str | None = None) -> dict:
    """Environment entries that apply `mutant` (None: the correct mock) to a process."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SHIM)
    env = {"PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}
    if mutant is not None:
        spec = folder / "mutant.json"
        spec.write_text(json.dumps({
            "module": f"conformance.mock.{mutant.module}",
            "origin": str(MOCK / f"{mutant.module}.py"),
            "source": source or mutated_source(mutant.module, mutant.operator,
                                               mutant.occurrence)}))
        env["CONFORMANCE_MUTANT"] = str(spec)
    return env


def _clean_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONFORMANCE_MUTANT", "ELEVENLABS_", "VOICEAI_", "API_TARGET",
                                "PYTEST_"))}
    env["CONFORMANCE_FUZZ"] = "mutants"
    env.update(extra or {})
    return env


def _nice() -> list[str]:
    return ["nice", "-n", os.environ.get("MUTANTS_NICE", "15")] if shutil.which("nice") else []


# --------------------------------------------------------------------------- pytest plugin
# Loaded with `-p conformance.tools.mutants` in the suite's own pytest process: selects the
# tests that reach a mutant (CONFORMANCE_MUTANTS_SELECT) or records, per test, the lines of
# the mock it runs (CONFORMANCE_MUTANTS_MAP). It imports nothing of the mock itself.

_COV = None


def pytest_configure(config):
    global _COV
    path = os.environ.get("CONFORMANCE_MUTANTS_MAP")
    if path and _COV is None:
        import coverage  # lazy: a test extra

        _COV = coverage.Coverage(data_file=path, include=[str(MOCK / "*.py")])
        _COV.start()


def pytest_runtest_setup(item):
    if _COV is not None:
        _COV.switch_context(item.nodeid)


def pytest_unconfigure(config):
    global _COV
    if _COV is not None:
        _COV.stop()
        _COV.save()
        _COV = None


def pytest_collection_modifyitems(session, config, items):
    path = os.environ.get("CONFORMANCE_MUTANTS_SELECT")
    if not path:
        return
    wanted = set(json.loads(Path(path).read_text()))
    keep = [i for i in items if i.nodeid in wanted]
    drop = [i for i in items if i.nodeid not in wanted]
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


# --------------------------------------------------------------------------- runs

@dataclass
class Run:
    exit: int | None            # None: not run (nothing reaches the line) or timed out
    seconds: float = 0.0
    detail: str = ""            # the failing test's requirement, or the new findings
    timeout: bool = False

    @property
    def killed(self) -> bool:
        return self.exit == 1 or self.timeout


@dataclass
class Result:
    mutant: Mutant
    suite: Run
    cli: Run
    live: Run | None = None
    tests: int = 0              # how many of the suite's tests reach the line

    def as_json(self) -> dict:
        return {"mutant": asdict(self.mutant), "id": self.mutant.id, "key": self.mutant.key,
                "suite": asdict(self.suite), "cli": asdict(self.cli),
                "live": asdict(self.live) if self.live else None, "tests": self.tests}

    @classmethod
    def from_json(cls, data: dict) -> Result:
        mutant = Mutant(**data["mutant"])
        if not mutant.scope:      # a run before scopes were recorded: find its line again
            source = (MOCK / f"{mutant.module}.py").read_text()
            same = [i + 1 for i, text in enumerate(source.splitlines()) if text == mutant.before]
            if same:
                line = min(same, key=lambda n: abs(n - mutant.line))
                mutant.scope = _scopes(source).get(line, "")
        return cls(mutant, Run(**data["suite"]), Run(**data["cli"]),
                   Run(**data["live"]) if data.get("live") else None, data.get("tests", 0))


def _conformance(args: list[str], env: dict, timeout: float) -> tuple[int | None, float, str]:
    started = time.monotonic()
    try:
        proc = subprocess.run([*_nice(), sys.executable, "-m", "conformance", "run", *args],
                              env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - started, ""
    return proc.returncode, time.monotonic() - started, proc.stdout + proc.stderr


def _first_failure(junit_dir: Path) -> str:
    for path in sorted(junit_dir.glob("*.xml")):
        for case in ET.parse(path).iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                props = {p.get("name"): p.get("value") for p in case.iter("property")}
                return f"{props.get('requirement_id', '?')} {case.get('name')}"
    return ""


def run_suite(mutant: Mutant | None, tests: list[str] | None, work: Path,
              timeout: float, *, extra_pytest: tuple[str, ...] = ("-x",),
              source: str | None = None) -> Run:
    """`conformance run --target mock` with the mutant applied in the suite's process."""
    env = _clean_env(make_overlay(work / "overlay", mutant, source))
    if tests is not None:
        select = work / "select.json"
        select.write_text(json.dumps(tests))
        env["CONFORMANCE_MUTANTS_SELECT"] = str(select)
    reports = work / "suite"
    code, seconds, _out = _conformance(
        ["--target", "mock", "--reports", str(reports), "--",
         "-n", "0", "-q", "-p", "conformance.tools.mutants", *extra_pytest], env, timeout)
    if code is None:
        return Run(None, seconds, "timed out", timeout=True)
    return Run(code, seconds, _first_failure(reports) if code == 1 else "")


class Served:
    """The mock (mutated or not) served on a free loopback port in its own process."""

    def __init__(self, mutant: Mutant | None, work: Path, keys: list[str],
                 args: tuple[str, ...] = (), cover: Path | None = None,
                 source: str | None = None) -> None:
        from conformance.mock.server import free_port  # lazy: plugin loads no mock

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = _clean_env(make_overlay(work / "overlay", mutant, source))
        if cover is not None:
            env["CONFORMANCE_MUTANTS_COVER"] = str(cover)
            env["CONFORMANCE_MUTANTS_INCLUDE"] = str(MOCK / "*.py")
        command = [*_nice(), sys.executable, "-m", "conformance.mock", "--port",
                   str(self.port), "--no-access-log", *args]
        for key in keys:
            command += ["--key", key]
        self.log = open(work / f"served-{self.port}.log", "wb")
        self.proc = subprocess.Popen(command, env=env, cwd=work, stdout=self.log,
                                     stderr=self.log)

    def wait(self, path: str, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                httpx.get(self.url + path, timeout=2)
                return True
            except httpx.HTTPError:
                time.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


_CHECK = re.compile(r"^- (ST\d+|[A-Z]\w*) ?(.*)$")


def _cli_findings(report_dir: Path) -> set[str]:
    """(operation, check) pairs of the failures in Schemathesis' JUnit report."""
    found: set[str] = set()
    for path in report_dir.glob("*.xml"):
        for case in ET.parse(path).iter("testcase"):
            for failure in [*case.findall("failure"), *case.findall("error")]:
                text = (failure.get("message") or "") + "\n" + (failure.text or "")
                checks = set()
                for line in text.splitlines():
                    match = _CHECK.match(line.strip())
                    if match and match.group(1).startswith("ST"):
                        checks.add(match.group(1) + " " + match.group(2).strip())
                for check in checks or {"error " + text.strip().splitlines()[0][:80]
                                        if text.strip() else "error"}:
                    found.add(f"{case.get('name')}: {check}")
    return found


CLI_EXAMPLES = 10
#: Findings that depend on the machine's load, not on the server's code (a response-time
#: limit on a shared 2-core machine): shown, never counted as a kill.
CLI_TIMING = ("ST112",)


def run_cli(mutant: Mutant | None, work: Path, timeout: float, baseline: set[str] | None,
            cover: Path | None = None, source: str | None = None) -> tuple[Run, set[str]]:
    """Schemathesis' CLI alone (no project hooks: it runs from an empty folder) against
    the served mutant, every check and phase."""
    profile = load_profile("elevenlabs")
    key = "mutants-" + secrets.token_hex(6)
    served = Served(mutant, work, [key], ("--time-scale", "60"), cover=cover, source=source)
    started = time.monotonic()
    try:
        if not served.wait(profile.base_path + "/workspace"):
            return Run(2, time.monotonic() - started, "the served mutant did not start"), set()
        st = Path(sys.executable).with_name("st")
        report_dir = work / "st"
        empty = work / "cwd"
        empty.mkdir(exist_ok=True)
        command = [*_nice(), str(st), "run", str(SPEC), "--url", served.url,
                   "-H", f"{profile.auth_header}: {key}", "--checks", "all",
                   "--phases", "examples,coverage,fuzzing,stateful",
                   "--max-examples", str(CLI_EXAMPLES), "--seed", str(SEED),
                   "--generation-deterministic", "--continue-on-failure",
                   "--request-timeout", "30", "--report", "junit",
                   "--report-dir", str(report_dir)]
        try:
            proc = subprocess.run(command, cwd=empty, capture_output=True, text=True,
                                  timeout=timeout, env=_clean_env())
        except subprocess.TimeoutExpired:
            return Run(None, time.monotonic() - started, "timed out", timeout=True), set()
        findings = _cli_findings(report_dir)
        if proc.returncode not in (0, 1) and not findings:
            return Run(2, time.monotonic() - started,
                       (proc.stdout + proc.stderr).replace(key, "<key>")[-200:]), set()
        new = sorted(f for f in findings - (baseline or set())
                     if not any(f"{code} " in f for code in CLI_TIMING)) \
            if baseline is not None else []
        return Run(1 if new else 0, time.monotonic() - started, "; ".join(new)[:300]), findings
    finally:
        served.stop()


def run_live(mutant: Mutant | None, work: Path, timeout: float,
             source: str | None = None) -> Run:
    """The suite through the live path, safe mode, against the served mutant."""
    keys = ["mock-key-local", "mock-key-other"]
    served = Served(mutant, work, keys, source=source)
    try:
        if not served.wait("/v1/convai/batch-calling/workspace"):
            return Run(2, 0.0, "the served mutant did not start")
        env = _clean_env({"ELEVENLABS_BASE_URL": served.url, "ELEVENLABS_API_KEY": keys[0],
                          "ELEVENLABS_OTHER_API_KEY": keys[1]})
        reports = work / "live"
        code, seconds, out = _conformance(
            ["--target", "live:elevenlabs", "--reports", str(reports), "--", "-x"], env,
            timeout)
        if code is None:
            return Run(None, seconds, "timed out", timeout=True)
        detail = _first_failure(reports) if code == 1 else (
            out.strip().splitlines()[-1][:200] if code == 2 and out.strip() else "")
        return Run(code, seconds, detail)
    finally:
        served.stop()


# --------------------------------------------------------------------------- coverage map

@dataclass
class Reach:
    tests: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    all_tests: list[str] = field(default_factory=list)
    cli_lines: set[tuple[str, int]] = field(default_factory=set)

    def suite_tests(self, m: Mutant) -> list[str]:
        if not m.in_function:
            return self.all_tests
        return self.tests.get((m.module, m.line), [])

    def cli_reaches(self, m: Mutant) -> bool:
        return not m.in_function or (m.module, m.line) in self.cli_lines


def _read_coverage(path: Path) -> dict[tuple[str, int], set[str]]:
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


def build_reach(work: Path, timeout: float, *, cli: bool = True
                ) -> tuple[Reach, Run, Run, set[str]]:
    """Runs the correct mock once each way, recording what reaches which line: the suite
    (must be CONFORMANT) and the CLI (its findings there are the baseline)."""
    suite_dir = work / "baseline-suite"
    suite_dir.mkdir(parents=True)
    env = _clean_env(make_overlay(suite_dir / "overlay", None))
    env["CONFORMANCE_MUTANTS_MAP"] = str(suite_dir / "suite.coverage")
    reports = suite_dir / "suite"
    code, seconds, out = _conformance(
        ["--target", "mock", "--reports", str(reports), "--", "-n", "0", "-q",
         "-p", "conformance.tools.mutants"], env, timeout)
    suite = Run(code, seconds, "" if code == 0 else out[-2000:])
    reach = Reach()
    names: set[str] = set()
    for key, tests in _read_coverage(suite_dir / "suite.coverage").items():
        reach.tests[key] = sorted(tests)
        names.update(tests)
    reach.all_tests = sorted(names)
    if not cli:
        return reach, suite, Run(None, 0.0, "not run"), set()
    cli_dir = work / "baseline-cli"
    cli_dir.mkdir(parents=True)
    base, findings = run_cli(None, cli_dir, timeout, None, cover=cli_dir / "cli.coverage")
    reach.cli_lines = set(_read_coverage(cli_dir / "cli.coverage"))
    return reach, suite, base, findings


# --------------------------------------------------------------------------- the run

def run_one(m: Mutant, reach: Reach, baseline: set[str], work: Path, live: bool,
            timeout: float, previous: Result | None = None) -> Result:
    """The mutant through the suite, the CLI and (`live`) the live path. With `previous`
    (a re-run after new tests) only the suite runs again: the CLI and the live column
    are the previous run's."""
    work.mkdir(parents=True, exist_ok=True)
    source = mutated_source(m.module, m.operator, m.occurrence)
    tests = reach.suite_tests(m)
    try:
        if tests:
            suite = run_suite(m, tests, work, timeout, source=source)
        else:
            suite = Run(None, 0.0, "not reached by any test")
        if previous is not None:
            return Result(m, suite, previous.cli, previous.live, len(tests))
        if reach.cli_reaches(m):
            cli, _ = run_cli(m, work, timeout, baseline, source=source)
        else:
            cli = Run(None, 0.0, "not reached by the CLI's requests")
        live_run = run_live(m, work, timeout * 2, source) if live else None
        return Result(m, suite, cli, live_run, len(tests))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def select(mutants: list[Mutant], quick: bool, limit: int | None, seed: int) -> list[Mutant]:
    if quick or limit:
        count = min(limit or QUICK_COUNT, len(mutants))
        return sorted(random.Random(seed).sample(mutants, count),
                      key=lambda m: (MODULES.index(m.module), m.line, m.id))
    return mutants


def load_triage(path: Path = TRIAGE) -> dict[str, dict]:
    if not path.exists():
        return {}
    return {entry["mutant"]: entry for entry in tomllib.loads(path.read_text()).get("survivor", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mutants", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("MUTANTS", "").strip().lower() == "quick",
                        help=f"a fixed-seed sample of {QUICK_COUNT} mutants (MUTANTS=quick)")
    parser.add_argument("--limit", type=int, help="a fixed-seed sample of N mutants")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--module", action="append", choices=MODULES,
                        help="only these modules (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (max 2)")
    parser.add_argument("--live-sample", type=int, default=None,
                        help="how many mutants also go through the live path "
                             "(default 3 quick, 10 full)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds per run before a mutant counts as timed out (killed)")
    parser.add_argument("--rerun", metavar="JSON",
                        help="a previous run's mutants.json: run again only its survivors "
                             "(after new tests) and merge")
    parser.add_argument("--out", default="reports/mutants.md")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--render", metavar="JSON",
                        help="write the report of a previous run's mutants.json again "
                             "(after editing the triage) and exit")
    args = parser.parse_args(argv)
    if args.render:
        data = json.loads(Path(args.render).read_text())
        Path(args.out).write_text(render([Result.from_json(r) for r in data["results"]],
                                         data["meta"], load_triage()))
        print(f"mutants: wrote {args.out}")
        return 0
    jobs = max(1, min(args.jobs, 2))
    started = time.monotonic()
    everything = enumerate_mutants(tuple(args.module or MODULES))
    chosen = select(everything, args.quick, args.limit, args.seed)
    if args.list:
        for m in chosen:
            print(f"{m.id:55} L{m.line:<4} {m.before.strip()}  =>  {m.after.strip()}")
        print(f"{len(chosen)} of {len(everything)} mutants")
        return 0
    old_results: list[Result] = []
    old_meta: dict = {}
    again: dict[str, Result] = {}          # new mutant id -> the previous result it re-runs
    if args.rerun:
        old_results = [Result.from_json(r) for r in
                       json.loads(Path(args.rerun).read_text())["results"]]
        triage = load_triage()
        by_key: dict[str, list[Mutant]] = defaultdict(list)
        for m in everything:
            by_key[m.key].append(m)
        for r in old_results:
            if r.suite.killed or triage.get(r.mutant.key, {}).get("verdict") == "equivalent":
                continue
            found = [m for m in by_key.get(r.mutant.key, []) if m.id not in again]
            if found:   # the same edit of the same line, wherever the line is now
                m = min(found, key=lambda m: abs(m.line - r.mutant.line))
                again[m.id] = r
        chosen = [m for m in everything if m.id in again]
        args.live_sample = 0
    live_count = args.live_sample if args.live_sample is not None else (
        3 if args.quick else 10)
    live_ids = {m.id for m in random.Random(args.seed + 1).sample(
        chosen, min(live_count, len(chosen)))}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        work = Path(tmp)
        print(f"mutants: {len(chosen)} of {len(everything)} mutants; baseline runs of the "
              f"correct mock first", flush=True)
        reach, base_suite, base_cli, findings = build_reach(
            work / "baseline", args.timeout * 2, cli=not args.rerun)
        if base_suite.exit != 0:
            print(f"mutants: the suite is not CONFORMANT on the correct mock "
                  f"(exit {base_suite.exit}); no score:\n{base_suite.detail}", file=sys.stderr)
            return 2
        print(f"mutants: baseline suite {base_suite.seconds:.0f} s, CLI "
              f"{base_cli.seconds:.0f} s with {len(findings)} finding(s) on the correct mock",
              flush=True)
        live_base = None
        if live_ids:
            live_base = run_live(None, work / "baseline-live", args.timeout * 2)
            if live_base.exit != 0:
                print(f"mutants: the live path is not CONFORMANT on the correct mock "
                      f"(exit {live_base.exit}: {live_base.detail}); no live column",
                      file=sys.stderr)
                live_ids = set()
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            futures = {pool.submit(run_one, m, reach, findings, work / f"m{index}",
                                   m.id in live_ids, args.timeout, again.get(m.id)): m
                       for index, m in enumerate(chosen)}
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                result = future.result()
                results.append(result)
                print(f"mutants: [{done}/{len(chosen)}] {result.mutant.id} suite="
                      f"{_word(result.suite)} cli={_word(result.cli)}"
                      + (f" live={_word(result.live)}" if result.live else ""), flush=True)
    seconds = time.monotonic() - started
    if args.rerun:
        rerun = {id(again[r.mutant.id]): r for r in results}
        results = [rerun.get(id(r), r) for r in old_results]
        old_meta = json.loads(Path(args.rerun).read_text())["meta"]
    meta = {"quick": args.quick, "limit": args.limit, "seed": args.seed,
            "total_generated": len(everything), "seconds": round(seconds),
            "rerun_of": ({"seconds": (old_meta.get("rerun_of") or old_meta)["seconds"],
                          "command": (old_meta.get("rerun_of") or old_meta)["command"],
                          "reran": len(again)} if args.rerun else None),
            "jobs": jobs, "cli_examples": CLI_EXAMPLES, "rerun": bool(args.rerun),
            "baseline": {"suite_s": round(base_suite.seconds), "cli_s": round(base_cli.seconds),
                         "cli_findings": sorted(findings),
                         "live": asdict(live_base) if live_base else None},
            "command": "python -m conformance.tools.mutants " + " ".join(argv or sys.argv[1:])}
    if args.rerun:   # the sample, its CLI baseline and its live baseline are the first run's
        for name in ("quick", "limit", "seed", "total_generated"):
            meta[name] = old_meta[name]
        meta["baseline"]["cli_findings"] = old_meta["baseline"]["cli_findings"]
        meta["baseline"]["live"] = old_meta["baseline"]["live"]
    results.sort(key=lambda r: (MODULES.index(r.mutant.module), r.mutant.line, r.mutant.id))
    out.with_suffix(".json").write_text(json.dumps(
        {"meta": meta, "results": [r.as_json() for r in results]}, indent=1))
    out.write_text(render(results, meta, load_triage()))
    print(f"mutants: wrote {out} and {out.with_suffix('.json')} in {seconds:.0f} s")
    return 0


def _word(run: Run | None) -> str:
    if run is None:
        return "-"
    if run.timeout:
        return "killed(timeout)"
    if run.exit is None:
        return "not-reached"
    return {0: "survived", 1: "killed", 2: "exit2"}.get(run.exit, f"exit{run.exit}")


# --------------------------------------------------------------------------- report

def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f} %" if b else "n/a"


def render(results: list[Result], meta: dict, triage: dict[str, dict]) -> str:
    total = len(results)
    equivalent = {r.mutant.id for r in results
                  if not r.suite.killed and triage.get(r.mutant.key, {}).get("verdict")
                  == "equivalent"}
    suite_k = sum(r.suite.killed for r in results)
    cli_k = sum(r.cli.killed for r in results)
    non_eq = total - len(equivalent)
    lines = ["# Mutation score of the suite on the mock", ""]
    label = ("quick sample" if meta["quick"] else
            f"sample of {meta['limit']}" if meta["limit"] else "full run")
    first_run = meta.get("rerun_of") or meta
    lines += [f"{label}: {total} mutants of {meta['total_generated']} generated "
              f"(seed {meta['seed']}), {first_run['seconds']} s wall with {meta['jobs']} at "
              f"once; `{first_run['command'].strip()}`.", ""]
    if meta.get("rerun_of"):
        first = meta["rerun_of"]
        lines += [f"Re-run after new tests: the first run (`{first['command'].strip()}`, "
                  f"{first['seconds']} s) left {first['reran']} mutant(s) neither killed nor "
                  "triaged equivalent; those ran through the suite again on the current code "
                  f"(found again by their line and edit), in {meta['seconds']} s. Their CLI "
                  "and live columns, and every other row, are the first run's.", ""]
    lines += [
              "Mutants: Cosmic Ray's operators (`cosmic_ray.mutating.mutate_code`) over "
              f"`conformance/mock/{{{','.join(MODULES)}}}.py`; each applied to one process "
              "through an import overlay, never to the files on disk. Killed = the verdict a "
              "user sees: `conformance run` exit 1 (NOT CONFORMANT) for the suite, a failure "
              "the correct mock does not cause for Schemathesis' CLI (`st run --checks all`, "
              f"every phase, {meta['cli_examples']} examples per operation, no project "
              "hooks). A run past the time-out counts as killed and is marked. Exit 2 is "
              "never a kill.", ""]
    lines += ["## Score", "",
              "| | killed / total | killed / non-equivalent |", "|---|---|---|",
              f"| the suite (mock target) | {suite_k}/{total} ({_pct(suite_k, total)}) | "
              f"{suite_k}/{non_eq} ({_pct(suite_k, non_eq)}) |",
              f"| Schemathesis' CLI alone | {cli_k}/{total} ({_pct(cli_k, total)}) | "
              f"{cli_k}/{non_eq} ({_pct(cli_k, non_eq)}) |", ""]
    exit2 = [r for r in results if r.suite.exit == 2 or r.cli.exit == 2]
    timeouts = [r for r in results if r.suite.timeout or r.cli.timeout]
    lines += [f"Equivalent (triaged, below): {len(equivalent)}. Exit 2 (could not run) on "
              f"{len(exit2)} mutant(s); time-outs counted as kills: {len(timeouts)}.", ""]
    # per module
    lines += ["## Per module", "",
              "| module | mutants | equivalent | suite killed | CLI killed | suite only | "
              "CLI only | suite / non-equivalent |", "|---|---|---|---|---|---|---|---|"]
    for module in MODULES:
        rs = [r for r in results if r.mutant.module == module]
        if not rs:
            continue
        eq = sum(r.mutant.id in equivalent for r in rs)
        sk = sum(r.suite.killed for r in rs)
        ck = sum(r.cli.killed for r in rs)
        so = sum(r.suite.killed and not r.cli.killed for r in rs)
        co = sum(r.cli.killed and not r.suite.killed for r in rs)
        lines.append(f"| {module} | {len(rs)} | {eq} | {sk} | {ck} | {so} | {co} | "
                     f"{_pct(sk, len(rs) - eq)} |")
    lines.append("")
    # per requirement
    by_req = Counter(r.suite.detail.split(" ")[0] for r in results
                     if r.suite.exit == 1 and r.suite.detail)
    lines += ["## Per requirement", "",
              "Which requirement's test failed first (`-x`: a run stops at its first failure,"
              " so each kill is counted once, where the suite's order met it).", "",
              "| requirement | mutants killed first |", "|---|---|"]
    lines += [f"| {req} | {n} |" for req, n in sorted(by_req.items(), key=lambda x: (-x[1], x[0]))]
    lines.append("")
    # side by side
    both = sum(r.suite.killed and r.cli.killed for r in results)
    suite_only = [r for r in results if r.suite.killed and not r.cli.killed]
    cli_only = [r for r in results if r.cli.killed and not r.suite.killed]
    lines += ["## Side by side with Schemathesis' CLI", "",
              f"Both kill {both}; only the suite {len(suite_only)}; only the CLI "
              f"{len(cli_only)}; neither {total - both - len(suite_only) - len(cli_only)}.", "",
              "Correct-mock findings of the CLI (the baseline every mutant is compared with): "
              + ("; ".join(f"`{f}`" for f in meta["baseline"]["cli_findings"]) or "none")
              + ".", ""]
    if cli_only:
        lines += ["Killed by the CLI only:", ""]
        lines += [f"- `{r.mutant.id}` L{r.mutant.line} `{r.mutant.after.strip()}` — "
                  f"{r.cli.detail[:160]}" for r in cli_only]
        lines.append("")
    # live sample
    live = [r for r in results if r.live]
    if live:
        lines += ["## Live path sample", "",
                  "`conformance run --target live:elevenlabs` (safe mode, `-x`) against the "
                  "served mutant; the correct mock served the same way: "
                  + (_word_live(meta["baseline"]["live"]) if meta["baseline"]["live"] else "-")
                  + ".", "", "| mutant | line | mock target | live path | live detail |",
                  "|---|---|---|---|---|"]
        for r in live:
            assert r.live is not None
            lines.append(f"| `{r.mutant.id}` | {r.mutant.line} | {_word(r.suite)} | "
                         f"{_word_live(asdict(r.live))} | {r.live.detail[:80]} |")
        lines.append("")
    closed = [r for r in results if r.suite.killed
              and triage.get(r.mutant.key, {}).get("verdict") == "gap"]
    if closed:
        lines += ["## Gaps closed by tests written from the survivors", "",
                  "| mutant | diff | killed now by | the test |", "|---|---|---|---|"]
        for r in closed:
            diff = f"{r.mutant.before.strip()} => {r.mutant.after.strip()}".replace("|", "\\|")
            lines.append(f"| `{r.mutant.id}` | `{diff}` | {r.suite.detail} | "
                         f"{triage[r.mutant.key]['reason'].replace('|', '/')} |")
        lines.append("")
    # survivors
    survivors = [r for r in results if not r.suite.killed]
    lines += ["## Survivors and their triage", "",
              "Diff line as `before => after`. Verdicts come from "
              "`conformance/tools/mutants_triage.toml`; `untriaged` counts as a gap.", "",
              "| mutant | line | diff | suite | CLI | verdict | reason / test |",
              "|---|---|---|---|---|---|---|"]
    for r in survivors:
        t = triage.get(r.mutant.key, {})
        diff = f"{r.mutant.before.strip()} => {r.mutant.after.strip()}".replace("|", "\\|")
        reason = t.get("reason", "").replace("|", "\\|")
        lines.append(f"| `{r.mutant.id}` | {r.mutant.line} | `{diff}` | {_word(r.suite)} | "
                     f"{_word(r.cli)} | {t.get('verdict', 'untriaged')} | {reason} |")
    lines.append("")
    return "\n".join(lines)


def _word_live(live: dict) -> str:
    if live.get("timeout"):
        return "timed out"
    code = live.get("exit")
    return EXIT_NAMES.get(code, f"exit {code}") if isinstance(code, int) else f"exit {code}"


if __name__ == "__main__":
    sys.exit(main())
