"""Self-tests for the report's newer JUnit contract: requirements and their grade, DIFFERS
and ERROR outcomes with their exit codes, drift, shards, and keys never reaching a page.

The fixtures were written by real pytest runs of a throwaway harness that records the same
properties tests/conftest.py records (record_property / record_testsuite_property)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from conformance import report
from conformance.report import DIFFERS, ERROR, FAIL, KNOWN, PASS, SKIP
from conformance.report.model import distinct_problems

DATA = Path(__file__).parent / "data" / "junit"
VENDOR = DATA / "live-voiceai.xml"  # one FAIL, one DIFFERS, one KNOWN, one SKIP, drift
SHARD1 = DATA / "live-voiceai.shard1.xml"  # the same suite, split by file in two runs
SHARD2 = DATA / "live-voiceai.shard2.xml"
GUARD = DATA / "guard-error.xml"  # a guard refusal (as <failure>) and a setup <error>
MOCK = DATA / "mock-requirements.xml"  # the same suite on the mock: all pass

SUBMIT2 = "tests/scenarios/test_submit.py::test_submit_rejects_non_e164_phone"
RETRY3 = "tests/scenarios/test_cancel.py::test_retry_of_cancelled_batch_is_refused"
DELETE1 = "tests/scenarios/test_cancel.py::test_deleted_batch_is_gone"
LIST1 = "tests/scenarios/test_list.py::test_list_pages_through_every_batch"
GUARDED = "tests/scenarios/test_guarded.py::test_cancel_cancels_every_recipient"
SETUP_ERR = "tests/scenarios/test_guarded.py::test_workspaces_are_isolated"
FAKE_KEYS = ("vk_FAKE_fixture_key_0000", "FAKE.fixture.token", "sk_FAKE_fixture_key_1111")


def nodes(run: report.Run) -> dict[str, report.TestResult]:
    return {t.node_id: t for t in run.tests}


def spec_universe() -> dict:
    from conformance.spec import load_spec

    return report.universe_from_spec(load_spec("elevenlabs"))


def write(tmp_path: Path, name: str, body: str) -> Path:
    f = tmp_path / name
    f.write_text(f'<testsuites><testsuite name="t">{body}</testsuite></testsuites>',
                 encoding="utf-8")
    return f


# ------------------------------------------------------------------ requirements


def test_requirement_id_grade_and_sentence_are_read():
    [run] = report.load_junit([VENDOR])
    assert run.target == "live:voiceai"
    t = nodes(run)[SUBMIT2]
    assert (t.requirement_id, t.requirement_grade) == ("SUBMIT-2", "documented")
    assert t.requirement == "A recipient phone number outside E.164 is rejected with 422."
    assert nodes(run)[RETRY3].requirement_grade == "inferred"
    assert set(run.requirements) == {"SUBMIT-1", "SUBMIT-2", "CANCEL-1", "RETRY-3", "LIST-1",
                                     "DELETE-1", "EXPORT-1"}
    assert run.requirements["EXPORT-1"]["grade"] == "observed"


def test_requirement_text_and_grade_fall_back_to_the_suite_table(tmp_path):
    f = write(tmp_path, "t.xml",
              '<properties><property name="requirements" value="{&quot;R-1&quot;: '
              '{&quot;text&quot;: &quot;It holds.&quot;, '
              '&quot;grade&quot;: &quot;observed&quot;}}"/>'
              '</properties><testcase classname="tests.test_a" name="test_a"><properties>'
              '<property name="requirement_id" value="R-1"/></properties></testcase>')
    [t] = report.load_junit([f])[0].tests
    assert (t.requirement, t.requirement_grade) == ("It holds.", "observed")


def test_unexercised_requirements_are_listed_per_target():
    runs = report.load_junit([MOCK, VENDOR])
    mock, vendor = runs
    assert mock.unexercised_requirements() == ["EXPORT-1"]
    # LIST-1 was skipped on the vendor: skipped is not exercised; DIFFERS and KNOWN are
    assert vendor.unexercised_requirements() == ["LIST-1", "EXPORT-1"]
    page = report.render_html(runs, None, spec_universe())
    lists = dict(re.findall(r'<ul class="unexercised" data-target="([^"]+)">(.*?)</ul>', page,
                           re.S))
    assert re.findall(r'data-requirement="([^"]+)"', lists["live:voiceai"]) == ["LIST-1",
                                                                                  "EXPORT-1"]
    assert re.findall(r'data-requirement="([^"]+)"', lists["mock"]) == ["EXPORT-1"]
    assert "Export returns one CSV row per recipient." in lists["mock"]
    md = report.render_markdown(runs, None, spec_universe())
    assert "- **live:voiceai**: 2 of 7: `LIST-1`, `EXPORT-1`" in md


def test_matrix_groups_by_requirement_with_grade_badge():
    page = report.render_html(report.load_junit([MOCK, VENDOR]), None, spec_universe())
    groups = re.findall(r'<tr class="group" data-requirement="([^"]*)" data-grade="([^"]*)">',
                        page)
    # the suite table's order, then tests that recorded no requirement
    assert groups == [("SUBMIT-1", "documented"), ("SUBMIT-2", "documented"),
                      ("CANCEL-1", "documented"), ("RETRY-3", "inferred"),
                      ("LIST-1", "observed"), ("DELETE-1", "documented"), ("", "")]
    assert '<span class="grade g-inferred" data-grade="inferred">inferred</span>' in page
    row = re.search(r'<tr class="test[^"]*" data-test="' + re.escape(RETRY3)
                    + r'" data-requirement="RETRY-3" data-operations="([^"]*)"', page)
    assert row and row[1] == "submitBatchCall cancelBatchCall retryBatchCall"


# ------------------------------------------------------------------ DIFFERS / ERROR


def test_differs_is_its_own_outcome_and_does_not_fail_the_verdict():
    [run] = report.load_junit([SHARD1])  # pass, differs, known deviation
    t = nodes(run)[RETRY3]
    assert t.outcome == DIFFERS
    assert t.reason == "retry of a cancelled batch answered 200 and re-queued it (we inferred 409)"
    assert t.request == "POST /v1/batch-calls/btcal_c4/retry" and "HTTP 200" in t.response
    assert run.counts() == {PASS: 1, FAIL: 0, DIFFERS: 1, ERROR: 0, KNOWN: 1, SKIP: 0}
    assert report.verdict([run]) == 0
    assert "1 differs" in report.verdict_reason([run])


@pytest.mark.parametrize("message, verdict, expected", [
    ("differs from our inference: x", "differs", DIFFERS),
    ("differs from our inference: x", "", SKIP),  # both are needed
    ("no API key", "differs", SKIP),
])
def test_differs_needs_the_prefix_and_the_verdict_property(tmp_path, message, verdict,
                                                           expected):
    prop = f'<properties><property name="verdict" value="{verdict}"/></properties>' \
        if verdict else ""
    f = write(tmp_path, "d.xml", f'<testcase classname="tests.test_a" name="test_a">{prop}'
              f'<skipped type="pytest.skip" message="{message}"/></testcase>')
    [t] = report.load_junit([f])[0].tests
    assert t.outcome == expected


def test_guard_refusal_and_setup_error_are_errors_and_could_not_run():
    [run] = report.load_junit([GUARD])
    guarded, setup = nodes(run)[GUARDED], nodes(run)[SETUP_ERR]
    assert (guarded.outcome, guarded.error, guarded.guard_rule) == (
        ERROR, False, "fictional-phone-range")  # arrived as a <failure>
    assert (setup.outcome, setup.error) == (ERROR, True)  # arrived as an <error>
    assert run.counts()[FAIL] == 0 and run.counts()[ERROR] == 2
    assert not run.collection_errors
    assert report.verdict([run]) == 2
    # FAIL beats ERROR: what was proven wrong stays proven; the reason names the errors too
    both = report.load_junit([VENDOR, GUARD])
    assert report.verdict(both) == 1
    assert "also could not run" in report.verdict_reason(both)
    reason = report.verdict_reason([run])
    assert "\n" not in reason and "guard refused a request (rule fictional-phone-range)" in reason


def test_guard_as_error_element_or_under_xfail_is_still_error(tmp_path):
    guard = ('<properties><property name="verdict" value="guard"/>'
             '<property name="guard_rule" value="host"/></properties>')
    f = write(tmp_path, "g.xml",
              f'<testcase classname="tests.test_a" name="test_a">{guard}'
              '<error message="failed on call">E GuardRefused</error></testcase>'
              f'<testcase classname="tests.test_a" name="test_b">{guard}'
              '<skipped type="pytest.xfail" message="known"/></testcase>')
    a, b = report.load_junit([f])[0].tests
    assert (a.outcome, a.guard_rule) == (ERROR, "host")
    assert (b.outcome, b.guard_rule) == (ERROR, "host")


@pytest.mark.parametrize("files, code, label", [
    ([MOCK], 0, "CONFORMANT"),
    ([SHARD1], 0, "CONFORMANT"),  # DIFFERS, KNOWN and drift allowed
    ([MOCK, VENDOR], 1, "NOT CONFORMANT"),
    ([MOCK, VENDOR, GUARD], 1, "NOT CONFORMANT"),  # a FAIL beats the errors beside it
    ([MOCK, GUARD], 2, "COULD NOT RUN"),
    ([DATA / "no-tests.xml"], 2, "COULD NOT RUN"),
])
def test_main_exit_codes_with_one_line_why(tmp_path, capsys, files, code, label):
    md = tmp_path / "r.md"
    assert report.main([*map(str, files), "--md", str(md)]) == code
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"{label}: ")
    assert f"**Verdict: {label}** (exit code {code})" in md.read_text(encoding="utf-8")
    assert re.search(r"^Why: \S", md.read_text(encoding="utf-8"), re.M)


# ------------------------------------------------------------------ page: what did not pass first


def test_page_leads_with_failures_then_differs_then_errors_everything_inline():
    page = report.render_html(report.load_junit([MOCK, VENDOR, GUARD]), None, spec_universe())
    order = [page.index(f'<h3 id="{i}">') for i in ("failures", "differs", "errors")]
    assert order == sorted(order) and order[-1] < page.index('id="matrix"')
    cards = re.findall(r'<article class="problem o-(\w+)".*?</article>', page, re.S)
    assert cards == [FAIL, DIFFERS, ERROR, ERROR]
    card = {m[1]: html.unescape(re.sub(r"(?s)<details.*?</details>", "", m[0])) for m in
            re.finditer(r'<article class="problem[^>]*data-test="([^"]+)".*?</article>', page,
                        re.S)}
    fail = card[SUBMIT2]
    assert "SUBMIT-2" in fail and "documented" in fail
    assert "A recipient phone number outside E.164 is rejected with 422." in fail
    assert "POST /v1/batch-calls/submit" in fail  # request
    assert '"phone_number": "555-0101"' in fail  # response, pretty-printed
    differs = card[RETRY3]
    assert "RETRY-3" in differs and "inferred" in differs
    assert "POST /v1/batch-calls/btcal_c4/retry" in differs and "HTTP 200" in differs
    assert "fictional-phone-range" in card[GUARDED]
    assert "RuntimeError: ELEVENLABS_OTHER_API_KEY is set" in card[SETUP_ERR]
    # matrix cells link to the cards and write skip reasons as text
    assert re.search(r'data-outcome="DIFFERS"[^>]*><a href="#p-live-voiceai-', page)
    assert re.search(r'data-outcome="SKIP"[^>]*>SKIP<span class="why">needs 3 batches', page)
    assert re.search(r'data-outcome="KNOWN"[^>]*>KNOWN <a href="https://github.com/example/'
                     r'batch-conformance/issues/31"', page)


def test_every_outcome_cell_belongs_to_a_target_and_counts_have_a_column_per_outcome():
    page = report.render_html(report.load_junit([VENDOR]), None, None)
    cells = re.findall(r"<td [^>]*data-outcome=[^>]*>", page)
    assert cells and all("data-target=" in c for c in cells)  # what test_cli.py reads
    row = re.search(r'<tr data-target="live:voiceai">(.*?)</tr>', page, re.S)[1]
    # data-count, not data-outcome: every td[data-outcome] is a matrix cell of one target
    got = dict(re.findall(r'data-count="(\w+)">(\d+)</td>', row))
    assert got == {"PASS": "3", "FAIL": "1", "DIFFERS": "1", "ERROR": "0", "KNOWN": "1",
                   "SKIP": "1"}


# ------------------------------------------------------------------ drift


def test_drift_section_lists_what_where_first_seen_and_count_without_changing_verdict():
    runs = report.load_junit([SHARD1])
    [run] = runs
    got = {(d.kind, d.operation, d.where): (d.count, d.first_seen) for d in run.drift}
    assert got == {
        ("response-property", "submitBatchCall", "/recipients/0/carrier"):
            (1, "tests/scenarios/test_cancel.py::test_cancel_cancels_every_recipient"),
        ("header", "cancelBatchCall", "x-request-id"):
            (1, "tests/scenarios/test_cancel.py::test_cancel_cancels_every_recipient"),
        ("status", "retryBatchCall", "200"): (1, RETRY3),
    }
    assert report.verdict(runs) == 0
    page = report.render_html(runs, None, None)
    table = re.search(r'<table id="drift">.*?</table>', page, re.S)[0]
    rows = re.findall(r'<tr data-target="live:voiceai" data-kind="([^"]+)">', table)
    assert rows == ["response-property", "header", "status"]
    assert "<code>x-request-id</code>" in table
    assert "retry of a cancelled batch answers 200" in table
    md = report.render_markdown(runs, None, None)
    assert ("- **live:voiceai** status `200` in `retryBatchCall` ×1, first seen "
            f"`{RETRY3}` — retry of a cancelled batch answers 200") in md


def test_no_drift_says_so_and_malformed_drift_is_a_warning(tmp_path):
    assert 'id="drift-none"' in report.render_html(report.load_junit([MOCK]), None, None)
    f = write(tmp_path, "m.xml", '<properties><property name="drift" value="{oops"/>'
              '</properties><testcase classname="tests.test_a" name="test_a"/>')
    [run] = report.load_junit([f])
    assert run.drift == [] and any("drift" in w for w in run.warnings)
    assert report.verdict([run]) == 0


# ------------------------------------------------------------------ shards


def _matrix(runs):
    return {t: {tg: r.outcome for tg, r in row.items()}
            for t, row in report.page.matrix(runs).items()}


@pytest.mark.parametrize("order", [(SHARD1, SHARD2), (SHARD2, SHARD1)])
def test_a_suite_split_in_two_files_reports_like_the_unsplit_one(order):
    whole = report.load_junit([VENDOR])
    split = report.load_junit(list(order))
    assert [r.target for r in split] == ["live:voiceai"]  # one column
    assert _matrix(split) == _matrix(whole)
    assert split[0].counts() == whole[0].counts()
    assert report.verdict(split) == report.verdict(whole) == 1
    assert report.merge_coverage(split) == report.merge_coverage(whole)
    drift = {d.key: (d.count, d.first_seen) for d in split[0].drift}
    assert drift == {d.key: (d.count, d.first_seen) for d in whole[0].drift}
    # seen in both shards: counts added, the earliest shard's first_seen kept
    assert drift[("response-property", "submitBatchCall", "/recipients/0/carrier")] == (
        2, "tests/scenarios/test_cancel.py::test_cancel_cancels_every_recipient")
    assert split[0].unexercised_requirements() == whole[0].unexercised_requirements()
    page = report.render_html(split, None, spec_universe())
    assert re.findall(r'<th data-target="([^"]+)">', page) == ["live:voiceai"]


def test_shards_without_target_property_merge_by_file_name(tmp_path):
    a = write(tmp_path, "mock.shard1.xml", '<testcase classname="tests.test_a" name="test_a"/>')
    b = write(tmp_path, "mock.shard2.xml", '<testcase classname="tests.test_b" name="test_b">'
              '<failure message="boom"/></testcase>')
    [run] = report.load_junit([a, b])
    assert run.target == "mock"
    assert [t.outcome for t in run.tests] == [PASS, FAIL]
    assert report.verdict([run]) == 1


def test_the_same_test_in_two_shards_counts_once_with_the_worse_result(tmp_path):
    a = write(tmp_path, "x.shard1.xml", '<testcase classname="tests.test_a" name="test_a"/>')
    b = write(tmp_path, "x.shard2.xml", '<testcase classname="tests.test_a" name="test_a">'
              '<failure message="boom"/></testcase>')
    [run] = report.load_junit([a, b])
    assert [t.outcome for t in run.tests] == [FAIL]


# ------------------------------------------------------------------ operations from the spec


def test_operation_universe_comes_from_the_spec_through_api():
    from conformance.api import api_for

    universe = spec_universe()
    assert universe["operations"] == list(api_for("elevenlabs").ids)
    assert "cancelBatchCall 409" in universe["status_codes"]
    page = report.render_html(report.load_junit([MOCK, VENDOR]), None, universe)
    ops = re.findall(r'<tr class="opgroup" data-operation="([^"]+)">', page)
    # spec order; LIST-1 skipped on the vendor before any request: "other" there
    assert ops == ["submitBatchCall", "listBatchCalls", "getBatchCall", "deleteBatchCall",
                   "cancelBatchCall", "retryBatchCall", "other"]


# ------------------------------------------------------------------ credentials


def test_api_keys_never_reach_the_page_or_the_summary(tmp_path):
    runs = report.load_junit([VENDOR, GUARD])
    # the raw fixtures do carry the (fake) keys, in properties and in tracebacks
    raw = VENDOR.read_text(encoding="utf-8") + GUARD.read_text(encoding="utf-8")
    assert all(k in raw for k in FAKE_KEYS)
    page = report.render_html(runs, None, spec_universe())
    md = report.render_markdown(runs, None, spec_universe())
    for key in FAKE_KEYS:
        assert key not in page and key not in md
    text = html.unescape(page)
    assert "x-api-key: [redacted]" in text
    assert "Authorization: [redacted]" in text
    assert "xi-api-key: [redacted]" in text
    out = tmp_path / "r.html"
    report.main([str(VENDOR), str(GUARD), "--html", str(out)])
    assert not any(k in out.read_text(encoding="utf-8") for k in FAKE_KEYS)


@pytest.mark.parametrize("text, secret", [
    ("GET /x\nxi-api-key: sk_abc123\n", "sk_abc123"),
    ("authorization: Bearer eyJ.a.b", "eyJ.a.b"),
    ('{"headers": {"X-Api-Key": "k-42"}}', "k-42"),
    ("GET /x?xi-api-key=qq77&limit=1", "qq77"),
])
def test_redact_hides_header_values(text, secret):
    out = report.redact(text)
    assert secret not in out and "[redacted]" in out


def test_a_fixtures_broken_answer_is_a_fail_not_an_error(tmp_path):
    """pytest writes a set-up / tear-down failure as <error>; with `verdict=fail` (the
    server's broken answer, conformance_suite.verdicts) the report reads the server's FAIL,
    with its request and response, and the run is NOT CONFORMANT, not COULD NOT RUN."""
    props = ('<properties><property name="requirement_id" value="CONTRACT-1"/>'
             '<property name="operations" value="submitBatchCall"/>'
             '<property name="request" value="POST http://127.0.0.1/v1/convai/batch-calling/'
             'submit"/><property name="response" value="201&#10;{}"/>'
             '<property name="violated_rule" value="schema: status 201 is not documented"/>'
             '<property name="verdict" value="fail"/><property name="phase" value="setup"/>'
             "</properties>")
    f = write(tmp_path, "live-elevenlabs.xml",
              f'<testcase classname="scenarios.test_a" name="test_a">{props}'
              '<error message="failed on setup with &quot;conformance.exchanges.'
              'ContractViolation: response breaks the spec: status 201 is not documented&quot;">'
              "E ContractViolation</error></testcase>"
              '<testcase classname="scenarios.test_a" name="test_b">'
              '<error message="failed on setup with &quot;httpx.ConnectError: refused&quot;">'
              "E ConnectError</error></testcase>")
    [run] = report.load_junit([f])
    a, b = run.tests
    assert (a.outcome, b.outcome) == (FAIL, ERROR)  # a transport error stays the suite's
    assert a.reason == ("response breaks the spec: status 201 is not documented "
                        "(in a fixture's setup)")
    assert a.request.startswith("POST ") and a.response.startswith("201")
    assert report.verdict([run]) == 1
    page = report.render_html([run])
    assert 'data-outcome="FAIL"' in page and "status 201 is not documented" in page


def test_failures_fold_into_distinct_problems(tmp_path):
    """The same operation breaking the same rule is one problem, whatever values vary (ids,
    timestamps, array indexes); the verdict line names the most-seen one with its count."""
    def case(name: str, rule: str, op: str = "submitBatchCall") -> str:
        return (f'<testcase classname="scenarios.test_a" name="{name}"><properties>'
                f'<property name="violated_rule" value="{rule}"/>'
                f'<property name="problem_operation" value="{op}"/></properties>'
                f'<failure message="boom">E boom</failure></testcase>')
    f = write(tmp_path, "live-x.xml",
              case("test_1", "schema: getBatchCall 200: at /recipients/0/x: 17000 is bad", "g")
              + case("test_2", "schema: submitBatchCall 201: status 201 is not documented")
              + case("test_3", "schema: submitBatchCall 201: status 201 is not documented")
              + case("test_4", "schema: getBatchCall 200: at /recipients/3/x: 17999 is bad",
                     "g"))
    runs = report.load_junit([f])
    problems = distinct_problems(runs)
    assert [len(p.tests) for p in problems] == [2, 2]
    assert [t.name for t in problems[0].tests] == ["test_1", "test_4"]
    reason = report.verdict_reason(runs)
    assert reason.startswith("2 distinct problems in 4 failing tests; first: live-x ")
    assert "seen by 2 tests" in reason
    page = report.render_html(runs)
    assert page.count('class="distinct"') == 2
    assert "## Failures: 2 distinct problems (4 tests)" in report.render_markdown(runs)


def test_a_missing_shard_is_could_not_run_not_conformant(tmp_path):
    ok = '<testcase classname="scenarios.test_a" name="test_{}"/>'
    write(tmp_path, "mock.shard-1-of-3.xml", ok.format(1))
    write(tmp_path, "mock.shard-3-of-3.xml", ok.format(3))
    runs = report.load_junit(sorted(tmp_path.glob("*.xml")))
    assert report.verdict(runs) == 2
    assert "expected 3 shards, missing shard 2/3" in report.verdict_reason(runs)
    write(tmp_path, "mock.shard-2-of-3.xml", ok.format(2))
    assert report.verdict(report.load_junit(sorted(tmp_path.glob("*.xml")))) == 0


def test_a_glob_matching_nothing_writes_and_overwrites_nothing(tmp_path, capsys):
    html = tmp_path / "report.html"
    html.write_text("the last good report")
    code = report.main([str(tmp_path / "nothing-*.xml"), "--html", str(html),
                        "--md", str(tmp_path / "report.md")])
    assert code == 2 and html.read_text() == "the last good report"
    assert not (tmp_path / "report.md").exists()
    assert "no JUnit file matches" in capsys.readouterr().err
