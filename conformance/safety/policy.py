"""What a run may send (the policy), what it has spent (the ledger), how its batches are
named."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from conformance.api import (
    MIN_SCHEDULE_AHEAD_S,
    Api,
    api_for,
)
from conformance.profiles import SPEC_BASE_PATH

#: Every batch this suite creates is named ``cst-<run id>-...``.
SUITE_PREFIX = "cst-"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
#: A schedule further ahead than this is refused too: a millisecond timestamp read as
#: seconds, or an overflowing one, is not "far in the future" to every server.
MAX_SCHEDULE_AHEAD_S = 5 * 365 * 24 * 3600
METHOD_OVERRIDES = ("x-http-method-override", "x-http-method", "x-method-override")
#: Query parameters some frameworks read as the method (Rails, Laravel, method-override).
METHOD_OVERRIDE_PARAMS = ("_method", "x-http-method-override")
#: Headers a proxy or framework may route by instead of the Host header or the path.
ROUTING_HEADERS = ("x-forwarded-host", "x-forwarded-server", "x-host", "x-original-host",
                   "forwarded", "x-original-url", "x-rewrite-url", "x-forwarded-prefix",
                   "x-forwarded-uri", "x-forwarded-path")
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
#: Set on a request whose response was a redirect: httpx copies a request's extensions into
#: the request it builds to follow the redirect, so that one is recognised and refused.
_REDIRECTED = "conformance.safety.redirected"
_HOST_HEADER = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))"
                          r"(?::(?P<port>[0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_RUN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")


class UnsafeRequest(Exception):
    """A request was refused by the safety transport; it was not sent. `rule` names the
    guard rule (for reports: a refusal during a test is a defect of the suite)."""

    def __init__(self, reason: str, request: httpx.Request | None = None,
                 rule: str = "guard") -> None:
        self.reason = reason
        self.request = request
        self.rule = rule
        where = f"{request.method} {request.url.copy_with(query=None)}: " if request else ""
        super().__init__(f"unsafe request refused: {where}{reason}")


def new_run_id(now: float | None = None) -> str:
    """A run id such as ``20260101t000000-r3f9a``: UTC time plus a random suffix (after a
    letter, so no run of its digits reads as a phone number)."""
    stamp = time.strftime("%Y%m%dt%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-r{secrets.token_hex(2)}"


def name_prefix(run_id: str) -> str:
    """``cst-<run_id>-``: the prefix every batch name of the run starts with."""
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r} must be 1-41 chars of [a-z0-9-]")
    return f"{SUITE_PREFIX}{run_id}-"


def check_prefix(prefix: str | None, what: str, *, allow_bare: bool) -> None:
    if prefix is None:
        return
    if not isinstance(prefix, str) or not prefix.startswith(SUITE_PREFIX):
        raise ValueError(f"{what} {prefix!r} must start with {SUITE_PREFIX!r}")
    if not allow_bare and prefix == SUITE_PREFIX:
        raise ValueError(f"{what} must name a run: use name_prefix(run_id)")


@dataclass(frozen=True)
class SafetyPolicy:
    """What a run may send. Defaults are the safe ones: loopback only, nothing dialled."""

    name_prefix: str
    base_path: str = SPEC_BASE_PATH
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    min_schedule_ahead_s: int = MIN_SCHEDULE_AHEAD_S
    max_schedule_ahead_s: int = MAX_SCHEDULE_AHEAD_S
    allow_dispatch: bool = False
    max_batches: int = 20
    max_recipients: int = 50
    allow_any_phone: bool = False
    allow_whatsapp: bool = False
    #: The vendor's WhatsApp number id the run names in `whatsapp_params` (configured like the
    #: agent id): our own sender account, not someone to call, so not read as a phone number.
    whatsapp_phone_number_id: str | None = None
    sweep_prefix: str | None = None
    extra_mutating_paths: tuple[str, ...] = ()
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        check_prefix(self.name_prefix, "name_prefix", allow_bare=False)
        check_prefix(self.sweep_prefix, "sweep_prefix", allow_bare=True)
        object.__setattr__(self, "allowed_hosts",
                           frozenset(h.lower() for h in self.allowed_hosts))
        object.__setattr__(self, "base_path", "/" + self.base_path.strip("/"))

    @classmethod
    def for_https_host(cls, base_url: str, base_path: str, name_prefix: str, **kw: Any
                       ) -> SafetyPolicy:
        """Allow exactly the host of `base_url` (which must be https): a remote endpoint."""
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"remote base URL {base_url!r} must be https://host")
        return cls(name_prefix=name_prefix, base_path=base_path,
                   allowed_hosts=frozenset({parts.hostname}), **kw)

    @property
    def api(self) -> Api:
        """The operation table, with its paths under this policy's base path."""

        return api_for("elevenlabs").rebased(self.base_path)


@dataclass
class Ledger:
    """What a run created and how much it has spent of its caps. Thread-safe."""

    created: dict[str, str] = field(default_factory=dict)   # id -> name, in creation order
    sweepable: dict[str, str] = field(default_factory=dict)  # id -> name (sweep_prefix)
    submits_sent: int = 0
    recipients_sent: int = 0
    #: call_names of 2xx submits whose response had no readable id (sweep them by prefix).
    orphans: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    #: One-time recipients allowances beyond the run's cap, by exact call_name: a documented
    #: boundary (10,000 recipients) is tested by one named submit, and nothing else may use it.
    allowances: dict[str, int] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def record(self, batch_id: str, name: str | None = None) -> None:
        with self._lock:
            self.created.setdefault(batch_id, name or "")

    def allow_recipients(self, call_name: str, count: int) -> None:
        """Let the one submit named `call_name` carry up to `count` recipients beyond the
        run's cap (used once, then gone)."""
        with self._lock:
            self.allowances[call_name] = count

    def forget(self, batch_id: str) -> None:
        with self._lock:
            self.created.pop(batch_id, None)
            self.sweepable.pop(batch_id, None)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self.created)

    def __contains__(self, batch_id: object) -> bool:
        return batch_id in self.created

    def __len__(self) -> int:
        return len(self.created)




class _FileLock:
    """A re-entrant lock held across the processes of one run (flock on a file); on the
    outermost acquire it loads the ledger's counters from the shared file, on the outermost
    release it writes them back, so every check-and-reserve sees the run's exact totals."""

    def __init__(self, ledger: SharedLedger, folder: Path) -> None:
        self._ledger = ledger
        self._thread = threading.RLock()
        self._depth = 0
        self._path = folder / "ledger.json"
        self._fd = os.open(folder / "ledger.lock", os.O_CREAT | os.O_RDWR, 0o600)

    def __enter__(self) -> _FileLock:
        self._thread.acquire()
        self._depth += 1
        if self._depth == 1:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                state = json.loads(self._path.read_text() or "{}")
            except (OSError, ValueError):
                state = {}
            self._ledger.submits_sent = state.get("submits_sent", 0)
            self._ledger.recipients_sent = state.get("recipients_sent", 0)
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            try:
                tmp = self._path.with_name(f"ledger.{os.getpid()}.json")
                tmp.write_text(json.dumps({"submits_sent": self._ledger.submits_sent,
                                           "recipients_sent": self._ledger.recipients_sent}))
                os.replace(tmp, self._path)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()


class SharedLedger(Ledger):
    """A Ledger whose caps are counted exactly across the processes of one run
    (pytest-xdist workers share `folder`): each worker keeps its own batches to clean up,
    the run's submits and recipients are one count."""

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = _FileLock(self, folder)  # type: ignore[assignment]  # same protocol
