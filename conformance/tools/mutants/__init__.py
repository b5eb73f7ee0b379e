"""`make mutants`: the suite's mutation score on generated mutants of the mock.

The fault matrix proves the suite catches the bugs we wrote on purpose; this measures it on
bugs nobody chose. Mutants of the mock's request handling (`conformance/mock/`: store,
shaping, validation, simulation, errors; not the admin API, not the faults) are generated
with Cosmic Ray's mutation operators in memory (Cosmic Ray's own runner writes each mutant
into the source file on disk and runs a test command per mutant: that would change the
tracked tree under every other process, and judge by the command's exit alone). Each
mutant is applied to one process only and judged as a user would judge it: by the suite
(`conformance run --target mock`, a live sample) and, side by side, by Schemathesis' CLI
alone. The modules:

    generate.py  the mutants (Cosmic Ray's operators, in memory)
    forked.py    the fast path: the suite imported once, each mutant in a forked child
    patching.py  applying a mutant there: a function's code swapped, a constant rebound
    overlay.py   the fresh-process path (module-level lines), through an import overlay
    plugin.py    pytest: the tests that reach a line, the coverage map per test
    runners.py   the judges: the suite, Schemathesis' CLI by phase, the live path
    reach.py     the baselines on the correct mock, and what reaches which line
    report.py    results, the triage (triage.toml), reports/mutants.md
    cli.py       `python -m conformance.tools.mutants`: choose, run `--jobs` at once, write
"""

from conformance.tools.mutants.generate import (
    MOCK,
    MODULES,
    OPERATORS,
    Mutant,
    enumerate_mutants,
    mutated_source,
)
from conformance.tools.mutants.overlay import clean_env, make_overlay
from conformance.tools.mutants.runners import Run, run_suite

__all__ = ["MOCK", "MODULES", "OPERATORS", "Mutant", "Run", "clean_env", "enumerate_mutants",
           "make_overlay", "mutated_source", "run_suite"]
