"""The fast path: the suite and the mock imported once, each mutant in a forked child.

A fresh interpreter per mutant paid for start-up, imports and the suite's collection on every
run (about 10 s of each mutant's suite run). Here the main process imports the suite (every
test module, its plugins) and the mock once (`prepare`), and each mutant runs in a child
forked from it: the child swaps the code object of the one function that holds the mutated
line (patching.py), then forks again for each run that needs a fresh state (the
suite's pytest session, a served mock). The parent never changes.

A patch reaches only code that runs after it. A mutated module-level constant is rebound
where the program holds it, unless something computed at import read it; any other line at
module level, in a class body or a default argument, or inside a function that ran while the
modules were imported (`import_lines`), is served by a fresh process instead (overlay.py).
The baseline runs of the correct mock go through the same forks, so a suite that is green
here is green in the process every mutant runs in.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import importlib
import os
import pkgutil
import signal
import sys
import threading
import time
from pathlib import Path

from conformance.tools.mutants.generate import MOCK, MODULES, ROOT

SUITE = ROOT / "conformance_suite"


# ------------------------------------------------------------------------------ preparing

def prepare() -> set[tuple[str, int]]:
    """Import what every run shares, once; returns the lines of the mutated modules that
    ran meanwhile (inside functions too: a patch after import would miss them)."""
    import coverage  # lazy: a test extra

    # ExceptionReplacer's mutants catch this name instead of the original exception (the
    # overlay defines it the same way): without it such a clause raises NameError.
    builtins.CosmicRayTestingException = type(  # type: ignore[attr-defined]
        "CosmicRayTestingException", (Exception,), {})
    early = [m for m in MODULES if f"conformance.mock.{m}" in sys.modules]
    if early:
        raise RuntimeError(f"mutants: {early} imported before prepare(): their import-time "
                           "lines could not be told apart")
    cov = coverage.Coverage(data_file=None, include=[str(MOCK / "*.py")])
    cov.start()
    try:
        for name in ("pytest", "conformance.cli", "conformance.mock.__main__",
                     "conformance.mock.server", "conformance_suite.plugin",
                     "conformance.tools.mutants.plugin"):
            importlib.import_module(name)
        for package in ("conformance_suite.scenarios", "conformance_suite.contract"):
            pkg = importlib.import_module(package)
            for info in pkgutil.iter_modules(pkg.__path__):
                importlib.import_module(f"{package}.{info.name}")
    finally:
        cov.stop()
    data = cov.get_data()
    ran: set[tuple[str, int]] = set()
    for filename in data.measured_files():
        path = Path(filename)
        if path.parent == MOCK and path.stem in MODULES:
            ran.update((path.stem, line) for line in data.lines(filename) or ())
    if threading.active_count() != 1:   # fork copies one thread: no other may hold a lock
        raise RuntimeError(f"mutants: {threading.active_count()} threads after importing the "
                           "suite; the fast path needs one")
    return ran


# ------------------------------------------------------------------------------ forking

def _to_log(path: Path) -> None:
    """Send a child's output to `path` (the parent's terminal stays readable)."""
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def fork(body, log: Path) -> int:
    """Run `body()` in a forked child (its return value is the exit code); the child never
    returns into the caller's code, and never runs the parent's exit handlers."""
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        _to_log(log)
        code = body()
    except BaseException as exc:     # noqa: BLE001  (the child must not unwind into the parent)
        with contextlib.suppress(Exception):
            print(f"mutants: child failed: {exc!r}", file=sys.stderr)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 70)


def wait(pid: int, timeout: float) -> int | None:
    """The child's exit code, or None after `timeout` seconds (then it is killed)."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            kill(pid)
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


# ------------------------------------------------------------------------------ the runs

def suite_main(reports: Path, tests: list[str] | None, *, cover: Path | None = None,
               first_failure_only: bool = True, choices: str | None = None) -> int:
    """In a forked child: what `conformance run --target mock` does (pytest with the suite's
    own settings, then the report and its verdict), on the tests named (None: all); with
    `choices`, the embedded mock serves that choice set (API_MOCK_CHOICES), and the tests
    that fail are written to reports/failed.json."""
    import pytest  # lazy: loaded by prepare(), after its coverage starts

    from conformance.cli import cmd_report, pytest_command  # lazy: loaded by prepare()
    from conformance.tools.mutants.plugin import (  # lazy: by prepare()
        CoverageMap,
        Failures,
        Select,
    )

    reports.mkdir(parents=True, exist_ok=True)
    junit = reports / "mock.xml"
    files = sorted({str(SUITE / t.split("::")[0]) for t in tests}) if tests is not None else None
    command = pytest_command("mock", junit, files, strict=False,
                             extra=["-n", "0", "-q", *(["-x"] if first_failure_only else [])])
    plugins: list = [Select(tests)] if tests is not None else []
    if cover is not None:
        plugins.append(CoverageMap(cover))
    if choices is not None:
        os.environ["API_MOCK_CHOICES"] = choices
        plugins.append(Failures(reports / "failed.json"))
    os.chdir(ROOT)
    code = int(pytest.main(command[3:], plugins=plugins))
    if code not in (0, 1) or not junit.exists():
        print(f"conformance: pytest could not run the suite against mock (exit {code})",
              file=sys.stderr)
        return 2
    return cmd_report(argparse.Namespace(junit=[str(junit)], html=str(reports / "report.html"),
                                         md=str(reports / "report.md"), baseline=None,
                                         fail_on=None))


class ForkServed:
    """The mock (patched or not) served on a free loopback port by a forked child: what
    `python -m conformance.mock` does, without starting an interpreter."""

    def __init__(self, work: Path, keys: list[str], args: tuple[str, ...] = (),
                 cover: Path | None = None) -> None:
        from conformance.mock.server import free_port  # lazy: the mock, loaded by prepare()

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = ["--port", str(self.port), "--no-access-log", *args]
        for key in keys:
            argv += ["--key", key]

        def body() -> int:
            # uvicorn restores this handler on shutdown and raises SIGTERM again: exit
            # through `finally` (coverage saved), not by the default kill.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            cov = None
            if cover is not None:
                import coverage  # lazy: a test extra

                cov = coverage.Coverage(data_file=str(cover), include=[str(MOCK / "*.py")])
                cov.start()
            try:
                from conformance.mock.__main__ import main  # lazy: loaded by prepare()
                return main(argv)
            except SystemExit:
                return 0
            finally:
                if cov is not None:
                    cov.stop()
                    cov.save()

        work.mkdir(parents=True, exist_ok=True)
        self.pid = fork(body, work / f"served-{self.port}.log")

    def alive(self) -> bool:
        done, _ = os.waitpid(self.pid, os.WNOHANG)
        if done:
            self.pid = 0
        return bool(self.pid)

    def stop(self) -> None:
        if not self.pid:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        if wait(self.pid, 20) is None:
            pass   # killed by wait()
        self.pid = 0
