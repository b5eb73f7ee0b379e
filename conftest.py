"""Loads the suite's pytest plugin for every test collected from this checkout."""

pytest_plugins = ["conformance_suite.plugin"]
