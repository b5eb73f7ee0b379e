r"""Live-run safety, enforced in the HTTP transport.

A live run talks to a vendor that rings real phones. Every request goes through
`SafetyTransport` (sync) or `AsyncSafetyTransport`, which inspects it *before* it leaves the
process and raises `UnsafeRequest` (nothing sent) unless all of these hold:

* the host is one of ``policy.allowed_hosts`` (exact, case-insensitive; default loopback
  only), a non-loopback host uses https, the ``Host`` header names exactly the URL's host and
  port, and no routing header (``X-Forwarded-Host``, ``Forwarded``, ``X-Original-URL`` and
  kin) asks a proxy or framework to route elsewhere;
* the path is read once from the raw URL (percent-decoded once) and has no ``.``/``..``
  segment and no encoded ``/``; a mutating request's path has, once decoded, no ``%XX``
  left (a server decoding twice reads another path), no ``\``, ``;`` or control character;
* no request asks for another method (``X-HTTP-Method-Override`` and kin, or a ``_method``
  query parameter): GET/HEAD/OPTIONS with no body are then reads, and safe;
* any other method must be an operation of the dialect's table (conformance.api) with that
  method: submit, cancel, retry, delete (or a path under one of
  ``policy.extra_mutating_paths``, whole segments, loopback hosts only, e.g. the mock admin
  API);
* every mutating body and query: every phone-number-like run in any string (NFKC-folded, so
  full-width digits count; digits of any script; separators: spaces of any kind, dashes of
  any kind, minus signs and middle dots, ``_ / \ . ( )``; invisible format characters such
  as zero-width spaces are dropped), read as every window of its digit groups of 10-15
  digits (so a real number beside a fictional one is seen), and every integer or integral
  float of 11-15 digits, anywhere in it (keys too) is in the fictional range
  ``+1 NXX 555-0100..0199``; a recipient's ``phone_number`` is exactly that form (a string,
  ASCII digits, nothing around it);
* submit: the body is JSON (duplicate keys refused: a server may read another copy); a body
  that names no one to call (no ``recipients`` array, or no recipient object carrying a phone
  number or WhatsApp id) cannot place a call and is sent as it is (request validation is
  tested live too); otherwise ``call_name`` starts with ``policy.name_prefix``, no recipient
  has a ``whatsapp_user_id`` (unless ``policy.allow_whatsapp``), and unless
  ``policy.allow_dispatch`` the body has an integer ``scheduled_time_unix`` between
  ``policy.min_schedule_ahead_s`` and ``policy.max_schedule_ahead_s`` after ``policy.clock()``;
  the run's caps ``policy.max_batches`` submits and ``policy.max_recipients`` recipients hold
  (counted when sent, whatever the answer: a timed-out submit may still have created a batch);
* cancel/delete: the batch was created by this run (id read from a 2xx submit response into
  the `Ledger`) or, when ``policy.sweep_prefix`` is set, was seen in a list/get response with a
  name starting with that prefix;
* retry: the batch was created by this run *and* ``policy.allow_dispatch`` (a retry may dial at
  once, whatever the original schedule).

Redirects are never followed: a guarded client has ``follow_redirects=False``, and a request
httpx builds to follow a redirect the transport answered (a client built by hand with
``follow_redirects=True``, or ``follow_redirects=True`` on one request) is refused (rule
``redirect``), so a key is never forwarded to another origin and no id from elsewhere is
recorded as owned.
`explain(request)` answers "would this be refused, and why" without sending or counting.

Caps and ownership live in the `Ledger`; share one ledger between all clients of a run.

Bypass warning: a client's ``mounts=`` (and the proxy mounts that ``proxy=`` creates) are used
*instead of* ``transport=`` for the URLs they match. httpx 0.28 ignores HTTP(S)_PROXY when a
transport is given, but older/newer versions may not. Build clients with `guarded_client`
(``trust_env=False``, no mounts) or check them with `is_guarded`.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from conformance.api import (
    FICTIONAL_PHONE,
    MIN_SCHEDULE_AHEAD_S,
    SAFE_METHODS,
    Api,
    is_fictional_phone,
)

__all__ = [
    "AsyncSafetyTransport",
    "FICTIONAL_PHONE",
    "LOOPBACK_HOSTS",
    "Ledger",
    "SUITE_PREFIX",
    "SafetyPolicy",
    "SafetyTransport",
    "UnsafeRequest",
    "check_prefix",
    "guarded_client",
    "is_fictional_phone",
    "is_guarded",
    "name_prefix",
    "new_run_id",
]

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
#: What may hold a phone number inside a string (after `_fold`): an optional +, then digits
#: with separators between them. Its digit groups are read in every window of 10 to 15
#: digits (E.164 allows 15; 10 is a national US number). Digits of any script count (a
#: server may read them as digits).
_PHONE_LIKE = re.compile(r"\+?\d[\d ().-]*\d")
_GROUP_SPLIT = re.compile(r"[ ().+-]+")
#: Separator-like characters outside `_fold`'s Unicode categories: minus sign, middle dots.
_EXTRA_SEPARATORS = frozenset("_/\\\t\n\r\v\f\u2212\u00b7\u2027\u2219\u30fb")


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


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def _fold(text: str) -> str:
    """`text` as a server might read a number in it: NFKC (full-width digits and plus become
    ASCII), invisible format characters (zero-width space, joiners, BOM) dropped, every space,
    dash and connector of any script, ``_``, ``/`` and ``\\`` turned into a plain space."""
    out = []
    for c in unicodedata.normalize("NFKC", text):
        kind = unicodedata.category(c)
        if kind == "Cf":
            continue
        out.append(" " if kind in ("Zs", "Zl", "Zp", "Pd", "Pc") or c in _EXTRA_SEPARATORS
                   else c)
    return "".join(out)


def _windows(run: str) -> list[str]:
    """Every run of consecutive digit groups in `run` with 10 to 15 digits, as +digits."""
    groups = [_ascii_digits(g) for g in _GROUP_SPLIT.split(run) if g]
    found = []
    for i in range(len(groups)):
        digits = ""
        for group in groups[i:]:
            digits += group
            if len(digits) > 15:
                break
            if len(digits) >= 10:
                found.append("+" + digits)
    return found


def phone_likes(value: Any) -> list[str]:
    """Every phone-number-like run in `value` (a string, or an integer or integral part of
    a float of 11 to 15 digits: ten digits is every unix time), as +digits."""
    if isinstance(value, bool):
        return []
    if isinstance(value, float):
        if not math.isfinite(value):
            return []
        value = int(value)
    if isinstance(value, int):
        text = str(abs(value))
        return ["+" + text] if 11 <= len(text) <= 15 else []
    if not isinstance(value, str):
        return []
    found = []
    for run in _PHONE_LIKE.findall(_fold(value)):
        found.extend(_windows(run))
    return found


def _fictional_digits(number: str) -> bool:
    """+digits (from phone_likes) in the fictional range, with or without the country code."""
    bare = number.lstrip("+")
    return is_fictional_phone("+" + bare) or (len(bare) == 10 and is_fictional_phone("+1" + bare))


def real_numbers(document: Any, where: str = "") -> list[str]:
    """Every place in `document` (keys and values, any depth) holding what may be a real
    phone number, as 'pointer: value'."""
    found: list[str] = []
    stack = [(where, document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                stack.append((f"{path}/{key}", value))
                stack.append((f"{path}/{key}(key)", key))
        elif isinstance(node, list):
            stack.extend((f"{path}/{i}", v) for i, v in enumerate(node))
        elif any(not _fictional_digits(n) for n in phone_likes(node)):
            found.append(f"{path or '/'}: {node!r}")
    return sorted(found)


@dataclass(frozen=True)
class SafetyPolicy:
    """What a run may send. Defaults are the safe ones: loopback only, nothing dialled."""

    name_prefix: str
    base_path: str = "/v1/convai/batch-calling"
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    min_schedule_ahead_s: int = MIN_SCHEDULE_AHEAD_S
    max_schedule_ahead_s: int = MAX_SCHEDULE_AHEAD_S
    allow_dispatch: bool = False
    max_batches: int = 20
    max_recipients: int = 50
    allow_any_phone: bool = False
    allow_whatsapp: bool = False
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
    def for_vendor(cls, base_url: str, base_path: str, name_prefix: str, **kw: Any
                   ) -> SafetyPolicy:
        """Allow exactly the host of `base_url` (which must be https)."""
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"vendor base URL {base_url!r} must be https://host")
        return cls(name_prefix=name_prefix, base_path=base_path,
                   allowed_hosts=frozenset({parts.hostname}), **kw)

    @property
    def api(self) -> Api:
        """The operation table, with its paths under this policy's base path."""
        from conformance.api import api_for

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
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def record(self, batch_id: str, name: str | None = None) -> None:
        with self._lock:
            self.created.setdefault(batch_id, name or "")

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


def _decoded_path(url: httpx.URL) -> str | None:
    """The path, percent-decoded exactly once from the raw URL; None when it hides
    structure (an encoded '/', a '.' or '..' segment) a server might resolve otherwise."""
    raw = url.raw_path.split(b"?", 1)[0].decode("ascii", "replace")
    segments = raw.split("/")
    decoded = [unquote(s) for s in segments]
    if any("/" in d or d in (".", "..") for d in decoded):
        return None
    return "/".join(decoded)


_STILL_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")


def _ambiguous(path: str) -> str | None:
    """What in a once-decoded path another server would read differently, or None."""
    if _STILL_ENCODED.search(path):
        return "a '%XX' left after decoding once (a server decoding twice reads another path)"
    for c in path:
        if c in "\\;":
            return f"{c!r} (a server may read it as a separator)"
        if unicodedata.category(c) in ("Cc", "Cf") or c == "\ufffd":
            return f"the character {c!r}"
    return None


def _host_matches(named: str, url: httpx.URL) -> bool:
    """The Host header names exactly the URL's host and port (the default one may be
    omitted or spelt out), nothing else (no user info, no space, no second host)."""
    m = _HOST_HEADER.fullmatch(named)
    if m is None:
        return False
    host = (m["v6"] or m["name"]).lower()
    default = _DEFAULT_PORTS.get(url.scheme)
    port = int(m["port"]) if m["port"] else default
    return host == (url.host or "").lower() and port == (url.port or default)


def _under(path: str, prefix: str) -> bool:
    """`path` is `prefix` or below it, by whole segments."""
    base = prefix.rstrip("/")
    return path == base or path.startswith(base + "/")


@dataclass
class _Plan:
    """What to do with the response of an allowed request."""

    op: str | None
    call_name: str | None = None


def _calls_someone(body: Any) -> bool:
    """Whether a submit body names anyone a server could call."""
    recipients = body.get("recipients") if isinstance(body, dict) else None
    if not isinstance(recipients, list):
        return False
    return any(isinstance(r, dict) and any(r.get(k) not in (None, "")
                                           for k in ("phone_number", "whatsapp_user_id"))
               for r in recipients)


class _Guard:
    def __init__(self, policy: SafetyPolicy, ledger: Ledger | None) -> None:
        self.policy = policy
        self.ledger = ledger if ledger is not None else Ledger()

    def refuse(self, reason: str, request: httpx.Request, rule: str, *,
               count: bool = True) -> UnsafeRequest:
        exc = UnsafeRequest(reason, request, rule)
        if count:
            with self.ledger._lock:
                self.ledger.refusals.append(str(exc))
        return exc

    # -- before -----------------------------------------------------------------------------

    def before(self, request: httpx.Request, *, reserve: bool = True) -> _Plan:
        """Raise UnsafeRequest or return a plan; `request.content` must already be read.
        `reserve=False` only asks (nothing is counted, no refusal is logged)."""
        p = self.policy

        def refuse(reason: str, rule: str) -> UnsafeRequest:
            return self.refuse(reason, request, rule, count=reserve)

        url = request.url
        host = (url.host or "").lower()
        if host not in p.allowed_hosts:
            raise refuse(f"host {host!r} is not allowed", "host")
        if url.scheme != "https" and host not in LOOPBACK_HOSTS:
            raise refuse(f"scheme {url.scheme!r}: a non-loopback host needs https", "host")
        if request.extensions.get(_REDIRECTED):
            raise refuse("a redirect is being followed (redirects are never followed: the key "
                         "would go with it)", "redirect")
        named = request.headers.get_list("host")
        if len(named) != 1 or not _host_matches(named[0], url):
            raise refuse(f"Host header {', '.join(named)!r} does not name "
                         f"{url.netloc.decode('ascii')!r}",
                         "host")
        routing = [h for h in ROUTING_HEADERS if h in request.headers]
        if routing:
            raise refuse(f"routing header {routing[0]} (a proxy may route by it)", "host")
        path = _decoded_path(url)
        if path is None:
            raise refuse(f"path {url.raw_path!r} hides its structure (encoded '/' or a dot "
                         "segment)", "path")
        method = request.method.upper()
        override = [h for h in METHOD_OVERRIDES if h in request.headers]
        override += [f"?{k}" for k in url.params if k.lower() in METHOD_OVERRIDE_PARAMS]
        if method in SAFE_METHODS:
            if request.content:
                raise refuse(f"{method} with a body", "safe-method")
            if override:
                raise refuse(f"{method} with a method override ({override[0]})", "safe-method")
            found = p.api.match("GET", path) if method == "GET" else None
            return _Plan(found[0].name if found else None)
        if override:
            raise refuse(f"{method} with a method override ({override[0]})", "method-override")
        why = _ambiguous(path)
        if why is not None:
            raise refuse(f"path {url.raw_path!r} has {why}", "path")
        self._no_real_numbers_in_query(request, refuse)
        if host in LOOPBACK_HOSTS and any(_under(path, x) for x in p.extra_mutating_paths):
            return _Plan(None)  # e.g. the mock's admin API; never honoured for a vendor host
        found = p.api.match(method, path)
        if found is None or not found[0].mutating:
            raise refuse(f"{method} {path} is not a known batch-calling operation", "operation")
        op, params = found
        if op.name == "submit":
            return self._submit(request, refuse, reserve)
        self._no_real_numbers(request, refuse)
        batch_id = params.get("batch_id")
        owned = batch_id in self.ledger.created
        swept = p.sweep_prefix is not None and batch_id in self.ledger.sweepable
        if op.name == "retry":
            if not owned:
                raise refuse(f"retry of batch {batch_id!r} not created by this run", "owner")
            if not p.allow_dispatch:
                raise refuse("retry may dial at once: needs allow_dispatch", "dispatch")
        elif not (owned or swept):
            raise refuse(f"{op.name} of batch {batch_id!r} not created by this run", "owner")
        return _Plan(None)

    def _no_real_numbers_in_query(self, request: httpx.Request, refuse) -> None:
        """A server may merge query parameters into the body: they are scanned too."""
        if self.policy.allow_any_phone:
            return
        params = [[k, v] for k, v in request.url.params.multi_items()]
        real = real_numbers(params, "?")
        if real:
            raise refuse(f"what may be a real phone number in the query at {real[0]} (only "
                         "+1NXX5550100..0199 is sent)", "phone")

    def _no_real_numbers(self, request: httpx.Request, refuse) -> Any:
        if not request.content:
            return None
        if request.headers.get("content-encoding", "identity").lower() != "identity":
            raise refuse("body is content-encoded: cannot inspect it", "body")
        try:
            body = json.loads(request.content, object_pairs_hook=_no_duplicates)
        except (ValueError, UnicodeDecodeError) as exc:
            raise refuse(f"body is not valid JSON ({exc})", "body") from None
        if not self.policy.allow_any_phone:
            prefix = self.policy.name_prefix
            name = body.get("call_name") if isinstance(body, dict) else None
            scanned = body
            if isinstance(name, str) and name.startswith(prefix):
                # The run's own prefix (a run id with a time in it) is not a phone number.
                scanned = {**body, "call_name": name[len(prefix):]}
            real = real_numbers(scanned)
            if real:
                raise refuse(f"what may be a real phone number at {real[0]} (only "
                             "+1NXX5550100..0199 is sent)", "phone")
        return body

    def _submit(self, request: httpx.Request, refuse, reserve: bool) -> _Plan:
        p = self.policy
        if not request.content:
            body = None
        else:
            body = self._no_real_numbers(request, refuse)
        name = body.get("call_name") if isinstance(body, dict) else None
        recipients = body.get("recipients") if isinstance(body, dict) else None
        count = len(recipients) if isinstance(recipients, list) else 0
        if _calls_someone(body):
            if not isinstance(name, str) or not name.startswith(p.name_prefix):
                raise refuse(f"call_name {name!r} does not start with {p.name_prefix!r}",
                             "name")
            for i, recipient in enumerate(recipients):
                if not isinstance(recipient, dict):
                    continue
                if recipient.get("whatsapp_user_id") is not None and not p.allow_whatsapp:
                    raise refuse(f"recipients[{i}] has a whatsapp_user_id (cannot be "
                                 "fictional)", "phone")
                phone = recipient.get("phone_number")
                if phone is not None and not p.allow_any_phone and not is_fictional_phone(phone):
                    raise refuse(f"recipients[{i}].phone_number {phone!r} is not exactly "
                                 "+1NXX5550100..0199", "phone")
            if not p.allow_dispatch:
                self._held(body.get("scheduled_time_unix"), refuse)
        with self.ledger._lock:  # check-and-reserve, atomically
            if self.ledger.submits_sent + 1 > p.max_batches:
                raise refuse(f"cap: max_batches={p.max_batches} submits per run reached", "cap")
            if self.ledger.recipients_sent + count > p.max_recipients:
                raise refuse(f"cap: {count} more recipients would exceed max_recipients="
                             f"{p.max_recipients} ({self.ledger.recipients_sent} sent)", "cap")
            if reserve:
                self.ledger.submits_sent += 1
                self.ledger.recipients_sent += count
        return _Plan("submit", call_name=name if isinstance(name, str) else None)

    def _held(self, when: Any, refuse) -> None:
        """The batch must not start: an integer schedule inside the policy's window."""
        p = self.policy
        if when is None:
            raise refuse("no scheduled_time_unix: the batch would dial now", "dispatch")
        if isinstance(when, bool) or not isinstance(when, int):
            finite = isinstance(when, float) and math.isfinite(when)
            raise refuse(f"scheduled_time_unix {when!r} is not a number of seconds (an "
                         "integer" + ("" if finite else ", finite") + ")", "dispatch")
        now = p.clock()
        if when < now + p.min_schedule_ahead_s:
            raise refuse(f"scheduled_time_unix {when} is sooner than "
                         f"{p.min_schedule_ahead_s}s from now", "dispatch")
        if when > now + p.max_schedule_ahead_s:
            raise refuse(f"scheduled_time_unix {when} is more than {p.max_schedule_ahead_s}s "
                         "ahead (a millisecond timestamp?)", "dispatch")

    # -- after ------------------------------------------------------------------------------

    def wants_body(self, plan: _Plan, response: httpx.Response) -> bool:
        if not 200 <= response.status_code < 300:
            return False
        if plan.op == "submit":
            return True
        return self.policy.sweep_prefix is not None and plan.op in ("list", "get")

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

    def explain(self, request: httpx.Request) -> str | None:
        """Why `request` would be refused (None: it would be sent). Counts nothing."""
        request.read()
        try:
            self.before(request, reserve=False)
        except UnsafeRequest as exc:
            return exc.reason
        return None


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


def _mark_redirect(request: httpx.Request, response: httpx.Response) -> None:
    """Mark a request answered by a redirect: httpx copies the mark into the request it
    builds to follow it, and the guard refuses that one (whatever the client's settings)."""
    if response.status_code in _REDIRECT_CODES and "location" in response.headers:
        request.extensions[_REDIRECTED] = True


class _GuardedTransport:
    """What both transports share: the guard, its ledger and `explain`."""

    def __init__(self, inner, policy: SafetyPolicy, ledger: Ledger | None = None) -> None:
        self.inner = inner
        self.policy = policy
        self._guard = _Guard(policy, ledger)

    @property
    def ledger(self) -> Ledger:
        return self._guard.ledger

    def explain(self, request: httpx.Request) -> str | None:
        return self._guard.explain(request)


class SafetyTransport(_GuardedTransport, httpx.BaseTransport):
    """Wraps `inner`; refuses unsafe requests before they reach it (see module docstring)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        plan = self._guard.before(request)
        response = self.inner.handle_request(request)
        _mark_redirect(request, response)
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


class AsyncSafetyTransport(_GuardedTransport, httpx.AsyncBaseTransport):
    """The async twin of `SafetyTransport`."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        plan = self._guard.before(request)
        response = await self.inner.handle_async_request(request)
        _mark_redirect(request, response)
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
    no environment proxy mount can bypass it; redirects never followed)."""
    if kw.pop("follow_redirects", False):
        raise ValueError("a guarded client never follows redirects")
    transport = SafetyTransport(inner or httpx.HTTPTransport(), policy, ledger)
    return httpx.Client(base_url=base_url, headers=headers, transport=transport,
                        trust_env=False, follow_redirects=False, **kw)


def is_guarded(client: httpx.Client | httpx.AsyncClient) -> bool:
    """True when every route of `client` ends in a safety transport (no bypassing mounts)
    and it does not follow redirects."""
    kinds = (SafetyTransport, AsyncSafetyTransport)
    if not isinstance(getattr(client, "_transport", None), kinds) or client.follow_redirects:
        return False
    return all(t is None or isinstance(t, kinds) for t in getattr(client, "_mounts", {}).values())
