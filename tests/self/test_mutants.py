"""`conformance.tools.mutants` on itself: a known mutant is generated from Cosmic Ray's
operator, applied to one process (patched into it, or through the overlay; never to the file
on disk) and killed by the suite's verdict; the same run with the correct source survives."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conformance.tools import mutants

pytest.importorskip("cosmic_ray")

#: The 404 of an unknown batch (errors.ErrorBuilder.not_found) moved by one: 404 -> 405.
NOT_FOUND_LINE = 'return self.object(404, "not_found", "batch_call_not_found", message)'
#: A scenario that asks for an unknown batch and must see 404.
TEST = "scenarios/test_get.py::test_get_unknown_batch_is_404"


def _known_mutant() -> mutants.Mutant:
    found = [m for m in mutants.enumerate_mutants(("errors",), ("NumberReplacer",))
             if NOT_FOUND_LINE in m.before and "405" in m.after]
    assert len(found) == 1, found
    return found[0]


def test_a_known_mutant_is_generated_with_its_diff_line():
    mutant = _known_mutant()
    assert mutant.module == "errors" and mutant.in_function
    source = (mutants.MOCK / "errors.py").read_text()
    assert source.splitlines()[mutant.line - 1] == mutant.before
    mutated = NOT_FOUND_LINE.replace("404", " 405")   # Cosmic Ray writes " 405"
    assert mutant.key == f"errors.ErrorBuilder.not_found: {NOT_FOUND_LINE} => {mutated}"


def test_the_overlay_changes_one_process_and_not_the_file(tmp_path):
    mutant = _known_mutant()
    before = (mutants.MOCK / "errors.py").read_bytes()
    env = mutants.clean_env(mutants.make_overlay(tmp_path / "overlay", mutant))
    probe = ("from conformance.mock.errors import ErrorBuilder; "
             "print(ErrorBuilder().not_found('x').status)")
    mutated = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                             text=True, check=True)
    plain = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True)
    assert (mutated.stdout.strip(), plain.stdout.strip()) == ("405", "404")
    assert (mutants.MOCK / "errors.py").read_bytes() == before


PATCH_PROBE = """
import sys
from conformance.tools.mutants import forked, generate, patching
from conformance.mock.errors import ErrorBuilder    # imported before the patch, as app.py does
m = [m for m in generate.enumerate_mutants(("errors",), ("NumberReplacer",))
     if m.after.strip() == sys.argv[1]][0]
try:
    patching.patch("conformance.mock.errors", generate.mutated_source(m.module, m.operator,
                 m.occurrence), m.line)
except patching.Unpatchable as exc:
    print("unpatchable", exc)
print(ErrorBuilder().not_found("x").status)
"""


def test_a_patch_reaches_every_holder_of_the_function_and_not_the_file():
    mutant = _known_mutant()
    before = (mutants.MOCK / "errors.py").read_bytes()
    out = subprocess.run([sys.executable, "-c", PATCH_PROBE, mutant.after.strip()],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["405"]
    assert (mutants.MOCK / "errors.py").read_bytes() == before


REBIND_PROBE = """
from conformance.tools.mutants import forked, generate, patching
from conformance.mock.validation import parse_query_int   # holds the module's globals
m = [m for m in generate.enumerate_mutants(("validation",), ("NumberReplacer",))
     if m.before.strip() == "MAX_QUERY_DIGITS = 1000" and "1001" in m.after][0]
source = generate.mutated_source(m.module, m.operator, m.occurrence)
print(sorted(patching.readers(source, m.line)) != [], patching.rebindable(m))
print(parse_query_int("limit", "1" * 1001)[1] is None)
patching.rebind("conformance.mock.validation", source, m.line)
print(*(parse_query_int("limit", "1" * n)[1] is None for n in (1001, 1002)))
"""


def test_a_module_level_constant_is_rebound_where_functions_read_it():
    """MAX_QUERY_DIGITS 1000 -> 1001: 1001 digits, refused before, are read after the
    rebinding; 1002 still are not."""
    out = subprocess.run([sys.executable, "-c", REBIND_PROBE], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "True", "False", "True", "False"]


def test_a_module_level_line_no_patch_reaches_is_left_to_a_fresh_process():
    import conformance.mock.store  # noqa: F401  (loaded: the refusal is about the line)
    from conformance.tools.mutants import patching

    module_level = [m for m in mutants.enumerate_mutants(("store",), ("NumberReplacer",))
                    if not m.in_function]
    assert module_level, "store.py has module-level numbers (its bounds)"
    m = module_level[0]
    with pytest.raises(patching.Unpatchable, match="no function"):
        patching.patch("conformance.mock.store",
                     mutants.mutated_source(m.module, m.operator, m.occurrence) or "", m.line)
    # A default argument is read when the function is defined: no rebinding reaches it.
    default = [m for m in mutants.enumerate_mutants(("store",), ("ReplaceFalseWithTrue",))
               if "record_history" in m.before]
    assert default and not patching.rebindable(default[0])


@pytest.mark.slow  # a whole mutant run (about 2 min): make test-slow
def test_the_known_mutant_is_killed_and_the_correct_source_survives(tmp_path):
    mutant = _known_mutant()
    assert TEST in _collected(tmp_path), "the self-test's scenario was renamed"
    killed = mutants.run_suite(mutant, [TEST], tmp_path / "mutant", timeout=300)
    assert killed.exit == 1 and killed.killed, killed
    assert killed.detail.startswith("NOTFOUND-1 "), killed.detail
    # A no-op mutant: the overlay serves the module's own source.
    same = (mutants.MOCK / "errors.py").read_text()
    mutants.make_overlay(tmp_path / "noop" / "overlay", mutant, same)
    survived = mutants.run_suite(mutant, [TEST], tmp_path / "noop", timeout=300,
                                 source=same)
    assert survived.exit == 0 and not survived.killed, survived


def _collected(tmp_path) -> str:
    from conformance.cli import pytest_command

    command = pytest_command("mock", tmp_path / "c.xml", None, strict=False,
                             extra=["--collect-only", "-q"])
    return subprocess.run(command, capture_output=True, text=True).stdout


FORK_PROBE = """
import os, sys
from pathlib import Path
os.environ["CONFORMANCE_FUZZ"] = "mutants"
from conformance.tools.mutants import forked, generate, patching
from conformance.tools.mutants.runners import first_failure
forked.prepare()
m = [m for m in generate.enumerate_mutants(("errors",), ("NumberReplacer",))
     if m.after.strip() == sys.argv[2]][0]
work = Path(sys.argv[1])
for name, mutated in (("mutant", True), ("correct", False)):
    def body():
        if mutated:
            patching.patch("conformance.mock.errors",
                         generate.mutated_source(m.module, m.operator, m.occurrence), m.line)
        return forked.suite_main(work / name, [sys.argv[3]])
    code = forked.wait(forked.fork(body, work / f"{name}.log"), 300)
    print(name, code, first_failure(work / name).split(" ")[0] or "-")
"""


@pytest.mark.slow  # the suite imported once, two forked runs (about 15 s)
def test_the_fast_path_kills_the_known_mutant_and_passes_the_correct_mock(tmp_path):
    mutant = _known_mutant()
    out = subprocess.run([sys.executable, "-c", FORK_PROBE, str(tmp_path),
                          mutant.after.strip(), TEST], capture_output=True, text=True,
                         check=True, timeout=600).stdout.splitlines()
    assert out == ["mutant 1 NOTFOUND-1", "correct 0 -"], out



def test_a_line_only_another_choice_set_runs_is_judged_on_that_set():
    """A mutant on a line no test reaches with the default choices (a branch of the mock's
    other choices) runs the tests that reach it, and pass, on the alternate set; a line the
    default set reaches stays with the default set's tests."""
    from conformance.tools.mutants.reach import Reach

    line = "has_more = end < len(seqs) and bool(batches)"
    found = [m for m in mutants.enumerate_mutants(("store",), ("ReplaceAndWithOr",))
             if m.before.strip() == line]
    assert found, "the oldest_first branch's has_more line is gone: pick another"
    m = found[0]
    reach = Reach(other_tests={(m.module, m.line): ["scenarios/test_list.py::t"]})
    assert reach.suite_tests(m) == []
    assert reach.other_choices_tests(m) == ["scenarios/test_list.py::t"]
    reach.tests[(m.module, m.line)] = ["scenarios/test_list.py::u"]
    assert reach.other_choices_tests(m) == []


def test_the_mock_target_serves_the_choice_set_it_is_given():
    from conformance.targets.base import RunOptions
    from conformance.targets.mock import MockTarget

    assert MockTarget("mock", options=RunOptions(), env={}).new_app().state.choices.name \
        == "default"
    app = MockTarget("mock", options=RunOptions(),
                     env={"API_MOCK_CHOICES": "alternate"}).new_app()
    assert app.state.choices.name == "alternate"
    assert app.state.choices.list_order == "oldest_first"
