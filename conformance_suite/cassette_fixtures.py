"""Where cassettes live, and how keys are kept out of them: these override pytest-recording's
fixtures of the same names. conformance_suite.plugin registers this module while pytest is
configured, after every entry-point plugin (pytest-recording among them), so its fixtures win
however the suite's plugin itself was loaded (a fixture of a later plugin overrides one of an
earlier plugin)."""

import pytest

from conformance.cassettes import vcr_filters


@pytest.fixture(scope="module")
def vcr_config(target):
    """Keys never reach a cassette (redacted by value wherever they travel: headers of any
    name, query, body); requests match on method, path and query only."""

    return {
        **vcr_filters(target.redactor),
        "match_on": ["method", "path", "query"],
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request, target):
    """cassettes/<dialect>/<module>/."""
    return str(target.cassette_dir(str(request.node.fspath)))
