"""The project's programs, one module per command (`python -m conformance.tools.<name>`); the
library beside them (`conformance.api`, `.spec`, `.mock`, ...) never imports them.

    specbuild.py        `make spec`: write openapi/batch-calling.yaml (conformance.bundle)
    bump.py             `make spec VENDOR_SPEC=...`: a spec bump, diffed and re-validated
    faultmatrix.py      `make faults`: the suite against every named fault of the mock
    faultmatrix_live.py the fault matrix through the live path
    liveproof.py        `make live-proof`: the live path against two correct servers
    record.py           `make record`: re-record the cassettes against the served mock
    fuzzcli.py          `make fuzz-cli`: Schemathesis' own CLI against the served mock

The `conformance` command itself is conformance/cli.py.
"""
