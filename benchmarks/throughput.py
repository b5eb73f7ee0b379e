"""The mock beside Prism and the bare-app floor, over loopback (`--only throughput`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.common import (
    BASE,
    HOST,
    KEY,
    LOAD_CPU,
    PRISM_BIN,
    PRISM_DIR,
    RAW,
    ROOT,
    SERVER_CPU,
    SPEC,
    pin,
    submit_body,
    table,
    wait_port,
)
from conformance.mock.server import free_port


class Server:
    """A server process pinned to SERVER_CPU, stopped on exit."""

    def __init__(self, name: str, argv: list[str], port: int) -> None:
        self.name, self.argv, self.port = name, argv, port
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=pin(SERVER_CPU))
        wait_port(self.port)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


#: Submits go one workspace per connection (key bench-<n>): a workspace keeps at most 5,000
#: batches (conformance/mock/README.md "Bounds"), which one workspace passes in 2 s.
SUBMIT_KEY = "bench-{conn}"


def mock_server(port: int, connections: int = 50, extra: tuple[str, ...] = ()) -> Server:
    # Manual clock: the state does not move under the load, so every request of a run
    # sees the same document. Access log off, as for any server under load.
    keys = [KEY] + [SUBMIT_KEY.replace("{conn}", str(i)) for i in range(connections)]
    return Server("mock", [sys.executable, "-m", "conformance.mock", "--port", str(port),
                           "--clock", "manual", "--no-access-log", "--log-level", "warning",
                           *[f"--key={k}" for k in keys], *extra], port)


def prism_server(port: int) -> Server:
    return Server("prism", [str(PRISM_BIN), "mock", str(SPEC), "-p", str(port), "-h", HOST,
                            "-v", "silent"], port)


def floor_server(port: int, sizes: dict[str, int]) -> Server:
    """The bare-app floor (benchmarks/floor.py) answering bytes of the mock's sizes."""
    return Server("floor", [sys.executable, "-m", "benchmarks.floor", "--port", str(port),
                            *[f"--size={k}={v}" for k, v in sizes.items()]], port)


def ensure_prism() -> str | None:
    """Install Prism from benchmarks/prism/package-lock.json; None, or why it cannot run."""
    if PRISM_BIN.exists():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm not found: install Node.js to compare with Prism"
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PRISM_DIR,
                          capture_output=True, text=True)
    if done.returncode != 0 or not PRISM_BIN.exists():
        return f"npm ci failed: {done.stderr.strip().splitlines()[-1:]}"
    return None


def seed_mock(port: int) -> str:
    """One batch of 100 recipients (returned) and 150 more batches for the list."""
    import httpx

    with httpx.Client(base_url=f"http://{HOST}:{port}", headers={"xi-api-key": KEY}) as http:
        batch_id = http.post(f"{BASE}/submit", json=submit_body(100)).raise_for_status().json()
        for i in range(150):
            http.post(f"{BASE}/submit", json=submit_body(1, f"list-{i}")).raise_for_status()
    return batch_id["id"]


def load(port: int, method: str, path: str, body_file: Path | None, connections: int,
         warmup: float, duration: float) -> dict:
    key = KEY if body_file is None else SUBMIT_KEY
    argv = [sys.executable, "-m", "benchmarks.loadgen", "--port", str(port), "--method",
            method, "--path", path, "--header", f"xi-api-key: {key}",
            "--connections", str(connections), "--warmup", str(warmup),
            "--duration", str(duration)]
    if pin(LOAD_CPU):
        argv += ["--cpu", str(LOAD_CPU)]
    if body_file is not None:
        argv += ["--body-file", str(body_file)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def throughput(quick: bool) -> dict:
    connections, warmup, duration = 50, 1.0, (2.0 if quick else 5.0)
    RAW.mkdir(parents=True, exist_ok=True)
    body_file = RAW / "submit-100.json"
    body_file.write_text(json.dumps(submit_body(100)))
    why_not_prism = ensure_prism()
    servers = [("mock", mock_server)] + ([] if why_not_prism else [("prism", prism_server)])
    servers.append(("floor", None))
    out: dict = {"connections": connections, "warmup_s": warmup, "duration_s": duration,
                 "prism_skipped": why_not_prism, "runs": {}}
    cases = {"get (100 recipients)": "get", "list (limit 100)": "list",
             "submit (100 recipients)": "submit"}
    for name, make in servers:
        port = free_port()
        if name == "floor":
            # The same sizes the mock answered in this run: its bodies, prebuilt.
            sizes = {short: out["runs"][case]["mock"]["response_bytes"]
                     for case, short in cases.items()}
            server = floor_server(port, sizes)
        else:
            server = make(port)
        with server:
            batch_id = seed_mock(port) if name == "mock" else "btcal_example"
            paths = {
                "get (100 recipients)": ("GET", f"{BASE}/{batch_id}", None),
                "list (limit 100)": ("GET", f"{BASE}/workspace?limit=100", None),
                "submit (100 recipients)": ("POST", f"{BASE}/submit", body_file),
            }
            for case, (method, path, body) in paths.items():
                print(f"  throughput: {name} {case} ...", file=sys.stderr, flush=True)
                out["runs"].setdefault(case, {})[name] = load(
                    port, method, path, body, connections, warmup, duration)
    return out


def throughput_table(data: dict) -> str:
    rows = []
    for case, by_server in data["runs"].items():
        m, p, f = by_server.get("mock"), by_server.get("prism"), by_server.get("floor")
        ratio = f"{m['rps'] / p['rps']:.1f}x" if m and p and p["rps"] else "-"
        floor = f"{m['rps'] / f['rps']:.0%}" if m and f and f["rps"] else "-"
        for name, r in by_server.items():
            rows.append([case if name == "mock" else "", name, f"{r['rps']:,.0f}",
                         f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['max_ms']:.0f}",
                         f"{r['response_bytes']:,}",
                         ",".join(f"{k}x{v}" for k, v in sorted(r["statuses"].items())),
                         ratio if name == "mock" else "", floor if name == "mock" else ""])
    return table(["request", "server", "req/s", "p50 ms", "p99 ms", "max ms",
                  "body bytes", "statuses", "mock/Prism", "mock/floor"], rows)
