"""Pre-flight: the suite's own trouble in one line before anything runs (a key refused, a
base URL that already holds the API path, nothing configured), while a busy or correct
server is left to the suite to judge."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from conformance.mock.server import served
from conformance.targets import TargetError, parse_target
from tests.self.livehelp import served_mock


def _target(base_url: str | None, key: str | None = "mock-key-local",
            other: str | None = "mock-key-other"):
    env = {k: v for k, v in {"ELEVENLABS_BASE_URL": base_url, "ELEVENLABS_API_KEY": key,
                             "ELEVENLABS_OTHER_API_KEY": other}.items() if v is not None}
    return parse_target("live:elevenlabs", env)


def _why(target) -> str:
    with pytest.raises(TargetError) as info:
        target.check_ready()
        target.check_reachable()
    line = str(info.value)
    assert "\n" not in line and len(line) < 200, line
    return line


def test_a_correct_server_passes_the_pre_flight():
    with served_mock() as (_, base_url):
        target = _target(base_url)
        target.check_ready()
        target.check_reachable()


def test_a_refused_key_is_named_by_its_variable_with_the_servers_reason():
    with served_mock() as (_, base_url):
        assert _why(_target(base_url, key="sk_wrong")) == (
            "live:elevenlabs: the key in ELEVENLABS_API_KEY was refused (401 invalid_api_key)")
        assert "ELEVENLABS_OTHER_API_KEY was refused" in _why(_target(base_url, other="nope"))


def test_a_doubled_api_path_is_one_line_with_the_url_and_the_hint():
    with served_mock() as (_, base_url):
        why = _why(_target(base_url + "/v1/convai/batch-calling"))
    assert "batch-calling/v1/convai/batch-calling/workspace answered 404" in why
    assert "holds the API path" in why


def test_both_missing_variables_are_named_at_once():
    assert _why(_target(None, key=None)) == (
        "live:elevenlabs: set ELEVENLABS_BASE_URL and ELEVENLABS_API_KEY (the key is never "
        "written to a file)")


def test_a_rate_limited_server_is_reachable_not_a_configuration_error():
    async def busy(request):
        return JSONResponse({"detail": "slow down"}, status_code=429,
                            headers={"retry-after": "1"})

    app = Starlette(routes=[Route("/v1/convai/batch-calling/workspace", busy)])
    with served(app) as base_url:
        _target(base_url).check_reachable()  # no TargetError: the suite judges a busy server
