"""The Markdown summary (report.md): verdict, targets, what did not pass, drift, coverage."""

from __future__ import annotations

from typing import Any

from conformance.report.coverage import (
    compare_coverage,
    coverage_summary,
    default_universe,
    merge_coverage,
    pct,
)
from conformance.report.model import (
    DIFFERS,
    ERROR,
    KNOWN,
    OUTCOMES,
    Run,
    distinct_problems,
    first_line,
)
from conformance.report.parts import safe_href
from conformance.report.verdict import target_counts, verdict, verdict_label, verdict_reason

_NAMES = {"operations": "Operations", "status_codes": "Status codes",
          "enums": "Enum values", "transitions": "Lifecycle transitions"}


def md(s: Any) -> str:
    """Escape text for a Markdown table cell / inline text."""
    return str(s or "").replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def code(s: str) -> str:
    s = str(s).replace("\n", " ")
    tick = "``" if "`" in s else "`"
    pad = " " if tick == "``" else ""
    return f"{tick}{pad}{s}{pad}{tick}"


def _requirement(t) -> str:
    if not (t.requirement_id or t.requirement):
        return ""
    head = " ".join(x for x in (md(t.requirement_id),
                                f"[{t.requirement_grade}]" if t.requirement_grade else "") if x)
    return f" — requirement {head}: {md(t.requirement)}" if head else \
        f" — requirement: {md(t.requirement)}"


def _problems(runs: list[Run], outcome: str, title: str) -> list[str]:
    items = [(r.target, t) for r in runs for t in r.tests if t.outcome == outcome]
    lines = [f"## {title} ({len(items)})", ""]
    if not items:
        return lines + ["None.", ""]
    for tgt, t in items:
        rule = f" (rule: {md(first_line(t.violated_rule))})" if t.violated_rule else ""
        guard = f" (guard rule: {md(t.guard_rule)})" if t.guard_rule else ""
        lines.append(f"- **{md(tgt)}** {code(t.node_id)} — {md(t.reason)}{rule}{guard}"
                     f"{_requirement(t)}")
    return lines + [""]


def _distinct(runs: list[Run]) -> list[str]:
    """Failures as distinct problems: how many tests saw each, one request and response,
    the tests beneath."""
    problems = distinct_problems(runs)
    n = sum(len(p.tests) for p in problems)
    lines = [f"## Failures: {len(problems)} distinct problem{'s' if len(problems) != 1 else ''}"
             f" ({n} test{'s' if n != 1 else ''})", ""]
    if not problems:
        return lines + ["None.", ""]
    for i, p in enumerate(problems, 1):
        t = p.first
        lines.append(f"### Problem {i}: {md(p.title)} — seen by {len(p.tests)} "
                     f"test{'s' if len(p.tests) != 1 else ''} on {md(p.target)}")
        lines.append("")
        req = f" {_requirement(t).removeprefix(' — ')}" if _requirement(t) else ""
        lines.append(f"- first: {code(t.node_id)} — {md(t.reason)}{req}")
        if t.request:
            lines.append(f"- request: {code(first_line(t.request))}")
        if t.response:
            lines.append(f"- response: {code(t.response[:300])}")
        others = [code(x.node_id) for x in p.tests[1:]]
        if others:
            lines.append(f"- also: {', '.join(others[:30])}"
                         + (f" … and {len(others) - 30} more" if len(others) > 30 else ""))
        lines.append("")
    return lines


def _known(runs: list[Run]) -> list[str]:
    known = [(r.target, t) for r in runs for t in r.tests if t.outcome == KNOWN]
    lines = [f"## Known deviations ({len(known)})", ""]
    if not known:
        return lines + ["None.", ""]
    for tgt, t in known:
        reason = md(t.reason)
        if safe_href(t.issue_url):
            link = f"<{t.issue_url}>"
            if t.issue_url in reason:
                reason = reason.replace(t.issue_url, link, 1)
            else:
                reason = f"{reason} — {link}" if reason else link
        lines.append(f"- **{md(tgt)}** {code(t.node_id)} — {reason}")
    return lines + [""]


def _unexercised(runs: list[Run]) -> list[str]:
    rows = [(r.target, r.unexercised_requirements(), len(r.requirements))
            for r in runs if r.requirements]
    if not rows:
        return []
    lines = ["## Requirements no test exercised", ""]
    for tgt, missing, total in rows:
        ids = ", ".join(code(rid) for rid in missing[:40])
        more = f" … and {len(missing) - 40} more" if len(missing) > 40 else ""
        lines.append(f"- **{md(tgt)}**: {len(missing)} of {total}"
                     + (f": {ids}{more}" if missing else ""))
    return lines + [""]


def _drift(runs: list[Run]) -> list[str]:
    items = [(r.target, d) for r in runs for d in r.drift]
    lines = [f"## Drift ({len(items)})", ""]
    if not items:
        return lines + ["None.", ""]
    for tgt, d in items:
        hint = f" — {md(d.hint)}" if d.hint else ""
        lines.append(f"- **{md(tgt)}** {md(d.kind)} {code(d.where)} in {code(d.operation)} "
                     f"×{d.count}, first seen {code(d.first_seen)}{hint}")
    return lines + [""]


def _coverage(coverage: dict, universe: dict) -> list[str]:
    cmp = compare_coverage(coverage, universe)
    summ = coverage_summary(cmp)
    lines = ["## Coverage", "",
             "| Dimension | Documented exercised | Documented | % | Exercised, undocumented |",
             "|---|---:|---:|---:|---:|"]
    for section, name in _NAMES.items():
        covered, total = summ.get(section, (0, 0))
        extra = sum(1 for rows in cmp.get(section, {}).values() for r in rows if not r.documented)
        lines.append(f"| {name} | {covered} | {total} | {pct(covered, total)} | {extra} |")
    gaps = [(g, r.item) for groups in cmp.values() for g, rows in groups.items()
            for r in rows if r.documented and not r.count]
    if gaps:
        lines += ["", "Not exercised: "
                  + ", ".join(code(f"{g}: {item}" if g else item) for g, item in gaps[:50])
                  + (f" … and {len(gaps) - 50} more" if len(gaps) > 50 else "")]
    return lines + [""]


def render_markdown(runs: list[Run], coverage: dict | None = None,
                    universe: dict | None = None, lead: list[str] | None = None) -> str:
    """The Markdown summary; `lead` (lines, e.g. baseline.since_markdown's) goes first after
    the verdict."""
    runs = list(runs)
    universe = universe or default_universe()
    coverage = merge_coverage(runs) if coverage is None else coverage
    rc = verdict(runs)
    lines = ["# Batch-calling API conformance report", "",
             f"**Verdict: {verdict_label(rc)}** (exit code {rc})", "",
             f"Why: {md(verdict_reason(runs))}", ""]
    lines += lead or []
    if not runs:
        lines += ["- No JUnit reports were given.", ""]
    bad = [r for r in runs if r.could_not_run]
    if bad:
        lines += ["## Could not run", ""]
        lines += [f"- **{md(r.target)}**: {md(r.problem())}" for r in bad]
        lines.append("")
    lines += ["## Targets", "",
              "| Target | Verdict | " + " | ".join(o.title() for o in OUTCOMES) + " | Total |",
              "|---|---|" + "---:|" * (len(OUTCOMES) + 1)]
    for tgt, c in target_counts(runs).items():
        tv = verdict([r for r in runs if r.target == tgt])
        lines.append(f"| {md(tgt)} | {verdict_label(tv)} | "
                     + " | ".join(str(c[o]) for o in OUTCOMES) + f" | {sum(c.values())} |")
    lines.append("")
    pressure = [(r.target, r.pressure_line()) for r in runs if r.pressure]
    if pressure:   # how often a live server pushed back, and how long the run waited
        lines += ["## Pressure", ""] + [f"- **{md(t)}**: {md(line)}" for t, line in pressure]
        lines.append("")
    lines += _distinct(runs)
    lines += _problems(runs, DIFFERS, "Differs from our inference")
    lines += _problems(runs, ERROR, "Errors")
    lines += _known(runs)
    lines += _unexercised(runs)
    lines += _drift(runs)
    lines += _coverage(coverage, universe)
    return "\n".join(lines)
