"""Conformance report generator.

Reads one or more pytest JUnit XML files (one per target, ``reports/<target>.xml``),
merges coverage data recorded by the suite's fixtures, compares it with the
documented universe (operations, status codes, enum values, lifecycle transitions)
and renders a single self-contained HTML page plus a Markdown summary.

Command line::

    python -m conformance.report reports/*.xml --html reports/report.html \
        --md reports/report.md [--spec openapi/batch-calling.yaml] [--transitions t.yaml]

Exit code (see :func:`verdict`): 0 conformant (known deviations and skips allowed),
1 at least one failure, 2 the suite could not run (missing/unreadable file, no
test cases, collection errors).

JUnit properties read
---------------------
testsuite ``<properties>``:
    ``target``    overrides the target name derived from the file name.
    ``coverage``  JSON: ``{"operations": {op: n}, "status_codes": {"op code": n},
                  "enums": {Enum: {value: n}}, "transitions": {"batch": {"a->b": n},
                  "recipient": {...}}}``.
testcase ``<properties>`` (pytest ``record_property``):
    ``operation``, ``requirement``, ``request``, ``response``, ``violated_rule``,
    ``issue`` (explicit issue link for a known deviation).
"""

from __future__ import annotations

import argparse
import glob
import html
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PASS",
    "FAIL",
    "KNOWN",
    "SKIP",
    "TestResult",
    "Run",
    "load_junit",
    "infer_operation",
    "merge_coverage",
    "compare_coverage",
    "default_universe",
    "universe_from_spec",
    "verdict",
    "verdict_label",
    "render_html",
    "render_markdown",
    "main",
]

PASS = "PASS"
FAIL = "FAIL"
KNOWN = "KNOWN"
SKIP = "SKIP"
OUTCOMES = (PASS, FAIL, KNOWN, SKIP)

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_NOT_RUN = 2

VERDICT_LABELS = {
    EXIT_OK: "CONFORMANT",
    EXIT_FAIL: "NOT CONFORMANT",
    EXIT_NOT_RUN: "COULD NOT RUN",
}

# Testcase properties with a meaning for the report (record_property names).
CASE_PROPERTIES = ("operation", "requirement", "request", "response", "violated_rule", "issue")

_URL_RE = re.compile(r"https?://[^\s<>\"'`)\]]+")

# keyword -> default operationId; synonyms map test-name tokens onto keywords.
_DEFAULT_OPERATIONS = {
    "submit": "submitBatchCall",
    "list": "listBatchCalls",
    "get": "getBatchCall",
    "cancel": "cancelBatchCall",
    "retry": "retryBatchCall",
    "delete": "deleteBatchCall",
    "export": "exportBatchCall",
}
_SYNONYMS = {
    "submit": "submit",
    "submits": "submit",
    "submitted": "submit",
    "submission": "submit",
    "create": "submit",
    "creates": "submit",
    "list": "list",
    "lists": "list",
    "listing": "list",
    "get": "get",
    "gets": "get",
    "fetch": "get",
    "fetches": "get",
    "retrieve": "get",
    "cancel": "cancel",
    "cancels": "cancel",
    "cancelled": "cancel",
    "canceled": "cancel",
    "cancelling": "cancel",
    "cancellation": "cancel",
    "retry": "retry",
    "retries": "retry",
    "retried": "retry",
    "retrying": "retry",
    "delete": "delete",
    "deletes": "delete",
    "deleted": "delete",
    "deletion": "delete",
    "export": "export",
    "exports": "export",
    "exported": "export",
}
WORKFLOW = "workflow"


# --------------------------------------------------------------------------- model


@dataclass
class TestResult:
    """One JUnit testcase."""

    __test__ = False  # not a pytest test class

    classname: str
    name: str
    node_id: str
    outcome: str
    time: float = 0.0
    message: str = ""  # failure/skip message attribute (or reason)
    text: str = ""  # failure/error element text (traceback)
    error: bool = False  # <error> rather than <failure>
    operation: str = WORKFLOW
    requirement: str = ""
    request: str = ""
    response: str = ""
    violated_rule: str = ""
    issue_url: str = ""
    output: str = ""  # captured system-out / system-err, if any
    properties: list[tuple[str, str]] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """First meaningful line of the failure / skip reason."""
        return first_line(self.message) or _first_error_line(self.text) or first_line(self.text)


@dataclass
class Run:
    """One JUnit file, i.e. one target."""

    target: str
    path: str
    tests: list[TestResult] = field(default_factory=list)
    collection_errors: list[TestResult] = field(default_factory=list)
    error: str = ""  # file missing / unreadable / not JUnit
    coverage: dict = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        c = {o: 0 for o in OUTCOMES}
        for t in self.tests:
            c[t.outcome] += 1
        return c

    @property
    def could_not_run(self) -> bool:
        return bool(self.error or self.collection_errors or not self.tests)

    def problem(self) -> str:
        """Why this run could not run ('' if it ran)."""
        if self.error:
            return self.error
        if self.collection_errors:
            n = len(self.collection_errors)
            names = ", ".join(t.name or t.classname for t in self.collection_errors[:3])
            return f"{n} collection error{'s' if n != 1 else ''} ({names})"
        if not self.tests:
            return "no test cases in report"
        return ""


# --------------------------------------------------------------------------- parsing


def first_line(s: str | None) -> str:
    for line in (s or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _first_error_line(text: str) -> str:
    for line in (text or "").splitlines():
        if line.startswith("E "):
            return line[1:].strip()
    return ""


def _extract_url(*texts: str) -> str:
    for t in texts:
        m = _URL_RE.search(t or "")
        if m:
            return m.group(0).rstrip(".,;:!?")
    return ""


def _target_from_path(path: str) -> str:
    base = os.path.basename(path)
    for ext in (".junit.xml", ".xml"):
        if base.lower().endswith(ext):
            return base[: -len(ext)] or base
    return base


def _node_id(classname: str, name: str) -> str:
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
        p = parts[i]
        if p.startswith("test_") or p.endswith("_test"):
            mod_idx = i
            break
    if mod_idx is None:
        return f"{classname}::{name}"
    path = "/".join(parts[: mod_idx + 1]) + ".py"
    return "::".join([path, *parts[mod_idx + 1 :], name])


def _tokens(s: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", (s or "").lower()) if t]


def infer_operation(classname: str, name: str, operations: Iterable[str] | None = None) -> str:
    """Guess the operationId a test exercises from its module / class / name.

    The module name is looked at first (``test_cancel`` -> cancel), then classes, then
    the test name (without its parametrize id). With ``operations`` (ids from the spec),
    the keyword is matched against them; otherwise default ids are used. Falls back to
    ``"workflow"``.
    """
    parts = (classname or "").split(".")
    mod_parts = [p for p in parts if p.startswith("test_") or p.endswith("_test")]
    class_parts = parts[parts.index(mod_parts[-1]) + 1 :] if mod_parts else []
    base_name = (name or "").split("[", 1)[0]
    sources = [mod_parts[-1] if mod_parts else "", *class_parts, base_name]
    keyword = None
    for src in sources:
        # split camelCase too (TestCancelBatch -> test cancel batch)
        src = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", src)
        for tok in _tokens(src):
            if tok in _SYNONYMS:
                keyword = _SYNONYMS[tok]
                break
        if keyword:
            break
    if not keyword:
        return WORKFLOW
    ops = list(operations or [])
    if ops:
        low = [(o, o.lower()) for o in ops]
        for o, lo in low:
            if lo.startswith(keyword):
                return o
        for o, _lo in low:
            if keyword in _tokens(re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", o)):
                return o
        for o, lo in low:
            if keyword in lo:
                return o
    return _DEFAULT_OPERATIONS[keyword]


def _props(elem: ET.Element | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if elem is None:
        return out
    for p in elem.findall("properties/property"):
        name = p.get("name")
        if name is None:
            continue
        value = p.get("value")
        if value is None:
            value = p.text or ""
        out.append((name, value))
    return out


def _parse_case(tc: ET.Element, operations: Iterable[str] | None) -> TestResult:
    classname = tc.get("classname", "") or ""
    name = tc.get("name", "") or ""
    try:
        time = float(tc.get("time", "0") or 0)
    except ValueError:
        time = 0.0
    props = _props(tc)
    pd: dict[str, str] = {}
    for k, v in props:
        if k in CASE_PROPERTIES:
            pd[k] = f"{pd[k]}\n\n{v}" if k in pd and k in ("request", "response") else v

    outcome, message, text, is_error, issue = PASS, "", "", False, pd.get("issue", "")
    failure = tc.find("failure")
    error = tc.find("error")
    skipped = tc.find("skipped")
    if failure is not None or error is not None:
        el = failure if failure is not None else error
        outcome, is_error = FAIL, failure is None
        message = el.get("message", "") or ""
        text = el.text or ""
    elif skipped is not None:
        message = skipped.get("message", "") or ""
        text = skipped.text or ""
        stype = (skipped.get("type") or "").lower()
        lowmsg = message.strip().lower()
        if (
            stype == "pytest.xfail"
            or lowmsg.startswith("xfail")
            or lowmsg == "expected test failure"
        ):
            outcome = KNOWN
            issue = issue or _extract_url(message, text)
        else:
            outcome = SKIP
            if not message and text:
                # pytest: "path:line: reason"
                message = text.split(": ", 1)[-1]
    output = "\n".join(
        (tc.findtext(tag) or "").strip() for tag in ("system-out", "system-err")
    ).strip()
    return TestResult(
        classname=classname,
        name=name,
        node_id=_node_id(classname, name),
        outcome=outcome,
        time=time,
        message=message,
        text=text,
        error=is_error,
        operation=pd.get("operation") or infer_operation(classname, name, operations),
        requirement=pd.get("requirement", ""),
        request=pd.get("request", ""),
        response=pd.get("response", ""),
        violated_rule=pd.get("violated_rule", ""),
        issue_url=issue if issue.startswith(("http://", "https://")) else "",
        output=output,
        properties=props,
    )


def _is_collection_error(t: TestResult) -> bool:
    return (
        t.outcome == FAIL
        and t.error
        and (not t.classname or t.message.strip().lower() == "collection failure")
    )


def _load_one(path: str, operations: Iterable[str] | None) -> Run:
    run = Run(target=_target_from_path(path), path=path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        run.error = f"{path}: file not found"
        return run
    except IsADirectoryError:
        run.error = f"{path}: is a directory"
        return run
    except OSError as e:
        run.error = f"{path}: cannot read ({e.strerror or e})"
        return run
    except ET.ParseError as e:
        run.error = f"{path}: not valid XML ({e})"
        return run
    if root.tag == "testsuite":
        suites = [root]
    elif root.tag == "testsuites":
        suites = root.findall("testsuite")
    else:
        run.error = f"{path}: not a JUnit report (root element <{root.tag}>)"
        return run
    for suite in suites:
        for k, v in _props(suite):
            if k == "coverage":
                try:
                    cov = json.loads(v)
                    if not isinstance(cov, dict):
                        raise ValueError("not an object")
                except ValueError as e:
                    run.warnings.append(f"ignored malformed coverage property ({e})")
                    continue
                run.coverage = _merge_into(run.coverage, cov)
            else:
                run.properties.setdefault(k, v)
        for tc in suite.iter("testcase"):
            t = _parse_case(tc, operations)
            (run.collection_errors if _is_collection_error(t) else run.tests).append(t)
    if run.properties.get("target"):
        run.target = run.properties["target"]
    return run


def load_junit(
    paths: str | os.PathLike | Iterable[str | os.PathLike], operations: Iterable[str] | None = None
) -> list[Run]:
    """Parse JUnit XML files into one :class:`Run` per file.

    Never raises for bad input: a missing / unreadable / non-JUnit file gives a Run
    whose ``error`` is set (and :func:`verdict` returns 2). ``operations`` (e.g.
    ``universe["operations"]``) helps map test names onto real operation ids.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    ops = list(operations) if operations else None
    return [_load_one(os.fspath(p), ops) for p in paths]


# --------------------------------------------------------------------------- coverage


def _merge_into(acc: Any, new: Any) -> Any:
    """Recursively sum count dicts (also accepts lists: each item counts 1)."""
    if isinstance(new, list):
        new = {str(x): 1 for x in new}
    if isinstance(acc, list):
        acc = {str(x): 1 for x in acc}
    if isinstance(new, dict):
        out = dict(acc) if isinstance(acc, dict) else {}
        for k, v in new.items():
            out[k] = _merge_into(out.get(k), v)
        return out
    if isinstance(new, bool) or not isinstance(new, (int, float)):
        new = 1 if new else 0
    base = acc if isinstance(acc, (int, float)) and not isinstance(acc, bool) else 0
    return base + new


def merge_coverage(runs: Iterable[Run]) -> dict:
    """Sum the ``coverage`` testsuite properties of all runs.

    If no run recorded ``operations`` coverage, it is derived from the operations of
    the test cases that actually ran (PASS / FAIL / KNOWN).
    """
    runs = list(runs)
    cov: dict = {}
    for r in runs:
        cov = _merge_into(cov, r.coverage)
    if "operations" not in cov:
        ops: dict[str, int] = {}
        for r in runs:
            for t in r.tests:
                if t.outcome != SKIP and t.operation != WORKFLOW:
                    ops[t.operation] = ops.get(t.operation, 0) + 1
        if ops:
            cov["operations"] = ops
    return cov


def _norm_transition(t: Any) -> str:
    if isinstance(t, (list, tuple)) and len(t) == 2:
        a, b = t
    else:
        s = str(t).replace("→", "->")
        if "->" not in s:
            return s.strip()
        a, b = s.split("->", 1)
    return f"{str(a).strip()}->{str(b).strip()}"


def _norm_status_key(k: str) -> str:
    return " ".join(str(k).split())


def default_universe(spec: dict | None = None, transitions: Any = None) -> dict:
    """The universe to measure coverage against.

    Nothing is hardcoded: without a spec the operation / status-code / enum lists
    are empty (coverage then only lists what was exercised). With an OpenAPI dict
    this is :func:`universe_from_spec`.
    """
    if spec:
        return universe_from_spec(spec, transitions)
    return {
        "operations": [],
        "status_codes": [],
        "enums": {},
        "transitions": _norm_transitions(transitions),
    }


def _norm_transitions(transitions: Any) -> dict[str, list[str]]:
    if not transitions:
        return {}
    if isinstance(transitions, dict):
        return {str(k): [_norm_transition(x) for x in (v or [])] for k, v in transitions.items()}
    return {"lifecycle": [_norm_transition(x) for x in transitions]}


_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def universe_from_spec(spec: dict, transitions: Any = None) -> dict:
    """Build the universe from an OpenAPI document (as a dict).

    * operations: every ``operationId`` (``"METHOD /path"`` when missing), in spec order;
    * status_codes: ``"<operationId> <code>"`` for every documented response key;
    * enums: every ``components.schemas`` entry that has an ``enum`` (only those named in
      the spec's ``x-coverage-enums``, when it has one);
    * transitions: passed in (``{"batch": ["pending->in_progress", ...], ...}``), else
      the spec's ``x-transitions`` extension in the same shape, if any.
    """
    ops: list[str] = []
    codes: list[str] = []
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in _HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            op_id = op.get("operationId") or f"{method.upper()} {path}"
            if op_id not in ops:
                ops.append(op_id)
            for code in op.get("responses") or {}:
                key = f"{op_id} {code}"
                if key not in codes:
                    codes.append(key)
    enums: dict[str, list[str]] = {}
    schemas = ((spec.get("components") or {}).get("schemas")) or {}
    for name, schema in schemas.items():
        if isinstance(schema, dict) and isinstance(schema.get("enum"), list):
            enums[name] = [str(v) for v in schema["enum"] if v is not None]
    wanted = spec.get("x-coverage-enums")
    if isinstance(wanted, list):
        enums = {name: values for name, values in enums.items() if name in wanted}
    if transitions is None:
        transitions = spec.get("x-transitions")
    return {
        "operations": ops,
        "status_codes": codes,
        "enums": enums,
        "transitions": _norm_transitions(transitions),
    }


@dataclass
class CoverageRow:
    item: str
    count: int
    documented: bool


def _status_matches(doc_key: str, exercised: dict[str, int], all_doc: set[str]) -> int:
    """Count for a documented "op code" key, honouring "4XX" ranges and "default"."""
    if doc_key in exercised:
        return exercised[doc_key]
    op, _, code = doc_key.rpartition(" ")
    code_u = code.upper()
    total = 0
    if len(code_u) == 3 and code_u.endswith("XX"):
        for k, n in exercised.items():
            kop, _, kc = k.rpartition(" ")
            if kop == op and kc[:1] == code_u[0] and k not in all_doc:
                total += n
    elif code_u == "DEFAULT":
        for k, n in exercised.items():
            kop, _, kc = k.rpartition(" ")
            if (
                kop == op
                and k not in all_doc
                and f"{op} {kc[:1]}XX" not in {d.upper() for d in all_doc}
            ):
                total += n
    return total


def compare_coverage(coverage: dict, universe: dict) -> dict[str, dict[str, list[CoverageRow]]]:
    """Compare exercised counts with the documented universe.

    Returns ``{section: {group: [CoverageRow, ...]}}`` with sections ``operations``,
    ``status_codes``, ``enums``, ``transitions``. Documented items not exercised have
    count 0; exercised items not in the universe have ``documented=False``.
    """
    universe = universe or {}
    coverage = coverage or {}
    out: dict[str, dict[str, list[CoverageRow]]] = {}

    def flat(section: str, doc: list[str], ex: dict[str, Any], norm=lambda s: s, match=None):
        ex = {norm(k): int(v) if isinstance(v, (int, float)) else 0 for k, v in (ex or {}).items()}
        doc = [norm(d) for d in doc or []]
        rows, seen = [], set()
        docset = set(doc)
        for d in doc:
            if d in seen:
                continue
            seen.add(d)
            n = match(d, ex, docset) if match else ex.get(d, 0)
            rows.append(CoverageRow(d, n, True))
        for k, n in ex.items():
            if k in seen:
                continue
            if match and match is _status_matches:
                op, _, code = k.rpartition(" ")
                if any(
                    d.rpartition(" ")[0] == op
                    and d.rpartition(" ")[2].upper() in (f"{code[:1]}XX", "DEFAULT")
                    for d in docset
                ):
                    continue  # absorbed by a documented range / default
            rows.append(CoverageRow(k, n, False))
        return rows

    out["operations"] = {
        "": flat("operations", universe.get("operations"), coverage.get("operations"))
    }
    out["status_codes"] = {
        "": flat(
            "status_codes",
            universe.get("status_codes"),
            coverage.get("status_codes"),
            _norm_status_key,
            _status_matches,
        )
    }
    enums: dict[str, list[CoverageRow]] = {}
    u_enums = universe.get("enums") or {}
    c_enums = coverage.get("enums") or {}
    for name in list(u_enums) + [n for n in c_enums if n not in u_enums]:
        enums[name] = flat(
            "enums",
            [str(v) for v in u_enums.get(name) or []],
            c_enums.get(name) if isinstance(c_enums.get(name), dict) else {},
        )
    out["enums"] = enums
    trans: dict[str, list[CoverageRow]] = {}
    u_tr = _norm_transitions(universe.get("transitions"))
    c_tr = coverage.get("transitions") or {}
    for name in list(u_tr) + [n for n in c_tr if n not in u_tr]:
        trans[name] = flat(
            "transitions",
            u_tr.get(name) or [],
            c_tr.get(name) if isinstance(c_tr.get(name), dict) else {},
            _norm_transition,
        )
    out["transitions"] = trans
    return out


def _coverage_summary(cmp: dict[str, dict[str, list[CoverageRow]]]) -> dict[str, tuple[int, int]]:
    """section -> (documented items exercised, documented items)."""
    res = {}
    for section, groups in cmp.items():
        doc = [r for rows in groups.values() for r in rows if r.documented]
        res[section] = (sum(1 for r in doc if r.count > 0), len(doc))
    return res


def _pct(covered: int, total: int) -> str:
    return f"{100.0 * covered / total:.0f}%" if total else "n/a"


# --------------------------------------------------------------------------- verdict


def verdict(runs: Iterable[Run]) -> int:
    """0 conformant (KNOWN / SKIP allowed), 1 any FAIL, 2 could not run.

    "Could not run": no runs at all, a file missing / unreadable / not JUnit, a file
    with no test cases, or any collection error (pytest reports those as a testcase
    with an ``<error message="collection failure">`` and an empty classname).
    2 takes precedence over 1.
    """
    runs = list(runs)
    if not runs or any(r.could_not_run for r in runs):
        return EXIT_NOT_RUN
    if any(t.outcome == FAIL for r in runs for t in r.tests):
        return EXIT_FAIL
    return EXIT_OK


def verdict_label(code: int) -> str:
    return VERDICT_LABELS.get(code, "COULD NOT RUN")


def _run_verdict(run: Run) -> int:
    return verdict([run])


def _targets(runs: list[Run]) -> list[str]:
    seen: list[str] = []
    for r in runs:
        if r.target not in seen:
            seen.append(r.target)
    return seen


_SEVERITY = {FAIL: 3, KNOWN: 2, PASS: 1, SKIP: 0}


def _matrix(runs: list[Run]) -> dict[str, dict[str, TestResult]]:
    """node_id -> target -> result (worst outcome if a target has duplicates)."""
    m: dict[str, dict[str, TestResult]] = {}
    for r in runs:
        for t in r.tests:
            row = m.setdefault(t.node_id, {})
            cur = row.get(r.target)
            if cur is None or _SEVERITY[t.outcome] > _SEVERITY[cur.outcome]:
                row[r.target] = t
    return m


def _target_counts(runs: list[Run]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in runs:
        c = out.setdefault(r.target, {o: 0 for o in OUTCOMES})
        for k, v in r.counts().items():
            c[k] += v
    return out


def _group_order(ops: Iterable[str], universe: dict) -> list[str]:
    ops = set(ops)
    ordered = [o for o in (universe or {}).get("operations") or [] if o in ops]
    rest = sorted(o for o in ops if o not in ordered and o != WORKFLOW)
    return ordered + rest + ([WORKFLOW] if WORKFLOW in ops else [])


def _pretty(s: str) -> str:
    """Pretty-print JSON payloads; leave anything else as is."""
    st = (s or "").strip()
    if st[:1] in "{[":
        try:
            return json.dumps(json.loads(st), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return s or ""


# --------------------------------------------------------------------------- HTML

_CSS = """
:root{--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--known:#9a6700;
--known-bg:#fff8c5;--skip:#57606a;--skip-bg:#eaeef2;--line:#d0d7de;--muted:#57606a}
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;
margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1400px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px;
border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.muted{color:var(--muted)}.small{font-size:12px}
.banner{border-radius:8px;padding:16px 20px;margin:0 0 16px;color:#fff;display:flex;
align-items:baseline;gap:16px;flex-wrap:wrap}
.banner .v{font-size:26px;font-weight:700;letter-spacing:.5px}
.banner.v0{background:var(--pass)}.banner.v1{background:var(--fail)}
.banner.v2{background:#6e7781}
table{border-collapse:collapse;background:#fff;border:1px solid var(--line)}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f6f8fa;position:sticky;top:0;z-index:1}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600}
.b-PASS,.b-0{background:var(--pass-bg);color:var(--pass)}.b-FAIL,.b-1{background:var(--fail-bg);
color:var(--fail)}
.b-KNOWN{background:var(--known-bg);color:var(--known)}.b-SKIP,.b-2{background:var(--skip-bg);
color:var(--skip)}
#matrix{width:100%}
#matrix th.test{font-weight:normal;
font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
word-break:break-all}
#matrix th.test .req{font-family:inherit;display:block;color:var(--muted);font-size:12px;
font-style:italic;word-break:normal}
#matrix tr.group th{background:#eef1f4;font-size:13px;font-weight:700}
#matrix td.cell{min-width:90px;font-weight:600;font-size:12px}
td[data-outcome=PASS]{background:var(--pass-bg);color:var(--pass)}
td[data-outcome=FAIL]{background:var(--fail-bg);color:var(--fail)}
td[data-outcome=KNOWN]{background:var(--known-bg);color:var(--known)}
td[data-outcome=SKIP]{background:var(--skip-bg);color:var(--skip)}
td[data-outcome=NONE]{background:#fff;color:#afb8c1}
td.cell a{color:inherit}
details summary{cursor:pointer}
details .detail{font-weight:normal;color:#1f2328;margin-top:6px;max-width:70ch}
.detail dt{font-weight:600;margin-top:6px}.detail dd{margin:2px 0 0}
pre{background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:6px 8px;
margin:2px 0;
white-space:pre-wrap;word-break:break-word;max-height:320px;overflow:auto;font-size:12px}
.alert{background:#fff;border-left:4px solid #6e7781;padding:8px 12px;margin:8px 0}
.filter{margin:6px 0 10px;display:block}
#only-problems:checked ~ table tr.ok{display:none}
.cov-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:16px}
.bar{height:8px;background:var(--fail-bg);border-radius:4px;overflow:hidden;margin:4px 0 8px}
.bar span{display:block;height:100%;background:var(--pass)}
ul.items{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:4px}
ul.items li{padding:1px 7px;border-radius:10px;font-size:12px;
font-family:ui-monospace,Menlo,Consolas,monospace}
li.hit{background:var(--pass-bg);color:var(--pass)}li.gap{background:var(--fail-bg);
color:var(--fail)}
li.extra{background:var(--known-bg);color:var(--known)}
.legend span{margin-right:10px}
"""


def _e(s: Any) -> str:
    return html.escape(str(s if s is not None else ""), quote=True)


def _safe_href(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else ""


def _detail_block(t: TestResult) -> str:
    parts = ['<dl class="detail">']
    if t.requirement:
        parts.append(f"<dt>Requirement</dt><dd>{_e(t.requirement)}</dd>")
    if t.violated_rule:
        parts.append(f"<dt>Violated rule</dt><dd>{_e(t.violated_rule)}</dd>")
    if t.message:
        parts.append(f"<dt>Reason</dt><dd><pre>{_e(t.message)}</pre></dd>")
    if t.request:
        parts.append(
            f'<dt>Request</dt><dd><pre class="request">{_e(_pretty(t.request))}</pre></dd>'
        )
    if t.response:
        parts.append(
            f'<dt>Response</dt><dd><pre class="response">{_e(_pretty(t.response))}</pre></dd>'
        )
    if t.text and t.text.strip() != t.message.strip():
        parts.append(f"<dt>Traceback</dt><dd><pre>{_e(t.text.strip())}</pre></dd>")
    if t.output:
        out = t.output if len(t.output) <= 4000 else t.output[:4000] + "\n… (truncated)"
        parts.append(f"<dt>Captured output</dt><dd><pre>{_e(out)}</pre></dd>")
    parts.append("</dl>")
    return "".join(parts)


def _cell(target: str, t: TestResult | None) -> str:
    if t is None:
        return (
            f'<td class="cell" data-outcome="NONE" data-target="{_e(target)}" '
            f'title="not run on this target">—</td>'
        )
    o = t.outcome
    attrs = f'class="cell" data-outcome="{o}" data-target="{_e(target)}"'
    time = f"{t.time:.2f}s"
    if o == PASS:
        return f'<td {attrs} title="{_e(time)}">PASS</td>'
    if o == SKIP:
        reason = t.reason or "skipped"
        return f'<td {attrs} title="{_e(reason)}">SKIP</td>'
    if o == KNOWN:
        reason = t.reason or "known deviation"
        link = ""
        href = _safe_href(t.issue_url)
        if href:
            link = f' <a href="{_e(href)}" title="{_e(href)}">issue</a>'
        return f'<td {attrs} title="{_e(reason)}">KNOWN{link}</td>'
    label = "ERROR" if t.error else "FAIL"
    return (
        f'<td {attrs} title="{_e(t.reason)}"><details><summary>{label}</summary>'
        f"{_detail_block(t)}</details></td>"
    )


def _coverage_html(cmp: dict[str, dict[str, list[CoverageRow]]]) -> str:
    titles = {
        "operations": "Operations",
        "status_codes": "Documented status codes",
        "enums": "Enum values",
        "transitions": "Lifecycle transitions",
    }
    summ = _coverage_summary(cmp)
    out = [
        '<p class="legend small"><span class="badge b-PASS">exercised</span>'
        '<span class="badge b-FAIL">documented, not exercised</span>'
        '<span class="badge b-KNOWN">exercised, not documented</span></p>',
        '<div class="cov-grid">',
    ]
    for section, title in titles.items():
        groups = cmp.get(section) or {}
        covered, total = summ.get(section, (0, 0))
        width = (100 * covered // total) if total else 0
        out.append(f'<section class="cov" data-section="{_e(section)}">')
        out.append(
            f'<h3>{_e(title)} <span class="muted small">{covered}/{total} '
            f"({_pct(covered, total)})</span></h3>"
        )
        out.append(f'<div class="bar"><span style="width:{width}%"></span></div>')
        if not any(groups.values()):
            out.append(
                '<p class="muted small">Nothing documented or exercised'
                " (pass --spec to measure against the documented universe).</p>"
            )
        for group, rows in groups.items():
            if not rows:
                continue
            if group:
                out.append(f'<div class="small"><strong>{_e(group)}</strong></div>')
            out.append('<ul class="items">')
            for r in rows:
                cls = "extra" if not r.documented else ("hit" if r.count else "gap")
                tip = (f"{r.count}× exercised" if r.count else "not exercised") + (
                    "" if r.documented else " — not documented"
                )
                out.append(
                    f'<li class="{cls}" data-item="{_e(r.item)}" title="{_e(tip)}">'
                    f"{_e(r.item)}{'' if not r.count else f' ×{r.count}'}</li>"
                )
            out.append("</ul>")
        out.append("</section>")
    out.append("</div>")
    return "".join(out)


def render_html(runs: list[Run], coverage: dict | None = None, universe: dict | None = None) -> str:
    """One self-contained HTML page (inline CSS, no JS, no external assets)."""
    runs = list(runs)
    universe = universe or default_universe()
    coverage = merge_coverage(runs) if coverage is None else coverage
    code = verdict(runs)
    label = verdict_label(code)
    targets = _targets(runs)
    counts = _target_counts(runs)
    matrix = _matrix(runs)
    tot = {o: sum(c[o] for c in counts.values()) for o in OUTCOMES}

    h: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Conformance report — {_e(label)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f'<div class="banner v{code}" id="verdict" data-verdict="{_e(label)}" '
        f'data-exit-code="{code}"><span class="v">{_e(label)}</span>'
        f"<span>{len(targets)} target{'s' if len(targets) != 1 else ''} · "
        f"{tot[PASS]} pass · {tot[FAIL]} fail · {tot[KNOWN]} known · {tot[SKIP]} skip</span>"
        "</div>",
        "<h1>Batch-calling API conformance</h1>",
    ]

    problems = [(r, r.problem()) for r in runs if r.could_not_run]
    if not runs:
        problems_html = ['<div class="alert">No JUnit reports were given.</div>']
    else:
        problems_html = []
    for r, why in problems:
        block = f"<strong>{_e(r.target)}</strong> could not run: {_e(why)}"
        if r.collection_errors:
            items = "".join(
                f"<details><summary>{_e(t.name or t.classname or 'collection error')}</summary>"
                f"<pre>{_e(t.text or t.message)}</pre></details>"
                for t in r.collection_errors
            )
            block += items
        problems_html.append(f'<div class="alert could-not-run">{block}</div>')
    h.extend(problems_html)

    # per-target counts
    h.append("<h2>Targets</h2>")
    h.append(
        '<table id="targets"><thead><tr><th>Target</th><th>Verdict</th><th>Pass</th>'
        "<th>Fail</th><th>Known</th><th>Skip</th><th>Total</th><th>Source</th>"
        "</tr></thead><tbody>"
    )
    for tgt in targets:
        truns = [r for r in runs if r.target == tgt]
        tv = verdict(truns)
        c = counts[tgt]
        src = ", ".join(r.path for r in truns)
        warn = "; ".join(w for r in truns for w in r.warnings)
        h.append(
            f'<tr data-target="{_e(tgt)}"><th>{_e(tgt)}</th>'
            f'<td><span class="badge b-{tv}">{_e(verdict_label(tv))}</span></td>'
            + "".join(f'<td class="num">{c[o]}</td>' for o in OUTCOMES)
            + f'<td class="num">{sum(c.values())}</td>'
            f'<td class="small muted">{_e(src)}{(" — " + _e(warn)) if warn else ""}</td></tr>'
        )
    h.append("</tbody></table>")

    # matrix
    h.append("<h2>Results</h2>")
    h.append(
        '<p class="legend small"><span class="badge b-PASS">PASS</span>'
        '<span class="badge b-FAIL">FAIL</span> click to see request / response'
        ' <span class="badge b-KNOWN">KNOWN</span> known deviation'
        ' <span class="badge b-SKIP">SKIP</span> hover for reason</p>'
    )
    h.append(
        '<input type="checkbox" id="only-problems"> '
        '<label for="only-problems" class="small">show only tests that did not pass '
        "everywhere</label>"
    )
    h.append(
        '<table id="matrix"><thead><tr><th>Test</th>'
        + "".join(f'<th data-target="{_e(t)}">{_e(t)}</th>' for t in targets)
        + "</tr></thead><tbody>"
    )
    by_op: dict[str, list[str]] = {}
    for node, row in matrix.items():
        op = next(iter(row.values())).operation
        by_op.setdefault(op, []).append(node)
    for op in _group_order(by_op, universe):
        nodes = by_op[op]  # order of first appearance in the reports
        h.append(
            f'<tr class="group" data-operation="{_e(op)}">'
            f'<th colspan="{len(targets) + 1}">{_e(op)} '
            f'<span class="muted small">({len(nodes)} test{"s" if len(nodes) != 1 else ""})'
            "</span></th></tr>"
        )
        for node in nodes:
            row = matrix[node]
            req = next((t.requirement for t in row.values() if t.requirement), "")
            ok = all(t.outcome == PASS for t in row.values()) and len(row) == len(targets)
            h.append(
                f'<tr class="test{" ok" if ok else ""}" data-test="{_e(node)}" '
                f'data-operation="{_e(op)}"><th class="test" scope="row">{_e(node)}'
                + (f'<span class="req">{_e(req)}</span>' if req else "")
                + "</th>"
                + "".join(_cell(tgt, row.get(tgt)) for tgt in targets)
                + "</tr>"
            )
    if not matrix:
        h.append(
            f'<tr class="empty"><td colspan="{len(targets) + 1}" class="muted">'
            "No test results.</td></tr>"
        )
    h.append("</tbody></table>")

    # failures list
    fails = [(r.target, t) for r in runs for t in r.tests if t.outcome == FAIL]
    if fails:
        h.append(f"<h2>Failures ({len(fails)})</h2>")
        for tgt, t in fails:
            h.append(
                f'<details class="failure"><summary><span class="badge b-FAIL">'
                f"{_e(tgt)}</span> <code>{_e(t.node_id)}</code> — {_e(t.reason)}"
                f"</summary>{_detail_block(t)}</details>"
            )
    known = [(r.target, t) for r in runs for t in r.tests if t.outcome == KNOWN]
    if known:
        h.append(f"<h2>Known deviations ({len(known)})</h2><ul>")
        for tgt, t in known:
            href = _safe_href(t.issue_url)
            link = f' — <a href="{_e(href)}">{_e(href)}</a>' if href else ""
            h.append(
                f'<li><span class="badge b-KNOWN">{_e(tgt)}</span> '
                f"<code>{_e(t.node_id)}</code>: {_e(t.reason)}{link}</li>"
            )
        h.append("</ul>")

    h.append("<h2>Coverage</h2>")
    h.append(_coverage_html(compare_coverage(coverage, universe)))
    h.append('<p class="muted small">Generated by conformance.report.</p>')
    h.append("</main></body></html>")
    return "\n".join(h)


# --------------------------------------------------------------------------- Markdown


def _md(s: Any) -> str:
    """Escape text for a Markdown table cell / inline text."""
    return str(s or "").replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(s: str) -> str:
    s = str(s).replace("\n", " ")
    tick = "``" if "`" in s else "`"
    pad = " " if tick == "``" else ""
    return f"{tick}{pad}{s}{pad}{tick}"


def render_markdown(
    runs: list[Run], coverage: dict | None = None, universe: dict | None = None
) -> str:
    runs = list(runs)
    universe = universe or default_universe()
    coverage = merge_coverage(runs) if coverage is None else coverage
    code = verdict(runs)
    counts = _target_counts(runs)
    lines = [
        "# Batch-calling API conformance report",
        "",
        f"**Verdict: {verdict_label(code)}** (exit code {code})",
        "",
    ]
    bad = [r for r in runs if r.could_not_run]
    if not runs:
        lines += ["- No JUnit reports were given.", ""]
    if bad:
        lines.append("## Could not run")
        lines.append("")
        for r in bad:
            lines.append(f"- **{_md(r.target)}**: {_md(r.problem())}")
        lines.append("")
    lines += [
        "## Targets",
        "",
        "| Target | Verdict | Pass | Fail | Known | Skip | Total |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for tgt, c in counts.items():
        tv = verdict([r for r in runs if r.target == tgt])
        lines.append(
            f"| {_md(tgt)} | {verdict_label(tv)} | {c[PASS]} | {c[FAIL]} | "
            f"{c[KNOWN]} | {c[SKIP]} | {sum(c.values())} |"
        )
    lines.append("")
    fails = [(r.target, t) for r in runs for t in r.tests if t.outcome == FAIL]
    lines.append(f"## Failures ({len(fails)})")
    lines.append("")
    if not fails:
        lines.append("None.")
    for tgt, t in fails:
        rule = f" (rule: {_md(first_line(t.violated_rule))})" if t.violated_rule else ""
        lines.append(f"- **{_md(tgt)}** {_code(t.node_id)} — {_md(t.reason)}{rule}")
    lines.append("")
    known = [(r.target, t) for r in runs for t in r.tests if t.outcome == KNOWN]
    lines.append(f"## Known deviations ({len(known)})")
    lines.append("")
    if not known:
        lines.append("None.")
    for tgt, t in known:
        reason = _md(t.reason)
        if _safe_href(t.issue_url):
            link = f"<{t.issue_url}>"
            if t.issue_url in reason:
                reason = reason.replace(t.issue_url, link, 1)
            else:
                reason = f"{reason} — {link}" if reason else link
        lines.append(f"- **{_md(tgt)}** {_code(t.node_id)} — {reason}")
    lines.append("")
    summ = _coverage_summary(compare_coverage(coverage, universe))
    cmp = compare_coverage(coverage, universe)
    summ = _coverage_summary(cmp)
    lines += [
        "## Coverage",
        "",
        "| Dimension | Documented exercised | Documented | % | Exercised, undocumented |",
        "|---|---:|---:|---:|---:|",
    ]
    names = {
        "operations": "Operations",
        "status_codes": "Status codes",
        "enums": "Enum values",
        "transitions": "Lifecycle transitions",
    }
    for section, name in names.items():
        covered, total = summ.get(section, (0, 0))
        extra = sum(1 for rows in cmp.get(section, {}).values() for r in rows if not r.documented)
        lines.append(f"| {name} | {covered} | {total} | {_pct(covered, total)} | {extra} |")
    gaps = [
        (section, g, r.item)
        for section, groups in cmp.items()
        for g, rows in groups.items()
        for r in rows
        if r.documented and not r.count
    ]
    if gaps:
        lines += [
            "",
            "Not exercised: "
            + ", ".join(_code(f"{g}: {item}" if g else item) for _, g, item in gaps[:50])
            + (f" … and {len(gaps) - 50} more" if len(gaps) > 50 else ""),
        ]
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI


def _load_structured(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.lower().endswith(".json"):
        return json.loads(text)
    import yaml  # pyyaml is a project dependency

    return yaml.safe_load(text)


def _expand(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if any(ch in p for ch in "*?[") and not os.path.exists(p):
            matches = sorted(glob.glob(p))
            out.extend(matches or [p])
        else:
            out.append(p)
    return out


def _summary_line(runs: list[Run], code: int) -> str:
    parts = []
    for tgt, c in _target_counts(runs).items():
        truns = [r for r in runs if r.target == tgt]
        if all(r.error for r in truns):
            parts.append(f"{tgt} unreadable")
            continue
        s = f"{tgt} {c[PASS]} pass/{c[FAIL]} fail/{c[KNOWN]} known/{c[SKIP]} skip"
        if any(r.could_not_run for r in truns):
            s += " (could not run)"
        parts.append(s)
    return f"{verdict_label(code)}: " + ("; ".join(parts) if parts else "no reports")


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the verdict exit code, never raises for bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m conformance.report",
        description="Render pytest JUnit reports of the conformance suite as HTML/Markdown.",
    )
    parser.add_argument("reports", nargs="+", help="JUnit XML files (reports/<target>.xml)")
    parser.add_argument("--html", help="write the HTML report here")
    parser.add_argument("--md", help="write the Markdown summary here")
    parser.add_argument("--spec", help="OpenAPI document (YAML/JSON) defining the universe")
    parser.add_argument(
        "--transitions", help='YAML/JSON {"batch": ["a->b", ...], "recipient": [...]}'
    )
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:  # argparse already printed usage / help
        return 0 if e.code in (0, None) else EXIT_NOT_RUN

    try:
        spec = _load_structured(args.spec) if args.spec else None
        if args.spec and not isinstance(spec, dict):
            raise ValueError("not a mapping")
    except Exception as e:  # noqa: BLE001 - one-line error, never a traceback
        print(
            f"error: cannot load spec {args.spec}: {e.__class__.__name__}: {e}".splitlines()[0],
            file=sys.stderr,
        )
        return EXIT_NOT_RUN
    try:
        transitions = _load_structured(args.transitions) if args.transitions else None
    except Exception as e:  # noqa: BLE001
        print(
            f"error: cannot load transitions {args.transitions}: {e}".splitlines()[0],
            file=sys.stderr,
        )
        return EXIT_NOT_RUN

    try:
        universe = default_universe(spec, transitions)
        runs = load_junit(_expand(args.reports), universe.get("operations"))
        for r in runs:
            if r.error:
                print(f"error: {r.error}".splitlines()[0], file=sys.stderr)
        coverage = merge_coverage(runs)
        code = verdict(runs)
        for path, render in ((args.html, render_html), (args.md, render_markdown)):
            if not path:
                continue
            content = render(runs, coverage, universe)
            d = os.path.dirname(path)
            if d:
                os.makedirs(d, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(content)
    except OSError as e:
        print(f"error: cannot write report: {e}".splitlines()[0], file=sys.stderr)
        return EXIT_NOT_RUN
    except Exception as e:  # noqa: BLE001 - never a traceback
        print(
            f"error: report generation failed: {e.__class__.__name__}: {e}".splitlines()[0],
            file=sys.stderr,
        )
        return EXIT_NOT_RUN

    written = [p for p in (args.html, args.md) if p]
    print(_summary_line(runs, code) + (f" → {', '.join(written)}" if written else ""))
    return code


if __name__ == "__main__":
    sys.exit(main())
