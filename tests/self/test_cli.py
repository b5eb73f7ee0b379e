"""`conformance run`: exit 0 when conformant, 1 on a new non-conformance, with JUnit per target
and one report page whose matrix has a column per target."""

from __future__ import annotations

import sys
from html.parser import HTMLParser

from livehelp import finish, live_env, served_mock, start


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


def _one_line_exit_2(code, out):
    assert code == 2, out
    lines = [line for line in out.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out, out
    return lines[0]


def test_an_unreachable_live_target_is_exit_2_in_one_line(tmp_path):
    """Nothing listens there: the suite could not run (2), not NOT CONFORMANT (1)."""
    from conformance.mock.server import free_port

    env = live_env("elevenlabs", f"http://127.0.0.1:{free_port()}")
    line = _one_line_exit_2(*finish(start([sys.executable, "-m", "conformance", "run",
                                           "--target", "live:elevenlabs", "--reports",
                                           str(tmp_path)], env)))
    assert "unreachable" in line and not list(tmp_path.glob("*.xml"))


def test_an_unknown_fault_is_refused_before_anything_runs(tmp_path):
    line = _one_line_exit_2(*finish(start([sys.executable, "-m", "conformance", "run",
                                           "--target", "mock:nonexistent-fault", "--reports",
                                           str(tmp_path)])))
    assert "nonexistent-fault" in line and "known faults" in line


def test_sweep_with_a_wrong_key_is_exit_2_in_one_line():
    with served_mock("elevenlabs") as (_, base_url):
        env = live_env("elevenlabs", base_url, ELEVENLABS_API_KEY="not-a-key-of-this-server")
        line = _one_line_exit_2(*finish(start([sys.executable, "-m", "conformance", "sweep",
                                               "--target", "live:elevenlabs"], env)))
    assert "401" in line and "not-a-key" not in line


def test_run_from_another_folder_writes_its_reports_there(tmp_path):
    """From any folder: the suite runs from the package and the reports land where asked."""
    import subprocess

    done = subprocess.run([sys.executable, "-m", "conformance", "run", "--target", "mock",
                           "--reports", "out", "--suite", "conformance_suite.scenarios", "--",
                           "-q", "-k", "cancel_cancels"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (tmp_path / "out" / "mock.xml").exists() and (tmp_path / "out" / "report.html").exists()
    assert "CONFORMANT" in done.stdout + done.stderr
