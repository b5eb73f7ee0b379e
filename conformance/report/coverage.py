"""Coverage: what the suite exercised, against the documented universe of the spec.

The universe (operations, documented status codes, enums, lifecycle transitions) comes
from the spec through `conformance.api.Api`; nothing is hardcoded. Exercised counts come
from the suite property ``coverage`` (summed over files), else from the ``operations``
each testcase recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conformance.api import api_of
from conformance.report.model import EXERCISED, Run


def merge_counts(acc: Any, new: Any) -> Any:
    """Recursively sum count dicts (also accepts lists: each item counts 1)."""
    if isinstance(new, list):
        new = {str(x): 1 for x in new}
    if isinstance(acc, list):
        acc = {str(x): 1 for x in acc}
    if isinstance(new, dict):
        out = dict(acc) if isinstance(acc, dict) else {}
        for k, v in new.items():
            out[k] = merge_counts(out.get(k), v)
        return out
    if isinstance(new, bool) or not isinstance(new, (int, float)):
        new = 1 if new else 0
    base = acc if isinstance(acc, (int, float)) and not isinstance(acc, bool) else 0
    return base + new


def merge_coverage(runs: Iterable[Run]) -> dict:
    """Sum the ``coverage`` testsuite properties of all runs.

    If no run recorded ``operations`` coverage, it is derived from the ``operations``
    property of every testcase that ran (not skipped): each operation it exercised counts.
    """
    runs = list(runs)
    cov: dict = {}
    for r in runs:
        cov = merge_counts(cov, r.coverage)
    if "operations" not in cov:
        ops: dict[str, int] = {}
        for r in runs:
            for t in r.tests:
                if t.outcome in EXERCISED:
                    for op in t.operations:
                        ops[op] = ops.get(op, 0) + 1
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


def _norm_transitions(transitions: Any) -> dict[str, list[str]]:
    if not transitions:
        return {}
    if isinstance(transitions, dict):
        return {str(k): [_norm_transition(x) for x in (v or [])] for k, v in transitions.items()}
    return {"lifecycle": [_norm_transition(x) for x in transitions]}


def default_universe(spec: dict | None = None, transitions: Any = None) -> dict:
    """The universe to measure coverage against: empty without a spec (coverage then only
    lists what was exercised), else :func:`universe_from_spec`."""
    if spec:
        return universe_from_spec(spec, transitions)
    return {"operations": [], "status_codes": [], "enums": {},
            "transitions": _norm_transitions(transitions)}


def universe_from_spec(spec: dict, transitions: Any = None) -> dict:
    """Build the universe from an OpenAPI document (as a dict), through `api_of(spec)`.

    * operations: every operationId, in spec order;
    * status_codes: ``"<operationId> <code>"`` for every documented response;
    * enums: every ``components.schemas`` entry with an ``enum`` (only those named in the
      spec's ``x-coverage-enums``, when it has one);
    * transitions: passed in (``{"batch": ["pending->in_progress", ...], ...}``), else the
      spec's ``x-transitions`` in the same shape, if any.
    """
    api = api_of(spec)
    ops = list(api.ids)
    codes = list(dict.fromkeys(
        f"{op} {code}" for op in ops for code in api.by_id[op].statuses))
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
    return {"operations": ops, "status_codes": codes, "enums": enums,
            "transitions": _norm_transitions(transitions)}


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
    upper_doc = {d.upper() for d in all_doc}
    total = 0
    for k, n in exercised.items():
        kop, _, kc = k.rpartition(" ")
        if kop != op or k in all_doc:
            continue
        if len(code_u) == 3 and code_u.endswith("XX") and kc[:1] == code_u[0]:
            total += n
        elif code_u == "DEFAULT" and f"{op} {kc[:1]}XX" not in upper_doc:
            total += n
    return total


def _absorbed(key: str, docset: set[str]) -> bool:
    """An undocumented "op 418" counted under a documented "op 4XX" / "op default"."""
    op, _, code = key.rpartition(" ")
    return any(d.rpartition(" ")[0] == op
               and d.rpartition(" ")[2].upper() in (f"{code[:1]}XX", "DEFAULT")
               for d in docset)


def _rows(doc: list[str] | None, ex: dict[str, Any] | None, norm=lambda s: s,
          status: bool = False) -> list[CoverageRow]:
    ex = {norm(k): int(v) if isinstance(v, (int, float)) else 0 for k, v in (ex or {}).items()}
    docs = list(dict.fromkeys(norm(d) for d in doc or []))
    docset = set(docs)
    rows = [CoverageRow(d, _status_matches(d, ex, docset) if status else ex.get(d, 0), True)
            for d in docs]
    rows += [CoverageRow(k, n, False) for k, n in ex.items()
             if k not in docset and not (status and _absorbed(k, docset))]
    return rows


def compare_coverage(coverage: dict, universe: dict) -> dict[str, dict[str, list[CoverageRow]]]:
    """Compare exercised counts with the documented universe.

    Returns ``{section: {group: [CoverageRow, ...]}}`` with sections ``operations``,
    ``status_codes``, ``enums``, ``transitions``. Documented items not exercised have
    count 0; exercised items not in the universe have ``documented=False``.
    """
    universe, coverage = universe or {}, coverage or {}
    out: dict[str, dict[str, list[CoverageRow]]] = {
        "operations": {"": _rows(universe.get("operations"), coverage.get("operations"))},
        "status_codes": {"": _rows(universe.get("status_codes"), coverage.get("status_codes"),
                                   _norm_status_key, status=True)},
    }
    u_enums, c_enums = universe.get("enums") or {}, coverage.get("enums") or {}
    out["enums"] = {
        name: _rows([str(v) for v in u_enums.get(name) or []],
                    c_enums.get(name) if isinstance(c_enums.get(name), dict) else {})
        for name in list(u_enums) + [n for n in c_enums if n not in u_enums]
    }
    u_tr, c_tr = _norm_transitions(universe.get("transitions")), coverage.get("transitions") or {}
    out["transitions"] = {
        name: _rows(u_tr.get(name) or [],
                    c_tr.get(name) if isinstance(c_tr.get(name), dict) else {},
                    _norm_transition)
        for name in list(u_tr) + [n for n in c_tr if n not in u_tr]
    }
    return out


def coverage_summary(cmp: dict[str, dict[str, list[CoverageRow]]]) -> dict[str, tuple[int, int]]:
    """section -> (documented items exercised, documented items)."""
    res = {}
    for section, groups in cmp.items():
        doc = [r for rows in groups.values() for r in rows if r.documented]
        res[section] = (sum(1 for r in doc if r.count > 0), len(doc))
    return res


def pct(covered: int, total: int) -> str:
    return f"{100.0 * covered / total:.0f}%" if total else "n/a"


SECTION_TITLES = {
    "operations": "Operations",
    "status_codes": "Documented status codes",
    "enums": "Enum values",
    "transitions": "Lifecycle transitions",
}
