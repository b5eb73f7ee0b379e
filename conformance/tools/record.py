"""Record the cassettes of one dialect against the mock served on loopback.

    python -m conformance.tools.record elevenlabs   # cassettes/elevenlabs/<module>/<test>.yaml

Until someone records a vendor (`pytest --target=live:<dialect> --record-mode=rewrite` with the
vendor's URL and key), the committed cassettes come from here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from conformance.mock.app import create_app
from conformance.mock.clock import WallClock
from conformance.mock.server import served
from conformance.profiles import DIALECTS, load_profile
from conformance.resources import CASSETTES, ROOT
from conformance.targets import MOCK_KEYS

TIME_SCALE = 60


def record(vendor: str) -> int:
    profile = load_profile(vendor)
    app = create_app(vendor, keys=list(MOCK_KEYS), clock=WallClock(TIME_SCALE))
    shutil.rmtree(CASSETTES / vendor, ignore_errors=True)
    assert profile.base_url_env and profile.api_key_env, f"{vendor}: a dialect profile"
    with served(app) as base_url:
        env = {**os.environ, profile.base_url_env: base_url, profile.api_key_env: MOCK_KEYS[0],
               f"{vendor.upper()}_OTHER_API_KEY": MOCK_KEYS[1], "API_LIVE_POLL_MAX": "0.5"}
        return subprocess.call(
            [sys.executable, "-m", "pytest", "conformance_suite/scenarios",
             f"--target=live:{vendor}", "--allow-dispatch", "--mock-outcomes",
             "--record-mode=rewrite", "-q",
             "-p", "no:cacheprovider"], cwd=ROOT, env=env)


def main(argv: list[str] | None = None) -> int:
    vendors = (argv if argv is not None else sys.argv[1:]) or list(DIALECTS)
    for vendor in vendors:
        if vendor not in DIALECTS:
            print(f"record: unknown vendor {vendor!r}", file=sys.stderr)
            return 2
        code = record(vendor)
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
