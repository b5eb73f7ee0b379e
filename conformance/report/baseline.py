"""Nights compared: this run against an earlier one (`conformance report --baseline PREVIOUS`).

A run is summarised as a *snapshot* (plain JSON, written beside the page as `report.json`):
per target, each test's outcome, requirement and reason; the drift seen; the requirements
the run exercised. The baseline is a folder of an earlier run's JUnit files or its
`report.json` (or one such file). `compare` says what changed since:

* new failures (FAIL now, not FAIL then), still failing (FAIL both times), fixed (FAIL then,
  ran and did not fail now);
* new and gone "differs from our inference";
* new drift (a kind / operation / place not seen then);
* tests that ran before and now skip (or are gone);
* requirements exercised then and not now.

Targets are paired by name; when each side has exactly one target of different names (a run
against `mock:<fault>` compared with one against `mock`), those two are paired, and the
section says so. With `--fail-on new` the exit is 1 only for new failures.

Nothing here renders the rest of the page: `cli` hands `since_html` / `since_markdown`'s
lines to `page` / `markdown` as what leads them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from conformance.report.junit import load_junit
from conformance.report.markdown import md
from conformance.report.model import DIFFERS, EXERCISED, FAIL, SKIP, Run
from conformance.report.parts import e

SNAPSHOT_VERSION = 1
SNAPSHOT_NAME = "report.json"


class BaselineError(ValueError):
    """The baseline cannot be read (one line, for the user)."""


# ------------------------------------------------------------------------------ snapshot


def snapshot(runs: list[Run]) -> dict:
    """What a later run needs to compare with this one (JSON-serialisable)."""
    targets: dict[str, dict] = {}
    for run in runs:
        entry = targets.setdefault(run.target, {"tests": {}, "drift": [], "exercised": []})
        for t in run.tests:
            entry["tests"][t.node_id] = {"outcome": t.outcome, "requirement": t.requirement_id,
                                         "reason": t.reason}
        entry["drift"] += [list(d.key) for d in run.drift if list(d.key) not in entry["drift"]]
        hit = {t.requirement_id for t in run.tests if t.outcome in EXERCISED and t.requirement_id}
        entry["exercised"] = sorted(set(entry["exercised"]) | hit)
    return {"version": SNAPSHOT_VERSION, "targets": targets}


def write_snapshot(runs: list[Run], path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(snapshot(runs), indent=1, sort_keys=True) + "\n")


def load_baseline(path: str | os.PathLike) -> dict:
    """A snapshot from a folder (its report.json, else its JUnit files) or one file."""
    p = Path(path)
    if p.is_dir():
        if (p / SNAPSHOT_NAME).is_file():
            p = p / SNAPSHOT_NAME
        else:
            files = sorted(str(f) for f in p.glob("*.xml"))
            if not files:
                raise BaselineError(f"{path}: no {SNAPSHOT_NAME} and no JUnit file (*.xml)")
            return _from_runs(load_junit(files), path)
    if not p.is_file():
        raise BaselineError(f"{path}: no such file or folder")
    if p.suffix.lower() == ".xml":
        return _from_runs(load_junit([str(p)]), path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise BaselineError(f"{path}: not a report.json ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("targets"), dict):
        raise BaselineError(f"{path}: not a report.json of this suite (no `targets`)")
    return data


def _from_runs(runs: list[Run], path) -> dict:
    broken = [r for r in runs if r.error]
    if broken:
        raise BaselineError(f"{path}: {broken[0].error}")
    return snapshot(runs)


# ------------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class Item:
    target: str
    what: str          # a node id, a requirement id or a drift place
    detail: str = ""   # the reason now (or then), the requirement, the outcome now


@dataclass
class Since:
    """What changed since the baseline."""

    baseline: str
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (baseline target, target)
    new_failures: list[Item] = field(default_factory=list)
    still_failing: list[Item] = field(default_factory=list)
    fixed: list[Item] = field(default_factory=list)
    new_differs: list[Item] = field(default_factory=list)
    gone_differs: list[Item] = field(default_factory=list)
    new_drift: list[Item] = field(default_factory=list)
    newly_skipped: list[Item] = field(default_factory=list)
    unchecked: list[Item] = field(default_factory=list)
    unpaired: list[str] = field(default_factory=list)  # targets with nothing to compare to

    SECTIONS = (
        ("new_failures", "New failures"),
        ("fixed", "Fixed"),
        ("still_failing", "Still failing (known from the baseline)"),
        ("new_differs", "New \"differs from our inference\""),
        ("gone_differs", "No longer differs"),
        ("new_drift", "New drift"),
        ("newly_skipped", "Ran before, now skipped or gone"),
        ("unchecked", "Requirements no longer checked"),
    )

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name, _ in self.SECTIONS}

    def line(self) -> str:
        c = self.counts()
        return (f"since the baseline: {c['new_failures']} new failure(s), {c['fixed']} fixed, "
                f"{c['still_failing']} still failing, {c['new_differs']} new differs, "
                f"{c['gone_differs']} no longer differ, {c['new_drift']} new drift, "
                f"{c['newly_skipped']} newly skipped, {c['unchecked']} requirement(s) "
                "no longer checked")


def _pairs(then: dict, now: dict) -> list[tuple[str, str]]:
    pairs = [(t, t) for t in now if t in then]
    if not pairs and len(then) == 1 and len(now) == 1:
        pairs = [(next(iter(then)), next(iter(now)))]
    return pairs


def compare(baseline: dict, runs: list[Run], name: str = "") -> Since:
    now_snap = snapshot(runs)
    then_t, now_t = baseline.get("targets", {}), now_snap["targets"]
    since = Since(baseline=name, pairs=_pairs(then_t, now_t))
    paired_now = {b for _, b in since.pairs}
    since.unpaired = [t for t in now_t if t not in paired_now]
    for old_name, target in since.pairs:
        then, now = then_t[old_name], now_t[target]
        _tests(since, target, then.get("tests", {}), now["tests"])
        seen = {tuple(k) for k in then.get("drift", [])}
        for key in now["drift"]:
            if tuple(key) not in seen:
                since.new_drift.append(Item(target, " ".join(key[1:]), key[0]))
        for rid in sorted(set(then.get("exercised", [])) - set(now["exercised"])):
            since.unchecked.append(Item(target, rid))
    return since


def _tests(since: Since, target: str, then: dict, now: dict) -> None:
    for node, cur in now.items():
        old = then.get(node, {})
        before, after = old.get("outcome"), cur["outcome"]
        if after == FAIL:
            (since.still_failing if before == FAIL else since.new_failures).append(
                Item(target, node, cur.get("reason", "")))
        elif before == FAIL and after in EXERCISED:
            since.fixed.append(Item(target, node, f"now {after}"))
        if after == DIFFERS and before != DIFFERS:
            since.new_differs.append(Item(target, node, cur.get("reason", "")))
        elif before == DIFFERS and after != DIFFERS:
            since.gone_differs.append(Item(target, node, f"now {after}"))
        if before in EXERCISED and after == SKIP:
            since.newly_skipped.append(Item(target, node, cur.get("reason", "")))
    for node, old in then.items():
        if node not in now and old.get("outcome") in EXERCISED:
            since.newly_skipped.append(Item(target, node, "no longer in the run"))


def exit_code(verdict_code: int, since: Since | None, fail_on: str) -> int:
    """`--fail-on new`: a NOT CONFORMANT run whose failures were all known is exit 0;
    could-not-run (2) stays 2."""
    if fail_on == "new" and since is not None and verdict_code == 1 and not since.new_failures:
        return 0
    return verdict_code


# ------------------------------------------------------------------------------- render


def since_markdown(since: Since) -> list[str]:
    lines = ["## Since the baseline", "", f"Compared with `{md(since.baseline)}`"
             + _paired_words(since) + ": " + md(since.line()) + ".", ""]
    for name, title in Since.SECTIONS:
        items = getattr(since, name)
        if not items:
            continue
        lines += [f"### {title} ({len(items)})", ""]
        lines += [f"- {md(i.target)} `{md(i.what)}`" + (f": {md(i.detail)}" if i.detail else "")
                  for i in items]
        lines.append("")
    return lines


def since_html(since: Since) -> list[str]:
    h = ['<section id="since-baseline"><h2>Since the baseline</h2>',
         f'<p>Compared with <code>{e(since.baseline)}</code>{e(_paired_words(since))}: '
         f"{e(since.line())}.</p>"]
    for name, title in Since.SECTIONS:
        items = getattr(since, name)
        if not items:
            continue
        h.append(f'<h3 data-since="{e(name)}">{e(title)} ({len(items)})</h3><ul>')
        h += [f'<li data-since-item="{e(name)}">{e(i.target)} <code>{e(i.what)}</code>'
              + (f": {e(i.detail)}" if i.detail else "") + "</li>" for i in items]
        h.append("</ul>")
    h.append("</section>")
    return h


def _paired_words(since: Since) -> str:
    renamed = [f"{a} → {b}" for a, b in since.pairs if a != b]
    words = f" (targets paired: {', '.join(renamed)})" if renamed else ""
    if since.unpaired:
        words += f" (nothing to compare for: {', '.join(since.unpaired)})"
    return words
