"""One mutant's result, the triage of the survivors, and `reports/mutants.md`.

Survivors are triaged by hand in `triage.toml` beside this module (equivalent, with a reason
a person can check, or a gap with the test that closes it); the score's denominator leaves
out only the equivalent ones.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from conformance.tools.mutants.generate import MOCK, MODULES, Mutant, scopes_of
from conformance.tools.mutants.runners import Run

TRIAGE = Path(__file__).with_name("triage.toml")
EXIT_NAMES = {0: "CONFORMANT", 1: "NOT CONFORMANT", 2: "COULD NOT RUN"}


@dataclass
class Result:
    mutant: Mutant
    suite: Run
    cli: Run
    live: Run | None = None
    tests: int = 0              # how many of the suite's tests reach the line
    path: str = ""              # "patch" (a forked child) or "fresh process" (the overlay)
    choices: str = ""           # "alternate": no test reaches it on the default choices

    def as_json(self) -> dict:
        return {"mutant": asdict(self.mutant), "id": self.mutant.id, "key": self.mutant.key,
                "suite": asdict(self.suite), "cli": asdict(self.cli),
                "live": asdict(self.live) if self.live else None, "tests": self.tests,
                "path": self.path, "choices": self.choices}

    @classmethod
    def from_json(cls, data: dict) -> Result:
        mutant = Mutant(**data["mutant"])
        if not mutant.scope:      # a run before scopes were recorded: find its line again
            source = (MOCK / f"{mutant.module}.py").read_text()
            same = [i + 1 for i, text in enumerate(source.splitlines()) if text == mutant.before]
            if same:
                line = min(same, key=lambda n: abs(n - mutant.line))
                mutant.scope = scopes_of(source).get(line, "")
        return cls(mutant, Run(**data["suite"]), Run(**data["cli"]),
                   Run(**data["live"]) if data.get("live") else None, data.get("tests", 0),
                   data.get("path", ""), data.get("choices", ""))


def load_triage(path: Path = TRIAGE) -> dict[str, dict]:
    if not path.exists():
        return {}
    return {entry["mutant"]: entry for entry in tomllib.loads(path.read_text()).get("survivor", [])}


def word(run: Run | None) -> str:
    if run is None:
        return "-"
    if run.timeout:
        return "killed(timeout)"
    if run.exit is None:
        return "not-reached"
    return {0: "survived", 1: "killed", 2: "exit2"}.get(run.exit, f"exit{run.exit}")


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
    for note in meta.get("amended", []):
        lines += [f"Amended by hand after the run: {note}.", ""]
    paths = Counter(r.path or "fresh process" for r in results)
    lines += [
              "Mutants: Cosmic Ray's operators (`cosmic_ray.mutating.mutate_code`) over "
              f"`conformance/mock/{{{','.join(MODULES)}}}.py`, never written to the files on "
              "disk: each is applied to one process, by swapping the code of the function "
              "that holds its line in a child forked from a process that imported the suite "
              "once, or (module-level lines, lines that run at import) through an import "
              "overlay in a fresh process ("
              + ", ".join(f"{n} {p}" for p, n in sorted(paths.items())) + "). "
              "Killed = the verdict a user sees: `conformance run` exit 1 (NOT CONFORMANT) "
              "for the suite (the tests that reach the line), a failure the correct mock does "
              "not cause for Schemathesis' CLI (`st run --checks all`, no project hooks, "
              f"{meta['cli_examples']} examples per operation, each phase its own run against "
              "a freshly served mutant, the phases whose requests reach the line). A run past "
              "the time-out counts as killed and is marked. Exit 2 is never a kill.", ""]
    lines += _times(meta)
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
    other = [r for r in results if r.choices]
    if other:
        info = meta.get("other_choices") or {}
        lines += [f"Judged on the {other[0].choices} choice set: {len(other)} mutant(s) on "
                  "lines no test runs with the default choices (the branches of the "
                  "mock's other choices) ran the tests that reach them with the mock on "
                  f"that set (`API_MOCK_CHOICES={other[0].choices}`), leaving out the "
                  f"{len(info.get('failing_on_correct_mock', []))} test(s) that fail there on "
                  "the correct mock (the inferred requirements the set flips); the suite "
                  f"killed {sum(r.suite.killed for r in other)} of them. The CLI and the "
                  "live path judge the default set only.", ""]
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
              + ("; ".join(f"`{f}`" for f in _findings(meta["baseline"]["cli_findings"]))
                 or "none")
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
                  "`conformance run --target live:elevenlabs` (safe mode, `-x`, the tests "
                  "that reach the line) against the served mutant; the correct mock served "
                  "the same way, on every test the sample runs: "
                  + (_word_live(meta["baseline"]["live"]) if meta["baseline"]["live"] else "-")
                  + ".", "", "| mutant | line | mock target | live path | live detail |",
                  "|---|---|---|---|---|"]
        for r in live:
            assert r.live is not None
            lines.append(f"| `{r.mutant.id}` | {r.mutant.line} | {word(r.suite)} | "
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
              "`conformance/tools/mutants/triage.toml`; `untriaged` counts as a gap.", "",
              "| mutant | line | diff | suite | CLI | verdict | reason / test |",
              "|---|---|---|---|---|---|---|"]
    for r in survivors:
        t = triage.get(r.mutant.key, {})
        diff = f"{r.mutant.before.strip()} => {r.mutant.after.strip()}".replace("|", "\\|")
        reason = t.get("reason", "").replace("|", "\\|")
        lines.append(f"| `{r.mutant.id}` | {r.mutant.line} | `{diff}` | {word(r.suite)} | "
                     f"{word(r.cli)} | {t.get('verdict', 'untriaged')} | {reason} |")
    lines.append("")
    return "\n".join(lines)


def _times(meta: dict) -> list[str]:
    """Where the wall time went (runs before the fast path recorded none of this); a re-run
    shows the first run's, then its own."""
    first = (meta.get("rerun_of") or {}).get("times")
    if first and first.get("per_mutant"):
        out = _times(first)
        own = (f"The re-run: {meta['seconds']} s wall (its baseline {meta['baseline_seconds']} "
               f"s), CPU {meta.get('cpu_s', '?')} s.")
        return [*out[:-1], own, ""]
    per = meta.get("per_mutant")
    if not per:
        return []
    base = meta["baseline"]
    live = per.get("live_s") or []
    return [
        "## Times", "",
        f"Wall {meta['seconds']} s with {meta['jobs']} mutants at once: baselines "
        f"{meta['baseline_seconds']} s (side by side, the suite with its coverage map "
        f"{base['suite_s']} s"
        + (f", the suite in a fresh process {base['fresh_suite_s']} s"
           if base.get("fresh_suite_s") is not None else "")
        + f" and the CLI's phases {base['cli_s']} s"
        + (f", the live path {round(base['live']['seconds'])} s" if base.get("live") else "")
        + f"), then {per['wall_s']} s of wall per mutant over {per['count']}. Per mutant "
        f"that ran them: the suite {per['suite_s']} s, the CLI {per['cli_s']} s"
        + (f", the live path {', '.join(f'{s} s' for s in live)}" if live else "")
        + "."
        + (f" CPU time of the whole run (every process it started): {meta['cpu_s']} s, "
           f"i.e. {round(meta['cpu_s'] / 2)} s of wall on two idle cores."
           if meta.get("cpu_s") else "")
        + (f" Load average (1, 5, 15 min) at the start {meta['load']['start']}, at the end "
           f"{meta['load']['end']}, on {meta['load']['cpus']} CPUs: other work on the "
           "machine stretches every figure." if meta.get("load") else ""), ""]


def _findings(found) -> list[str]:
    """The baseline's CLI findings: per phase (a dict) or, in older runs, one list."""
    if isinstance(found, dict):
        return [f"{phase}: {f}" for phase, items in found.items() for f in items]
    return list(found)


def _word_live(live: dict) -> str:
    if live.get("timeout"):
        return "timed out"
    code = live.get("exit")
    return EXIT_NAMES.get(code, f"exit {code}") if isinstance(code, int) else f"exit {code}"
