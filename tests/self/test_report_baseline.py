"""`conformance report --baseline PREVIOUS`: what changed since an earlier run, at the top of
the page and of report.md, and `--fail-on new` (exit 1 only for new failures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from conformance.report import baseline
from conformance.report.cli import main as report_main
from conformance.report.junit import load_junit

ROOT = Path(__file__).resolve().parents[2]
MOD = "tests.scenarios.test_x"


def _case(name: str, outcome: str, requirement: str, reason: str = "") -> str:
    props = f'<property name="requirement_id" value="{requirement}"/>'
    body = ""
    if outcome == "fail":
        body = f"<failure message={quoteattr(reason or 'assert False')}>E   boom</failure>"
    elif outcome == "skip":
        body = f"<skipped message={quoteattr(reason or 'not configured')}/>"
    elif outcome == "differs":
        props += '<property name="verdict" value="differs"/>'
        body = f"<skipped message={quoteattr('differs from our inference: ' + reason)}/>"
    return (f'<testcase classname="{MOD}" name="{name}" time="0.1">'
            f"<properties>{props}</properties>{body}</testcase>")


def _junit(folder: Path, cases: dict[str, tuple[str, str]], drift=(), target="live-x") -> Path:
    """One JUnit file: test name -> (outcome, requirement id); `drift` of (kind, op, where)."""
    folder.mkdir(parents=True, exist_ok=True)
    drift_json = json.dumps([{"kind": k, "operation": o, "where": w, "first_seen": "n",
                              "count": 1} for k, o, w in drift])
    xml = (f'<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="{len(cases)}">'
           f'<properties><property name="target" value="{target}"/>'
           f"<property name=\"drift\" value={quoteattr(drift_json)}/></properties>"
           + "".join(_case(n, o, r, f"why {n}") for n, (o, r) in cases.items())
           + "</testsuite></testsuites>")
    path = folder / f"{target}.xml"
    path.write_text(xml)
    return path


def _report(tmp_path: Path, junit: Path, *extra: str) -> tuple[int, str, str]:
    out = tmp_path / "out"
    code = report_main([str(junit), "--html", str(out / "report.html"), "--md",
                        str(out / "report.md"), "--json", str(out / "report.json"), *extra])
    return code, (out / "report.md").read_text(), (out / "report.html").read_text()


THEN = {"test_a": ("fail", "A-1"), "test_b": ("fail", "B-1"), "test_c": ("pass", "C-1"),
        "test_d": ("differs", "D-1"), "test_e": ("pass", "E-1"), "test_f": ("pass", "F-1")}
NOW = {"test_a": ("pass", "A-1"),            # fixed
       "test_b": ("fail", "B-1"),            # still failing, known
       "test_c": ("fail", "C-1"),            # new failure
       "test_d": ("pass", "D-1"),            # no longer differs
       "test_e": ("differs", "E-1"),         # new differs
       "test_g": ("skip", "G-1")}            # test_f gone: F-1 no longer checked


def test_each_change_is_listed_in_its_section(tmp_path):
    then = _junit(tmp_path / "then", THEN, drift=[("header", "getBatchCall", "x-old")])
    now = _junit(tmp_path / "now", NOW, drift=[("header", "getBatchCall", "x-old"),
                                                ("status", "getBatchCall", "418")])
    since = baseline.compare(baseline.load_baseline(then.parent), load_junit([str(now)]), "b")
    names = {name: [i.what.rsplit("::", 1)[-1] for i in getattr(since, name)]
             for name, _ in baseline.Since.SECTIONS}
    assert names == {"new_failures": ["test_c"], "fixed": ["test_a"],
                     "still_failing": ["test_b"], "new_differs": ["test_e"],
                     "gone_differs": ["test_d"], "new_drift": ["getBatchCall 418"],
                     "newly_skipped": ["test_f"], "unchecked": ["F-1"]}
    code, md, page = _report(tmp_path, now, "--baseline", str(then.parent))
    assert code == 1
    head = md.split("## Targets")[0]
    assert "## Since the baseline" in head and "### New failures (1)" in head
    assert "test_c" in head.split("### New failures")[1].split("###")[0]
    assert page.index('id="since-baseline"') < page.index('id="targets"')
    for name in names:
        assert f'data-since="{name}"' in page


def test_fail_on_new_exits_1_only_for_new_failures(tmp_path):
    then = _junit(tmp_path / "then", THEN)
    known_only = _junit(tmp_path / "known", {**THEN, "test_a": ("pass", "A-1")})
    assert _report(tmp_path, known_only, "--baseline", str(then.parent))[0] == 1
    code, md, _ = _report(tmp_path, known_only, "--baseline", str(then.parent),
                          "--fail-on", "new")
    assert code == 0 and "### Still failing (known from the baseline) (1)" in md
    new = _junit(tmp_path / "new", NOW)
    assert _report(tmp_path, new, "--baseline", str(then.parent), "--fail-on", "new")[0] == 1


def test_baseline_as_junit_folder_file_or_report_json_is_the_same(tmp_path):
    then = _junit(tmp_path / "then", THEN, drift=[("header", "getBatchCall", "x-old")])
    runs = load_junit([str(then)])
    baseline.write_snapshot(runs, tmp_path / "snap.json")
    from_json = baseline.load_baseline(tmp_path / "snap.json")
    assert from_json == baseline.load_baseline(then.parent) == baseline.load_baseline(then)
    (then.parent / "report.json").write_text(json.dumps({"version": 1, "targets": {}}))
    assert baseline.load_baseline(then.parent)["targets"] == {}  # report.json wins


@pytest.mark.parametrize("args, reason", [
    (["--baseline", "/nonexistent/previous"], "no such file or folder"),
    (["--fail-on", "new"], "--fail-on new needs --baseline"),
])
def test_unreadable_baseline_is_exit_2_in_one_line(tmp_path, capsys, args, reason):
    now = _junit(tmp_path / "now", NOW)
    assert report_main([str(now), *args]) == 2
    err = capsys.readouterr().err
    assert reason in err and len(err.strip().splitlines()) == 1


def test_empty_folder_is_not_a_baseline(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(baseline.BaselineError, match="no report.json and no JUnit"):
        baseline.load_baseline(tmp_path / "empty")


def _run(reports: Path, target: str, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "conformance", "run", "--target", target,
               "--suite", str(ROOT / "conformance_suite/scenarios/test_cancel.py"),
               "--reports", str(reports), *extra, "--", "-q", "-n", "0", "-p", "no:randomly"]
    return subprocess.run(command, capture_output=True, text=True, cwd=reports.parent,
                          timeout=300)


@pytest.mark.slow
def test_a_fault_fixed_then_reintroduced_through_conformance_run(tmp_path):
    """The suite for real: a run with a fault, then one without, shows its failures fixed;
    the reverse shows them new, and `--fail-on new` exits 1 (0 when they were known)."""
    faulty, clean = tmp_path / "faulty", tmp_path / "clean"
    first = _run(faulty, "mock:cancel-leaves-one-pending")
    assert first.returncode == 1, first.stdout[-2000:]
    failed = {k for k, v in json.loads((faulty / "report.json").read_text())["targets"][
        "mock:cancel-leaves-one-pending"]["tests"].items() if v["outcome"] == "FAIL"}
    assert failed
    second = _run(clean, "mock", "--baseline", str(faulty))
    assert second.returncode == 0, second.stdout[-2000:]
    assert f"{len(failed)} fixed" in second.stdout
    md = (clean / "report.md").read_text()
    assert f"### Fixed ({len(failed)})" in md
    again = _run(tmp_path / "again", "mock:cancel-leaves-one-pending", "--baseline", str(clean),
                 "--fail-on", "new")
    assert again.returncode == 1 and f"{len(failed)} new failure(s)" in again.stdout
    known = _run(tmp_path / "known", "mock:cancel-leaves-one-pending", "--baseline",
                 str(faulty), "--fail-on", "new")
    assert known.returncode == 0, known.stdout[-2000:]
    assert f"{len(failed)} still failing" in known.stdout
