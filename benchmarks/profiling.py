"""pyinstrument over the hot path (`--only profile`)."""

from __future__ import annotations

import json

from benchmarks.common import BASE, ROOT, submit_body, table
from benchmarks.scale import InProcess, timed


def profile(quick: bool) -> dict:
    from pyinstrument import Profiler

    app = InProcess()
    big = json.dumps(submit_body(100)).encode()
    batch_id = json.loads(app.call("POST", f"{BASE}/submit", payload=big))["id"]
    one = json.dumps(submit_body(1)).encode()
    for _ in range(150):
        app.call("POST", f"{BASE}/submit", payload=one)
    ops = {"get": ("GET", f"{BASE}/{batch_id}", "", b""),
           "list": ("GET", f"{BASE}/workspace", "limit=100", b""),
           "submit": ("POST", f"{BASE}/submit", "", big)}
    n = 300 if quick else 1000
    out = {}
    for name, args in ops.items():
        for _ in range(50):
            app.call(*args)
        per = timed(lambda args=args: [app.call(*args) for _ in range(n)], 1) / n
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(n):
            app.call(*args)
        profiler.stop()
        text = profiler.output_text(unicode=False, color=False)
        # The text profile is written by run.py into the run's folder (`files`).
        out[name] = {"us_per_request": per * 1e6, "profile": f"profile-{name}.txt",
                     "files": {f"profile-{name}.txt": text.replace(f"{ROOT}/", "")}}
    return out


def profile_table(data: dict) -> str:
    return table(["request (in process)", "us per request", "profile"],
                 [[k, f"{v['us_per_request']:.0f}", v["profile"]] for k, v in data.items()])
