"""`python -m conformance.report`: JUnit files -> report.html + report.md, exit = verdict."""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from typing import Any

import yaml

from conformance.report.baseline import (
    BaselineError,
    compare,
    exit_code,
    load_baseline,
    since_html,
    since_markdown,
    write_snapshot,
)
from conformance.report.coverage import default_universe, merge_coverage
from conformance.report.junit import load_junit
from conformance.report.markdown import render_markdown
from conformance.report.page import render_html
from conformance.report.verdict import EXIT_NOT_RUN, summary_line, verdict


def _load_structured(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.lower().endswith(".json"):
        return json.loads(text)

    return yaml.safe_load(text)


def _expand(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if any(ch in p for ch in "*?[") and not os.path.exists(p):
            out.extend(sorted(glob.glob(p)) or [p])
        else:
            out.append(p)
    return out


def _error(message: str) -> int:
    print(f"error: {message}".splitlines()[0], file=sys.stderr)
    return EXIT_NOT_RUN


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the verdict exit code, never raises for bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m conformance.report",
        description="Render pytest JUnit reports of the conformance suite as HTML/Markdown.")
    parser.add_argument("reports", nargs="+", help="JUnit XML files (reports/<target>.xml); "
                        "several files of one target (shards) are merged")
    parser.add_argument("--html", help="write the HTML report here")
    parser.add_argument("--md", help="write the Markdown summary here")
    parser.add_argument("--spec", help="OpenAPI document (YAML/JSON) defining the universe")
    parser.add_argument("--json", help="write the run's snapshot (report.json) here: a later "
                        "run's --baseline")
    parser.add_argument("--baseline", help="an earlier run: its reports folder (report.json or "
                        "JUnit files) or one such file; adds 'Since the baseline' at the top")
    parser.add_argument("--fail-on", choices=("any", "new"), default="any",
                        help="new: exit 1 only for failures the baseline did not have")
    parser.add_argument("--transitions",
                        help='YAML/JSON {"batch": ["a->b", ...], "recipient": [...]}')
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse already printed usage / help
        return 0 if exc.code in (0, None) else EXIT_NOT_RUN

    try:
        spec = _load_structured(args.spec) if args.spec else None
        if args.spec and not isinstance(spec, dict):
            raise ValueError("not a mapping")
        universe = default_universe(spec, None)
    except Exception as exc:  # noqa: BLE001 - one-line error, never a traceback
        return _error(f"cannot load spec {args.spec}: {exc.__class__.__name__}: {exc}")
    try:
        if args.transitions:
            universe = default_universe(spec, _load_structured(args.transitions))
    except Exception as exc:  # noqa: BLE001
        return _error(f"cannot load transitions {args.transitions}: {exc}")

    empty = [p for p in args.reports if any(ch in p for ch in "*?[") and not os.path.exists(p)
             and not glob.glob(p)]
    if empty:  # nothing to report on: write nothing, overwrite nothing
        return _error(f"no JUnit file matches {empty[0]!r}; no report written")

    if args.fail_on == "new" and not args.baseline:
        return _error("--fail-on new needs --baseline")
    try:
        baseline = load_baseline(args.baseline) if args.baseline else None
    except BaselineError as exc:
        return _error(f"cannot read baseline: {exc}")

    since = None
    try:
        runs = load_junit(_expand(args.reports))
        for r in runs:
            if r.error:
                print(f"error: {r.error}".splitlines()[0], file=sys.stderr)
        coverage = merge_coverage(runs)
        code = verdict(runs)
        if baseline is not None:
            since = compare(baseline, runs, args.baseline)
        for path, render in ((args.html, render_html), (args.md, render_markdown)):
            if not path:
                continue
            lead = None if since is None else (
                since_html(since) if render is render_html else since_markdown(since))
            content = render(runs, coverage, universe, lead=lead)
            if os.path.dirname(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(content)
        if args.json:
            write_snapshot(runs, args.json)
    except OSError as exc:
        return _error(f"cannot write report: {exc}")
    except Exception as exc:  # noqa: BLE001 - never a traceback
        return _error(f"report generation failed: {exc.__class__.__name__}: {exc}")

    written = [p for p in (args.html, args.md, args.json) if p]
    line = summary_line(runs, code).replace("\n", " ")
    print(line + (f" → {', '.join(written)}" if written else ""))
    if since is not None:
        print(since.line())
    return exit_code(code, since, args.fail_on)
