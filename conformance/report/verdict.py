"""The verdict over all targets, its exit code, and the one line that says why.

* 1 NOT CONFORMANT: any FAIL (a new non-conformance), wherever it was seen: a test body, or
  a fixture's set-up or tear-down that got a broken answer from the server. A FAIL wins over
  everything: what was proven wrong stays proven, whatever else could not run (the page and
  the reason list those errors too).
* 2 COULD NOT RUN: nothing was proven wrong and the run was incomplete for the suite's own
  reasons: no reports; a file missing / unreadable / not JUnit; a target with no test cases;
  a collection error; an ERROR (the suite's own live-safety guard refusing a request, a
  transport or harness error in a fixture: a defect of the suite or the network).
* 0 CONFORMANT: everything else. KNOWN deviations, DIFFERS ("differs from our inference":
  an `inferred` requirement that did not hold on a vendor), SKIP and drift are allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

from conformance.report.model import FAIL, OUTCOMES, Run, distinct_problems

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_NOT_RUN = 2
VERDICT_LABELS = {EXIT_OK: "CONFORMANT", EXIT_FAIL: "NOT CONFORMANT",
                  EXIT_NOT_RUN: "COULD NOT RUN"}


def verdict(runs: Iterable[Run]) -> int:
    runs = list(runs)
    if any(t.outcome == FAIL for r in runs for t in r.tests):
        return EXIT_FAIL
    if not runs or any(r.could_not_run for r in runs):
        return EXIT_NOT_RUN
    return EXIT_OK


def verdict_label(code: int) -> str:
    return VERDICT_LABELS.get(code, "COULD NOT RUN")


def verdict_reason(runs: Iterable[Run]) -> str:
    """One line: why the verdict is what it is."""
    runs = list(runs)
    code = verdict(runs)
    if not runs:
        return "no JUnit reports were given"
    if code == EXIT_NOT_RUN:
        bad = [r for r in runs if r.could_not_run]
        n = sum(1 for r in runs for t in r.tests if t.outcome == FAIL)
        also = f" (and {n} failure{'s' if n != 1 else ''} elsewhere)" if n else ""
        return "; ".join(f"{r.target}: {r.problem()}" for r in bad) + also
    if code == EXIT_FAIL:
        fails = [t for r in runs for t in r.tests if t.outcome == FAIL]
        problems = distinct_problems(runs)
        first = problems[0]
        title = first.title if len(first.title) <= 160 else first.title[:157] + "..."
        seen = (f"seen by {len(first.tests)} tests" if len(first.tests) > 1
                else first.first.node_id)
        head = (f"{len(problems)} distinct problem{'s' if len(problems) != 1 else ''} in "
                f"{len(fails)} failing test{'s' if len(fails) != 1 else ''}; first: "
                f"{first.target} {title} ({seen})")
        bad = [r for r in runs if r.could_not_run]
        also = ("; also could not run: " + "; ".join(f"{r.target}: {r.problem()}" for r in bad)
                if bad else "")
        return head + also
    c = target_counts(runs)
    allowed = [f"{sum(x[o] for x in c.values())} {o.lower()}" for o in ("DIFFERS", "KNOWN")
               if sum(x[o] for x in c.values())]
    return "no failures" + (f" ({', '.join(allowed)}: allowed)" if allowed else "")


def targets(runs: list[Run]) -> list[str]:
    return list(dict.fromkeys(r.target for r in runs))


def target_counts(runs: list[Run]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in runs:
        c = out.setdefault(r.target, dict.fromkeys(OUTCOMES, 0))
        for k, v in r.counts().items():
            c[k] += v
    return out


def summary_line(runs: list[Run], code: int) -> str:
    """What `main` prints: the verdict, its reason and per-target counts, one line."""
    parts = []
    for tgt, c in target_counts(runs).items():
        truns = [r for r in runs if r.target == tgt]
        if all(r.error for r in truns):
            parts.append(f"{tgt} unreadable")
            continue
        s = f"{tgt} " + "/".join(f"{c[o]} {o.lower()}" for o in OUTCOMES)
        if any(r.could_not_run for r in truns):
            s += " (could not run)"
        parts.append(s)
    return (f"{verdict_label(code)}: {verdict_reason(runs)} — "
            + ("; ".join(parts) if parts else "no reports"))
