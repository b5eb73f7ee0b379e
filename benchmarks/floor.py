"""The bare-app floor: an ASGI app answering prebuilt bytes, on the mock's server stack.

    python -m benchmarks.floor --port 8080 --size get=24204 --size list=59104

Every request path is answered 200 with `application/json` bytes prepared at start-up: the
path's last segment picks the size (`/<anything>/<name>` -> `--size name=N`; `workspace`
is the list; a POST is `submit`; anything else is `get`). No routing framework, no store, no
encoding: what uvicorn + httptools + uvloop cost at that size, the floor the mock's own cost
is measured against (benchmarks/run.py runs it in the same throughput run). Loopback only.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn


def make_app(sizes: dict[str, int]):
    bodies = {name: (b'{"x":"' + b"a" * max(0, n - 8) + b'"}')[:max(n, 8)]
              for name, n in sizes.items()}
    starts = {name: {"type": "http.response.start", "status": 200,
                     "headers": [(b"content-type", b"application/json"),
                                 (b"content-length", str(len(body)).encode())]}
              for name, body in bodies.items()}
    messages = {name: {"type": "http.response.body", "body": body}
                for name, body in bodies.items()}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["method"] == "POST":
            name = "submit"
            more = True
            while more:   # read the whole request body, as a server must
                more = (await receive()).get("more_body", False)
        else:
            name = "list" if scope["path"].endswith("/workspace") else "get"
        name = name if name in bodies else next(iter(bodies))
        await send(starts[name])
        await send(messages[name])

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor")
    parser.add_argument("--host", default="127.0.0.1", choices=("127.0.0.1", "::1"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--size", action="append", default=[], metavar="NAME=BYTES")
    args = parser.parse_args(argv)
    sizes = {k: int(v) for k, v in (s.split("=", 1) for s in args.size)} or {"get": 1024}
    uvicorn.run(make_app(sizes), host=args.host, port=args.port, http="httptools",
                loop="uvloop", lifespan="off", access_log=False, log_level="warning",
                date_header=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
