"""The live path proven against two correct servers: the whole suite through `live:<dialect>`
against the mock served on loopback, with its default choices and with the alternate set
(every undocumented choice flipped), in each mode a user may run it in.

    python -m conformance.tools.liveproof              # every dialect x choice set x mode
    python -m conformance.tools.liveproof --quick      # one run per choice set (make test)

A correct server must give 0 failures, 0 errors and 0 guard refusals whatever its choices;
with the default choices nothing differs from our inferences, and with the alternate set
exactly the inferred requirements its flipped choices contradict differ (a flip no test can
observe, or on which the suite infers nothing, is listed as such). Writes
reports/live-proof.md; exit 0 when every run holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from conformance.mock.app import create_app
from conformance.mock.choices import load_choices
from conformance.mock.clock import WallClock
from conformance.mock.server import served
from conformance.mock.staging import Staging, StagingOptions, preload
from conformance.profiles import DIALECTS, load_profile
from conformance.report.junit import load_junit
from conformance.targets import MOCK_KEYS

TIME_SCALE = 60  # one real second is a mock minute: calls end in seconds
MODES = {"safe": (), "dispatch": ("--allow-dispatch",),
         "outcomes": ("--allow-dispatch", "--mock-outcomes")}
#: Which inferred requirement each undocumented choice of the mock bears on (None: the suite
#: infers nothing there, so no server's choice can differ from it).
CHOICE_REQUIREMENTS = {
    "cancel_finished_batch": "CANCEL-5",
    "retry_unfinished_batch": "RETRY-4",
    "cancel_finished_recipients": "CANCEL-4",
    "malformed_id_status": "NOTFOUND-1",
    "voicemail_counts_as_finished": None,   # counters of voicemail are strict-only checks
    "all_failed_batch_status": None,        # no test makes every call of a batch fail
    "default_concurrency": None,            # every test that runs calls sets its limit
    "list_order": None,                     # paging tests check sets, not order
    "max_page_limit": None,                 # tests ask for pages of 1, 2 or the default
    "call_time_scale": None,                # the suite waits; it never times calls
    "id_format": None,                      # ids are opaque
    "cursor_format": None,                  # cursors are opaque
}
#: Flips whose requirement a mode can observe, and why one it cannot.
NEEDS = {"CANCEL-5": "dispatch", "RETRY-4": "dispatch", "CANCEL-4": "outcomes",
         "NOTFOUND-1": "safe"}
MODE_ORDER = ("safe", "dispatch", "outcomes")
#: The staging rows: the mock as a shared staging endpoint (conformance/mock/staging.py)
#: with 10 requests/s and 2 concurrent requests per key, 50-250 ms per answer and 3,000
#: earlier batches per workspace; run with STAGING_WORKERS so the concurrency limit bites.
STAGING_RATE, STAGING_CONCURRENT, STAGING_LATENCY = 10, 2, (50, 250)
STAGING_PRELOAD = 3000
STAGING_WORKERS = 4


@dataclass
class Result:
    dialect: str
    choices: str
    mode: str
    code: int
    counts: dict[str, int] = field(default_factory=dict)
    differs: set[str] = field(default_factory=set)
    skipped_reasons: dict[str, str] = field(default_factory=dict)
    guard_refusals: int = -1
    leftovers: int = 0
    problems: list[str] = field(default_factory=list)
    pressure: str = ""
    seconds: float = 0.0


def flipped(choices: str) -> dict[str, str | None]:
    """The choices this set flips against the default one, with their requirement."""
    base, other = load_choices("default"), load_choices(choices)
    return {key: req for key, req in CHOICE_REQUIREMENTS.items()
            if getattr(base, key) != getattr(other, key)}


def expected_differs(choices: str, mode: str) -> set[str]:
    """Requirements that must differ: those of the flipped choices this mode can observe."""
    reach = MODE_ORDER.index(mode)
    return {req for req in flipped(choices).values()
            if req is not None and MODE_ORDER.index(NEEDS[req]) <= reach}


def live_env(dialect: str, base_url: str, **extra: str) -> dict:
    """The environment of a run pointed at the mock served at `base_url` (its keys, fast
    polls, a bounded wait); `extra` adds or overrides variables."""
    profile = load_profile(dialect)
    assert profile.base_url_env and profile.api_key_env, f"{dialect}: a dialect profile"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update({profile.base_url_env: base_url, profile.api_key_env: MOCK_KEYS[0],
                f"{dialect.upper()}_OTHER_API_KEY": MOCK_KEYS[1], "API_LIVE_POLL_MAX": "0.5",
                "API_LIVE_DEADLINE": "120", **extra})
    return env


def run_one(dialect: str, choices: str, mode: str, reports: Path, *,
            staging: bool = False) -> Result:
    result = Result(dialect, "staging" if staging else choices, mode, code=-1)
    clock = WallClock(TIME_SCALE)
    app = create_app(dialect, keys=list(MOCK_KEYS), clock=clock, choices=choices)
    served_app: object = app
    if staging:
        preload(app.state.store, sorted(set(app.state.parts.keys.values())), STAGING_PRELOAD)
        options = StagingOptions(rate_limit=STAGING_RATE, max_concurrent=STAGING_CONCURRENT,
                                 latency_ms=STAGING_LATENCY)
        served_app = Staging(app, options, app.state.profile.auth_header, clock)
    folder = reports / f"{dialect}-{result.choices}-{mode}"
    with served(served_app) as base_url:
        command = [sys.executable, "-m", "conformance", "run", "--target", f"live:{dialect}",
                   "--reports", str(folder),
                   *(["--workers", str(STAGING_WORKERS)] if staging else []), "--",
                   *MODES[mode]]
        started = time.monotonic()
        proc = subprocess.run(command, env=live_env(dialect, base_url), capture_output=True,
                              text=True, timeout=1200)
        result.seconds = time.monotonic() - started
        result.leftovers = sum(1 for b in app.state.store.all_batches()
                               if str(b.name or "").startswith("cst-"))
    result.code = proc.returncode
    junit = folder / f"live-{dialect}.xml"
    if not junit.exists():
        result.problems.append(f"no JUnit: {proc.stderr.strip()[-300:]}")
        return result
    run = load_junit([str(junit)])[0]
    result.counts = run.counts()
    result.differs = {t.requirement_id for t in run.tests if t.outcome == "DIFFERS"}
    result.guard_refusals = int(run.properties.get("guard_refusals", "-1"))
    result.pressure = run.pressure_line()
    if result.counts.get("FAIL") or result.counts.get("ERROR"):
        bad = [t for t in run.tests if t.outcome in ("FAIL", "ERROR")]
        named = "; ".join(f"{t.node_id}: {t.reason[:120]}" for t in bad[:3])
        result.problems.append(f"{result.counts['FAIL']} failure(s), {result.counts['ERROR']} "
                               f"error(s) against a correct server ({named})")
    if result.guard_refusals != 0:
        result.problems.append(f"{result.guard_refusals} guard refusal(s): the suite tripped "
                               "its own guard")
    if result.leftovers:
        result.problems.append(f"{result.leftovers} batch(es) left behind")
    # A flip is seen only where its test ran: one that skipped (the target too fast to catch
    # the moment it needs, say) cannot tell, and says why in the report.
    ran = {t.requirement_id for t in run.tests if t.outcome != "SKIP"}
    want = expected_differs(choices, mode) & ran
    if result.differs != want:
        result.problems.append(f"differs {sorted(result.differs)}, expected {sorted(want)}")
    if result.code != 0:
        result.problems.append(f"exit {result.code}")
    return result


def budget_run(dialect: str, reports: Path) -> Result:
    """A server that stays rate limited past the run's pressure budget: the run must end
    exit 2 with the numbers in one line ("rate limited N times, waited S s, gave up on X")."""
    result = Result(dialect, "rate limit 1/s", "budget 3 s", code=-1)
    clock = WallClock(TIME_SCALE)
    app = create_app(dialect, keys=list(MOCK_KEYS), clock=clock)
    with served(Staging(app, StagingOptions(rate_limit=1), app.state.profile.auth_header,
                        clock)) as base_url:
        suite = Path(__file__).resolve().parents[2] / "conformance_suite" / "scenarios" \
            / "test_list.py"
        command = [sys.executable, "-m", "conformance", "run", "--target", f"live:{dialect}",
                   "--reports", str(reports / f"{dialect}-budget"), "--suite", str(suite),
                   "--pressure-budget", "3"]
        proc = subprocess.run(command, env=live_env(dialect, base_url), capture_output=True,
                              text=True, timeout=600)
    result.code = proc.returncode
    line = (proc.stderr.strip().splitlines() or [""])[-1]
    result.pressure = line
    if proc.returncode != 2 or "rate limited" not in line or "gave up on" not in line:
        result.problems.append(f"exit {proc.returncode}, last line {line!r}: expected exit 2 "
                               "with the pressure numbers")
    return result


def render(results: list[Result]) -> str:
    lines = ["# The live path against two correct servers", "",
             f"The whole suite (scenarios and contract) through `live:<dialect>` against the "
             f"mock served on loopback (time x{TIME_SCALE}). Modes: safe (no dispatch), "
             "dispatch (`--allow-dispatch`), outcomes (`--allow-dispatch --mock-outcomes`).", "",
             f"Staging rows: the same mock as a shared staging endpoint ({STAGING_RATE}"
             f" requests/s and {STAGING_CONCURRENT} concurrent requests per key, "
             f"{STAGING_LATENCY[0]}-{STAGING_LATENCY[1]} ms per answer, "
             f"{STAGING_PRELOAD} earlier batches per workspace), run with --workers "
             f"{STAGING_WORKERS}; the budget row must end exit 2 with the numbers.", "",
             "| dialect | choices | mode | pass | fail | error | differs | skip | guard "
             "refusals | left | differs from our inference | seconds | pressure | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r.counts
        lines.append(
            f"| {r.dialect} | {r.choices} | {r.mode} | {c.get('PASS', 0)} | {c.get('FAIL', 0)}"
            f" | {c.get('ERROR', 0)} | {c.get('DIFFERS', 0)} | {c.get('SKIP', 0)} | "
            f"{r.guard_refusals} | {r.leftovers} | {', '.join(sorted(r.differs)) or '—'} | "
            f"{r.seconds:.0f} | {r.pressure or '—'} | "
            f"{'ok' if not r.problems else '; '.join(r.problems)} |")
    lines += ["", "## The alternate set's flips", "",
              "| choice | requirement it bears on | seen from mode |", "|---|---|---|"]
    for key, req in flipped("alternate").items():
        lines.append(f"| `{key}` | {req or 'none: the suite infers nothing there'} | "
                     f"{NEEDS.get(req, '—') if req else '—'} |")
    lines += ["", "CANCEL-4 needs a call finished while the next is still running; the "
              "alternate set's calls end in about a second, so the test skips there ('the "
              "target finished the second call before it could be cancelled') unless the "
              "target is slower."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.tools.liveproof",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one run per choice set: elevenlabs safe on the default choices, "
                        "voiceai with dispatch and outcomes on the alternate set")
    parser.add_argument("--staging", action="store_true",
                        help="only the staging rows (both dialects, safe and dispatch) and "
                        "the budget row")
    parser.add_argument("--md", default="reports/live-proof.md")
    args = parser.parse_args(argv)
    if args.quick:
        plan = [("elevenlabs", "default", "safe"), ("voiceai", "alternate", "outcomes")]
    elif args.staging:
        plan = []
    else:
        plan = [(d, c, m) for d in DIALECTS for c in ("default", "alternate") for m in MODES]
    if not args.quick:
        plan += [(d, "staging", m) for d in DIALECTS for m in ("safe", "dispatch")]
        plan += [(d, "budget", "") for d in DIALECTS[:1]]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for dialect, choices, mode in plan:
            if choices == "budget":
                result = budget_run(dialect, Path(tmp))
            else:
                result = run_one(dialect, "default" if choices == "staging" else choices,
                                 mode, Path(tmp), staging=choices == "staging")
            results.append(result)
            print(f"{dialect:10} {choices:9} {mode:8} {result.counts} differs="
                  f"{sorted(result.differs)} guard_refusals={result.guard_refusals} "
                  f"{result.seconds:.0f}s {result.pressure} "
                  f"{'ok' if not result.problems else result.problems}", flush=True)
    md = Path(args.md)
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(render(results))
    print(f"live proof: {sum(not r.problems for r in results)}/{len(results)} runs hold -> {md}")
    return 0 if all(not r.problems for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
