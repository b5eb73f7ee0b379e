"""The pytest side of `make mutants`: which tests run, and which lines of the mock each runs.

`Select(ids)` keeps only the tests that reach a mutant (the rest are deselected, as `-k`
would); `CoverageMap(path)` records, per test, the lines of the mock it runs (coverage
contexts). The forked runs pass them to `pytest.main(plugins=...)`; a separate process
(`conformance run`, the live path) loads this module with `-p conformance.tools.mutants.plugin`
and names the tests in CONFORMANCE_MUTANTS_SELECT. It imports nothing of the mock.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conformance.tools.mutants.generate import MOCK


class Select:
    """Keep only the tests named (their node ids), in the suite's own order."""

    def __init__(self, ids) -> None:
        self.ids = set(ids)

    def pytest_collection_modifyitems(self, session, config, items):
        keep = [i for i in items if i.nodeid in self.ids]
        drop = [i for i in items if i.nodeid not in self.ids]
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep


class CoverageMap:
    """Record the lines of the mock each test runs (one coverage context per test)."""

    def __init__(self, path: str | Path) -> None:
        import coverage  # lazy: a test extra

        self.cov = coverage.Coverage(data_file=str(path), include=[str(MOCK / "*.py")])
        self.cov.start()

    def pytest_runtest_setup(self, item):
        self.cov.switch_context(item.nodeid)

    def pytest_unconfigure(self, config):
        self.cov.stop()
        self.cov.save()


class Failures:
    """Write the node ids of the tests that fail (any phase) to `path`, as JSON."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.failed: set[str] = set()

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.add(report.nodeid)

    def pytest_unconfigure(self, config):
        self.path.write_text(json.dumps(sorted(self.failed)))


def pytest_configure(config):
    """`-p conformance.tools.mutants.plugin` in a separate pytest process."""
    path = os.environ.get("CONFORMANCE_MUTANTS_SELECT")
    if path:
        config.pluginmanager.register(Select(json.loads(Path(path).read_text())),
                                      "mutants-select")
