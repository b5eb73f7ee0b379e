"""The conformance suite: scenarios and contract tests, collected by pytest (`pytest --pyargs
conformance_suite`, or `conformance run`). Its fixtures live in `conformance_suite.plugin`."""
