"""Serve a mock app with uvicorn on loopback in a background thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import uvicorn

from conformance.mock.protocol import BoundedHttpToolsProtocol


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def uvicorn_options() -> dict:
    """The options the mock is served with (README "Bounds"): the bounded httptools
    protocol (header size, read timeout, JSON 400), keep-alive 5 s, no uvicorn Date header
    (the app sends its own, in mock time)."""

    return {"http": BoundedHttpToolsProtocol, "timeout_keep_alive": 5, "date_header": False,
            "h11_max_incomplete_event_size": 16 * 1024}


@contextmanager
def served(app, host: str = "127.0.0.1", port: int | None = None, timeout: float = 10.0):
    """Run `app` on http://host:port until the block ends; yields the base URL."""
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="off", **uvicorn_options()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"the mock did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
