"""`make bench`: the mock beside Prism, how cost grows with size, and the suite's own speed.

    python -m benchmarks.run [--only throughput,scale,profile,suite,staging] [--quick] [--out DIR]

Prints one table per section and writes `latest.json`, `latest.md` and the profiles to
`--out`: by default reports/bench/ (untracked, so a run never dirties the tree). The
committed figures benchmarks/README.md records live in benchmarks/results/ and change only
on purpose: `make bench BENCH_OUT=benchmarks/results`, then commit. Every server and every
request stays on loopback. Nothing here asserts a time: these are measurements.

One module per section behind this dispatcher (`SECTIONS`): common.py (shared helpers),
throughput.py, scale.py, profiling.py, suite.py, staging.py.

Sections:
  throughput  the mock (uvicorn, one process) and Prism 5.16 (`prism mock`, static
              examples) on the same core, loaded by benchmarks/loadgen.py on the other core:
              get (a batch of 100 recipients), list (limit 100, 150 batches stored), submit
              (100 recipients); requests/s, p50/p99, the mock/Prism ratio, and the mock/floor
              ratio (benchmarks/floor.py: a bare ASGI app answering prebuilt bytes of the
              sizes the mock answered, same uvicorn + httptools + uvloop, same run).
  scale       in process: submit and get of 100 / 1,000 / 10,000 recipients (time, peak
              memory), list paging over 100 / 1,000 / 5,000 batches (time per page: first,
              middle, last), and advancing the clock through a 10,000-recipient batch.
  profile     pyinstrument over the hot path (get, list, submit), text profiles written
              to <out>/profile-<op>.txt.
  suite       wall time of `make test`, of the cassette replay, and generated cases per
              second for Schemathesis fuzzing against the in-process mock vs over loopback.
  staging     the whole suite through the live path against the mock served slow (100-400
              ms, 1 and 8 workers, safe and dispatch) and as a shared staging endpoint
              (rate and concurrency limits, latency, 3,000 earlier batches; both dialects),
              and a run still limited after its pressure budget: exit, wall, requests, 429s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import OUT, ROOT, machine
from benchmarks.profiling import profile, profile_table
from benchmarks.scale import scale, scale_tables
from benchmarks.staging import staging, staging_table
from benchmarks.suite import suite, suite_table
from benchmarks.throughput import throughput, throughput_table

SECTIONS = {"throughput": (throughput, throughput_table), "scale": (scale, scale_tables),
            "profile": (profile, profile_table), "suite": (suite, suite_table),
            "staging": (staging, staging_table)}
#: What `make bench` runs; the staging section (whole live runs, ~15 min) only on request.
DEFAULT = ("throughput", "scale", "profile", "suite")


def _take_files(result: Any) -> dict[str, str]:
    """Remove the `files` ({name: text}) a section's result carries, at any depth, and
    return them: written beside latest.md, not into latest.json."""
    files: dict[str, str] = {}
    if isinstance(result, dict):
        files.update(result.pop("files", None) or {})
        for value in result.values():
            files.update(_take_files(value))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--only", default=",".join(DEFAULT),
                        help=f"comma-separated sections ({', '.join(SECTIONS)}; default: "
                             f"{', '.join(DEFAULT)} — staging takes about 15 min more)")
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller sizes")
    parser.add_argument("--out", type=Path, default=OUT,
                        help="folder for latest.md, latest.json and the profiles (default "
                             "reports/bench; benchmarks/results to replace the committed ones)")
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}")
    out = args.out if args.out.is_absolute() else ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "date": time.strftime("%Y-%m-%d"),
                     "quick": args.quick}
    latest = out / "latest.json"
    if set(wanted) != set(DEFAULT) and latest.exists():
        # A partial run updates its sections and keeps the others' last figures.
        previous = json.loads(latest.read_text())
        if previous.get("quick") == args.quick:
            results = {**previous, **results}
    for name in wanted:
        print(f"{name} ...", file=sys.stderr, flush=True)
        results[name] = SECTIONS[name][0](args.quick)
        for file_name, text in _take_files(results[name]).items():
            (out / file_name).write_text(text)
        print(f"\n{name}\n{SECTIONS[name][1](results[name])}\n", flush=True)
    report = [f"# make bench, {results['date']}{' (quick)' if args.quick else ''}",
              "", "Machine: " + ", ".join(f"{k} {v}" for k, v in results["machine"].items()),
              ""]
    for name, (_, render) in SECTIONS.items():
        if name not in results:
            continue
        text = render(results[name])
        if name == "throughput" and results[name].get("prism_skipped"):
            text += f"\n\nPrism skipped: {results[name]['prism_skipped']}"
        report += [f"## {name}", "", text, ""]
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "latest.md").write_text("\n".join(report))
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"written: {shown}/latest.md, latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
