"""The fault matrix judged as a user is judged: a sample of faults through `conformance run
--target live:elevenlabs` ends with the exit code and verdict a CI gate should read (a
fixture's broken answer included: never COULD NOT RUN), and the clean mock is CONFORMANT."""

from __future__ import annotations

from conformance.tools.faultmatrix_live import SELF_TEST, UserRun, self_test, verdict_line


def test_the_self_test_table_ends_as_expected():
    assert self_test(workers=2) == []


def test_no_row_of_the_table_expects_could_not_run():
    assert {code for _, _, code, _ in SELF_TEST} <= {0, 1}


def test_the_verdict_line_is_the_last_verdict_or_exit_2_reason():
    out = "$ pytest ...\n...\nNOT CONFORMANT: 1 distinct problem ... → report.html\n"
    assert verdict_line(out).startswith("NOT CONFORMANT: 1 distinct problem")
    assert verdict_line("x\nconformance: live:elevenlabs: set A and B\n") == (
        "conformance: live:elevenlabs: set A and B")


def test_exit_2_and_unexplained_differs_are_never_a_catch():
    assert not UserRun("submit-201", code=2).caught
    assert not UserRun("soft-delete", code=0, differs=["t"]).caught  # a documented guarantee
    assert UserRun("export-no-header", code=0, differs=["t"]).caught  # honestly inferred
    assert UserRun("soft-delete", code=1).caught
