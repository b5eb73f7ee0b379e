"""Conformance report: pytest JUnit XML (one file per target, or several shards of one
target) -> one self-contained HTML page and a Markdown summary, exit code = verdict.

Command line::

    python -m conformance.report reports/*.xml --html reports/report.html \
        --md reports/report.md [--spec openapi/batch-calling.yaml] [--transitions t.yaml]

Modules: `model` (outcomes, TestResult, Run, Drift), `junit` (reading, shard merge),
`redact` (credentials out), `coverage` (universe from the spec, counts), `verdict` (exit
codes and why), `parts` + `style` + `page` (HTML), `markdown`, `cli` (`main`), `baseline`
(`--baseline PREVIOUS`: what changed since an earlier run's report.json or JUnit files;
`--fail-on new`).

Exit code (`verdict`): 0 conformant (KNOWN, DIFFERS, SKIP and drift allowed); 1 any FAIL
(it wins over errors: what was proven wrong stays proven); 2 could not run, with nothing
proven wrong: no reports, a file missing / unreadable / not JUnit, a shard of a split missing,
no test cases, a collection error, or an ERROR (the suite's live-safety guard, a transport or
harness error in a fixture).

JUnit properties read
---------------------
testsuite ``<properties>`` (``record_testsuite_property``):
    ``target``        the target's name (else the file name, less ``.shardN``); files with
                      the same target are shards and merge into one column.
    ``coverage``      JSON ``{"operations": {op: n}, "status_codes": {"op code": n},
                      "enums": {Enum: {value: n}}, "transitions": {"batch": {"a->b": n}}}``.
    ``requirements``  JSON ``{id: {"text": str, "grade": documented|observed|inferred,
                      "source": str}}``: the whole table (unexercised ones are listed).
    ``shard``         ``I/N`` of a `--shard` run: every shard of N must arrive.
    ``drift``         JSON ``[{"kind": response-property|header|status|content-type|
                      enum-value, "operation": operationId, "where": pointer|header|status,
                      "first_seen": nodeid, "count": int, "hint": str?}]``.
testcase ``<properties>`` (``record_property``):
    ``operations``         space-separated operationIds the test exercised (none: "other";
                           a legacy single ``operation`` is read the same way).
    ``requirement_id``, ``requirement_grade``, ``requirement`` (the sentence).
    ``request``, ``response``, ``violated_rule``, ``issue`` (known deviation's link).
    ``verdict``            ``differs``: with a skip message starting "differs from our
                           inference:" the outcome is DIFFERS; ``guard`` (+ ``guard_rule``):
                           the suite's guard refused a request: ERROR, whatever the element;
                           ``fail``: the server's broken answer, a FAIL even when pytest
                           wrote it as a set-up / tear-down <error> (``phase`` says which).
    ``problem_operation``  the operation whose answer broke the rule: with
                           ``violated_rule`` it keys the distinct problem.
Values of ``xi-api-key``, ``x-api-key``, ``Authorization`` (and cookie) headers are
redacted on load, so no renderer can print a key.
"""

from conformance.report.cli import main
from conformance.report.coverage import (
    CoverageRow,
    compare_coverage,
    default_universe,
    merge_coverage,
    universe_from_spec,
)
from conformance.report.junit import load_junit, merge_runs, node_id, target_from_path
from conformance.report.markdown import render_markdown
from conformance.report.model import (
    DIFFERS,
    ERROR,
    FAIL,
    KNOWN,
    OTHER,
    OUTCOMES,
    PASS,
    SKIP,
    Drift,
    Run,
    TestResult,
)
from conformance.report.page import render_html
from conformance.report.redact import redact
from conformance.report.verdict import (
    EXIT_FAIL,
    EXIT_NOT_RUN,
    EXIT_OK,
    verdict,
    verdict_label,
    verdict_reason,
)

__all__ = [
    "PASS", "FAIL", "DIFFERS", "ERROR", "KNOWN", "SKIP", "OUTCOMES", "OTHER",
    "EXIT_OK", "EXIT_FAIL", "EXIT_NOT_RUN",
    "TestResult", "Run", "Drift", "CoverageRow",
    "load_junit", "merge_runs", "node_id", "target_from_path", "redact",
    "merge_coverage", "compare_coverage", "default_universe", "universe_from_spec",
    "verdict", "verdict_label", "verdict_reason",
    "render_html", "render_markdown", "main",
]
