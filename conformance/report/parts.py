"""HTML pieces of the page: escaping, badges, the card of a test that did not pass, a matrix
cell, the coverage grid and the drift table. Every text goes through `e()`."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from conformance.report.coverage import SECTION_TITLES, CoverageRow, coverage_summary, pct
from conformance.report.model import (
    DIFFERS,
    ERROR,
    FAIL,
    GRADES,
    KNOWN,
    PASS,
    SKIP,
    Drift,
    TestResult,
)


def e(s: Any) -> str:
    return html.escape(str(s if s is not None else ""), quote=True)


def safe_href(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else ""


def pretty(s: str) -> str:
    """Pretty-print JSON payloads; leave anything else as is."""
    st = (s or "").strip()
    if st[:1] in "{[":
        try:
            return json.dumps(json.loads(st), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return s or ""


def anchor(target: str, t: TestResult) -> str:
    return "p-" + re.sub(r"[^A-Za-z0-9_-]+", "-", f"{target}-{t.node_id}").strip("-")


def grade_badge(grade: str) -> str:
    g = grade if grade in GRADES else "none"
    label = grade or "ungraded"
    return f'<span class="grade g-{g}" data-grade="{e(grade)}">{e(label)}</span>'


def requirement_html(rid: str, grade: str, text: str) -> str:
    """`CANCEL-1 [DOCUMENTED] Cancelling a batch ...`: id, grade badge, sentence."""
    if not (rid or text):
        return '<span class="muted">no requirement recorded</span>'
    bits = []
    if rid:
        bits.append(f'<span class="rid">{e(rid)}</span>')
    if rid or grade:
        bits.append(grade_badge(grade))
    if text:
        bits.append(f"<span>{e(text)}</span>")
    return " ".join(bits)


def ops_html(ops: tuple[str, ...]) -> str:
    return "".join(f'<span class="op">{e(o)}</span>' for o in ops)


_TITLES = {FAIL: "failure", DIFFERS: "differs from our inference", ERROR: "error"}


def problem_card(target: str, t: TestResult) -> str:
    """A test that did not pass, everything visible: requirement, why, request, response."""
    why = t.reason or _TITLES.get(t.outcome, "")
    if t.outcome == ERROR and t.guard_rule:
        why = f"live-safety guard refused a request (rule {t.guard_rule}): {why}"
    parts = [
        f'<article class="problem o-{t.outcome}" id="{anchor(target, t)}" '
        f'data-outcome="{t.outcome}" data-target="{e(target)}" data-test="{e(t.node_id)}">',
        f'<h4><span class="badge b-{t.outcome}">{t.outcome}</span> '
        f'<span class="badge b-SKIP">{e(target)}</span> <code>{e(t.node_id)}</code></h4>',
        f'<div class="req">{requirement_html(t.requirement_id, t.requirement_grade, t.requirement)}'
        "</div>",
        f'<div class="why">{e(why)}</div>',
    ]
    if t.operations:
        parts.append(f'<div class="small">operations: {ops_html(t.operations)}</div>')
    if t.violated_rule:
        parts.append(f'<div class="small"><strong>Violated rule:</strong> {e(t.violated_rule)}'
                     "</div>")
    none = "(none: the guard refused it before sending)" if t.guard_rule else "(not recorded)"
    if t.request or t.response:
        parts.append('<div class="cols">'
                     f'<div><div class="label">Request</div><pre class="request">'
                     f"{e(pretty(t.request)) or '(not recorded)'}</pre></div>"
                     f'<div><div class="label">Response</div><pre class="response">'
                     f"{e(pretty(t.response)) or none}</pre></div></div>")
    else:
        parts.append('<div class="small muted">No request / response recorded.</div>')
    extra = []
    if t.message and _adds_to(t.message, why):
        extra.append(f"<dt>Message</dt><dd><pre>{e(t.message)}</pre></dd>")
    if t.text and t.text.strip() != t.message.strip():
        extra.append(f"<dt>Traceback</dt><dd><pre>{e(t.text.strip())}</pre></dd>")
    if t.output:
        out = t.output if len(t.output) <= 4000 else t.output[:4000] + "\n… (truncated)"
        extra.append(f"<dt>Captured output</dt><dd><pre>{e(out)}</pre></dd>")
    if extra:
        parts.append('<details><summary class="small">traceback and output</summary>'
                     f'<dl class="detail">{"".join(extra)}</dl></details>')
    parts.append("</article>")
    return "".join(parts)


def _adds_to(message: str, shown: str) -> bool:
    """The full message adds something to the one line already shown."""
    return message.strip() != shown.strip() and len(message.strip().splitlines()) > 1


def cell(target: str, t: TestResult | None) -> str:
    """One matrix cell; the reason is written in the cell, not only in a tooltip."""
    if t is None:
        return (f'<td class="cell" data-outcome="NONE" data-target="{e(target)}" '
                'title="not run on this target">—</td>')
    o = t.outcome
    attrs = f'class="cell" data-outcome="{o}" data-target="{e(target)}"'
    if o == PASS:
        return f'<td {attrs} title="{t.time:.2f}s">PASS</td>'
    reason = t.reason or {SKIP: "skipped", KNOWN: "known deviation"}.get(o, o.lower())
    why = f'<span class="why">{e(reason[:160] + ("…" if len(reason) > 160 else ""))}</span>'
    if o == SKIP:
        return f'<td {attrs} title="{e(reason)}">SKIP{why}</td>'
    if o == KNOWN:
        href = safe_href(t.issue_url)
        short = reason.replace(href, "").rstrip(" ,.;:") if href else reason
        if href and short.lower().endswith(" see"):
            short = short[:-4].rstrip(" ,;:")
        why = f'<span class="why">{e(short[:160])}</span>'
        link = f' <a href="{e(href)}" title="{e(href)}">issue</a>' if href else ""
        return f'<td {attrs} title="{e(reason)}">KNOWN{link}{why}</td>'
    return (f'<td {attrs} title="{e(reason)}"><a href="#{anchor(target, t)}">{o}</a>'
            f"{why}</td>")


def coverage_html(cmp: dict[str, dict[str, list[CoverageRow]]]) -> str:
    summ = coverage_summary(cmp)
    out = [
        '<p class="legend small"><span class="badge b-PASS">exercised</span>'
        '<span class="badge b-FAIL">documented, not exercised</span>'
        '<span class="badge b-KNOWN">exercised, not documented</span></p>',
        '<div class="cov-grid">',
    ]
    for section, title in SECTION_TITLES.items():
        groups = cmp.get(section) or {}
        covered, total = summ.get(section, (0, 0))
        width = (100 * covered // total) if total else 0
        out.append(f'<section class="cov" data-section="{e(section)}">')
        out.append(f'<h3>{e(title)} <span class="muted small">{covered}/{total} '
                   f"({pct(covered, total)})</span></h3>")
        out.append(f'<div class="bar"><span style="width:{width}%"></span></div>')
        if not any(groups.values()):
            out.append('<p class="muted small">Nothing documented or exercised'
                       " (pass --spec to measure against the documented universe).</p>")
        for group, rows in groups.items():
            if not rows:
                continue
            if group:
                out.append(f'<div class="small"><strong>{e(group)}</strong></div>')
            out.append('<ul class="items">')
            for r in rows:
                cls = "extra" if not r.documented else ("hit" if r.count else "gap")
                tip = (f"{r.count}× exercised" if r.count else "not exercised") + (
                    "" if r.documented else " — not documented")
                out.append(f'<li class="{cls}" data-item="{e(r.item)}" title="{e(tip)}">'
                           f"{e(r.item)}{'' if not r.count else f' ×{r.count}'}</li>")
            out.append("</ul>")
        out.append("</section>")
    out.append("</div>")
    return "".join(out)


def drift_html(drift: dict[str, list[Drift]]) -> str:
    """target -> drift items, as one table (what, where, first seen, how often)."""
    rows = [(tgt, d) for tgt, items in drift.items() for d in items]
    if not rows:
        return '<p class="muted" id="drift-none">No drift: every target sent only what the ' \
               "bundled spec declares.</p>"
    out = ['<p class="small muted">What a target sent that the bundled spec does not declare. '
           "Drift alone never changes the verdict (run with --strict-drift to fail on it).</p>",
           '<table id="drift"><thead><tr><th>Target</th><th>Kind</th><th>Operation</th>'
           "<th>Where</th><th>Count</th><th>First seen</th><th>Hint</th></tr></thead><tbody>"]
    for tgt, d in rows:
        out.append(f'<tr data-target="{e(tgt)}" data-kind="{e(d.kind)}">'
                   f"<td>{e(tgt)}</td><td>{e(d.kind)}</td><td><code>{e(d.operation)}</code></td>"
                   f"<td><code>{e(d.where)}</code></td><td class=\"num\">{d.count}</td>"
                   f"<td><code>{e(d.first_seen)}</code></td><td>{e(d.hint)}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)
