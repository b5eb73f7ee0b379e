"""The benchmark tools measure what they claim (no timing is asserted: benchmarks/)."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks import loadgen
from conformance.mock import create_app
from conformance.mock.server import served

KEY = "mock-key-local"


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert loadgen.percentile(values, 50) == 50.0
    assert loadgen.percentile(values, 99) == 99.0
    assert loadgen.percentile(values, 100) == 100.0
    assert loadgen.percentile([], 99) == 0.0


def test_loadgen_counts_every_answer_and_reads_whole_bodies():
    """Against the served mock: every measured request is a complete 200 of the right size
    (a generator that miscounted or cut bodies would report a fantasy throughput)."""
    app = create_app("elevenlabs")
    with served(app) as url:
        port = int(url.rsplit(":", 1)[1])
        import httpx

        body = {"call_name": "bench", "agent_id": "agent_bench",
                "recipients": [{"phone_number": f"+1212555{100 + i:04d}"} for i in range(50)]}
        created = httpx.post(f"{url}/v1/convai/batch-calling/submit", json=body,
                             headers={"xi-api-key": KEY}).json()
        size = len(httpx.get(f"{url}/v1/convai/batch-calling/{created['id']}",
                             headers={"xi-api-key": KEY}).content)
        request = loadgen.build_request("GET", "127.0.0.1", port,
                                        f"/v1/convai/batch-calling/{created['id']}",
                                        {"xi-api-key": KEY}, None)
        result = asyncio.run(loadgen.run("127.0.0.1", port, request, connections=4,
                                         warmup=0.1, duration=0.5))
        wrong_key = loadgen.build_request("GET", "127.0.0.1", port,
                                          f"/v1/convai/batch-calling/{created['id']}",
                                          {"xi-api-key": "wrong"}, None)
        refused = asyncio.run(loadgen.run("127.0.0.1", port, wrong_key, connections=2,
                                          warmup=0.0, duration=0.3))
    assert result.requests > 0 and result.statuses == {"200": result.requests}
    assert result.response_bytes == size
    assert result.errors == 0
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
    assert set(refused.statuses) == {"401"}


def test_loadgen_refuses_anything_but_loopback():
    request = loadgen.build_request("GET", "192.0.2.1", 80, "/", {}, None)
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(loadgen.run("192.0.2.1", 80, request, 1, 0, 0.1))


def test_dechunking_counts_payload_bytes():
    assert loadgen._dechunked_size(b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n") == 8


def test_bench_writes_its_figures_outside_the_tracked_tree(tmp_path, monkeypatch):
    """`make bench` leaves `git status` clean (issue 22): by default a run writes under
    reports/ (git-ignored), never over the committed benchmarks/results/; a section's files
    (the profiles) land beside latest.md, not inside latest.json."""
    import json
    import shutil
    import subprocess

    from benchmarks import common, run

    assert common.OUT.relative_to(common.ROOT).parts[0] == "reports"
    if shutil.which("git") and (common.ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", str(common.OUT / "latest.md")],
                                 cwd=common.ROOT)
        assert ignored.returncode == 0, "reports/bench/ is not git-ignored"
    section = {"get": {"us_per_request": 1.0, "files": {"profile-get.txt": "the profile"}}}
    monkeypatch.setattr(run, "SECTIONS", {"tiny": (lambda quick: section, lambda d: "table")})
    assert run.main(["--only", "tiny", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "profile-get.txt").read_text() == "the profile"
    written = json.loads((tmp_path / "latest.json").read_text())
    assert written["tiny"] == {"get": {"us_per_request": 1.0}}
    assert "## tiny" in (tmp_path / "latest.md").read_text()
