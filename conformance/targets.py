"""Targets: where the suite's requests go, chosen by one option.

    mock              the embedded mock, in-process (default), elevenlabs dialect
    mock:<fault>      the same mock with one named deliberate bug
    cassette:<vendor> recorded exchanges replayed, network blocked
    live:<vendor>     a real endpoint: <VENDOR>_BASE_URL and <VENDOR>_API_KEY

Tests never learn which: they receive a `client` (an httpx.Client whose every response is
validated against the spec as it arrives) and an `Api` that knows the dialect's paths.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from conformance.profiles import VENDORS, Profile, ProfileError, load_profile
from conformance.spec import find_operation, validate_response

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
MOCK_KEYS = ("mock-key-local", "mock-key-other")  # = conformance.mock.app.DEFAULT_KEYS
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class TargetError(Exception):
    """The suite cannot run against this target; the message is one line for the user."""


class ContractViolation(AssertionError):
    """A response broke the spec."""


@dataclass(frozen=True)
class Target:
    text: str
    kind: str  # mock | cassette | live
    vendor: str  # the dialect's profile name
    fault: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    other_api_key: str | None = None

    @property
    def profile(self) -> Profile:
        return load_profile(self.vendor)

    @property
    def deviations_profile(self) -> Profile:
        return load_profile("mock" if self.kind == "mock" else self.vendor)

    @property
    def controls_time(self) -> bool:
        """Only the in-process mock lets a test move time; elsewhere tests poll."""
        return self.kind == "mock"

    def check_ready(self) -> None:
        if self.kind != "live":
            return
        env = self.profile
        if not self.api_key:
            raise TargetError(
                f"{self.text}: no API key; set {env.api_key_env} (the key is never written "
                "to a file)")
        if not self.base_url:
            raise TargetError(f"{self.text}: no base URL; set {env.base_url_env}")
        scheme = urlsplit(self.base_url).scheme
        if scheme not in ("http", "https"):
            raise TargetError(f"{self.text}: {env.base_url_env}={self.base_url!r} is not a URL")

    def check_reachable(self, timeout: float = 5.0) -> None:
        if self.kind != "live":
            return
        try:
            httpx.get(self.base_url, timeout=timeout)
        except httpx.HTTPError as exc:
            raise TargetError(f"{self.text}: {self.base_url} is unreachable ({exc})") from None


def parse_target(text: str, env=os.environ) -> Target:
    kind, _, arg = text.partition(":")
    try:
        if kind == "mock":
            return Target(text, "mock", "elevenlabs", fault=arg or None,
                          base_url="http://mock.invalid", api_key=MOCK_KEYS[0],
                          other_api_key=MOCK_KEYS[1])
        if kind in ("live", "cassette"):
            if arg not in VENDORS:
                raise TargetError(f"{text}: unknown vendor {arg!r} (known: {', '.join(VENDORS)})")
            profile = load_profile(arg)
            if kind == "cassette":
                # Keys were filtered out of the recording; these only select the workspace.
                return Target(text, "cassette", arg, base_url="http://127.0.0.1:9",
                              api_key="cassette-replay-key",
                              other_api_key="cassette-replay-other-key")
            return Target(text, "live", arg,
                          base_url=(env.get(profile.base_url_env) or "").rstrip("/") or None,
                          api_key=env.get(profile.api_key_env) or None,
                          other_api_key=env.get(f"{arg.upper()}_OTHER_API_KEY") or None)
    except ProfileError as exc:
        raise TargetError(str(exc)) from None
    raise TargetError(
        f"unknown target {text!r}: use mock, mock:<fault>, cassette:<vendor> or live:<vendor>")


class Api:
    """The dialect's paths, so tests never spell a base path."""

    def __init__(self, profile: Profile):
        self.base = profile.base_path
        self.auth_header = profile.auth_header

    def submit(self) -> str:
        return f"{self.base}/submit"

    def list(self) -> str:
        return f"{self.base}/workspace"

    def get(self, batch_id: str) -> str:
        return f"{self.base}/{batch_id}"

    delete = get

    def cancel(self, batch_id: str) -> str:
        return f"{self.base}/{batch_id}/cancel"

    def retry(self, batch_id: str) -> str:
        return f"{self.base}/{batch_id}/retry"

    def export(self, batch_id: str) -> str:
        return f"{self.base}/{batch_id}/export"


@dataclass
class Exchange:
    """One request and its response, kept for reports."""

    method: str
    url: str
    request_body: str
    status: int
    response_body: str
    operation: str | None

    def describe(self, limit: int = 2000) -> tuple[str, str]:
        request = f"{self.method} {self.url}\n{self.request_body}"[:limit]
        response = f"{self.status}\n{self.response_body}"[:limit]
        return request, response


BATCH_STATUS_SCHEMA = "BatchCallStatus"
RECIPIENT_STATUS_SCHEMA = "BatchCallRecipientStatus"
PROVIDER_SCHEMA = "TelephonyProvider"


@dataclass
class Coverage:
    """What the suite actually exercised: operations, status codes, enum values, transitions."""

    operations: dict = field(default_factory=dict)
    status_codes: dict = field(default_factory=dict)
    enums: dict = field(default_factory=dict)
    transitions: dict = field(default_factory=lambda: {"batch": {}, "recipient": {}})
    _last_batch: dict = field(default_factory=dict)
    _last_recipient: dict = field(default_factory=dict)

    @staticmethod
    def _bump(table: dict, key: str) -> None:
        table[key] = table.get(key, 0) + 1

    def _enum(self, schema: str, value) -> None:
        if isinstance(value, str):
            self._bump(self.enums.setdefault(schema, {}), value)

    def _batch(self, batch: dict) -> None:
        if not isinstance(batch, dict) or "id" not in batch:
            return
        self._enum(BATCH_STATUS_SCHEMA, batch.get("status"))
        self._enum(PROVIDER_SCHEMA, batch.get("phone_provider"))
        previous = self._last_batch.get(batch["id"])
        if previous and previous != batch.get("status"):
            self._bump(self.transitions["batch"], f"{previous}->{batch.get('status')}")
        self._last_batch[batch["id"]] = batch.get("status")
        for recipient in batch.get("recipients") or []:
            if not isinstance(recipient, dict):
                continue
            self._enum(RECIPIENT_STATUS_SCHEMA, recipient.get("status"))
            key = (batch["id"], recipient.get("id"))
            before = self._last_recipient.get(key)
            if before and before != recipient.get("status"):
                self._bump(self.transitions["recipient"], f"{before}->{recipient.get('status')}")
            self._last_recipient[key] = recipient.get("status")

    def observe(self, operation: str | None, status: int, body) -> None:
        if operation is None:
            return
        self._bump(self.operations, operation)
        self._bump(self.status_codes, f"{operation} {status}")
        if not 200 <= status < 300 or not isinstance(body, dict):
            return
        if operation == "listBatchCalls":
            for item in body.get("batch_calls") or []:
                if isinstance(item, dict):
                    self._enum(BATCH_STATUS_SCHEMA, item.get("status"))
        else:
            self._batch(body)

    def as_json(self) -> str:
        return json.dumps({"operations": self.operations, "status_codes": self.status_codes,
                           "enums": self.enums, "transitions": self.transitions},
                          sort_keys=True)


class ResponseValidator:
    """An httpx response hook: validates against the spec, records exchanges and coverage."""

    def __init__(self, spec: dict, coverage: Coverage | None = None):
        self.spec = spec
        self.coverage = coverage if coverage is not None else Coverage()
        self.exchanges: list[Exchange] = []
        self.violations: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        path = request.url.path
        found = find_operation(self.spec, request.method, path)
        operation = found[1]["operationId"] if found else None
        body_text = response.content.decode("utf-8", "replace")
        exchange = Exchange(request.method, str(request.url),
                            request.content.decode("utf-8", "replace") if request.content else "",
                            response.status_code, body_text, operation)
        self.exchanges.append(exchange)
        del self.exchanges[:-20]
        errors = validate_response(self.spec, request.method, path, response.status_code,
                                   response.headers.get("content-type"), response.content)
        try:
            parsed = response.json() if response.content else None
        except ValueError:
            parsed = None
        self.coverage.observe(operation, response.status_code, parsed)
        if errors:
            self.violations.extend(errors)
            raise ContractViolation(
                "response breaks the spec:\n  " + "\n  ".join(errors)
                + f"\nrequest: {request.method} {request.url}\nresponse: "
                f"{response.status_code} {body_text[:500]}")

    @property
    def last(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None


def build_mock_app(target: Target, dialect: str | None = None):
    from conformance.mock.app import create_app
    from conformance.mock.clock import ManualClock

    return create_app(profile=dialect or target.vendor, keys=list(MOCK_KEYS),
                      clock=ManualClock(), faults=[target.fault] if target.fault else [])


def make_client(target: Target, *, validator: ResponseValidator, api_key: str | None = None,
                app=None, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx.Client for the target whose responses all pass through `validator`.

    `api_key=""` sends no key at all (for auth tests).
    """
    key = target.api_key if api_key is None else api_key
    headers = {target.profile.auth_header: key} if key else {}
    hooks = {"response": [validator]}
    if target.kind == "mock":
        import warnings

        with warnings.catch_warnings():
            # Starlette 1.x nudges towards httpx2; the vendor SDK and vcrpy speak httpx.
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient

        client = TestClient(app, base_url=target.base_url, raise_server_exceptions=False,
                            headers=headers)
        client.event_hooks = hooks
        return client
    return httpx.Client(base_url=target.base_url, headers=headers, event_hooks=hooks,
                        transport=transport, timeout=30.0)
