"""The guarded transports (sync and async) and clients built on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from conformance.safety.guard import _Guard
from conformance.safety.policy import (
    _REDIRECT_CODES,
    _REDIRECTED,
    Ledger,
    SafetyPolicy,
)


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

    def __init__(self, inner: Any, policy: SafetyPolicy, ledger: Ledger | None = None) -> None:
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
        response: httpx.Response = self.inner.handle_request(request)
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
        response: httpx.Response = await self.inner.handle_async_request(request)
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
