"""`conformance` command line: run the suite against a target, build reports, sweep leftovers.

Exit codes (every subcommand): 0 conformant (known deviations allowed), 1 new
non-conformance, 2 the suite could not run (bad configuration, target unreachable, no key),
always with a one-line reason and never a traceback.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

from conformance import report
from conformance.diff.cli import add_parser as add_diff_parsers
from conformance.resources import SPEC_PATH
from conformance.webhooks.cli import add_parser as add_webhook_check

EXIT_CANNOT_RUN = 2
#: The suite's packages (collected with --pyargs, from a checkout or an installed wheel).
SUITES = ("conformance_suite.scenarios", "conformance_suite.contract")


def _fail(message: str) -> int:
    print(f"conformance: {message}", file=sys.stderr)
    return EXIT_CANNOT_RUN


def report_file_name(target: str) -> str:
    """`live:elevenlabs` -> `live-elevenlabs` (file-system safe, one file per target)."""
    return target.replace(":", "-").replace("/", "-")


def _suite_args(suites: list[str] | None) -> list[str]:
    """Test folders as absolute paths; anything else is a module (--pyargs)."""
    out = []
    for suite in suites or SUITES:
        path = Path(suite)
        out.append(str(path.resolve()) if path.exists() else suite)
    return out


#: The pytest plugins the suite uses, loaded by module name with autoloading off: a run does
#: not pick up whatever else the environment has installed, and pytest rewrites the asserts
#: of these modules only, not of every module of each plugin's package (about a second of
#: every process's start-up where bytecode is not cached, times `--workers`).
SUITE_PLUGINS = ("schemathesis.pytest.plugin", "pytest_recording.plugin",
                 "_hypothesis_pytestplugin", "xdist.plugin")


def pytest_command(text: str, junit: Path, suites: list[str] | None, *, strict: bool,
                   extra: list[str]) -> list[str]:
    """How one target's run is started: the suite's own settings and plugin, whatever the
    caller's folder holds."""
    import conformance_suite  # lazy: the pytest suite, only for `run`

    here = Path(conformance_suite.__file__).resolve().parent
    return [sys.executable, "-m", "pytest", "--pyargs", *_suite_args(suites),
            "-c", str(here / "pytest.ini"), "--rootdir", str(here), "-p", "no:cacheprovider",
            "--disable-plugin-autoload", *(f"-p{name}" for name in SUITE_PLUGINS),
            f"--target={text}", f"--junitxml={junit}", "-o", f"junit_suite_name={text}",
            *(["--strict-inferred"] if strict else []), *extra]


def _run_pytest(command: list[str]) -> tuple[int, str]:
    """Run pytest, its output passed through as it comes; (exit code, pytest's own reason
    when it could not run: its last `ERROR:` / `E ` line, short)."""
    tail: deque[str] = deque(maxlen=60)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            tail.append(line.rstrip("\n"))
        code = proc.wait()
    marked = [line for line in tail if line.startswith(("ERROR:", "ERROR ", "E "))]
    why = (marked[-1] if marked else "").removeprefix("E ").removeprefix("ERROR:").strip()
    return code, " ".join(why.split())[:120]


def cmd_run(args: argparse.Namespace) -> int:
    """Run the suites against each target (one JUnit file each), then one report of all."""
    from conformance.targets import (  # lazy: targets load the mock's web stack
        RunOptions,
        TargetError,
        parse_target,
    )

    texts = args.target or [os.environ.get("API_TARGET", "mock")]
    extra = list(args.pytest_args)
    shard = ""
    if args.shard:
        from conformance_suite.parallel import (
            parse_shard,  # lazy: the pytest suite, only for `run --shard`
        )

        index, count = parse_shard(args.shard)
        extra += ["--shard", f"{index}/{count}"]
        shard = f".shard-{index}-of-{count}"
    # The live user's options are the CLI's own; they travel to pytest as its options.
    for flag in ("allow_dispatch", "mock_outcomes", "strict_drift"):
        option = "--" + flag.replace("_", "-")
        if getattr(args, flag) and option not in extra:
            extra.append(option)
    if args.pressure_budget is not None:
        extra += ["--pressure-budget", str(args.pressure_budget)]
    if args.workers and args.workers > 1:
        # pytest-xdist; work stealing keeps the long fuzz tests from queueing behind others
        extra += ["-n", str(args.workers), "--dist", "worksteal"]
    options = RunOptions(allow_dispatch="--allow-dispatch" in extra,
                         mock_outcomes="--mock-outcomes" in extra, strict=args.strict)
    try:
        for text in texts:
            target = parse_target(text, os.environ, options)
            target.check_ready()
            target.check_reachable()
    except TargetError as exc:
        return _fail(str(exc))
    reports = Path(args.reports).resolve()
    reports.mkdir(parents=True, exist_ok=True)
    junits = []
    for text in texts:
        junit = reports / f"{report_file_name(text)}{shard}.xml"
        command = pytest_command(text, junit, args.suite, strict=args.strict, extra=extra)
        print("$ " + " ".join(command), flush=True)
        stop = junit.with_suffix(".stop")   # the pressure layer's one line (pressure.py)
        stop.unlink(missing_ok=True)
        code, why = _run_pytest(command)
        if stop.exists():
            return _fail(stop.read_text().strip())
        if code not in (0, 1) or not junit.exists():
            return _fail(f"pytest could not run the suite against {text} (exit {code})"
                         + (f": {why}" if why else ""))
        junits.append(str(junit))
    if args.all_reports:
        junits = sorted(str(p) for p in reports.glob("*.xml"))
    return cmd_report(argparse.Namespace(junit=junits, html=str(reports / "report.html"),
                                         md=str(reports / "report.md"),
                                         baseline=args.baseline, fail_on=args.fail_on))


def cmd_report(args: argparse.Namespace) -> int:

    argv = [*args.junit, "--html", args.html, "--md", args.md, "--spec", str(SPEC_PATH),
            "--json", str(Path(args.html).with_name("report.json"))]
    if getattr(args, "baseline", None):
        argv += ["--baseline", args.baseline]
    if getattr(args, "fail_on", None):
        argv += ["--fail-on", args.fail_on]
    return report.main(argv)


def run_sweep(target_text: str, *, prefix: str = "cst-", dry_run: bool = False,
              min_age_s: int = 0, env=None) -> int:
    """`conformance sweep`: 0 when nothing is left, 1 when some batch could not be removed
    or the server answered in a way that breaks the spec (NOT CONFORMANT, one line naming
    the operation, the requirement, the rule and the exchange). Raises TargetError (one
    line) when the target cannot be swept at all (unreachable, the key refused)."""
    import httpx  # lazy: only for `sweep`

    from conformance.cleanup import SweepError, sweep  # lazy: only for `sweep`
    from conformance.exchanges import (  # lazy: only for `sweep`
        BrokenAnswer,
        ResponseValidator,
    )
    from conformance.redact import Redactor  # lazy: only for `sweep`
    from conformance.safety import (  # lazy: only for `sweep`
        SafetyPolicy,
        UnsafeRequest,
        guarded_client,
        name_prefix,
        new_run_id,
    )
    from conformance.targets import (  # lazy: targets load the mock's web stack
        TargetError,
        parse_target,
    )

    target = parse_target(target_text, env if env is not None else os.environ)
    if not target.keeps_batches:
        raise TargetError(f"{target_text}: sweep works on live:<dialect> targets only (nothing "
                          "else keeps batches between runs)")
    target.check_ready()
    target.check_reachable()
    api = target.api
    policy = SafetyPolicy(name_prefix=name_prefix(new_run_id()), base_path=api.base_path,
                          allowed_hosts=frozenset({urlsplit(target.base_url or "").hostname or ""}),
                          sweep_prefix=prefix)
    from conformance.pressure import Pressure, PressureTransport  # lazy: only `sweep` needs it

    # Through the pressure layer too: a staging endpoint that pushes back is waited for.
    inner = PressureTransport(httpx.HTTPTransport(), Pressure(),
                              key_header=target.profile.auth_header)
    # Every answer is validated against the dialect's spec: a broken one is the server's
    # failure (exit 1, NOT CONFORMANT), as in `conformance run`, not "could not sweep" (2).
    validator = ResponseValidator(target.spec, redactor=Redactor((target.api_key,)))
    broken: list[BrokenAnswer] = []
    with guarded_client(target.base_url or "", policy, headers=target.auth_headers(None),
                        inner=inner, event_hooks={"response": [validator]},
                        timeout=30.0) as client:
        try:
            swept = sweep(client, api.base_path, prefix, time.time(), dry_run=dry_run,
                          min_age_s=min_age_s, broken=broken)
        except SweepError as exc:
            for batch_id in exc.swept:
                print(f"swept {batch_id}")
            print(f"conformance sweep: {len(exc.errors)} batch(es) left: {exc.errors}",
                  file=sys.stderr)
            if broken:
                print(_sweep_not_conformant(broken), file=sys.stderr)
            return 1
        except BrokenAnswer as exc:
            if exc.status in (401, 403):  # the suite's own key refused: not the server's bug
                raise TargetError(f"{target_text}: sweep failed: the key in "
                                  f"{target.profile.api_key_env} was refused ({exc.status})"
                                  ) from None
            print(_sweep_not_conformant([exc]), file=sys.stderr)
            return 1
        except (httpx.HTTPError, UnsafeRequest, RuntimeError) as exc:
            raise TargetError(f"{target_text}: sweep failed: {exc}") from None
    verb = "would sweep" if dry_run else "swept"
    for index, batch_id in enumerate(swept, 1):
        print(f"[{index}/{len(swept)}] {verb} {batch_id}")
    print(f"conformance sweep: {verb} {len(swept)} batch(es) named {prefix}* on {target_text}")
    if broken:
        print(_sweep_not_conformant(broken), file=sys.stderr)
        return 1
    return 0


def _sweep_not_conformant(broken) -> str:
    """One line: the first broken answer the sweep met (operation, requirement, rule, the
    exchange), and how many more."""
    first = broken[0]
    rule = first.rule if len(first.rule) <= 160 else first.rule[:157] + "..."
    line = (f"conformance sweep: NOT CONFORMANT: {first.operation or 'an answer'} broke "
            f"{first.requirement}: {rule}")
    if first.exchange is not None:
        request, response = first.exchange.describe(limit=160)
        line += (f" — {request.splitlines()[0]} → "
                 + " ".join(response.split())[:160])
    if len(broken) > 1:
        line += f" (and {len(broken) - 1} more broken answer{'s' if len(broken) > 2 else ''})"
    return line


def cmd_sweep(args: argparse.Namespace) -> int:
    from conformance.targets import (
        TargetError,  # lazy: targets load the mock's web stack
    )

    try:
        return run_sweep(args.target, prefix=args.prefix, dry_run=args.dry_run,
                         min_age_s=args.min_age)
    except TargetError as exc:
        return _fail(str(exc))


def _baseline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", metavar="PREVIOUS",
                        help="an earlier run's reports folder (its report.json or JUnit files), "
                        "or one such file: the report leads with what changed since")
    parser.add_argument("--fail-on", choices=("any", "new"), default="any",
                        help="new (with --baseline): exit 1 only for failures the baseline "
                        "did not have; known ones are still listed")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # lazy: only --version

    try:
        return version("conformance")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conformance", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the suite against a target and write the report")
    run.add_argument("--target", action="append",
                     help="mock | mock:<fault> | cassette:<dialect> | live:<dialect> "
                     "(repeatable; default env API_TARGET or mock)")
    run.add_argument("--reports", default="reports", help="folder for JUnit and reports")
    run.add_argument("--suite", action="append",
                     help="test folder or module (repeatable; default: the whole suite)")
    run.add_argument("--all-reports", action="store_true",
                     help="build the report from every JUnit file in --reports")
    run.add_argument("--strict", action="store_true",
                     help="targets other than the mock: inferred requirements fail too "
                     "(otherwise they are reported as 'differs from our inference')")
    run.add_argument("--shard", metavar="I/N",
                     help="run shard I of N of each target's suite (a CI matrix job); "
                     "`conformance report` merges the shards' JUnit files")
    _baseline_options(run)
    live = run.add_argument_group("live targets")
    live.add_argument("--workers", type=int, default=1, metavar="N",
                      help="run N tests at a time (pytest-xdist processes; a live run is I/O "
                      "bound, so waits overlap); the run's caps are split between them and "
                      "the concurrency the server allows is shared (default 1)")
    live.add_argument("--allow-dispatch", action="store_true",
                      help="let batches start now: calls are placed (numbers stay fictional)")
    live.add_argument("--mock-outcomes", action="store_true",
                      help="the endpoint is this suite's mock, so its outcome table holds")
    live.add_argument("--strict-drift", action="store_true",
                      help="fail the run when the target sends what the spec does not declare")
    live.add_argument("--pressure-budget", type=float, default=None, metavar="S",
                      help="the longest total wait on pushback (429s, transport errors) "
                      "before the run ends 'could not run' with the numbers (default "
                      "300 s, env API_LIVE_PRESSURE_BUDGET)")
    run.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    run.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="JUnit files -> one HTML page and a Markdown summary")
    rep.add_argument("junit", nargs="+")
    rep.add_argument("--html", default="reports/report.html")
    rep.add_argument("--md", default="reports/report.md")
    _baseline_options(rep)
    rep.set_defaults(func=cmd_report)

    sweep = sub.add_parser("sweep", help="cancel and delete leftover batches of earlier runs")
    sweep.add_argument("--target", required=True, help="live:<dialect>")
    sweep.add_argument("--prefix", default="cst-", help="batch-name prefix to sweep")
    sweep.add_argument("--dry-run", action="store_true")
    sweep.add_argument("--min-age", type=int, default=0,
                       help="leave batches younger than this many seconds (a run in progress)")
    sweep.set_defaults(func=cmd_sweep)

    # `diff` and `cassettes check` (issue 15), `webhook-check` (issue 17): their own packages.

    add_diff_parsers(sub)
    add_webhook_check(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return _fail("interrupted")


if __name__ == "__main__":
    raise SystemExit(main())
