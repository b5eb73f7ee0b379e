"""Record the cassettes of one dialect against the mock served on loopback.

    python -m conformance.tools.record elevenlabs   # cassettes/elevenlabs/<module>/<test>.yaml
    python -m conformance.tools.record elevenlabs --suite conformance_suite/scenarios/test_x.py
                                                    # re-records those modules only

Until someone records a vendor (`pytest --target=live:<dialect> --record-mode=rewrite` with the
vendor's URL and key), the committed cassettes come from here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conformance.mock.app import create_app
from conformance.mock.clock import WallClock
from conformance.mock.server import served
from conformance.profiles import DIALECTS, load_profile
from conformance.resources import CASSETTES, ROOT
from conformance.targets import MOCK_KEYS
from conformance.targets.base import WHATSAPP_PHONE_NUMBER_ID

TIME_SCALE = 60


def _forget(dialect: str, modules: list[str]) -> None:
    """Remove the named modules' cassettes and their entries of skipped.json (the recording
    run adds back what it skips)."""
    skips_file = CASSETTES / dialect / "skipped.json"
    skips = json.loads(skips_file.read_text()) if skips_file.exists() else {}
    for module in modules:
        stem = Path(module).stem
        shutil.rmtree(CASSETTES / dialect / stem, ignore_errors=True)
        skips = {k: v for k, v in skips.items() if not k.startswith(f"scenarios/{stem}.py::")}
    if skips_file.exists():
        skips_file.write_text(json.dumps(dict(sorted(skips.items())), indent=1) + "\n")


def record(dialect: str, modules: list[str] | None = None) -> int:
    profile = load_profile(dialect)
    app = create_app(dialect, keys=list(MOCK_KEYS), clock=WallClock(TIME_SCALE))
    if modules:
        _forget(dialect, modules)
    else:
        shutil.rmtree(CASSETTES / dialect, ignore_errors=True)
    assert profile.base_url_env and profile.api_key_env, f"{dialect}: a dialect profile"
    with served(app) as base_url:
        env = {**os.environ, profile.base_url_env: base_url, profile.api_key_env: MOCK_KEYS[0],
               f"{dialect.upper()}_OTHER_API_KEY": MOCK_KEYS[1], "API_LIVE_POLL_MAX": "0.5",
               # the number id the cassette target names, so recorded bodies replay
               f"{dialect.upper()}_WHATSAPP_PHONE_NUMBER_ID": WHATSAPP_PHONE_NUMBER_ID}
        return subprocess.call(
            [sys.executable, "-m", "pytest", *(modules or ["conformance_suite/scenarios"]),
             f"--target=live:{dialect}", "--allow-dispatch", "--mock-outcomes",
             "--record-mode=rewrite", "-q",
             "-p", "no:cacheprovider"], cwd=ROOT, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.tools.record")
    parser.add_argument("dialects", nargs="*", help="default: every dialect")
    parser.add_argument("--suite", action="append",
                        help="re-record only this scenario module (repeatable)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    for dialect in args.dialects or list(DIALECTS):
        if dialect not in DIALECTS:
            print(f"record: unknown dialect {dialect!r}", file=sys.stderr)
            return 2
        code = record(dialect, args.suite)
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
