"""Fixtures that must win over pytest-recording's own (a plugin's fixtures do not override
another plugin's; a conftest's do): where cassettes live, and how keys are kept out of them.
Everything else is in conformance_suite/plugin.py."""

import pytest


@pytest.fixture(scope="module")
def vcr_config(target):
    """Keys never reach a cassette (redacted by value wherever they travel: headers of any
    name, query, body); requests match on method, path and query only."""
    from conformance.cassettes import vcr_filters

    return {
        **vcr_filters(target.redactor),
        "match_on": ["method", "path", "query"],
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request, target):
    """cassettes/<vendor>/<module>/."""
    return str(target.cassette_dir(str(request.node.fspath)))
