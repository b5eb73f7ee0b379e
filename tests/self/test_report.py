"""Self-tests for conformance.report (JUnit -> HTML / Markdown report)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance import report
from conformance.report import DIFFERS, ERROR, FAIL, KNOWN, PASS, SKIP

DATA = Path(__file__).parent / "data" / "junit"
MOCK = DATA / "mock.xml"
LIVE = DATA / "live-elevenlabs.xml"
CASSETTE = DATA / "cassette-voiceai.xml"
COLLECTION_ERROR = DATA / "collection-error.xml"
NO_TESTS = DATA / "no-tests.xml"
RENAMED = DATA / "renamed.xml"

CANCEL_NODE = "tests/scenarios/test_cancel.py::test_cancel_cancels_every_recipient[two-recipients]"
SUBMIT_NODE = "tests/scenarios/test_submit.py::test_submit_returns_pending_batch"
XSS_NODE = (
    "tests/scenarios/test_submit.py::test_submit_rejects_bad_phone[<script>alert(1)</script>]"
)
LIFECYCLE_NODE = "tests/scenarios/test_lifecycle.py::test_full_lifecycle"

SPEC = {
    "openapi": "3.1.0",
    "paths": {
        "/v1/convai/batch-calling/submit": {
            "post": {"operationId": "submitBatchCall", "responses": {"200": {}, "422": {}}},
        },
        "/v1/convai/batch-calling/{id}": {
            "get": {"operationId": "getBatchCall", "responses": {"200": {}, "404": {}}},
            "delete": {"operationId": "deleteBatchCall", "responses": {"204": {}}},
        },
        "/v1/convai/batch-calling/{id}/cancel": {
            "post": {"operationId": "cancelBatchCall", "responses": {"200": {}, "4XX": {}}},
        },
    },
    "components": {
        "schemas": {
            "BatchCallStatus": {
                "type": "string",
                "enum": ["pending", "in_progress", "completed", "cancelled"],
            },
            "BatchCallRecipientStatus": {"type": "string", "enum": ["pending", "cancelled"]},
            "BatchCall": {"type": "object", "properties": {"id": {"type": "string"}}},
        }
    },
    "x-coverage-enums": ["BatchCallStatus"],
}
TRANSITIONS = {
    "batch": ["pending->in_progress", "pending->cancelled", "in_progress->completed"],
    "recipient": [["pending", "cancelled"]],
}


def by_node(run: report.Run) -> dict[str, report.TestResult]:
    return {t.node_id: t for t in run.tests}


# ------------------------------------------------------------------ HTML helper


class PageParser(HTMLParser):
    """Collects the #matrix table, <details> contents and src/href attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.in_matrix = False
        self.matrix_found = False
        self.header: list[str] = []
        self.rows: list[dict] = []  # {"test": node, "cells": {target: outcome}}
        self.group_rows: list[str] = []  # requirement groups of the matrix
        self.op_rows: list[str] = []  # rows of the by-operation table
        self.cards: dict[tuple[str, str], str] = {}  # (target, test) -> outcome of a card
        self.links: list[tuple[str, str, str]] = []  # (tag, attr, value)
        self.details_depth = 0
        self.details_text: list[str] = []
        self._in_thead = False
        self._th_text: list[str] | None = None
        self.verdict = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if k in a:
                self.links.append((tag, k, a[k] or ""))
        if tag == "div" and a.get("id") == "verdict":
            self.verdict = a.get("data-verdict")
        if tag == "table" and a.get("id") == "matrix":
            self.in_matrix = True
            self.matrix_found = True
        if self.in_matrix:
            if tag == "thead":
                self._in_thead = True
            elif tag == "th" and self._in_thead:
                self._th_text = []
            elif tag == "tr" and "test" in (a.get("class") or "").split():
                self.rows.append({"test": a.get("data-test"), "cells": {}})
            elif tag == "tr" and "group" in (a.get("class") or "").split():
                self.group_rows.append(a.get("data-requirement"))
            elif tag == "td" and "data-outcome" in a and self.rows:
                self.rows[-1]["cells"][a.get("data-target")] = a["data-outcome"]
        if tag == "tr" and "opgroup" in (a.get("class") or "").split():
            self.op_rows.append(a.get("data-operation"))
        if tag == "article" and "problem" in (a.get("class") or "").split():
            self.cards[(a.get("data-target"), a.get("data-test"))] = a.get("data-outcome")
        if tag == "details":
            self.details_depth += 1
        if tag not in ("br", "input", "meta", "link", "img", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag == "table" and self.in_matrix:
            self.in_matrix = False
        if tag == "thead":
            self._in_thead = False
        if tag == "th" and self._th_text is not None:
            self.header.append("".join(self._th_text).strip())
            self._th_text = None
        if tag == "details":
            self.details_depth -= 1
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data):
        if self._th_text is not None:
            self._th_text.append(data)
        if self.details_depth > 0:
            self.details_text.append(data)


def parse_page(page: str) -> PageParser:
    p = PageParser()
    p.feed(page)
    p.close()
    return p


# ------------------------------------------------------------------ parsing


def test_all_pass_run_parses_outcomes_and_target_from_filename():
    [run] = report.load_junit([MOCK])
    assert run.target == "mock"
    assert not run.error and not run.collection_errors
    assert [t.outcome for t in run.tests] == [PASS] * 4
    nodes = by_node(run)
    assert set(nodes) == {SUBMIT_NODE, XSS_NODE, CANCEL_NODE, LIFECYCLE_NODE}
    t = nodes[SUBMIT_NODE]
    assert t.classname == "tests.scenarios.test_submit"
    assert t.name == "test_submit_returns_pending_batch"
    assert t.time == pytest.approx(0.31)
    assert t.requirement == "Submitting a batch returns it in status pending."
    assert run.counts() == {PASS: 4, FAIL: 0, DIFFERS: 0, ERROR: 0, KNOWN: 0, SKIP: 0}
    assert report.verdict([run]) == 0


def test_operations_come_from_the_property_never_from_the_test_name():
    [run] = report.load_junit(MOCK)  # a single path is accepted too
    ops = {t.node_id: t.operation for t in run.tests}
    assert ops[SUBMIT_NODE] == "submitBatchCall"  # legacy single `operation` property
    assert by_node(run)[CANCEL_NODE].operations == ("cancelBatchCall", "getBatchCall")
    assert ops[CANCEL_NODE] == "cancelBatchCall"
    # module test_submit / name test_submit_...: no property, so no guess
    assert ops[XSS_NODE] == "other"
    assert by_node(run)[XSS_NODE].operations == ()
    assert ops[LIFECYCLE_NODE] == "other"


def test_operations_property_is_split_and_deduplicated_and_names_do_not_count(tmp_path):
    f = tmp_path / "t.xml"
    f.write_text(
        '<testsuite><testcase classname="tests.scenarios.test_cancel" name="test_cancel_x">'
        '<properties><property name="operations" '
        'value=" submitBatchCall  getBatchCall submitBatchCall\tcancelBatchCall "/>'
        "</properties></testcase>"
        '<testcase classname="tests.scenarios.test_cancel" name="test_cancel_y"/>'
        "</testsuite>",
        encoding="utf-8",
    )
    [run] = report.load_junit([f])
    x, y = run.tests
    assert x.operations == ("submitBatchCall", "getBatchCall", "cancelBatchCall")
    assert y.operations == () and y.operation == "other"
    assert not hasattr(report, "infer_operation")
    import conformance.report.junit as junit

    assert not hasattr(junit, "_SYNONYMS") and not hasattr(junit, "_DEFAULT_OPERATIONS")


def test_failure_carries_request_response_and_rule():
    [run] = report.load_junit([LIVE])
    assert run.target == "live-elevenlabs"
    t = by_node(run)[CANCEL_NODE]
    assert t.outcome == FAIL
    assert not t.error
    assert t.operation == "cancelBatchCall"
    assert t.request == "POST /v1/convai/batch-calling/btcal_123/cancel"
    assert '"status": "pending"' in t.response
    assert t.violated_rule.startswith("recipient.status must be cancelled")
    assert t.reason == "AssertionError: recipient r1 still pending after cancel"
    assert "tests/scenarios/test_cancel.py:42" in t.text
    assert report.verdict([run]) == 1


def test_xfail_is_known_with_issue_link_and_skip_keeps_reason():
    [run] = report.load_junit([CASSETTE])
    nodes = by_node(run)
    known = nodes[CANCEL_NODE]
    assert known.outcome == KNOWN
    # trailing full stop is not part of the URL
    assert known.issue_url == "https://github.com/example/batch-conformance/issues/12"
    skip = nodes[LIFECYCLE_NODE]
    assert skip.outcome == SKIP
    assert skip.reason == "cassette has no recording for the lifecycle scenario"
    assert run.counts() == {PASS: 2, FAIL: 0, DIFFERS: 0, ERROR: 0, KNOWN: 1, SKIP: 1}
    assert report.verdict([run]) == 0  # KNOWN and SKIP are allowed


def test_xfail_detected_by_message_prefix_and_error_element(tmp_path):
    f = tmp_path / "x.xml"
    f.write_text(
        '<testsuite tests="3">'
        '<testcase classname="tests.test_get" name="test_a">'
        '<skipped message="xfail: known, see http://tracker.example/7"/></testcase>'
        '<testcase classname="tests.test_get" name="test_b">'
        '<error message="failed on setup with &quot;RuntimeError: boom&quot;">'
        "E RuntimeError</error>"
        "</testcase>"
        '<testcase classname="tests.test_get" name="test_c">'
        '<skipped type="pytest.skip">tests/test_get.py:3: no API key</skipped></testcase>'
        "</testsuite>",
        encoding="utf-8",
    )
    [run] = report.load_junit([f])
    a, b, c = run.tests
    assert (a.outcome, a.issue_url) == (KNOWN, "http://tracker.example/7")
    # a setup error is ERROR: the suite could not run that test, which says nothing
    # about the target (it was a FAIL, exit 1, before ERROR existed)
    assert (b.outcome, b.error) == (ERROR, True)
    assert (c.outcome, c.reason) == (SKIP, "no API key")
    assert run.target == "x"  # bare <testsuite> root works
    assert report.verdict([run]) == 2


def test_target_property_overrides_filename_and_class_in_node_id():
    [run] = report.load_junit([RENAMED])
    assert run.target == "mock-strict"
    [t] = run.tests
    assert t.node_id == (
        "tests/scenarios/test_retry.py::TestRetry::test_retry_requeues_failed_recipients"
    )
    assert t.operation == "retryBatchCall"


def test_collection_error_and_empty_and_missing_files_could_not_run(tmp_path):
    [coll] = report.load_junit([COLLECTION_ERROR])
    assert coll.tests == [] and len(coll.collection_errors) == 1
    assert report.verdict([coll]) == 2

    [empty] = report.load_junit([NO_TESTS])
    assert report.verdict([empty]) == 2

    bad = tmp_path / "broken.xml"
    bad.write_text("<testsuite><testcase", encoding="utf-8")
    other = tmp_path / "other.xml"
    other.write_text("<html><body/></html>", encoding="utf-8")
    runs = report.load_junit([tmp_path / "missing.xml", bad, other])
    assert all(r.error for r in runs)
    assert "not found" in runs[0].error
    assert all(report.verdict([r]) == 2 for r in runs)

    assert report.verdict([]) == 2


def test_collection_error_next_to_a_failure_is_not_conformant(tmp_path):
    f = tmp_path / "mixed.xml"
    f.write_text(
        '<testsuites><testsuite errors="1" tests="2">'
        '<testcase classname="" name="tests.test_x" time="0"><error message="collection failure">'
        "E ImportError</error></testcase>"
        '<testcase classname="tests.test_submit" name="test_ok" time="0.1"/>'
        "</testsuite></testsuites>",
        encoding="utf-8",
    )
    runs = report.load_junit([f, LIVE])
    assert report.verdict(runs) == 1  # a FAIL elsewhere is proven whatever could not run
    assert "also could not run" in report.verdict_reason(runs)
    assert report.verdict(report.load_junit([f])) == 2  # nothing proven: could not run


def test_verdict_codes_over_several_targets():
    assert report.verdict(report.load_junit([MOCK, CASSETTE])) == 0
    assert report.verdict(report.load_junit([MOCK, LIVE, CASSETTE])) == 1
    assert report.verdict(report.load_junit([MOCK, COLLECTION_ERROR])) == 2


# ------------------------------------------------------------------ coverage


def test_coverage_merges_over_files_and_compares_with_spec_universe():
    runs = report.load_junit([MOCK, LIVE])
    cov = report.merge_coverage(runs)
    assert cov["operations"] == {"submitBatchCall": 6, "getBatchCall": 2, "cancelBatchCall": 2}
    assert cov["status_codes"]["submitBatchCall 200"] == 5
    assert cov["enums"]["BatchCallStatus"] == {"pending": 6, "cancelled": 1, "in_progress": 1}
    assert cov["transitions"]["batch"] == {"pending->cancelled": 1, "pending->in_progress": 1}

    universe = report.universe_from_spec(SPEC, TRANSITIONS)
    assert universe["operations"] == [
        "submitBatchCall",
        "getBatchCall",
        "deleteBatchCall",
        "cancelBatchCall",
    ]
    assert "cancelBatchCall 4XX" in universe["status_codes"]
    assert universe["enums"] == {
        "BatchCallStatus": ["pending", "in_progress", "completed", "cancelled"]
    }
    assert universe["transitions"]["recipient"] == ["pending->cancelled"]

    cmp = report.compare_coverage(cov, universe)
    ops = {r.item: r.count for r in cmp["operations"][""]}
    assert ops["deleteBatchCall"] == 0  # gap
    codes = {r.item: (r.count, r.documented) for r in cmp["status_codes"][""]}
    assert codes["getBatchCall 404"] == (0, True)
    assert codes["cancelBatchCall 4XX"] == (1, True)  # 418 counted under the 4XX range
    assert "cancelBatchCall 418" not in codes
    enum = {r.item: r.count for r in cmp["enums"]["BatchCallStatus"]}
    assert enum["completed"] == 0 and enum["pending"] == 6
    batch = {r.item: r.count for r in cmp["transitions"]["batch"]}
    assert batch == {
        "pending->in_progress": 1,
        "pending->cancelled": 1,
        "in_progress->completed": 0,
    }


def test_default_universe_hardcodes_nothing():
    u = report.default_universe()
    assert u == {"operations": [], "status_codes": [], "enums": {}, "transitions": {}}
    assert report.default_universe(SPEC)["operations"][0] == "submitBatchCall"


def test_operations_coverage_derived_from_tests_when_not_recorded():
    cov = report.merge_coverage(report.load_junit([CASSETTE]))
    # skipped tests do not count; known deviations did run
    assert cov["operations"] == {"submitBatchCall": 2, "cancelBatchCall": 1}


# ------------------------------------------------------------------ HTML


@pytest.fixture
def page() -> str:
    runs = report.load_junit([MOCK, LIVE, CASSETTE])
    universe = report.universe_from_spec(SPEC, TRANSITIONS)
    return report.render_html(runs, report.merge_coverage(runs), universe)


def test_html_matrix_has_row_per_test_and_column_per_target(page):
    p = parse_page(page)
    assert p.matrix_found
    assert p.header == ["Test", "mock", "live-elevenlabs", "cassette-voiceai"]
    rows = {r["test"]: r["cells"] for r in p.rows}
    assert set(rows) == {SUBMIT_NODE, XSS_NODE, CANCEL_NODE, LIFECYCLE_NODE}
    assert rows[CANCEL_NODE] == {
        "mock": "PASS",
        "live-elevenlabs": "FAIL",
        "cassette-voiceai": "KNOWN",
    }
    assert rows[LIFECYCLE_NODE] == {
        "mock": "PASS",
        "live-elevenlabs": "PASS",
        "cassette-voiceai": "SKIP",
    }
    assert rows[SUBMIT_NODE] == dict.fromkeys(
        ["mock", "live-elevenlabs", "cassette-voiceai"], "PASS"
    )
    # grouped by requirement (first appearance), tests that recorded none last
    assert p.group_rows == [
        "Submitting a batch returns it in status pending.",
        "Cancelling a batch cancels every recipient that has not been called yet.",
        "",
    ]
    # by operation: spec order first, "other" (no `operations` recorded) last
    assert p.op_rows == ["submitBatchCall", "getBatchCall", "cancelBatchCall", "other"]
    assert p.verdict == "NOT CONFORMANT"


def test_html_failure_details_known_link_and_skip_reason(page):
    p = parse_page(page)
    assert p.cards == {("live-elevenlabs", CANCEL_NODE): "FAIL"}
    # the failure leads the page, its request / response / rule visible without a click
    # (it used to sit in a <details> of the matrix cell)
    before_matrix = page.split('id="matrix"', 1)[0]
    outside = html.unescape(re.sub(r"(?s)<details.*?</details>", "", before_matrix))
    assert "POST /v1/convai/batch-calling/btcal_123/cancel" in outside
    assert '"status": "pending"' in outside  # response, pretty-printed JSON
    assert "recipient.status must be cancelled once the batch is cancelled" in outside
    assert "Cancelling a batch cancels every recipient that has not been called yet." in outside
    assert page.index('class="problem') < page.index('id="matrix"')
    # the matrix cell links to it
    assert 'href="#p-live-elevenlabs-tests-scenarios-test_cancel-py-test_cancel_cancels' in page
    assert 'href="https://github.com/example/batch-conformance/issues/12"' in page
    assert 'title="cassette has no recording for the lifecycle scenario"' in page
    # ... and the skip reason is text in the cell, not only a tooltip
    assert re.search(r'data-outcome="SKIP"[^>]*>SKIP<span class="why">cassette has no '
                     r"recording for the lifecycle scenario</span>", page)


def test_html_escapes_everything_and_has_no_external_assets(page):
    assert "<script>" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    p = parse_page(page)
    for tag, attr, value in p.links:
        if re.match(r"(?i)\s*(https?:)?//", value):
            assert (tag, attr) == ("a", "href"), (tag, attr, value)
            assert value == "https://github.com/example/batch-conformance/issues/12"
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"\bsrc\s*=", page)


def test_html_coverage_section_shows_gaps(page):
    assert 'data-section="operations"' in page
    assert 'class="gap" data-item="deleteBatchCall"' in page
    assert 'class="hit" data-item="submitBatchCall"' in page
    assert 'class="gap" data-item="completed"' in page
    assert 'class="gap" data-item="in_progress-&gt;completed"' in page


def test_html_verdicts_and_could_not_run_banner():
    ok = parse_page(report.render_html(report.load_junit([MOCK, CASSETTE])))
    assert ok.verdict == "CONFORMANT"
    page = report.render_html(report.load_junit([MOCK, COLLECTION_ERROR]), {}, {})
    p = parse_page(page)
    assert p.verdict == "COULD NOT RUN"
    assert "collection error" in page
    assert "ModuleNotFoundError" in "".join(p.details_text)
    empty = parse_page(report.render_html([], {}, {}))
    assert empty.verdict == "COULD NOT RUN" and empty.matrix_found


# ------------------------------------------------------------------ Markdown


def test_markdown_summary():
    runs = report.load_junit([MOCK, LIVE, CASSETTE])
    md = report.render_markdown(
        runs, report.merge_coverage(runs), report.universe_from_spec(SPEC, TRANSITIONS)
    )
    assert "**Verdict: NOT CONFORMANT** (exit code 1)" in md
    # columns: Pass, Fail, Differs, Error, Known, Skip, Total
    assert "| Target | Verdict | Pass | Fail | Differs | Error | Known | Skip | Total |" in md
    assert "| live-elevenlabs | NOT CONFORMANT | 3 | 1 | 0 | 0 | 0 | 0 | 4 |" in md
    assert "| cassette-voiceai | CONFORMANT | 2 | 0 | 0 | 0 | 1 | 1 | 4 |" in md
    assert f"`{CANCEL_NODE}` — AssertionError: recipient r1 still pending after cancel" in md
    assert "https://github.com/example/batch-conformance/issues/12" in md
    assert "| Operations | 3 | 4 | 75% |" in md
    assert "| Enum values | 3 | 4 | 75% |" in md

    md2 = report.render_markdown(report.load_junit([MOCK]), None, None)
    assert "**Verdict: CONFORMANT** (exit code 0)" in md2
    md3 = report.render_markdown(report.load_junit([COLLECTION_ERROR]), None, None)
    assert "**Verdict: COULD NOT RUN** (exit code 2)" in md3


# ------------------------------------------------------------------ CLI


def test_main_writes_both_reports_and_returns_verdict(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    import yaml

    spec.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    html_out, md_out = tmp_path / "out" / "report.html", tmp_path / "out" / "report.md"
    rc = report.main(
        [
            str(MOCK),
            str(LIVE),
            str(CASSETTE),
            "--html",
            str(html_out),
            "--md",
            str(md_out),
            "--spec",
            str(spec),
        ]
    )
    assert rc == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("NOT CONFORMANT:")
    assert parse_page(html_out.read_text(encoding="utf-8")).matrix_found
    assert "**Verdict: NOT CONFORMANT**" in md_out.read_text(encoding="utf-8")

    assert report.main([str(MOCK), "--md", str(md_out)]) == 0


def test_main_missing_file_returns_2_without_traceback(tmp_path, capsys):
    md_out = tmp_path / "report.md"
    rc = report.main([str(MOCK), str(tmp_path / "nope.xml"), "--md", str(md_out)])
    assert rc == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert len(captured.err.strip().splitlines()) == 1
    assert "nope.xml" in captured.err
    assert "COULD NOT RUN" in md_out.read_text(encoding="utf-8")


def test_main_bad_spec_and_bad_args_return_2(tmp_path, capsys):
    assert report.main([str(MOCK), "--spec", str(tmp_path / "missing.yaml")]) == 2
    assert report.main([]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err


def test_module_entry_point(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "conformance.report", str(tmp_path / "missing.xml")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error:")
