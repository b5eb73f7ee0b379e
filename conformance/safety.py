"""Live-run safety, enforced in the HTTP transport (issue 4).

A live run talks to a vendor that rings real phones. Every request goes through
`SafetyTransport` (sync) or `AsyncSafetyTransport`, which inspects it *before* it leaves the
process and raises `UnsafeRequest` (nothing sent) unless all of these hold:

* the host is one of ``policy.allowed_hosts`` (exact, case-insensitive; default loopback
  only) and, for a non-loopback host, the scheme is https;
* GET/HEAD/OPTIONS: nothing more (reads are safe);
* any other method must be a known operation under ``policy.base_path``:
  ``POST submit``, ``POST {id}/cancel``, ``POST {id}/retry``, ``DELETE {id}`` (or a path
  under one of ``policy.extra_mutating_paths``, loopback hosts only, e.g. the mock admin API);
* submit: the body is a JSON object (duplicate keys refused: a server may read another copy);
  ``call_name`` starts with ``policy.name_prefix``; every recipient is an object whose
  ``phone_number`` is a string in the fictional range ``+1 NXX 555-0100..0199`` and which has
  no ``whatsapp_user_id`` (unless ``policy.allow_any_phone`` / ``policy.allow_whatsapp``);
  ``scheduled_time_unix`` is a number at least ``policy.min_schedule_ahead_s`` after
  ``policy.clock()`` (missing/null means "now") unless ``policy.allow_dispatch``; and the run's
  caps ``policy.max_batches`` submits and ``policy.max_recipients`` recipients are not exceeded
  (counted when sent, whatever the answer: a timed-out submit may still have created a batch);
* cancel/delete: the batch was created by this run (id read from a 2xx submit response into
  the `Ledger`) or, when ``policy.sweep_prefix`` is set, was seen in a list/get response with a
  name starting with that prefix;
* retry: the batch was created by this run *and* ``policy.allow_dispatch`` (a retry may dial at
  once, whatever the original schedule).

Caps and ownership live in the `Ledger`; share one ledger between all clients of a run.

Bypass warning: a client's ``mounts=`` (and the proxy mounts that ``proxy=`` creates) are used
*instead of* ``transport=`` for the URLs they match. httpx 0.28 ignores HTTP(S)_PROXY when a
transport is given, but older/newer versions may not. Build clients with `guarded_client`
(``trust_env=False``, no mounts) or check them with `is_guarded`.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

__all__ = [
    "AsyncSafetyTransport",
    "CleanupReport",
    "FICTIONAL_PHONE",
    "LOOPBACK_HOSTS",
    "Ledger",
    "SUITE_PREFIX",
    "SafetyPolicy",
    "SafetyTransport",
    "SweepError",
    "UnsafeRequest",
    "cleanup",
    "guarded_client",
    "is_fictional_phone",
    "is_guarded",
    "name_prefix",
    "new_run_id",
    "sweep",
]

#: Every batch this suite creates is named ``cst-<run id>-...``.
SUITE_PREFIX = "cst-"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
#: +1, any 3-digit area code, 555-0100..555-0199 (the range reserved for fiction).
#: ASCII digits only and anchored with fullmatch: "\d" would accept other scripts' digits
#: and "$" would accept a trailing newline.
FICTIONAL_PHONE = re.compile(r"\+1[0-9]{3}55501[0-9]{2}")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
THIRTY_DAYS = 30 * 24 * 3600
_RUN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")


class UnsafeRequest(Exception):
    """A request was refused by the safety transport; it was not sent."""

    def __init__(self, reason: str, request: httpx.Request | None = None) -> None:
        self.reason = reason
        self.request = request
        where = f"{request.method} {request.url.copy_with(query=None)}: " if request else ""
        super().__init__(f"unsafe request refused: {where}{reason}")


def is_fictional_phone(value: Any) -> bool:
    return isinstance(value, str) and FICTIONAL_PHONE.fullmatch(value) is not None


def new_run_id(now: float | None = None) -> str:
    """A run id such as ``20260101t000000-3f9a``: UTC time plus a random suffix."""
    stamp = time.strftime("%Y%m%dt%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(2)}"


def name_prefix(run_id: str) -> str:
    """``cst-<run_id>-``: the prefix every batch name of the run starts with."""
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r} must be 1-41 chars of [a-z0-9-]")
    return f"{SUITE_PREFIX}{run_id}-"


def _check_prefix(prefix: str | None, what: str, *, allow_bare: bool) -> None:
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
    base_path: str = "/v1/convai/batch-calling"
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    min_schedule_ahead_s: int = THIRTY_DAYS
    allow_dispatch: bool = False
    max_batches: int = 20
    max_recipients: int = 50
    allow_any_phone: bool = False
    allow_whatsapp: bool = False
    sweep_prefix: str | None = None
    extra_mutating_paths: tuple[str, ...] = ()
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        _check_prefix(self.name_prefix, "name_prefix", allow_bare=False)
        _check_prefix(self.sweep_prefix, "sweep_prefix", allow_bare=True)
        object.__setattr__(self, "allowed_hosts",
                           frozenset(h.lower() for h in self.allowed_hosts))
        object.__setattr__(self, "base_path", "/" + self.base_path.strip("/"))

    @classmethod
    def for_vendor(cls, base_url: str, base_path: str, name_prefix: str, **kw: Any
                   ) -> SafetyPolicy:
        """Allow exactly the host of `base_url` (which must be https)."""
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"vendor base URL {base_url!r} must be https://host")
        return cls(name_prefix=name_prefix, base_path=base_path,
                   allowed_hosts=frozenset({parts.hostname}), **kw)


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
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def record(self, batch_id: str, name: str | None = None) -> None:
        with self._lock:
            self.created[batch_id] = name or ""

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


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key in JSON object")
    return dict(pairs)


def _route(path: str, base_path: str) -> tuple[str | None, str | None]:
    """(op, batch_id) for a decoded path under base_path, or (None, None)."""
    if not path.startswith(base_path + "/"):
        return None, None
    parts = path[len(base_path) + 1:].split("/")
    if parts == ["submit"]:
        return "submit", None
    if parts == ["workspace"]:
        return "list", None
    if len(parts) == 1 and parts[0]:
        return "batch", parts[0]
    if len(parts) == 2 and parts[0] and parts[1] in ("cancel", "retry", "export"):
        return parts[1], parts[0]
    return None, None


@dataclass
class _Plan:
    """What to do with the response of an allowed request."""

    op: str | None
    call_name: str | None = None


class _Guard:
    def __init__(self, policy: SafetyPolicy, ledger: Ledger | None) -> None:
        self.policy = policy
        self.ledger = ledger if ledger is not None else Ledger()

    def refuse(self, reason: str, request: httpx.Request) -> UnsafeRequest:
        exc = UnsafeRequest(reason, request)
        with self.ledger._lock:
            self.ledger.refusals.append(str(exc))
        return exc

    # -- before -----------------------------------------------------------------------------

    def before(self, request: httpx.Request) -> _Plan:
        """Raise UnsafeRequest or return a plan; `request.content` must already be read."""
        p = self.policy
        url = request.url
        host = (url.host or "").lower()
        if host not in p.allowed_hosts:
            raise self.refuse(f"host {host!r} is not allowed", request)
        if url.scheme != "https" and host not in LOOPBACK_HOSTS:
            raise self.refuse(f"scheme {url.scheme!r}: a non-loopback host needs https", request)
        method = request.method.upper()
        path = unquote(url.path)
        op, batch_id = _route(path, p.base_path)
        if method in SAFE_METHODS:
            return _Plan(op if method == "GET" else None)
        if host in LOOPBACK_HOSTS and any(path.startswith(x) for x in p.extra_mutating_paths):
            return _Plan(None)  # e.g. the mock's admin API; never honoured for a vendor host
        if method == "POST" and op == "submit":
            return self._submit(request)
        if (method == "POST" and op in ("cancel", "retry")) or (method == "DELETE"
                                                                and op == "batch"):
            what = "delete" if op == "batch" else op
            owned = batch_id in self.ledger.created
            swept = p.sweep_prefix is not None and batch_id in self.ledger.sweepable
            if op == "retry":
                if not owned:
                    raise self.refuse(f"retry of batch {batch_id!r} not created by this run",
                                      request)
                if not p.allow_dispatch:
                    raise self.refuse("retry may dial at once: needs allow_dispatch", request)
            elif not (owned or swept):
                raise self.refuse(f"{what} of batch {batch_id!r} not created by this run",
                                  request)
            return _Plan(None)
        raise self.refuse(f"{method} {path} is not a known batch-calling operation", request)

    def _submit(self, request: httpx.Request) -> _Plan:
        p = self.policy
        if request.headers.get("content-encoding", "identity").lower() != "identity":
            raise self.refuse("submit body is content-encoded: cannot inspect it", request)
        try:
            body = json.loads(request.content or b"null", object_pairs_hook=_no_duplicates)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.refuse(f"submit body is not valid JSON ({exc})", request) from None
        if not isinstance(body, dict):
            raise self.refuse("submit body is not a JSON object", request)
        name = body.get("call_name")
        if not isinstance(name, str) or not name.startswith(p.name_prefix):
            raise self.refuse(f"call_name {name!r} does not start with {p.name_prefix!r}",
                              request)
        recipients = body.get("recipients")
        if not isinstance(recipients, list):
            raise self.refuse("submit recipients is not an array", request)
        for i, recipient in enumerate(recipients):
            if not isinstance(recipient, dict):
                raise self.refuse(f"recipients[{i}] is not an object", request)
            if recipient.get("whatsapp_user_id") is not None and not p.allow_whatsapp:
                raise self.refuse(f"recipients[{i}] has a whatsapp_user_id (cannot be "
                                  f"fictional)", request)
            phone = recipient.get("phone_number")
            if phone is not None and not p.allow_any_phone and not is_fictional_phone(phone):
                raise self.refuse(f"recipients[{i}].phone_number {phone!r} is outside "
                                  f"+1NXX5550100..0199", request)
        if not p.allow_dispatch:
            when = body.get("scheduled_time_unix")
            if when is None:
                raise self.refuse("no scheduled_time_unix: the batch would dial now", request)
            if isinstance(when, bool) or not isinstance(when, int | float) or when != when:
                raise self.refuse(f"scheduled_time_unix {when!r} is not a number", request)
            earliest = p.clock() + p.min_schedule_ahead_s
            if when < earliest:
                raise self.refuse(f"scheduled_time_unix {when} is sooner than "
                                  f"{p.min_schedule_ahead_s}s from now", request)
        with self.ledger._lock:  # check-and-reserve, atomically
            if self.ledger.submits_sent + 1 > p.max_batches:
                raise self.refuse(f"cap: max_batches={p.max_batches} submits per run reached",
                                  request)
            if self.ledger.recipients_sent + len(recipients) > p.max_recipients:
                raise self.refuse(f"cap: {len(recipients)} more recipients would exceed "
                                  f"max_recipients={p.max_recipients} "
                                  f"({self.ledger.recipients_sent} sent)", request)
            self.ledger.submits_sent += 1
            self.ledger.recipients_sent += len(recipients)
        return _Plan("submit", call_name=name)

    # -- after ------------------------------------------------------------------------------

    def wants_body(self, plan: _Plan, response: httpx.Response) -> bool:
        if not 200 <= response.status_code < 300:
            return False
        if plan.op == "submit":
            return True
        return self.policy.sweep_prefix is not None and plan.op in ("list", "batch")

    def after(self, plan: _Plan, decoded: bytes) -> None:
        try:
            data = json.loads(decoded)
        except ValueError:
            data = None
        if plan.op == "submit":
            if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
                name = data.get("name") if isinstance(data.get("name"), str) else plan.call_name
                self.ledger.record(data["id"], name)
            else:
                with self.ledger._lock:
                    self.ledger.orphans.append(plan.call_name or "")
            return
        items: Iterable[Any] = ()
        if isinstance(data, dict):
            items = data.get("batch_calls") if plan.op == "list" else [data]
        prefix = self.policy.sweep_prefix
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, dict):
                continue
            batch_id, name = item.get("id"), item.get("name")
            if isinstance(batch_id, str) and isinstance(name, str) and name.startswith(prefix):
                with self.ledger._lock:
                    self.ledger.sweepable[batch_id] = name


def _rebuild(response: httpx.Response, raw: bytes) -> tuple[httpx.Response, bytes]:
    """A fresh response carrying the same raw bytes, and the decoded body."""
    fresh = httpx.Response(response.status_code, headers=response.headers,
                           stream=httpx.ByteStream(raw), extensions=response.extensions,
                           request=response._request)  # unset on a transport response
    decoded = httpx.Response(response.status_code, headers=response.headers,
                             stream=httpx.ByteStream(raw))
    try:
        body = decoded.read()
    except httpx.DecodingError:
        body = b""
    return fresh, body


class SafetyTransport(httpx.BaseTransport):
    """Wraps `inner`; refuses unsafe requests before they reach it (see module docstring)."""

    def __init__(self, inner: httpx.BaseTransport, policy: SafetyPolicy,
                 ledger: Ledger | None = None) -> None:
        self.inner = inner
        self.policy = policy
        self._guard = _Guard(policy, ledger)

    @property
    def ledger(self) -> Ledger:
        return self._guard.ledger

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        plan = self._guard.before(request)
        response = self.inner.handle_request(request)
        if not self._guard.wants_body(plan, response):
            return response
        if response.is_stream_consumed:  # already read (e.g. MockTransport): use it as is
            self._guard.after(plan, response.content)
            return response
        try:
            raw = b"".join(response.iter_raw())
        finally:
            response.close()
        fresh, body = _rebuild(response, raw)
        self._guard.after(plan, body)
        return fresh

    def close(self) -> None:
        self.inner.close()


class AsyncSafetyTransport(httpx.AsyncBaseTransport):
    """The async twin of `SafetyTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, policy: SafetyPolicy,
                 ledger: Ledger | None = None) -> None:
        self.inner = inner
        self.policy = policy
        self._guard = _Guard(policy, ledger)

    @property
    def ledger(self) -> Ledger:
        return self._guard.ledger

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        plan = self._guard.before(request)
        response = await self.inner.handle_async_request(request)
        if not self._guard.wants_body(plan, response):
            return response
        if response.is_stream_consumed:
            self._guard.after(plan, response.content)
            return response
        try:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        fresh, body = _rebuild(response, raw)
        self._guard.after(plan, body)
        return fresh

    async def aclose(self) -> None:
        await self.inner.aclose()


# ------------------------------------------------------------------------------- clients


def guarded_client(base_url: str, policy: SafetyPolicy, *, ledger: Ledger | None = None,
                   headers: Mapping[str, str] | None = None,
                   inner: httpx.BaseTransport | None = None, **kw: Any) -> httpx.Client:
    """An httpx.Client whose every request goes through a SafetyTransport (trust_env off, so
    no environment proxy mount can bypass it)."""
    transport = SafetyTransport(inner or httpx.HTTPTransport(), policy, ledger)
    return httpx.Client(base_url=base_url, headers=headers, transport=transport,
                        trust_env=False, **kw)


def is_guarded(client: httpx.Client | httpx.AsyncClient) -> bool:
    """True when every route of `client` ends in a safety transport (no bypassing mounts)."""
    kinds = (SafetyTransport, AsyncSafetyTransport)
    if not isinstance(getattr(client, "_transport", None), kinds):
        return False
    return all(t is None or isinstance(t, kinds) for t in getattr(client, "_mounts", {}).values())


# ------------------------------------------------------------------------------- teardown


@dataclass
class CleanupReport:
    deleted: list[str] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def _base_path(api: Any) -> str:
    base = api if isinstance(api, str) else api.base_path
    return "/" + base.strip("/")


def _cancel_delete(client: httpx.Client, base: str, batch_id: str, *, cancel: bool = True
                   ) -> str:
    """'deleted' or 'gone'; raises RuntimeError with a reason otherwise. Cancel errors other
    than transport failures are tolerated (a finished batch may refuse a cancel)."""
    url = f"{base}/{quote(batch_id, safe='')}"
    if cancel:
        client.post(f"{url}/cancel")
    response = client.delete(url)
    if response.status_code == 404:
        return "gone"
    if 200 <= response.status_code < 300:
        return "deleted"
    raise RuntimeError(f"delete answered {response.status_code}")


def cleanup(client: httpx.Client, ledger: Ledger, api: Any) -> CleanupReport:
    """Cancel then delete every batch in `ledger` (404 = already gone). `api` is a base path
    or anything with `.base_path` (a Profile). Never raises for one batch; see the report."""
    base = _base_path(api)
    report = CleanupReport()
    for batch_id in ledger.ids():
        try:
            outcome = _cancel_delete(client, base, batch_id)
        except (httpx.HTTPError, UnsafeRequest, RuntimeError) as exc:
            report.failed[batch_id] = str(exc)
            continue
        (report.deleted if outcome == "deleted" else report.already_gone).append(batch_id)
        ledger.forget(batch_id)
    return report


class SweepError(RuntimeError):
    """Some batches could not be swept; `swept` holds those that were."""

    def __init__(self, swept: list[str], errors: dict[str, str]) -> None:
        self.swept = swept
        self.errors = errors
        super().__init__(f"sweep: {len(errors)} batch(es) not deleted: {errors}; "
                         f"swept {len(swept)}")


def sweep(client: httpx.Client, base_path: str, prefix: str, now: float, *,
          min_age_s: int = 0, dry_run: bool = False, limit: int = 100,
          max_pages: int = 1000) -> list[str]:
    """Cancel and delete every batch whose name starts with `prefix` (which must start with
    ``cst-``) and which was created at least `min_age_s` before `now` (so a concurrent run's
    fresh batches survive). Pages through the list (``next_doc`` → ``last_doc``) first, then
    acts. Returns the ids swept (with `dry_run`, the ids that would be). Raises RuntimeError
    when the list fails, `SweepError` when some deletes failed (after trying every batch).

    Through a `SafetyTransport`, the policy needs ``sweep_prefix`` covering `prefix`.
    """
    _check_prefix(prefix, "sweep prefix", allow_bare=True)
    base = _base_path(base_path)
    found: dict[str, Mapping[str, Any]] = {}
    cursor: str | None = None
    seen_cursors: set[str] = set()
    for _ in range(max_pages):
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["last_doc"] = cursor
        response = client.get(f"{base}/workspace", params=params)
        if response.status_code != 200:
            raise RuntimeError(f"sweep: list answered {response.status_code}")
        page = response.json()
        for item in page.get("batch_calls") or ():
            name, created = item.get("name"), item.get("created_at_unix")
            if not (isinstance(name, str) and name.startswith(prefix)):
                continue
            if not isinstance(item.get("id"), str):
                continue
            if min_age_s and isinstance(created, int) and created > now - min_age_s:
                continue
            found.setdefault(item["id"], item)
        cursor = page.get("next_doc")
        if not page.get("has_more") or not cursor or cursor in seen_cursors:
            break
        seen_cursors.add(cursor)
    if dry_run:
        return list(found)
    swept: list[str] = []
    errors: dict[str, str] = {}
    for batch_id, item in found.items():
        try:
            _cancel_delete(client, base, batch_id,
                           cancel=item.get("status") in ("pending", "in_progress"))
        except (httpx.HTTPError, UnsafeRequest, RuntimeError) as exc:
            errors[batch_id] = str(exc)
            continue
        swept.append(batch_id)
    if errors:
        raise SweepError(swept, errors)
    return swept
