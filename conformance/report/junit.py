"""Reading pytest JUnit XML into the model: one `Run` per target, shards merged.

Never raises for bad input: a missing / unreadable / non-JUnit file gives a Run whose
``error`` is set (and the verdict is 2). The property contract is in the package docstring.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from conformance.report.coverage import merge_counts
from conformance.report.model import (
    DIFFERS,
    DIFFERS_PREFIX,
    ERROR,
    FAIL,
    KNOWN,
    PASS,
    SEVERITY,
    SKIP,
    Drift,
    Run,
    TestResult,
)
from conformance.report.redact import redact

#: Testcase properties with a meaning for the report (record_property names).
CASE_PROPERTIES = (
    "operations", "operation", "requirement", "requirement_id", "requirement_grade",
    "request", "response", "violated_rule", "issue", "verdict", "guard_rule",
)
DRIFT_KINDS = ("response-property", "header", "status", "content-type", "enum-value")
_URL_RE = re.compile(r"https?://[^\s<>\"'`)\]]+")
_SHARD_RE = re.compile(r"[.-]shard[-_]?\d+$", re.IGNORECASE)


def _extract_url(*texts: str) -> str:
    for t in texts:
        m = _URL_RE.search(t or "")
        if m:
            return m.group(0).rstrip(".,;:!?")
    return ""


def target_from_path(path: str) -> str:
    """`reports/mock.xml` -> `mock`; a shard's file name loses its `.shardN` too."""
    base = os.path.basename(path)
    for ext in (".junit.xml", ".xml"):
        if base.lower().endswith(ext):
            base = base[: -len(ext)] or base
            break
    return _SHARD_RE.sub("", base) or base


def node_id(classname: str, name: str) -> str:
    """Rebuild pytest's node id from JUnit classname + name.

    ``tests.scenarios.test_cancel`` + ``test_x[a]``
        -> ``tests/scenarios/test_cancel.py::test_x[a]``;
    ``tests.test_m.TestC`` + ``test_y`` -> ``tests/test_m.py::TestC::test_y``.
    """
    if not classname:
        return name
    parts = classname.split(".")
    mod_idx = None
    for i in range(len(parts) - 1, -1, -1):
        if parts[i].startswith("test_") or parts[i].endswith("_test"):
            mod_idx = i
            break
    if mod_idx is None:
        return f"{classname}::{name}"
    path = "/".join(parts[: mod_idx + 1]) + ".py"
    return "::".join([path, *parts[mod_idx + 1 :], name])


def _props(elem: ET.Element | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if elem is None:
        return out
    for p in elem.findall("properties/property"):
        name = p.get("name")
        if name is None:
            continue
        value = p.get("value")
        out.append((name, p.text or "" if value is None else value))
    return out


def _operations(pd: dict[str, str]) -> tuple[str, ...]:
    """The `operations` property (space-separated, in the order exercised, deduplicated);
    a legacy single `operation` property is read the same way."""
    text = pd.get("operations") or pd.get("operation") or ""
    return tuple(dict.fromkeys(text.split()))


def _outcome(tc: ET.Element, pd: dict[str, str]) -> tuple[str, str, str, bool]:
    """(outcome, message, text, is <error>) of one testcase."""
    failure, error, skipped = tc.find("failure"), tc.find("error"), tc.find("skipped")
    verdict = pd.get("verdict", "").strip().lower()
    el = failure if failure is not None else error if error is not None else skipped
    message = (el.get("message", "") or "") if el is not None else ""
    text = (el.text or "") if el is not None else ""
    if verdict == "guard":  # the suite's own guard refused: a defect of the suite
        return ERROR, message, text, error is not None
    if failure is not None:
        return FAIL, message, text, False
    if error is not None:
        return ERROR, message, text, True
    if skipped is None:
        return PASS, "", "", False
    stype = (skipped.get("type") or "").lower()
    if not message and text:
        message = text.split(": ", 1)[-1]  # pytest: "path:line: reason"
    low = message.strip().lower()
    if stype == "pytest.xfail" or low.startswith("xfail") or low == "expected test failure":
        return KNOWN, message, text, False
    if verdict == "differs" and low.startswith(DIFFERS_PREFIX):
        return DIFFERS, message, text, False
    return SKIP, message, text, False


def _parse_case(tc: ET.Element) -> TestResult:
    classname = tc.get("classname", "") or ""
    name = tc.get("name", "") or ""
    try:
        time = float(tc.get("time", "0") or 0)
    except ValueError:
        time = 0.0
    props = [(k, redact(v)) for k, v in _props(tc)]
    pd: dict[str, str] = {}
    for k, v in props:
        if k in CASE_PROPERTIES:
            pd[k] = f"{pd[k]}\n\n{v}" if k in pd and k in ("request", "response") else v
    outcome, message, text, is_error = _outcome(tc, pd)
    message, text = redact(message), redact(text)
    issue = pd.get("issue", "")
    if outcome == KNOWN:
        issue = issue or _extract_url(message, text)
    output = "\n".join(
        (tc.findtext(tag) or "").strip() for tag in ("system-out", "system-err")
    ).strip()
    grade = pd.get("requirement_grade", "").strip().lower()
    return TestResult(
        classname=classname,
        name=name,
        node_id=node_id(classname, name),
        outcome=outcome,
        time=time,
        message=message,
        text=text,
        error=is_error,
        operations=_operations(pd),
        requirement_id=pd.get("requirement_id", "").strip(),
        requirement_grade=grade,
        requirement=pd.get("requirement", ""),
        request=pd.get("request", ""),
        response=pd.get("response", ""),
        violated_rule=pd.get("violated_rule", ""),
        guard_rule=pd.get("guard_rule", "") if pd.get("verdict", "").lower() == "guard" else "",
        issue_url=issue if issue.startswith(("http://", "https://")) else "",
        output=redact(output),
        properties=props,
    )


def _is_collection_error(t: TestResult) -> bool:
    return (
        t.outcome == ERROR
        and t.error
        and not t.guard_rule
        and (not t.classname or t.message.strip().lower() == "collection failure")
    )


def _json_prop(run: Run, name: str, value: str, kind: type) -> Any:
    try:
        data = json.loads(value)
        if not isinstance(data, kind):
            raise ValueError(f"not a JSON {kind.__name__}")
        return data
    except ValueError as e:
        run.warnings.append(f"ignored malformed {name} property ({e})")
        return None


def _drift_items(run: Run, data: list, seen_at: str) -> list[Drift]:
    out = []
    for item in data:
        if not isinstance(item, dict) or not item.get("kind") or "where" not in item:
            run.warnings.append(f"ignored malformed drift entry {str(item)[:80]!r}")
            continue
        try:
            count = int(item.get("count", 1))
        except (TypeError, ValueError):
            count = 1
        out.append(Drift(str(item["kind"]), str(item.get("operation") or ""),
                         redact(str(item["where"])), str(item.get("first_seen") or ""),
                         count, redact(str(item.get("hint") or "")), seen_at))
    return out


def merge_drift(acc: list[Drift], new: Iterable[Drift]) -> list[Drift]:
    """Same (kind, operation, where): counts added, the earliest first_seen kept."""
    by_key = {d.key: d for d in acc}
    out = list(acc)
    for d in new:
        cur = by_key.get(d.key)
        if cur is None:
            d = Drift(**vars(d))
            by_key[d.key] = d
            out.append(d)
            continue
        cur.count += d.count
        if d.seen_at and (not cur.seen_at or d.seen_at < cur.seen_at):
            cur.first_seen, cur.seen_at = d.first_seen or cur.first_seen, d.seen_at
        cur.hint = cur.hint or d.hint
    return out


def _read_suites(run: Run, path: str) -> list[ET.Element] | None:
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        run.error = f"{path}: file not found"
    except IsADirectoryError:
        run.error = f"{path}: is a directory"
    except OSError as e:
        run.error = f"{path}: cannot read ({e.strerror or e})"
    except ET.ParseError as e:
        run.error = f"{path}: not valid XML ({e})"
    else:
        if root.tag == "testsuite":
            return [root]
        if root.tag == "testsuites":
            return root.findall("testsuite")
        run.error = f"{path}: not a JUnit report (root element <{root.tag}>)"
    return None


def load_file(path: str) -> Run:
    """One JUnit file as a Run (its target from the `target` property, else the name)."""
    run = Run(target=target_from_path(path), path=path)
    suites = _read_suites(run, path)
    for suite in suites or []:
        stamp = suite.get("timestamp", "") or ""
        if stamp and (not run.timestamp or stamp < run.timestamp):
            run.timestamp = stamp
        for k, v in _props(suite):
            if k == "coverage":
                cov = _json_prop(run, k, v, dict)
                if cov is not None:
                    run.coverage = merge_counts(run.coverage, cov)
            elif k == "requirements":
                table = _json_prop(run, k, v, dict) or {}
                for rid, info in table.items():
                    run.requirements.setdefault(
                        str(rid), info if isinstance(info, dict) else {"text": str(info)})
            elif k == "drift":
                items = _json_prop(run, k, v, list)
                if items is not None:
                    run.drift = merge_drift(run.drift, _drift_items(run, items, stamp))
            elif k == "guard_refusals" and k in run.properties:   # one per xdist worker
                run.properties[k] = str(int(run.properties[k]) + int(v or 0))
            elif k == "pressure":
                one = _json_prop(run, k, v, dict)
                if one is not None:
                    run.pressure = merge_pressure(run.pressure, one)
            else:
                run.properties.setdefault(k, v)
        for tc in suite.iter("testcase"):
            t = _parse_case(tc)
            (run.collection_errors if _is_collection_error(t) else run.tests).append(t)
    if run.properties.get("target"):
        run.target = run.properties["target"]
    _fill_requirements(run)
    return run


def merge_pressure(a: dict, b: dict) -> dict:
    """Two processes' (or shards') pressure: counts and waits added, the first give-up."""
    out = dict(a)
    for key in ("sent", "rate_limited", "retried", "transport_errors", "answers_lost"):
        out[key] = int(a.get(key, 0) or 0) + int(b.get(key, 0) or 0)
    out["waited_s"] = round(float(a.get("waited_s", 0) or 0) + float(b.get("waited_s", 0)
                                                                       or 0), 1)
    statuses = dict(a.get("by_status") or {})
    for k, v in (b.get("by_status") or {}).items():
        statuses[k] = statuses.get(k, 0) + int(v)
    out["by_status"] = statuses
    out["gave_up"] = a.get("gave_up") or b.get("gave_up")
    return out


def _fill_requirements(run: Run) -> None:
    """A testcase that names only its requirement id gets text and grade from the table."""
    for t in run.tests:
        info = run.requirements.get(t.requirement_id) or {}
        t.requirement = t.requirement or str(info.get("text") or "")
        t.requirement_grade = t.requirement_grade or str(info.get("grade") or "").lower()


def merge_runs(runs: list[Run]) -> Run:
    """Shards of one target as one Run: the union of testcases (the worse result when a
    test appears twice), coverage counts added, drift merged, requirement tables joined."""
    first = runs[0]
    merged = Run(target=first.target, path=", ".join(r.path for r in runs))
    index: dict[str, int] = {}
    for r in sorted(runs, key=lambda r: (r.timestamp or "~", runs.index(r))):
        for t in r.tests:
            at = index.get(t.node_id)
            if at is None:
                index[t.node_id] = len(merged.tests)
                merged.tests.append(t)
            elif SEVERITY[t.outcome] > SEVERITY[merged.tests[at].outcome]:
                merged.tests[at] = t
        merged.collection_errors += r.collection_errors
        merged.coverage = merge_counts(merged.coverage, r.coverage)
        merged.drift = merge_drift(merged.drift, r.drift)
        if r.pressure:
            merged.pressure = merge_pressure(merged.pressure, r.pressure)
        for rid, info in r.requirements.items():
            merged.requirements.setdefault(rid, info)
        for k, v in r.properties.items():
            merged.properties.setdefault(k, v)
        merged.warnings += [f"{os.path.basename(r.path)}: {w}" for w in r.warnings]
        if r.timestamp and (not merged.timestamp or r.timestamp < merged.timestamp):
            merged.timestamp = r.timestamp
    merged.error = "; ".join(r.error for r in runs if r.error)
    _fill_requirements(merged)
    return merged


def load_junit(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Run]:
    """Parse JUnit XML files into one :class:`Run` per target, in order of first
    appearance; several files of the same target (shards of a CI matrix) become one."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    by_target: dict[str, list[Run]] = {}
    for p in paths:
        run = load_file(os.fspath(p))
        by_target.setdefault(run.target, []).append(run)
    return [group[0] if len(group) == 1 else merge_runs(group) for group in by_target.values()]

