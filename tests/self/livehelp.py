"""Helpers for self-tests that run the suite against the mock served on loopback."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from conformance.mock.app import create_app
from conformance.mock.clock import WallClock
from conformance.mock.server import served
from conformance.targets import MOCK_KEYS
from conformance.tools.liveproof import live_env  # noqa: F401  (the tests' import)

ROOT = Path(__file__).resolve().parents[2]
TIME_SCALE = 60  # one real second is a mock minute: calls finish in seconds


@contextmanager
def served_mock(vendor: str = "elevenlabs", faults=()):
    """The mock in `vendor`'s dialect on 127.0.0.1, with a sped-up wall clock."""
    app = create_app(vendor, keys=list(MOCK_KEYS), clock=WallClock(TIME_SCALE), faults=faults)
    with served(app) as base_url:
        yield app, base_url




def pytest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
            "no:schemathesis", "-p", "no:hypothesispytest", *args]


def start(command: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out
