"""What every benchmark shares: where results go, the mock's key and base path, fictional
request bodies, CPU pinning, the machine's description and Markdown tables."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import time
from pathlib import Path

from conformance.api import api_for
from conformance.fictional import MOCK_KEYS, fictional_number

ROOT = Path(__file__).resolve().parents[1]
#: Where a run writes by default: untracked (reports/ is git-ignored), so `make bench` never
#: dirties the tree. The committed figures in benchmarks/results/ are replaced only on
#: purpose: `make bench BENCH_OUT=benchmarks/results`, then commit.
OUT = ROOT / "reports" / "bench"
RAW = OUT / "raw"   # scratch files
PRISM_DIR = ROOT / "benchmarks" / "prism"
PRISM_BIN = PRISM_DIR / "node_modules" / ".bin" / "prism"
SPEC = ROOT / "openapi" / "batch-calling.yaml"
KEY = MOCK_KEYS[0]
BASE = api_for("elevenlabs").base_path
HOST = "127.0.0.1"
SERVER_CPU, LOAD_CPU = 0, 1


# ----------------------------------------------------------------------------- helpers

def fictional(i: int) -> str:
    """Fictional numbers only, cycling through the outcome endings 00..99."""
    return fictional_number(0, i % 100)


def submit_body(n: int, name: str = "bench", scheduled: int | None = 4102444800) -> dict:
    body = {"call_name": name, "agent_id": "agent_bench",
            "recipients": [{"phone_number": fictional(i)} for i in range(n)]}
    if scheduled is not None:
        body["scheduled_time_unix"] = scheduled
    return body


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout:.0f} s")


def pin(cpu: int):
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if len(cpus) < 2:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    node = shutil.which("node")
    node_version = subprocess.run([node, "--version"], capture_output=True,
                                  text=True).stdout.strip() if node else None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem,
            "os": platform.platform(), "python": platform.python_version(),
            "node": node_version}


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)

