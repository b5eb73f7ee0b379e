"""`python -m conformance.tools.mutants`: choose the mutants, take the baselines, run each
mutant in its own forked child (`--jobs` at once), write reports/mutants.md and .json.

    python -m conformance.tools.mutants [--quick] [--limit N] [--live-sample N] [--jobs 2]
    python -m conformance.tools.mutants --rerun benchmarks/results/mutants.json
    MUTANTS=quick make mutants
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from conformance.tools.mutants import forked, patching
from conformance.tools.mutants.generate import MODULES, Mutant, enumerate_mutants, mutated_source
from conformance.tools.mutants.overlay import clean_env
from conformance.tools.mutants.reach import (
    ALTERNATE,
    Reach,
    finish_map,
    finish_other_map,
    map_cli,
    start_map,
)
from conformance.tools.mutants.report import Result, load_triage, render, word
from conformance.tools.mutants.runners import (
    CLI_EXAMPLES,
    SEED,
    Run,
    Served,
    first_failure,
    run_cli,
    run_live,
    run_suite,
)

QUICK_COUNT = 50
#: The parts of a run's meta that say where its time went (a re-run keeps the first run's).
TIMES = ("seconds", "jobs", "baseline_seconds", "per_mutant", "baseline", "cpu_s", "load")


def select(mutants: list[Mutant], quick: bool, limit: int | None, seed: int) -> list[Mutant]:
    if quick or limit:
        count = min(limit or QUICK_COUNT, len(mutants))
        return sorted(random.Random(seed).sample(mutants, count),
                      key=lambda m: (MODULES.index(m.module), m.line, m.id))
    return mutants


def apply(m: Mutant, reach: Reach, source: str, *, dry: bool = False) -> str:
    """Apply the mutant to this process (`dry`: only say how it would be): "patch" (the
    function holding its line), "rebind" (a module-level constant) or "fresh process"
    (neither reaches it: its runs start a new interpreter through the overlay)."""
    try:
        if reach.patchable(m):
            patching.patch(f"conformance.mock.{m.module}", source, m.line,
                         {line for module, line in reach.import_lines if module == m.module},
                         dry=dry)
            return "patch"
        if m.id in reach.readers:
            patching.rebind(f"conformance.mock.{m.module}", source, m.line, dry=dry)
            return "rebind"
    except patching.Unpatchable as exc:
        print(f"mutants: {m.id}: fresh process ({exc})", file=sys.stderr)
    return "fresh process"


def _forked_suite(work: Path, tests: list[str], timeout: float,
                  choices: str | None = None) -> Run:
    """The suite on `tests` in a child forked from this (patched) process: its verdict."""
    started = time.monotonic()
    pid = forked.fork(lambda: forked.suite_main(work / "suite", tests, choices=choices),
                      work / "suite.log")
    code = forked.wait(pid, timeout)
    seconds = time.monotonic() - started
    if code is None:
        return Run(None, seconds, "timed out", timeout=True)
    if code in (0, 1, 2):
        return Run(code, seconds, first_failure(work / "suite") if code == 1 else "")
    return Run(2, seconds, f"the suite's child ended with {code}")


def run_one(m: Mutant, reach: Reach, baselines: dict[str, set[str]], work: Path, live: bool,
            timeout: float, previous: Result | None = None, live_timeout: float = 600.0
            ) -> Result:
    """In the mutant's own forked child: the suite, the CLI and (`live`) the live path. With
    `previous` (a re-run after new tests) only the suite runs again."""
    work.mkdir(parents=True, exist_ok=True)
    source = mutated_source(m.module, m.operator, m.occurrence) or ""
    tests = reach.suite_tests(m)
    path = apply(m, reach, source)
    patched = path != "fresh process"

    def serve(w: Path, keys: list[str], args: tuple[str, ...]):
        if patched:
            return forked.ForkServed(w, keys, args)
        return Served(m, w, keys, args, source=source)

    other = reach.other_choices_tests(m) if patched else []
    on_other = not tests and bool(other)
    if on_other:
        # No test reaches the line on the default choices: the tests that reach it, and
        # pass, on the alternate set judge it there.
        tests = other
        suite = _forked_suite(work, tests, timeout, ALTERNATE)
    elif not tests:
        suite = Run(None, 0.0, "not reached by any test")
    elif patched:
        suite = _forked_suite(work, tests, timeout)
    else:
        suite = run_suite(m, tests, work / "overlay-suite", timeout, source=source)
    choices = ALTERNATE if on_other else ""
    if previous is not None:
        return Result(m, suite, previous.cli, previous.live, len(tests), path, choices)
    cli = run_cli(serve, reach.cli_phases(m), work, timeout, baselines)
    live_run = run_live(serve, work / "live", live_timeout, tests) \
        if live and tests and not choices else None
    return Result(m, suite, cli, live_run, len(tests), path, choices)


def run_all(chosen: list[Mutant], reach: Reach, baselines: dict[str, set[str]], work: Path,
            live_ids: set[str], timeout: float, jobs: int,
            again: dict[str, Result], live_timeout: float = 600.0,
            journal: Path | None = None) -> list[Result]:
    """Each mutant in a forked child, `jobs` at once; results come back as JSON files and
    each is appended to `journal` as it comes (one JSON line), so `--resume` can go on."""
    results: list[Result] = []
    pending = list(enumerate(chosen))
    running: dict[int, tuple[Mutant, Path, float]] = {}
    # A child may run the suite, one CLI run per phase and the live path: each has its own
    # time-out, this bounds the whole.
    budget = timeout * (2 + len(reach.cli_lines)) + live_timeout
    while pending or running:
        while pending and len(running) < jobs:
            index, m = pending.pop(0)
            folder = work / f"m{index}"
            folder.mkdir(parents=True)

            def body(m=m, folder=folder) -> int:
                os.setpgid(0, 0)     # its servers and runs die with it
                result = run_one(m, reach, baselines, folder / "w", m.id in live_ids, timeout,
                                 again.get(m.id), live_timeout)
                (folder / "result.json").write_text(json.dumps(result.as_json()))
                return 0
            pid = forked.fork(body, folder / "child.log")
            running[pid] = (m, folder, time.monotonic() + budget)
        done, _status = os.waitpid(-1, os.WNOHANG)
        if not done:
            for pid, (_m, _folder, deadline) in list(running.items()):
                if time.monotonic() > deadline:
                    _kill_group(pid)
            time.sleep(0.2)
            continue
        if done not in running:
            continue
        m, folder, _ = running.pop(done)
        _kill_group(done)     # anything it left behind
        out = folder / "result.json"
        if out.exists():
            result = Result.from_json(json.loads(out.read_text()))
        else:
            log = (folder / "child.log").read_text(errors="replace")[-300:] \
                if (folder / "child.log").exists() else ""
            failed = Run(2, 0.0, f"the mutant's child ended without a result: {log}")
            result = Result(m, failed, failed)
        shutil.rmtree(folder, ignore_errors=True)
        results.append(result)
        if journal is not None:
            with journal.open("a") as f:
                f.write(json.dumps(result.as_json()) + "\n")
        print(f"mutants: [{len(results)}/{len(chosen)}] {m.id} suite={word(result.suite)} "
              f"({result.suite.seconds:.0f} s) cli={word(result.cli)} "
              f"({result.cli.seconds:.0f} s)"
              + (f" live={word(result.live)} ({result.live.seconds:.0f} s)"
                 if result.live else ""), flush=True)
    return results


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mutants", description=(
        "The suite's mutation score on generated mutants of the mock, beside Schemathesis' "
        "CLI alone."))
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
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per run before a mutant counts as timed out (killed); "
                             "default: three times the longest baseline run, at least 120")
    parser.add_argument("--rerun", metavar="JSON",
                        help="a previous run's mutants.json: run again only its survivors "
                             "(after new tests) and merge")
    parser.add_argument("--resume", action="store_true",
                        help="go on with an interrupted run of the same command: the mutants "
                             "already in OUT's .partial.jsonl are not run again")
    parser.add_argument("--out", default="reports/mutants.md")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--render", metavar="JSON",
                        help="write the report of a previous run's mutants.json again "
                             "(after editing the triage) and exit")
    return parser


def _rerun_plan(path: str, everything: list[Mutant]) -> tuple[list[Result], dict[str, Result]]:
    """A previous run's results, and new mutant id -> the result it re-runs (its survivors
    not triaged equivalent, found again by their line and edit, wherever the line is now)."""
    old_results = [Result.from_json(r) for r in json.loads(Path(path).read_text())["results"]]
    triage = load_triage()
    by_key: dict[str, list[Mutant]] = defaultdict(list)
    for m in everything:
        by_key[m.key].append(m)
    again: dict[str, Result] = {}
    for r in old_results:
        if r.suite.killed or triage.get(r.mutant.key, {}).get("verdict") == "equivalent":
            continue
        found = [m for m in by_key.get(r.mutant.key, []) if m.id not in again]
        if found:
            m = min(found, key=lambda m: abs(m.line - r.mutant.line))
            again[m.id] = r
    return old_results, again


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.render:
        data = json.loads(Path(args.render).read_text())
        Path(args.out).write_text(render([Result.from_json(r) for r in data["results"]],
                                         data["meta"], load_triage()))
        print(f"mutants: wrote {args.out}")
        return 0
    jobs = max(1, min(args.jobs, 2))
    started = time.monotonic()
    load_start = os.getloadavg()
    everything = enumerate_mutants(tuple(args.module or MODULES))
    chosen = select(everything, args.quick, args.limit, args.seed)
    if args.list:
        for m in chosen:
            print(f"{m.id:55} L{m.line:<4} {m.before.strip()}  =>  {m.after.strip()}")
        print(f"{len(chosen)} of {len(everything)} mutants")
        return 0
    old_results: list[Result] = []
    again: dict[str, Result] = {}
    if args.rerun:
        old_results, again = _rerun_plan(args.rerun, everything)
        chosen = [m for m in everything if m.id in again]
        args.live_sample = 0
    out = Path(args.out)
    journal = out.with_suffix(".partial.jsonl")
    resumed: list[Result] = []
    if args.resume and journal.exists() and not args.rerun:
        resumed = [Result.from_json(json.loads(line))
                   for line in journal.read_text().splitlines() if line.strip()]
        done = {r.mutant.id for r in resumed}
        chosen = [m for m in chosen if m.id not in done]
        print(f"mutants: resuming: {len(resumed)} result(s) from {journal}", flush=True)
    elif not args.rerun:
        journal.unlink(missing_ok=True)
    live_count = args.live_sample if args.live_sample is not None else (
        3 if args.quick else 10)
    live_ids = {m.id for m in random.Random(args.seed + 1).sample(
        chosen, min(live_count, len(chosen)))}
    # Every child shares this process's environment: the reduced fuzz profile, no live
    # target's settings. Then the suite and the mock are imported once.
    for name in list(os.environ):
        if name not in clean_env():
            del os.environ[name]
    os.environ.update(clean_env())
    reach = Reach(import_lines=forked.prepare())
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        work = Path(tmp)
        print(f"mutants: {len(chosen)} of {len(everything)} mutants; baseline runs of the "
              f"correct mock first", flush=True)
        first = args.timeout or 900.0       # the baselines' own limit
        # The mapping run in one child while this process runs the CLI's phases.
        map_pid, map_started = start_map(work / "baseline-suite")
        baselines: dict[str, set[str]] = {}
        cli_seconds = 0.0
        phase_seconds: dict[str, float] = {}
        try:
            if not args.rerun:
                baselines, cli_seconds, phase_seconds = map_cli(work / "baseline-cli", first,
                                                                reach)
        finally:
            base_suite = finish_map(work / "baseline-suite", map_pid, map_started, first, reach)
        if base_suite.exit != 0:
            print(f"mutants: the suite is not CONFORMANT on the correct mock "
                  f"(exit {base_suite.exit}); no score:\n{base_suite.detail}", file=sys.stderr)
            return 2
        for m in chosen:
            if not reach.patchable(m) and patching.rebindable(m):
                reach.readers[m.id] = patching.readers(
                    mutated_source(m.module, m.operator, m.occurrence) or "", m.line)
        # Lines no test runs with the default choices: map the alternate set too (beside the
        # baselines below), so that those mutants are judged there.
        unreached = [m for m in chosen if reach.unreached(m)]
        other_map = start_map(work / "baseline-other", ALTERNATE) if unreached else None
        fresh = [m for m in chosen if apply(m, reach, mutated_source(
            m.module, m.operator, m.occurrence) or "", dry=True) == "fresh process"]
        base_fresh = None
        if fresh:   # the other path's own baseline: a fresh process, the tests it runs
            base_fresh = run_suite(None, reach.all_tests, work / "baseline-fresh",
                                   first, extra_pytest=())
            if base_fresh.exit != 0:
                print(f"mutants: the suite in a fresh process is not CONFORMANT on the "
                      f"correct mock (exit {base_fresh.exit}); no score", file=sys.stderr)
                return 2
        print(f"mutants: baseline suite {base_suite.seconds:.0f} s"
              + (f" (fresh process {base_fresh.seconds:.0f} s)" if base_fresh else "")
              + f", CLI {cli_seconds:.0f} s with "
              f"{sum(map(len, baselines.values()))} finding(s) on the correct mock", flush=True)
        live_base = None
        live_tests = sorted({t for m in chosen if m.id in live_ids for t in reach.suite_tests(m)})
        if live_tests:   # the tests the sample will run, on the correct mock served the same way
            live_base = run_live(lambda w, k, a: forked.ForkServed(w, k, a),
                                 work / "baseline-live", first, live_tests)
            if live_base.exit != 0:
                print(f"mutants: the live path is not CONFORMANT on the correct mock "
                      f"(exit {live_base.exit}: {live_base.detail}); no live column",
                      file=sys.stderr)
                live_ids = set()
        base_other = Run(None, 0.0, "no mutant needs it")
        if other_map is not None:
            base_other = finish_other_map(work / "baseline-other", *other_map, first, reach)
            if base_other.exit not in (0, 1):
                print(f"mutants: the map on the {ALTERNATE} choices did not finish "
                      f"({base_other.detail}); lines only that set runs stay unjudged",
                      file=sys.stderr)
        baseline_seconds = time.monotonic() - started
        timeout = args.timeout or max(120.0, 3 * max([base_suite.seconds,
                                                      *phase_seconds.values()]))
        live_timeout = args.timeout or max(180.0, 3 * (live_base.seconds if live_base else 0))
        print(f"mutants: time-outs {timeout:.0f} s per run, {live_timeout:.0f} s live",
              flush=True)
        results = run_all(chosen, reach, baselines, work, live_ids, timeout, jobs, again,
                          live_timeout, None if args.rerun else journal)
        results = resumed + results
    seconds = time.monotonic() - started
    meta = _meta(args, argv, everything, results, seconds, baseline_seconds, jobs, base_suite,
                 base_fresh, cli_seconds, baselines, live_base, phase_seconds)
    meta["resumed"] = len(resumed)
    meta["other_choices"] = {"set": ALTERNATE, "map_s": round(base_other.seconds),
                             "unreached_on_default": len(unreached),
                             "failing_on_correct_mock": reach.other_failing}
    meta["timeouts"] = {"run_s": round(timeout), "live_s": round(live_timeout)}
    meta["load"] = {"start": [round(x, 1) for x in load_start],
                    "end": [round(x, 1) for x in os.getloadavg()], "cpus": os.cpu_count()}
    meta["cpu_s"] = round(sum(getattr(resource.getrusage(who), f) for f in ("ru_utime", "ru_stime")
                              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
    if args.rerun:
        rerun = {id(again[r.mutant.id]): r for r in results}
        results = [rerun.get(id(r), r) for r in old_results]
        old_meta = json.loads(Path(args.rerun).read_text())["meta"]
        first = old_meta.get("rerun_of") or old_meta
        meta["rerun_of"] = {"seconds": first["seconds"], "command": first["command"],
                            "reran": len(again), "times": first.get("times") or {
                                k: first[k] for k in TIMES if k in first}}
        for name in ("quick", "limit", "seed", "total_generated"):
            meta[name] = old_meta[name]
        meta["baseline"]["cli_findings"] = old_meta["baseline"]["cli_findings"]
        meta["baseline"]["live"] = old_meta["baseline"]["live"]
    results.sort(key=lambda r: (MODULES.index(r.mutant.module), r.mutant.line, r.mutant.id))
    out.with_suffix(".json").write_text(json.dumps(
        {"meta": meta, "results": [r.as_json() for r in results]}, indent=1))
    out.write_text(render(results, meta, load_triage()))
    journal.unlink(missing_ok=True)
    print(f"mutants: wrote {out} and {out.with_suffix('.json')} in {seconds:.0f} s")
    return 0


def _meta(args, argv, everything, results, seconds, baseline_seconds, jobs, base_suite,
          base_fresh, cli_seconds, baselines, live_base, phase_seconds) -> dict:
    ran = [r for r in results if r.suite.exit is not None or r.suite.timeout]
    return {
        "quick": args.quick, "limit": args.limit, "seed": args.seed,
        "total_generated": len(everything), "seconds": round(seconds),
        "baseline_seconds": round(baseline_seconds), "rerun_of": None,
        "jobs": jobs, "cli_examples": CLI_EXAMPLES, "rerun": bool(args.rerun),
        "per_mutant": {
            "count": len(results),
            "wall_s": round((seconds - baseline_seconds) / max(1, len(results)), 1),
            "suite_s": round(sum(r.suite.seconds for r in ran) / max(1, len(ran)), 1),
            "cli_s": round(sum(r.cli.seconds for r in results) / max(1, len(results)), 1),
            "live_s": [round(r.live.seconds) for r in results if r.live]},
        "baseline": {"suite_s": round(base_suite.seconds),
                     "fresh_suite_s": round(base_fresh.seconds) if base_fresh else None,
                     "cli_s": round(cli_seconds),
                     "cli_phase_s": {p: round(s) for p, s in phase_seconds.items()},
                     "cli_findings": {p: sorted(f) for p, f in baselines.items()},
                     "live": asdict(live_base) if live_base else None},
        "command": "python -m conformance.tools.mutants " + " ".join(
            argv if argv is not None else sys.argv[1:])}
