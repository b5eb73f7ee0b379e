"""The conformance suite: scenarios and contract tests, collected by pytest (`pytest --pyargs
conformance_suite`, or `conformance run`). Its wiring: `conformance_suite.plugin` (options,
collection), `fixtures`, `verdicts`."""
