"""A list of changes as text, Markdown, JSON or JUnit XML."""

from __future__ import annotations

import json
from collections import Counter
from xml.etree import ElementTree as ET

from conformance.diff.rules import LEVELS, Change, at_or_above

FORMATS = ("text", "markdown", "json", "junit")


def _ordered(changes: list[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: (-LEVELS.index(c.level), c.path, c.method,
                                          c.pointer, c.id))


def summary(changes: list[Change]) -> str:
    counts = Counter(c.level for c in changes)
    if not changes:
        return "no changes"
    parts = ", ".join(f"{counts[level]} {level}" for level in reversed(LEVELS) if counts[level])
    return f"{len(changes)} change{'s' if len(changes) != 1 else ''}: {parts}"


def text(changes: list[Change], old: str, new: str, fail_on: str) -> str:
    lines = [f"{old} -> {new}: {summary(changes)}"]
    for c in _ordered(changes):
        lines.append(f"{c.level.upper():8} {c.id:34} {c.message}")
        lines.append(f"{'':8} {c.pointer}")
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def markdown(changes: list[Change], old: str, new: str, fail_on: str) -> str:
    failing = sum(at_or_above(c.level, fail_on) for c in changes)
    verdict = (f"**{failing} change(s) at or above `{fail_on}`**" if failing
               else f"nothing at or above `{fail_on}`")
    lines = [f"### Contract diff: `{old}` → `{new}`", "",
             f"{summary(changes)}; {verdict}.", ""]
    if changes:
        lines += ["| level | rule | change | where |", "|---|---|---|---|"]
        for c in _ordered(changes):
            lines.append(f"| {c.level} | `{c.id}` | {_cell(c.message)} | `{_cell(c.pointer)}` |")
    return "\n".join(lines) + "\n"


def as_json(changes: list[Change], old: str, new: str, fail_on: str) -> str:
    counts = Counter(c.level for c in changes)
    return json.dumps({
        "old": old, "new": new, "fail_on": fail_on,
        "summary": {level: counts[level] for level in reversed(LEVELS)},
        "changes": [c.as_dict() for c in _ordered(changes)],
    }, indent=2) + "\n"


def junit(changes: list[Change], old: str, new: str, fail_on: str) -> str:
    """One test case per change; those at or above `fail_on` fail. No change: one passing case."""
    failing = [c for c in changes if at_or_above(c.level, fail_on)]
    suite = ET.Element("testsuite", name=f"contract diff {old} -> {new}",
                       tests=str(max(len(changes), 1)), failures=str(len(failing)),
                       errors="0", skipped="0")
    if not changes:
        ET.SubElement(suite, "testcase", classname="conformance.diff", name="no changes")
    for c in _ordered(changes):
        case = ET.SubElement(suite, "testcase", classname=f"conformance.diff.{c.id}",
                             name=f"{c.operation or '-'} {c.pointer}")
        if at_or_above(c.level, fail_on):
            failure = ET.SubElement(case, "failure", type=c.id, message=c.message)
            failure.text = f"{c.level}: {c.message}\n{c.pointer}"
        else:
            ET.SubElement(case, "system-out").text = f"{c.level}: {c.message}"
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, "unicode") + "\n"


RENDERERS = {"text": text, "markdown": markdown, "json": as_json, "junit": junit}


def render(fmt: str, changes: list[Change], old: str, new: str, fail_on: str) -> str:
    return RENDERERS[fmt](changes, old, new, fail_on)
