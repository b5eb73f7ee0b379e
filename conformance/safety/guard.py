"""The guard: every rule of conformance.safety applied to one request before it is sent, and
what is learned from the answer (the ids a run owns)."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from conformance.api import SAFE_METHODS
from conformance.fictional import is_fictional_phone, is_fictional_whatsapp_id
from conformance.safety.numbers import real_numbers
from conformance.safety.policy import (
    _DEFAULT_PORTS,
    _HOST_HEADER,
    _REDIRECTED,
    LOOPBACK_HOSTS,
    METHOD_OVERRIDE_PARAMS,
    METHOD_OVERRIDES,
    ROUTING_HEADERS,
    Ledger,
    SafetyPolicy,
    UnsafeRequest,
)


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


#: How a check refuses: `raise refuse(reason, rule)`.
Refuse = Callable[[str, str], "UnsafeRequest"]


def _calls_someone(body: Any) -> bool:
    """Whether a submit body names anyone a server could call."""
    recipients = body.get("recipients") if isinstance(body, dict) else None
    if not isinstance(recipients, list):
        return False
    return any(isinstance(r, dict) and any(r.get(k) not in (None, "")
                                           for k in ("phone_number", "whatsapp_user_id"))
               for r in recipients)


def _without_own_whatsapp_number(body: Any, configured: str | None) -> Any:
    """The body without `whatsapp_params.whatsapp_phone_number_id` when it is exactly the
    configured one: the run's own WhatsApp sender (a vendor id that may be all digits), not
    somebody to call. Any other value there is scanned like the rest."""
    params = body.get("whatsapp_params") if isinstance(body, dict) else None
    if configured is None or not isinstance(params, dict):
        return body
    if params.get("whatsapp_phone_number_id") != configured:
        return body
    rest = {k: v for k, v in params.items() if k != "whatsapp_phone_number_id"}
    return {**body, "whatsapp_params": rest}


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

    def _no_real_numbers_in_query(self, request: httpx.Request, refuse: Refuse) -> None:
        """A server may merge query parameters into the body: they are scanned too."""
        if self.policy.allow_any_phone:
            return
        params = [[k, v] for k, v in request.url.params.multi_items()]
        real = real_numbers(params, "?")
        if real:
            raise refuse(f"what may be a real phone number in the query at {real[0]} (only "
                         "+1NXX5550100..0199 is sent)", "phone")

    def _no_real_numbers(self, request: httpx.Request, refuse: Refuse) -> Any:
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
            scanned = _without_own_whatsapp_number(scanned, self.policy.whatsapp_phone_number_id)
            real = real_numbers(scanned)
            if real:
                raise refuse(f"what may be a real phone number at {real[0]} (only "
                             "+1NXX5550100..0199 is sent)", "phone")
        return body

    def _submit(self, request: httpx.Request, refuse: Refuse, reserve: bool) -> _Plan:
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
            assert isinstance(body, dict) and isinstance(recipients, list)  # _calls_someone
            for i, recipient in enumerate(recipients):
                if not isinstance(recipient, dict):
                    continue
                whatsapp = recipient.get("whatsapp_user_id")
                if (whatsapp is not None and not p.allow_whatsapp
                        and not is_fictional_whatsapp_id(whatsapp)):
                    raise refuse(f"recipients[{i}].whatsapp_user_id {whatsapp!r} is not exactly "
                                 "1NXX5550100..0199 (the digits of a fictional number)", "phone")
                phone = recipient.get("phone_number")
                if phone is not None and not p.allow_any_phone and not is_fictional_phone(phone):
                    raise refuse(f"recipients[{i}].phone_number {phone!r} is not exactly "
                                 "+1NXX5550100..0199", "phone")
            if not p.allow_dispatch:
                self._held(body.get("scheduled_time_unix"), refuse)
        with self.ledger._lock:  # check-and-reserve, atomically
            if self.ledger.submits_sent + 1 > p.max_batches:
                raise refuse(f"cap: max_batches={p.max_batches} submits per run reached", "cap")
            allowance = name if isinstance(name, str) else ""
            allowed = (allowance in self.ledger.allowances
                       and count <= self.ledger.allowances[allowance])
            if not allowed and self.ledger.recipients_sent + count > p.max_recipients:
                raise refuse(f"cap: {count} more recipients would exceed max_recipients="
                             f"{p.max_recipients} ({self.ledger.recipients_sent} sent)", "cap")
            if reserve:
                self.ledger.submits_sent += 1
                if allowed:  # the named boundary submit: its allowance, used once
                    del self.ledger.allowances[allowance]
                else:
                    self.ledger.recipients_sent += count
        return _Plan("submit", call_name=name if isinstance(name, str) else None)

    def _held(self, when: Any, refuse: Refuse) -> None:
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
        items: Any = ()
        if isinstance(data, dict):
            items = data.get("batch_calls") if plan.op == "list" else [data]
        prefix = self.policy.sweep_prefix
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, dict):
                continue
            batch_id, name = item.get("id"), item.get("name")
            if (isinstance(batch_id, str) and isinstance(name, str) and prefix is not None
                    and name.startswith(prefix)):
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


