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
from dataclasses import dataclass, field
from pathlib import Path

from conformance.mock.app import create_app
from conformance.mock.choices import load_choices
from conformance.mock.clock import WallClock
from conformance.mock.server import served
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


def run_one(dialect: str, choices: str, mode: str, reports: Path) -> Result:

    result = Result(dialect, choices, mode, code=-1)
    app = create_app(dialect, keys=list(MOCK_KEYS), clock=WallClock(TIME_SCALE),
                     choices=choices)
    folder = reports / f"{dialect}-{choices}-{mode}"
    with served(app) as base_url:
        command = [sys.executable, "-m", "conformance", "run", "--target", f"live:{dialect}",
                   "--reports", str(folder), "--", *MODES[mode]]
        proc = subprocess.run(command, env=live_env(dialect, base_url), capture_output=True,
                              text=True, timeout=1200)
        result.leftovers = len(app.state.store.all_batches())
    result.code = proc.returncode
    junit = folder / f"live-{dialect}.xml"
    if not junit.exists():
        result.problems.append(f"no JUnit: {proc.stderr.strip()[-300:]}")
        return result
    run = load_junit([str(junit)])[0]
    result.counts = run.counts()
    result.differs = {t.requirement_id for t in run.tests if t.outcome == "DIFFERS"}
    result.guard_refusals = int(run.properties.get("guard_refusals", "-1"))
    if result.counts.get("FAIL") or result.counts.get("ERROR"):
        result.problems.append(f"{result.counts['FAIL']} failure(s), {result.counts['ERROR']} "
                               "error(s) against a correct server")
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


def render(results: list[Result]) -> str:
    lines = ["# The live path against two correct servers", "",
             f"The whole suite (scenarios and contract) through `live:<dialect>` against the "
             f"mock served on loopback (time x{TIME_SCALE}). Modes: safe (no dispatch), "
             "dispatch (`--allow-dispatch`), outcomes (`--allow-dispatch --mock-outcomes`).", "",
             "| dialect | choices | mode | pass | fail | error | differs | skip | guard "
             "refusals | left | differs from our inference | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r.counts
        lines.append(
            f"| {r.dialect} | {r.choices} | {r.mode} | {c.get('PASS', 0)} | {c.get('FAIL', 0)}"
            f" | {c.get('ERROR', 0)} | {c.get('DIFFERS', 0)} | {c.get('SKIP', 0)} | "
            f"{r.guard_refusals} | {r.leftovers} | {', '.join(sorted(r.differs)) or '—'} | "
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
    parser.add_argument("--md", default="reports/live-proof.md")
    args = parser.parse_args(argv)
    if args.quick:
        plan = [("elevenlabs", "default", "safe"), ("voiceai", "alternate", "outcomes")]
    else:
        plan = [(d, c, m) for d in DIALECTS for c in ("default", "alternate") for m in MODES]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for dialect, choices, mode in plan:
            result = run_one(dialect, choices, mode, Path(tmp))
            results.append(result)
            print(f"{dialect:10} {choices:9} {mode:8} {result.counts} differs="
                  f"{sorted(result.differs)} guard_refusals={result.guard_refusals} "
                  f"{'ok' if not result.problems else result.problems}", flush=True)
    md = Path(args.md)
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(render(results))
    print(f"live proof: {sum(not r.problems for r in results)}/{len(results)} runs hold -> {md}")
    return 0 if all(not r.problems for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
