"""`conformance run`: exit 0 when conformant, 1 on a new non-conformance, with JUnit per target
and one report page whose matrix has a column per target."""

from __future__ import annotations

import sys
from html.parser import HTMLParser

from livehelp import finish, start


class _Matrix(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells: list[dict] = []
        self.found = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "matrix":
            self.found = True
        if tag == "td" and "data-outcome" in attrs:
            self.cells.append(attrs)


def _run(tmp_path, *targets, k="cancel_cancels"):
    args = [a for t in targets for a in ("--target", t)]
    return finish(start([sys.executable, "-m", "conformance", "run", *args, "--reports",
                         str(tmp_path), "--suite", "conformance_suite/scenarios", "--", "-q",
                         "-k", k]))


def test_run_is_0_when_conformant_and_1_when_a_fault_is_caught(tmp_path):
    """A clean mock exits 0; the same run with a cancel fault exits 1, and the page shows it."""
    code, out = _run(tmp_path, "mock", "mock:cancel-leaves-one-pending")
    assert code == 1, out
    assert (tmp_path / "mock.xml").exists() and (tmp_path / "mock-cancel-leaves-one-pending.xml")
    page = _Matrix()
    page.feed((tmp_path / "report.html").read_text())
    assert page.found
    by_target = {}
    for cell in page.cells:
        by_target.setdefault(cell["data-target"], set()).add(cell["data-outcome"])
    assert by_target["mock"] == {"PASS"}
    assert "FAIL" in by_target["mock:cancel-leaves-one-pending"]
    assert "NOT CONFORMANT" in (tmp_path / "report.md").read_text()

    code, out = _run(tmp_path, "mock")
    assert code == 0, out
