"""Every operation of the spec, fuzzed by Schemathesis with every check on.

One test id per operation and dialect, e.g.
`test_operation[elevenlabs][POST /v1/convai/batch-calling/submit]`; only the configured
target's dialect is built (`collected_dialects`), and any other is deselected. Phases:
examples, coverage, fuzzing (>= 100 generated cases per operation, fixed seed, no example
database: schemathesis.toml).
Checks: all of Schemathesis' plus the suite's domain checks (conformance/fuzz.py).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from conformance import fuzz
from conformance_suite.plugin import collected_dialects

SCHEMAS = {dialect: fuzz.load_schema(dialect) for dialect in collected_dialects()}


@pytest.mark.lasts(12)   # ~100 requests: 12 s at 100-400 ms an answer
@pytest.mark.requirement("CONTRACT-1")
@schemathesis.pytest.parametrize(**SCHEMAS)
# The runner fixture is shared by all of an operation's cases on purpose (it collects the
# canary's statuses); mock state is fresh per case (conformance.fuzz.World).
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_operation(case, fuzz_case):
    """Generated requests get answers that conform to the spec and to the domain invariants."""
    fuzz_case.run(case)
