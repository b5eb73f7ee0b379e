"""`make fuzz-cli`: Schemathesis' own CLI against the mock served on loopback.

Runs `st run openapi/batch-calling.yaml` from a temporary folder (so without the project's
schemathesis.toml and its hooks: the CLI sees only the spec), with every check and every
phase, against `conformance-mock` served on 127.0.0.1 with a fresh random key, and counts
what the server answered from its access log. Exit 0 only if no response was a 5xx and
Schemathesis reported no server error; its other findings are printed (the README explains
the ones the mock answers by design, e.g. a forged `last_doc` is a 422).

    python -m conformance.tools.fuzzcli [--examples N] [--dialect elevenlabs|voiceai]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from conformance.mock.server import free_port
from conformance.profiles import load_profile

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"elevenlabs": ROOT / "openapi" / "batch-calling.yaml"}
_STATUS = re.compile(rb'HTTP/1\.[01]" (\d{3})')


def _wait(url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"fuzz-cli: the mock exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("fuzz-cli: the mock did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fuzz-cli")
    parser.add_argument("--examples", type=int, default=1000,
                        help="max examples per operation and phase (default 1000: about "
                             "12,700 requests)")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--workers", default="1")
    args = parser.parse_args(argv)
    profile = load_profile("elevenlabs")
    key = "fuzz-" + secrets.token_hex(8)          # fresh per run, never written anywhere
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    st = Path(sys.executable).with_name("st")
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "access.log"
        with open(log_path, "wb") as log:
            mock = subprocess.Popen(
                [sys.executable, "-m", "conformance.mock", "--port", str(port), "--key", key,
                 "--time-scale", "60"], stdout=log, stderr=log, cwd=tmp,
                env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            _wait(base + profile.base_path + "/workspace", mock)
            started = time.monotonic()
            command = [str(st), "run", str(SPEC["elevenlabs"]), "--url", base,
                       "-H", f"{profile.auth_header}: {key}", "--checks", "all",
                       "--phases", "examples,coverage,fuzzing,stateful",
                       "--max-examples", str(args.examples), "--seed", str(args.seed),
                       "--workers", args.workers, "--continue-on-failure",
                       "--request-timeout", "30", "--output-truncate", "true"]
            shown = [c if c != f"{profile.auth_header}: {key}" else
                     f"{profile.auth_header}: <fresh key>" for c in command]
            print("fuzz-cli:", " ".join(shown), flush=True)
            run = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
            seconds = time.monotonic() - started
        finally:
            mock.terminate()
            mock.wait(timeout=20)
        output = (run.stdout + run.stderr).replace(key, "<fresh key>")
        print(output[-6000:])
        statuses = [int(m) for m in _STATUS.findall(log_path.read_bytes())]
    server_errors = sum(s >= 500 for s in statuses)
    by_class = {f"{c}xx": sum(s // 100 == c for s in statuses) for c in (2, 4, 5)}
    reported = "Server error" in output
    print(f"fuzz-cli: {len(statuses)} requests in {seconds:.0f} s, {by_class}, "
          f"schemathesis exit {run.returncode}, server errors reported: {reported}")
    return 0 if server_errors == 0 and not reported else 1


if __name__ == "__main__":
    sys.exit(main())
