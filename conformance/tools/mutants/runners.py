"""The three judges of one mutant, each as a user meets it.

* the suite, mock target: `conformance run --target mock -- -x` (forked.suite_main in a
  patched child, or a fresh `conformance run` through the overlay); killed = exit 1;
* Schemathesis' CLI alone: `st run` on the bundled spec, `--checks all`, one phase per run
  against a freshly served mutant, from an empty folder (no project hooks); killed = a
  failure (operation, check) that the same phase against the correct mock does not report;
* the suite, live path (a sample): `conformance run --target live:elevenlabs` (safe mode)
  against the served mutant; killed = exit 1.
Exit 2 ("could not run") is never a kill; a run past its time-out is, and is marked.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import httpx

from conformance.profiles import load_profile
from conformance.tools.mutants.generate import ROOT, Mutant
from conformance.tools.mutants.overlay import clean_env, make_overlay, nice

SPEC = ROOT / "openapi" / "batch-calling.yaml"
SEED = 20261203
CLI_EXAMPLES = 10
#: Schemathesis' phases, each its own run (a mutant runs only those whose requests reach its
#: line on the correct mock), cheapest first.
CLI_PHASES = ("examples", "coverage", "stateful", "fuzzing")
#: Findings that depend on the machine's load, not on the server's code (a response-time
#: limit on a shared 2-core machine): shown, never counted as a kill.
CLI_TIMING = ("ST112",)
LIVE_KEYS = ["mock-key-local", "mock-key-other"]


@dataclass
class Run:
    exit: int | None            # None: not run (nothing reaches the line) or timed out
    seconds: float = 0.0
    detail: str = ""            # the failing test's requirement, or the new findings
    timeout: bool = False

    @property
    def killed(self) -> bool:
        return self.exit == 1 or self.timeout


def first_failure(junit_dir: Path) -> str:
    """`<requirement> <test name>` of the first failing test in the JUnit files."""
    for path in sorted(junit_dir.glob("*.xml")):
        for case in ET.parse(path).iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                props = {p.get("name"): p.get("value") for p in case.iter("property")}
                return f"{props.get('requirement_id', '?')} {case.get('name')}"
    return ""


def conformance_run(args: list[str], env: dict, timeout: float
                    ) -> tuple[int | None, float, str]:
    """`conformance run ...` in a fresh process: (exit or None on time-out, seconds, output)."""
    started = time.monotonic()
    try:
        proc = subprocess.run([*nice(), sys.executable, "-m", "conformance", "run", *args],
                              env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - started, ""
    return proc.returncode, time.monotonic() - started, proc.stdout + proc.stderr


def _select(work: Path, tests: list[str] | None, env: dict) -> list[str]:
    """pytest options (and env) that keep only `tests` in a separate pytest process."""
    if tests is None:
        return []
    select = work / "select.json"
    select.write_text(json.dumps(tests))
    env["CONFORMANCE_MUTANTS_SELECT"] = str(select)
    return ["-p", "conformance.tools.mutants.plugin"]


def run_suite(mutant: Mutant | None, tests: list[str] | None, work: Path,
              timeout: float, *, extra_pytest: tuple[str, ...] = ("-x",),
              source: str | None = None) -> Run:
    """`conformance run --target mock` in a fresh process with the mutant applied through
    the overlay (the path for what a patch cannot reach)."""
    env = clean_env(make_overlay(work / "overlay", mutant, source))
    reports = work / "suite"
    code, seconds, _out = conformance_run(
        ["--target", "mock", "--reports", str(reports), "--", "-n", "0", "-q",
         *_select(work, tests, env), *extra_pytest], env, timeout)
    if code is None:
        return Run(None, seconds, "timed out", timeout=True)
    return Run(code, seconds, first_failure(reports) if code == 1 else "")


class Served:
    """The mock (mutated or not) served on a free loopback port by a fresh process
    (`python -m conformance.mock` through the overlay)."""

    def __init__(self, mutant: Mutant | None, work: Path, keys: list[str],
                 args: tuple[str, ...] = (), cover: Path | None = None,
                 source: str | None = None) -> None:
        from conformance.mock.server import free_port  # lazy: the plugin loads no mock

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = clean_env(make_overlay(work / "overlay", mutant, source))
        if cover is not None:
            env["CONFORMANCE_MUTANTS_COVER"] = str(cover)
            env["CONFORMANCE_MUTANTS_INCLUDE"] = str(ROOT / "conformance" / "mock" / "*.py")
        command = [*nice(), sys.executable, "-m", "conformance.mock", "--port",
                   str(self.port), "--no-access-log", *args]
        for key in keys:
            command += ["--key", key]
        self.log = open(work / f"served-{self.port}.log", "wb")
        self.proc = subprocess.Popen(command, env=env, cwd=work, stdout=self.log,
                                     stderr=self.log)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_served(server, path: str, timeout: float = 60.0) -> bool:
    """Until `server` answers on `path` (any status), or it died, or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            return False
        try:
            httpx.get(server.url + path, timeout=2)
            return True
        except httpx.HTTPError:
            time.sleep(0.05)
    return False


_CHECK = re.compile(r"^- (ST\d+|[A-Z]\w*) ?(.*)$")


def cli_findings(report_dir: Path) -> set[str]:
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


def cli_phase(serve, phase: str, work: Path, timeout: float,
              baseline: set[str] | None) -> tuple[Run, set[str]]:
    """One phase of Schemathesis' CLI alone (no project hooks: it runs from an empty
    folder) against a freshly served mock, `serve(work, keys, args)` -> a server; with
    `baseline`, killed = findings the correct mock's same phase did not have."""
    profile = load_profile("elevenlabs")
    key = "mutants-" + secrets.token_hex(6)
    work.mkdir(parents=True, exist_ok=True)
    served = serve(work, [key], ("--time-scale", "60"))
    started = time.monotonic()
    try:
        if not wait_served(served, profile.base_path + "/workspace"):
            return Run(2, time.monotonic() - started, "the served mutant did not start"), set()
        st = Path(sys.executable).with_name("st")
        report_dir = work / "st"
        empty = work / "cwd"
        empty.mkdir(exist_ok=True)
        command = [*nice(), str(st), "run", str(SPEC), "--url", served.url,
                   "-H", f"{profile.auth_header}: {key}", "--checks", "all",
                   "--phases", phase, "--max-examples", str(CLI_EXAMPLES), "--seed", str(SEED),
                   "--generation-deterministic", "--continue-on-failure",
                   "--request-timeout", "30", "--report", "junit",
                   "--report-dir", str(report_dir)]
        try:
            proc = subprocess.run(command, cwd=empty, capture_output=True, text=True,
                                  timeout=timeout, env=clean_env())
        except subprocess.TimeoutExpired:
            return Run(None, time.monotonic() - started, "timed out", timeout=True), set()
        findings = cli_findings(report_dir)
        if proc.returncode not in (0, 1) and not findings:
            return Run(2, time.monotonic() - started,
                       (proc.stdout + proc.stderr).replace(key, "<key>")[-200:]), set()
        new = sorted(f for f in findings - (baseline or set())
                     if not any(f"{code} " in f for code in CLI_TIMING)) \
            if baseline is not None else []
        return Run(1 if new else 0, time.monotonic() - started,
                   (f"{phase}: " + "; ".join(new))[:300] if new else ""), findings
    finally:
        served.stop()


def run_cli(serve, phases: list[str], work: Path, timeout: float,
            baselines: dict[str, set[str]]) -> Run:
    """The phases that reach the mutant, one run each, until one kills it."""
    if not phases:
        return Run(None, 0.0, "not reached by the CLI's requests")
    seconds = 0.0
    run = Run(0)
    for phase in phases:
        run, _ = cli_phase(serve, phase, work / f"cli-{phase}", timeout,
                           baselines.get(phase, set()))
        seconds += run.seconds
        if run.killed or run.exit == 2:
            break
    run.seconds = seconds
    return run


def run_live(serve, work: Path, timeout: float, tests: list[str] | None = None) -> Run:
    """The suite through the live path, safe mode, against the served mutant (only the
    tests named, when named: those that reach its line)."""
    work.mkdir(parents=True, exist_ok=True)
    served = serve(work, LIVE_KEYS, ())
    try:
        if not wait_served(served, "/v1/convai/batch-calling/workspace"):
            return Run(2, 0.0, "the served mutant did not start")
        env = clean_env({"ELEVENLABS_BASE_URL": served.url, "ELEVENLABS_API_KEY": LIVE_KEYS[0],
                         "ELEVENLABS_OTHER_API_KEY": LIVE_KEYS[1]})
        reports = work / "live"
        code, seconds, out = conformance_run(
            ["--target", "live:elevenlabs", "--reports", str(reports), "--", "-x",
             *_select(work, tests, env)], env, timeout)
        if code is None:
            return Run(None, seconds, "timed out", timeout=True)
        detail = first_failure(reports) if code == 1 else (
            out.strip().splitlines()[-1][:200] if code == 2 and out.strip() else "")
        return Run(code, seconds, detail)
    finally:
        served.stop()
