"""`conformance webhook-check`: does a user's receiver accept only genuine deliveries?

Sends a set of deliveries to the receiver's URL, each a well-formed batch-call event, and
judges each answer. A receiver must accept the valid delivery (2xx; the vendor counts
anything but 200 as a failed delivery) and reject every other one with a 4xx, never a 5xx
(the vendor retries 5xx, so a forged delivery answered 5xx comes back five more times).

| case | what is sent | expected |
|---|---|---|
| valid | a fresh event signed with the secret | accept |
| tampered-body | the valid signature over a body changed after signing | reject |
| wrong-secret | signed with another secret | reject |
| stale-timestamp | t = now - tolerance - 5 min (signed correctly) | reject |
| future-timestamp | t = now + tolerance + 5 min (signed correctly) | reject (the SDK accepts it) |
| missing-header | no ElevenLabs-Signature header | reject |
| wrong-scheme | `t=...,v1=<correct hex>` instead of `v0=` | reject |
| replayed | one valid delivery sent twice; the second is judged | reject the copy |
| oversized | a correctly signed body of `oversized_bytes` (32 MiB) | reject (413) |

Verdicts go to a JUnit file `conformance report` renders, and to a text summary.
Exit codes: 0 every answer as expected, 1 some not, 2 cannot run (URL not allowed,
receiver unreachable). The secret is never printed: its fingerprint is.
"""

from __future__ import annotations

import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from conformance.fictional import fingerprint
from conformance.webhooks.delivery import is_loopback_host
from conformance.webhooks.events import CallEnd, build_event
from conformance.webhooks.signing import HEADER, TOLERANCE_SECS, sign

EXIT_OK, EXIT_NOT_AS_EXPECTED, EXIT_CANNOT_RUN = 0, 1, 2
OVERSIZED_BYTES = 32 * 1024 * 1024
SKEW_SECS = 300
OPERATION = "webhookReceiver"


class CannotRun(Exception):
    """The check cannot run (bad URL, unreachable receiver); one line for the user."""


def check_url(url: str) -> str:
    """Loopback http(s) or any https URL; CannotRun otherwise."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CannotRun(f"{url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise CannotRun(f"{url}: plain http only to loopback (127.0.0.1, ::1, localhost); "
                        "use https for any other host")
    if parts.username or parts.password:
        raise CannotRun("the URL must not carry credentials")
    return url


@dataclass
class Sent:
    headers: dict
    body: bytes


@dataclass
class Case:
    name: str
    requirement: str
    expect: str                              # accept | reject
    build: Callable[[float], list[Sent]]     # now -> what to send (the last one is judged)


@dataclass
class Result:
    case: Case
    status: int | None
    error: str | None
    ok: bool
    reason: str
    seconds: float
    request: str = ""
    response: str = ""
    notes: list[str] = field(default_factory=list)


def _event(run: str, name: str, now: float, size: int | None = None) -> bytes:
    end = CallEnd(batch_id=f"btcal_check_{run}", recipient_id=f"rcpt_check_{run}_{name}",
                  agent_id="agent_webhook_check", conversation_id=f"conv_check_{run}_{name}",
                  status="completed", started_at=int(now) - 60, ended_at=int(now))
    event = build_event(end)
    body = json.dumps(event, separators=(",", ":")).encode()
    if size is not None and len(body) < size:
        # Pad inside the transcript so the body stays a valid, correctly signed event.
        event["data"]["transcript"][0]["message"] += " " * (size - len(body))
        body = json.dumps(event, separators=(",", ":")).encode()
    return body


def build_cases(secret: str, *, tolerance: int = TOLERANCE_SECS,
                oversized_bytes: int = OVERSIZED_BYTES) -> list[Case]:
    run = uuid.uuid4().hex[:12]
    other = "not-" + secret[::-1]

    def signed(name: str, now: float, t: float | None = None, key: str = secret,
               size: int | None = None) -> Sent:
        body = _event(run, name, now, size)
        return Sent({HEADER: sign(key, body, int(now if t is None else t))}, body)

    def tampered(now: float) -> list[Sent]:
        sent = signed("tampered-body", now)
        return [Sent(sent.headers, sent.body.replace(b'"status":"done"',
                                                     b'"status":"failed"'))]

    def wrong_scheme(now: float) -> list[Sent]:
        sent = signed("wrong-scheme", now)
        return [Sent({HEADER: sent.headers[HEADER].replace(",v0=", ",v1=")}, sent.body)]

    def replayed(now: float) -> list[Sent]:
        sent = signed("replayed", now)
        return [sent, Sent(dict(sent.headers), sent.body)]

    return [
        Case("valid", "A delivery signed with the webhook secret, sent now, is accepted (2xx).",
             "accept", lambda now: [signed("valid", now)]),
        Case("tampered-body", "A body changed after signing is rejected (4xx).", "reject",
             tampered),
        Case("wrong-secret", "A delivery signed with another secret is rejected (4xx).",
             "reject", lambda now: [signed("wrong-secret", now, key=other)]),
        Case("stale-timestamp", f"A signature older than {tolerance} s is rejected (4xx).",
             "reject",
             lambda now: [signed("stale-timestamp", now, t=now - tolerance - SKEW_SECS)]),
        Case("future-timestamp", f"A signature more than {tolerance} s ahead is rejected (4xx).",
             "reject",
             lambda now: [signed("future-timestamp", now, t=now + tolerance + SKEW_SECS)]),
        Case("missing-header", f"A delivery without {HEADER} is rejected (4xx).", "reject",
             lambda now: [Sent({}, _event(run, "missing-header", now))]),
        Case("wrong-scheme", "A signature in a scheme other than v0 is rejected (4xx).",
             "reject", wrong_scheme),
        Case("replayed", "The same signed delivery sent a second time is rejected (4xx).",
             "reject", replayed),
        Case("oversized", f"A body of {oversized_bytes} bytes is rejected (4xx, e.g. 413).",
             "reject", lambda now: [signed("oversized", now, size=oversized_bytes)]),
    ]


def _describe(url: str, sent: Sent) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in sent.headers.items())
    body = sent.body[:400].decode("utf-8", "replace")
    more = f"... ({len(sent.body)} bytes)" if len(sent.body) > 400 else ""
    return f"POST {url}\n{headers}\n\n{body}{more}"


def _judge(case: Case, status: int | None, error: str | None, first: int | None) -> tuple:
    notes: list[str] = []
    if case.name == "replayed" and first is not None and not 200 <= first < 300:
        return False, (f"the first copy was not accepted ({first}), so the replay proves "
                       "nothing"), notes
    if status is None:
        if case.name == "oversized":
            notes.append("the receiver closed the connection before the whole body was sent")
            return True, "refused (connection closed)", notes
        return False, f"no answer: {error}", notes
    if 500 <= status <= 599:
        return False, (f"answered {status}: never 5xx (the vendor retries 5xx, so the "
                       "delivery would be sent again)"), notes
    if case.expect == "accept":
        if 200 <= status < 300:
            if status != 200:
                notes.append(f"{status}: the vendor counts any status but 200 as a failure")
            return True, f"accepted ({status})", notes
        return False, f"rejected a valid delivery ({status})", notes
    if 200 <= status < 300:
        return False, f"accepted ({status}) a delivery it must reject", notes
    if 400 <= status <= 499:
        return True, f"rejected ({status})", notes
    return False, f"answered {status}; expected a 4xx", notes


def run_check(url: str, secret: str, *, timeout: float = 10.0, tolerance: int = TOLERANCE_SECS,
              oversized_bytes: int = OVERSIZED_BYTES,
              clock: Callable[[], float] = time.time) -> list[Result]:
    """Send every case to `url`; CannotRun when the URL is not allowed or unreachable."""

    check_url(url)
    if not secret:
        raise CannotRun("no secret: pass --secret or set CONFORMANCE_WEBHOOK_SECRET")
    results: list[Result] = []
    with httpx.Client(timeout=timeout, trust_env=False) as client:
        for case in build_cases(secret, tolerance=tolerance, oversized_bytes=oversized_bytes):
            started = time.monotonic()
            statuses: list[int | None] = []
            error = None
            response_text = ""
            sends = case.build(clock())
            for sent in sends:
                headers = {"content-type": "application/json", **sent.headers}
                try:
                    response = client.post(url, content=sent.body, headers=headers)
                    statuses.append(response.status_code)
                    response_text = f"{response.status_code}\n{response.text[:400]}"
                except httpx.HTTPError as exc:
                    statuses.append(None)
                    error = f"{type(exc).__name__}: {exc}"
                    response_text = f"(no answer) {error}"
                    if case.name == "valid" and isinstance(exc, httpx.ConnectError):
                        raise CannotRun(f"{url} is unreachable ({exc})") from None
            first = statuses[0] if len(statuses) > 1 else None
            ok, reason, notes = _judge(case, statuses[-1], error, first)
            results.append(Result(case, statuses[-1], error, ok, reason,
                                  time.monotonic() - started, _describe(url, sends[-1]),
                                  response_text, notes))
    return results


def exit_code(results: list[Result]) -> int:
    return EXIT_OK if all(r.ok for r in results) else EXIT_NOT_AS_EXPECTED


def summary(results: list[Result], url: str, secret: str) -> str:
    lines = [f"webhook-check {url} (secret {fingerprint(secret)})"]
    for r in results:
        verdict = "ok  " if r.ok else "FAIL"
        lines.append(f"  {verdict} {r.case.name:17} expect {r.case.expect:6} -> {r.reason}"
                     + "".join(f"; {n}" for n in r.notes))
    bad = [r for r in results if not r.ok]
    lines.append(f"{len(results) - len(bad)}/{len(results)} as expected"
                 + (": the receiver " + ", ".join(
                     f"{'accepted' if r.status and 200 <= r.status < 300 else 'mishandled'} "
                     f"{r.case.name}" for r in bad) if bad else ""))
    return "\n".join(lines)


def write_junit(results: list[Result], path: str | Path, url: str) -> Path:
    """One testcase per case, with the properties conformance.report reads."""
    suites = ET.Element("testsuites", name="webhook-check")
    failures = sum(1 for r in results if not r.ok)
    suite = ET.SubElement(suites, "testsuite", name="webhook-check", tests=str(len(results)),
                          failures=str(failures), errors="0", skipped="0",
                          time=f"{sum(r.seconds for r in results):.3f}")
    props = ET.SubElement(suite, "properties")
    host = urlsplit(url).netloc
    ET.SubElement(props, "property", name="target", value=f"webhook-check:{host}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="webhook_check", name=r.case.name,
                             time=f"{r.seconds:.3f}")
        cprops = ET.SubElement(case, "properties")
        for name, value in (("operation", OPERATION), ("requirement", r.case.requirement),
                            ("request", r.request), ("response", r.response)):
            ET.SubElement(cprops, "property", name=name, value=value)
        if not r.ok:
            ET.SubElement(cprops, "property", name="violated_rule", value=r.case.requirement)
            failure = ET.SubElement(case, "failure", message=r.reason)
            failure.text = f"{r.case.name}: {r.reason}\n{r.response}"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path
