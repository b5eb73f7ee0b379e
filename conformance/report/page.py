"""The one self-contained HTML page (inline CSS, no JavaScript, no external assets).

Order: verdict and why; what could not run; targets; what did not pass (failures, then
"differs from our inference", then errors, each with requirement, request and response
visible); known deviations; the matrix of tests x targets grouped by requirement; results
by operation; requirements no test exercised; drift; coverage.
"""

from __future__ import annotations

from conformance.report.coverage import compare_coverage, default_universe, merge_coverage
from conformance.report.model import (
    DIFFERS,
    ERROR,
    FAIL,
    KNOWN,
    OTHER,
    OUTCOMES,
    PASS,
    SEVERITY,
    Run,
    TestResult,
    distinct_problems,
)
from conformance.report.parts import (
    cell,
    coverage_html,
    drift_html,
    e,
    grade_badge,
    ops_html,
    problem_card,
    requirement_html,
    safe_href,
)
from conformance.report.style import CSS
from conformance.report.verdict import (
    target_counts,
    targets,
    verdict,
    verdict_label,
    verdict_reason,
)

NO_REQUIREMENT = ""
_SECTIONS = ((FAIL, "failures", "Failures"),
             (DIFFERS, "differs", "Differs from our inference"),
             (ERROR, "errors", "Errors (the suite could not run these)"))


def matrix(runs: list[Run]) -> dict[str, dict[str, TestResult]]:
    """node_id -> target -> result (worst outcome if a target has duplicates)."""
    m: dict[str, dict[str, TestResult]] = {}
    for r in runs:
        for t in r.tests:
            row = m.setdefault(t.node_id, {})
            cur = row.get(r.target)
            if cur is None or SEVERITY[t.outcome] > SEVERITY[cur.outcome]:
                row[r.target] = t
    return m


def requirement_table(runs: list[Run]) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for r in runs:
        for rid, info in r.requirements.items():
            table.setdefault(rid, info)
    return table


def _first(row: dict[str, TestResult], attr: str) -> str:
    return next((getattr(t, attr) for t in row.values() if getattr(t, attr)), "")


def group_by_requirement(m: dict[str, dict[str, TestResult]], table: dict[str, dict]
                         ) -> list[tuple[str, list[str]]]:
    """[(requirement key, [node ids])]: the table's order first, then first appearance;
    tests that recorded no requirement last."""
    groups: dict[str, list[str]] = {}
    for node, row in m.items():
        groups.setdefault(_first(row, "requirement_key"), []).append(node)
    order = [k for k in table if k in groups]
    order += [k for k in groups if k not in order and k != NO_REQUIREMENT]
    if NO_REQUIREMENT in groups:
        order.append(NO_REQUIREMENT)
    return [(k, groups[k]) for k in order]


def by_operation(runs: list[Run], universe: dict) -> dict[str, dict[str, dict[str, int]]]:
    """operation -> target -> outcome counts; a test counts under every operation it
    exercised, a test that recorded none under "other". Spec order, then others."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for r in runs:
        for t in r.tests:
            for op in t.operations or (OTHER,):
                c = out.setdefault(op, {}).setdefault(r.target, dict.fromkeys(OUTCOMES, 0))
                c[t.outcome] += 1
    spec_order = [o for o in (universe or {}).get("operations") or [] if o in out]
    rest = sorted(o for o in out if o not in spec_order and o != OTHER)
    order = spec_order + rest + ([OTHER] if OTHER in out else [])
    return {o: out[o] for o in order}


def _counts_html(c: dict[str, int]) -> str:
    return "".join(f'<span class="badge b-{o}">{n} {o.lower()}</span>'
                   for o, n in c.items() if n) or '<span class="muted">—</span>'


def _head(code: int, label: str, reason: str, tot: dict[str, int], n_targets: int) -> list[str]:
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Conformance report — {e(label)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f'<div class="banner v{code}" id="verdict" data-verdict="{e(label)}" '
        f'data-exit-code="{code}"><span class="v">{e(label)}</span>'
        f"<span>{n_targets} target{'s' if n_targets != 1 else ''} · "
        + " · ".join(f"{tot[o]} {o.lower()}" for o in OUTCOMES)
        + f'</span><span class="why" id="verdict-reason">{e(reason)}</span></div>',
        "<h1>Batch-calling API conformance</h1>",
        '<nav class="toc"><a href="#targets">Targets</a><a href="#not-passed">Did not pass</a>'
        '<a href="#results">Matrix</a><a href="#by-operation">By operation</a>'
        '<a href="#requirements">Requirements</a><a href="#drift-section">Drift</a>'
        '<a href="#coverage">Coverage</a></nav>',
    ]


def _could_not_run(runs: list[Run]) -> list[str]:
    if not runs:
        return ['<div class="alert">No JUnit reports were given.</div>']
    out = []
    for r in runs:
        if not (r.error or r.collection_errors or not r.tests):
            continue  # test ERRORs: the banner says why, "Errors" below shows them
        block = f"<strong>{e(r.target)}</strong> could not run: {e(r.problem())}"
        block += "".join(
            f"<details><summary>{e(t.name or t.classname or 'collection error')}</summary>"
            f"<pre>{e(t.text or t.message)}</pre></details>" for t in r.collection_errors)
        out.append(f'<div class="alert could-not-run">{block}</div>')
    return out


def _targets_table(runs: list[Run]) -> list[str]:
    counts = target_counts(runs)
    h = ['<h2 id="targets">Targets</h2><table id="targets-table"><thead><tr><th>Target</th>'
         "<th>Verdict</th>" + "".join(f"<th>{o.title()}</th>" for o in OUTCOMES)
         + "<th>Total</th><th>Source</th></tr></thead><tbody>"]
    for tgt in targets(runs):
        truns = [r for r in runs if r.target == tgt]
        tv, c = verdict(truns), counts[tgt]
        src = ", ".join(r.path for r in truns)
        warn = "; ".join(w for r in truns for w in r.warnings)
        h.append(f'<tr data-target="{e(tgt)}"><th>{e(tgt)}</th>'
                 f'<td><span class="badge b-{tv}">{e(verdict_label(tv))}</span></td>'
                 + "".join(f'<td class="num {"nz" if c[o] else "zero"}" data-count="{o}">'
                           f"{c[o]}</td>" for o in OUTCOMES)
                 + f'<td class="num">{sum(c.values())}</td>'
                 f'<td class="small muted">{e(src)}{(" — " + e(warn)) if warn else ""}</td></tr>')
    h.append("</tbody></table>")
    pressure = [(r.target, r.pressure_line()) for r in runs if r.pressure]
    if pressure:   # how often a live server pushed back, and how long the run waited
        h.append('<h3 id="pressure">Pressure</h3><ul>' + "".join(
            f'<li data-pressure="{e(t)}"><b>{e(t)}</b>: {e(line)}</li>' for t, line in pressure)
            + "</ul>")
    return h


def _not_passed(runs: list[Run]) -> list[str]:
    h = ['<h2 id="not-passed">What did not pass</h2>']
    any_shown = False
    for outcome, ident, title in _SECTIONS:
        items = [(r.target, t) for r in runs for t in r.tests if t.outcome == outcome]
        if not items:
            continue
        any_shown = True
        h.append(f'<h3 id="{ident}">{e(title)} ({len(items)})</h3>')
        if outcome == FAIL:
            h.extend(_problem_groups(runs))
            continue
        h.extend(problem_card(tgt, t) for tgt, t in items)
    if not any_shown:
        h.append('<p class="muted">Every test that ran passed (or is a known deviation).</p>')
    known = [(r.target, t) for r in runs for t in r.tests if t.outcome == KNOWN]
    if known:
        h.append(f'<h3 id="known">Known deviations ({len(known)})</h3><ul>')
        for tgt, t in known:
            href = safe_href(t.issue_url)
            link = f'<a href="{e(href)}">{e(href)}</a>' if href else ""
            reason = e(t.reason)
            if href and e(href) in reason:
                reason = reason.replace(e(href), link, 1)
            elif href:
                reason = f"{reason} — {link}"
            h.append(f'<li><span class="badge b-KNOWN">{e(tgt)}</span> '
                     f"<code>{e(t.node_id)}</code>: {reason}</li>")
        h.append("</ul>")
    return h


def _problem_groups(runs: list[Run]) -> list[str]:
    """One entry per distinct problem (the same operation breaking the same rule): how many
    tests saw it, the first one's card (request and response), the others folded beneath."""
    problems = distinct_problems(runs)
    h = [f'<p class="small" id="distinct-problems">{len(problems)} distinct problem'
         f'{"s" if len(problems) != 1 else ""}, most-seen first.</p>']
    for n, p in enumerate(problems, 1):
        count = len(p.tests)
        h.append(f'<section class="distinct" data-problem="{n}" data-tests="{count}">'
                 f'<h4>Problem {n}: <code>{e(p.title)}</code> '
                 f'<span class="muted small">— seen by {count} test{"s" if count != 1 else ""}'
                 f" on {e(p.target)}</span></h4>")
        h.append(problem_card(p.target, p.first))
        if count > 1:
            h.append(f"<details><summary class=\"small\">{count - 1} more test"
                     f"{'s' if count != 2 else ''} saw it</summary><div class=\"folded\">"
                     + "".join(problem_card(p.target, t) for t in p.tests[1:])
                     + "</div></details>")
        h.append("</section>")
    return h


def _matrix_html(runs: list[Run], tgts: list[str]) -> list[str]:
    m = matrix(runs)
    table = requirement_table(runs)
    h = ['<h2 id="results">Results: tests × targets, by requirement</h2>',
         '<p class="legend small">' + "".join(
             f'<span class="badge b-{o}">{o}</span>' for o in OUTCOMES)
         + " — a FAIL, DIFFERS or ERROR links to its details above; skip reasons are "
         "written in the cell.</p>",
         '<input type="checkbox" id="only-problems"> <label for="only-problems" '
         'class="small">show only tests that did not pass everywhere</label>',
         '<table id="matrix"><thead><tr><th>Test</th>'
         + "".join(f'<th data-target="{e(t)}">{e(t)}</th>' for t in tgts)
         + "</tr></thead><tbody>"]
    for key, nodes in group_by_requirement(m, table):
        row0 = m[nodes[0]]
        info = table.get(key) or {}
        rid = _first(row0, "requirement_id") or (key if key in table else "")
        grade = _first(row0, "requirement_grade") or str(info.get("grade") or "")
        text = _first(row0, "requirement") or str(info.get("text") or "")
        h.append(f'<tr class="group" data-requirement="{e(key)}" data-grade="{e(grade)}">'
                 f'<th colspan="{len(tgts) + 1}">{requirement_html(rid, grade, text)} '
                 f'<span class="muted small">({len(nodes)} test{"s" if len(nodes) != 1 else ""})'
                 "</span></th></tr>")
        for node in nodes:
            row = m[node]
            ops = next((t.operations for t in row.values() if t.operations), ())
            ok = all(t.outcome == PASS for t in row.values()) and len(row) == len(tgts)
            h.append(f'<tr class="test{" ok" if ok else ""}" data-test="{e(node)}" '
                     f'data-requirement="{e(key)}" data-operations="{e(" ".join(ops))}">'
                     f'<th class="test" scope="row">{e(node)}'
                     f'<span class="ops">{ops_html(ops) or ops_html((OTHER,))}</span></th>'
                     + "".join(cell(tgt, row.get(tgt)) for tgt in tgts) + "</tr>")
    if not m:
        h.append(f'<tr class="empty"><td colspan="{len(tgts) + 1}" class="muted">'
                 "No test results.</td></tr>")
    h.append("</tbody></table>")
    return h


def _operations_html(runs: list[Run], tgts: list[str], universe: dict) -> list[str]:
    h = ['<h2 id="by-operation">Results by operation</h2>',
         '<p class="small muted">From the operations each test exercised (a test counts under '
         'each); "other": tests that recorded none.</p>',
         '<table id="operations"><thead><tr><th>Operation</th>'
         + "".join(f"<th>{e(t)}</th>" for t in tgts) + "</tr></thead><tbody>"]
    for op, per in by_operation(runs, universe).items():
        h.append(f'<tr class="opgroup" data-operation="{e(op)}"><th><code>{e(op)}</code></th>'
                 + "".join(f'<td class="small">{_counts_html(per.get(t, {}))}</td>'
                           for t in tgts) + "</tr>")
    h.append("</tbody></table>")
    return h


def _requirements_html(runs: list[Run]) -> list[str]:
    h = ['<h2 id="requirements">Requirements no test exercised</h2>']
    with_table = [r for r in runs if r.requirements]
    if not with_table:
        return h + ['<p class="muted small">No requirement table in the reports (suite '
                    "property <code>requirements</code>).</p>"]
    for r in with_table:
        missing = r.unexercised_requirements()
        h.append(f'<h3 data-target="{e(r.target)}">{e(r.target)}: {len(missing)} of '
                 f"{len(r.requirements)} not exercised</h3>")
        if missing:
            h.append(f'<ul class="unexercised" data-target="{e(r.target)}">')
            for rid in missing:
                info = r.requirements[rid]
                src = f' <span class="muted small">({e(info.get("source"))})</span>' \
                    if info.get("source") else ""
                h.append(f'<li data-requirement="{e(rid)}"><span class="rid">{e(rid)}</span> '
                         f"{grade_badge(str(info.get('grade') or ''))} "
                         f"{e(info.get('text', ''))}{src}</li>")
            h.append("</ul>")
    return h


def render_html(runs: list[Run], coverage: dict | None = None, universe: dict | None = None,
                lead: list[str] | None = None) -> str:
    """The page; `lead` (HTML pieces, e.g. baseline.since_html's) goes first after the head."""
    runs = list(runs)
    universe = universe or default_universe()
    coverage = merge_coverage(runs) if coverage is None else coverage
    code = verdict(runs)
    tgts = targets(runs)
    counts = target_counts(runs)
    tot = {o: sum(c[o] for c in counts.values()) for o in OUTCOMES}
    h = _head(code, verdict_label(code), verdict_reason(runs), tot, len(tgts))
    h += lead or []
    h += _could_not_run(runs)
    h += _targets_table(runs)
    h += _not_passed(runs)
    h += _matrix_html(runs, tgts)
    h += _operations_html(runs, tgts, universe)
    h += _requirements_html(runs)
    h.append('<h2 id="drift-section">Drift</h2>')
    h.append(drift_html({r.target: r.drift for r in runs}))
    h.append('<h2 id="coverage">Coverage</h2>')
    h.append(coverage_html(compare_coverage(coverage, universe)))
    h.append('<p class="muted small">Generated by conformance.report.</p>')
    h.append("</main></body></html>")
    return "\n".join(h)
