"""The suite's own speed (`--only suite`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from benchmarks.common import ROOT, table


def wall(argv: list[str], env: dict | None = None) -> tuple[float, int, str]:
    t = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    tail = (done.stdout.strip().splitlines() or [""])[-1]
    return time.perf_counter() - t, done.returncode, tail


def fuzz_rate(base_url: str | None, app, examples: int) -> dict:
    """Generated cases per second through Schemathesis (generation, call, every check)."""
    from hypothesis import HealthCheck, given, settings

    from conformance import fuzz
    from conformance.targets import MOCK_KEYS

    schema = fuzz.load_schema("elevenlabs")
    if app is not None:
        schema.app = app
    count = 0
    failures: list[str] = []
    headers = {"xi-api-key": MOCK_KEYS[0]}
    t = time.perf_counter()
    for result in schema.get_all_operations():
        op = result.ok()
        strategy = op.as_strategy()

        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def one(case):
            nonlocal count
            count += 1
            fuzz.pin_query(case)
            transport = {"headers": headers}
            if base_url is None:
                transport["app"] = app
                response = case.call(headers=headers)
            else:
                transport["base_url"] = base_url
                response = case.call(base_url=base_url, headers=headers)
            try:
                case.validate_response(response, headers=headers, transport_kwargs=transport)
            except Exception:   # noqa: BLE001 - Schemathesis raises a group of failures
                failures.append(case.id)   # throughput, not verdicts: tests/contract judge
        one()
    seconds = time.perf_counter() - t
    return {"cases": count, "seconds": seconds, "cases_per_s": count / seconds,
            "cases_with_check_failures": len(failures)}


def suite(quick: bool) -> dict:
    from conformance.mock import create_app
    from conformance.mock.server import served

    out: dict = {}
    print("  suite: fuzzing in process vs loopback ...", file=sys.stderr, flush=True)
    examples = 20 if quick else 100
    out["fuzz_in_process"] = fuzz_rate(None, create_app("elevenlabs"), examples)
    with served(create_app("elevenlabs")) as url:
        out["fuzz_loopback"] = fuzz_rate(url, None, examples)
    py = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
    print("  suite: cassette replay ...", file=sys.stderr, flush=True)
    seconds, rc, tail = wall([py, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/scenarios", "--target", "cassette:elevenlabs"])
    out["cassette_replay"] = {"seconds": seconds, "exit": rc, "summary": tail}
    print("  suite: contract tests (fuzzing, in process) ...", file=sys.stderr, flush=True)
    seconds, rc, tail = wall([py, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/contract"])
    out["contract_tests"] = {"seconds": seconds, "exit": rc, "summary": tail}
    if not quick:
        print("  suite: make test (a few minutes) ...", file=sys.stderr, flush=True)
        seconds, rc, tail = wall(["make", "test"])
        out["make_test"] = {"seconds": seconds, "exit": rc, "summary": tail}
    return out


def suite_table(data: dict) -> str:
    rows = []
    for key in ("make_test", "cassette_replay", "contract_tests"):
        if key in data:
            v = data[key]
            rows.append([key.replace("_", " "), f"{v['seconds']:.0f} s", v["exit"],
                         v["summary"]])
    for key in ("fuzz_in_process", "fuzz_loopback"):
        v = data[key]
        rows.append([key.replace("_", " "), f"{v['seconds']:.1f} s", "",
                     f"{v['cases']} cases, {v['cases_per_s']:.0f} cases/s"])
    return table(["what", "wall", "exit", "result"], rows)
