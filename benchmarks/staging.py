"""A live run against a staging-like server (`--only staging`).

The whole suite through the live path (`conformance run --target live:<dialect>`) against
the mock served on loopback with its staging options (conformance/mock/staging.py): slow
answers with and without `--workers`, and the shared-staging conditions (a rate limit, a
concurrency limit, latency, a lived-in workspace). Per row: the exit code, the wall time,
the requests the server saw and how many it answered 429 (its access log), and what the
run's pressure layer reports (its JUnit property, the report's "Pressure" line: times
pushed back, time waited).

    python -m benchmarks.run --only staging [--quick]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import HOST, table, wait_port
from conformance.fictional import MOCK_KEYS
from conformance.mock.server import free_port
from conformance.report.junit import load_junit

SLOW = "--latency 100-400"
STAGING = "--rate-limit 10 --max-concurrent 2 --latency 50-250 --preload 3000"
#: (label, dialect, mock options, `conformance run` options). One-second calls for dispatch:
#: the alternate choices (conformance/mock/README.md).
ROWS = [
    ("slow, safe, 1 worker", "elevenlabs", SLOW, []),
    ("slow, safe, 8 workers", "elevenlabs", SLOW, ["--workers", "8"]),
    ("slow, dispatch, 8 workers", "elevenlabs", SLOW + " --choices alternate",
     ["--workers", "8", "--allow-dispatch"]),
    *[(f"staging, {mode}, 4 workers, {d}", d,
       STAGING + (" --choices alternate" if mode == "dispatch" else ""),
       ["--workers", "4", *(["--allow-dispatch"] if mode == "dispatch" else [])])
      for d in ("elevenlabs", "voiceai") for mode in ("safe", "dispatch")],
    ("still limited after the budget", "elevenlabs", "--rate-limit 1",
     ["--pressure-budget", "5"]),
]
QUICK = {"slow, safe, 8 workers", "still limited after the budget"}


def run_row(label: str, dialect: str, mock_options: str, run_options: list[str]) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-staging-") as tmp:
        log = Path(tmp) / "mock.log"
        with log.open("w") as out:
            mock = subprocess.Popen(
                [sys.executable, "-m", "conformance.mock", "--host", HOST, "--port", str(port),
                 "--profile", dialect, *mock_options.split()],
                stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_port(port)
            prefix = dialect.upper()
            env = {**os.environ, f"{prefix}_BASE_URL": f"http://{HOST}:{port}",
                   f"{prefix}_API_KEY": MOCK_KEYS[0], f"{prefix}_OTHER_API_KEY": MOCK_KEYS[1]}
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "conformance", "run", "--target", f"live:{dialect}",
                 "--reports", str(Path(tmp) / "reports"), *run_options],
                env=env, capture_output=True, text=True, timeout=1800)
            wall = time.perf_counter() - started
        finally:
            mock.terminate()
            mock.wait()
        answers = [line for line in log.read_text().splitlines() if "HTTP/1.1\" " in line]
        junit = Path(tmp) / "reports" / f"live-{dialect}.xml"
        pressure = load_junit([str(junit)])[0].pressure_line() if junit.exists() else ""
        last = (done.stdout + done.stderr).strip().splitlines()
        verdict = next((line for line in reversed(last)
                        if re.match(r"(CONFORMANT|NOT CONFORMANT|COULD NOT RUN|conformance:)",
                                    line)), last[-1] if last else "")
    return {"label": label, "exit": done.returncode, "wall_s": round(wall, 1),
            "requests": len(answers), "429s": sum('" 429' in a for a in answers),
            "pressure": pressure, "verdict": verdict[:160]}


def staging(quick: bool) -> dict:
    rows = [r for r in ROWS if not quick or r[0] in QUICK]
    return {"rows": [run_row(*row) for row in rows]}


def staging_table(result: dict) -> str:
    return table(["run", "exit", "wall s", "requests", "429s", "pressure (the run's report)"],
                 [[r["label"], r["exit"], r["wall_s"], r["requests"], r["429s"],
                   r["pressure"] or r["verdict"]] for r in result["rows"]])
