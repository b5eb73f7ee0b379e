"""Fuzzing a live target: generated cases rewritten into what a live run may send, and sent
through the run's guard.

Every rewrite, and why (each is tested in tests/self/test_fuzz.py):

* a positive submit becomes a safe, valid one (`live_safe_body`): at most a few recipients,
  each a fictional number; the schedule held far enough ahead that nothing starts (unless
  dispatch is allowed); `call_name` carries the run's prefix (so a sweep finds leftovers);
  `agent_id` is the configured agent (a vendor rejects an agent it does not have); fields
  that name other resources of the vendor's (`agent_phone_number_id`, `branch_id`,
  `environment`, `whatsapp_params`) and a `timezone` that is not an IANA name are dropped,
  since the vendor would rightly reject a drawn one. What the schema allows is kept.
  When the vendor's WhatsApp number id is configured (`<VENDOR>_WHATSAPP_PHONE_NUMBER_ID`),
  a drawn `whatsapp_params` object is kept as a WhatsApp batch: its number id is the
  configured one, its template strings kept (unless they may read as a phone number), and
  its recipients fictional WhatsApp user ids instead of phone numbers.
* anything else drawn that may read as a phone number outside the fictional range (an
  11-digit `agent_id`, say) is dropped: the guard would refuse the whole body for it.
* a negative submit is sent as generated when it cannot place a call (no `recipients`
  array, nobody with a phone number, no real number anywhere): the guard says so
  (`guard.explain`); otherwise it is generated but not sent.
* a `batch_id` in a path is pointed at a batch this run created (cancel/retry/delete may
  touch nothing else).
"""

from __future__ import annotations

import copy
import datetime
import json
import unicodedata
import zoneinfo
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

from conformance.api import MIN_SCHEDULE_AHEAD_S
from conformance.fictional import fictional_whatsapp_id
from conformance.fuzz.world import mixed_number
from conformance.safety import real_numbers

#: Live: a fuzzed submit is held this far ahead (the guard wants at least 30 days).
LIVE_SCHEDULE_AHEAD = MIN_SCHEDULE_AHEAD_S + 10 * 24 * 3600
LIVE_MAX_RECIPIENTS = 2
#: Fields that name a resource of the vendor's own: a drawn value names nothing there.
FOREIGN_REFERENCES = ("agent_phone_number_id", "branch_id", "environment", "whatsapp_params")
#: What leaves a generated call_name: numerals of any script (the guard would read a run of
#: them as a phone number), control, surrogate, private-use and unassigned code points.
_DROPPED = frozenset({"Nd", "Nl", "No", "Cc", "Cs", "Co", "Cn"})


def _name_tail(generated: Any) -> str:
    """The generated call_name kept after the run's prefix, scripts and emoji included, so
    generated text reaches a live server (a server that breaks on non-ASCII names fails)."""
    if not isinstance(generated, str):
        return ""
    kept = "".join(ch for ch in generated if unicodedata.category(ch) not in _DROPPED)
    return kept[:40]


def _timezone_ok(value: Any) -> bool:
    if not isinstance(value, str) or value not in zoneinfo.available_timezones():
        return False
    return True


TEMPLATE_FIELDS = ("whatsapp_call_permission_request_template_name",
                   "whatsapp_call_permission_request_template_language_code")


def _whatsapp_params(drawn: Any, number_id: str | None) -> dict | None:
    """The drawn `whatsapp_params` as a live run may send it (None: drop it)."""
    if number_id is None or not isinstance(drawn, dict):
        return None
    out = {"whatsapp_phone_number_id": number_id}
    for key in TEMPLATE_FIELDS:
        value = drawn.get(key)
        out[key] = value if isinstance(value, str) and not real_numbers(value) else "cst_template"
    return out


def live_safe_body(body: Any, name_prefix: str, now: int, *, agent_id: str | None = None,
                   max_recipients: int = LIVE_MAX_RECIPIENTS, dispatch: bool = False,
                   whatsapp_phone_number_id: str | None = None) -> dict | None:
    """A generated submit body as a live run may send it, or None (not an object)."""
    if not isinstance(body, dict):
        return None
    out = copy.deepcopy(body)
    whatsapp = _whatsapp_params(out.get("whatsapp_params"), whatsapp_phone_number_id)
    out["call_name"] = f"{name_prefix}fuzz-{_name_tail(out.get('call_name'))}".rstrip()
    if agent_id is not None:
        out["agent_id"] = agent_id
    recipients = out.get("recipients")
    recipients = recipients if isinstance(recipients, list) else []
    safe = []
    for index, recipient in enumerate(recipients[:max_recipients] or [{}]):
        item: dict[str, Any] = ({"whatsapp_user_id": fictional_whatsapp_id(index)} if whatsapp
                                else {"phone_number": mixed_number(index)})
        if isinstance(recipient, dict):
            if isinstance(recipient.get("id"), str):
                item["id"] = recipient["id"]
            data = recipient.get("conversation_initiation_client_data")
            if isinstance(data, dict) and not real_numbers(data):
                item["conversation_initiation_client_data"] = data
            if "id" in item and real_numbers(item["id"]):
                del item["id"]
        safe.append(item)
    out["recipients"] = safe
    for key in FOREIGN_REFERENCES:
        out.pop(key, None)
    if whatsapp is not None:
        out["whatsapp_params"] = whatsapp
    if "timezone" in out and not _timezone_ok(out["timezone"]):
        out.pop("timezone")
    # Whatever else was drawn and may read as a phone number goes: the guard refuses it.
    for key in [k for k, v in out.items() if k not in ("call_name", "recipients",
                                                        "whatsapp_params") and real_numbers(v)]:
        del out[key]
    if dispatch:
        out.pop("scheduled_time_unix", None)
    else:
        out["scheduled_time_unix"] = int(now) + LIVE_SCHEDULE_AHEAD
    return out


def request_of(case, *, base_url: str, headers: Mapping[str, str]) -> dict:
    """httpx.Client.request() arguments for `case`."""
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=dict(headers))
    request = {"method": kwargs["method"], "url": kwargs["url"],
               "headers": kwargs.get("headers") or {}, "params": kwargs.get("params")}
    if "json" in kwargs:
        request["content"] = json.dumps(kwargs["json"]).encode()
        request["headers"] = {**request["headers"], "Content-Type": "application/json"}
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data if isinstance(data, (bytes, str)) else json.dumps(data)
    return request


def send_httpx(client, case, *, base_url: str, headers: Mapping[str, str]):
    """Send `case` with an httpx.Client (whose transport is the run's guard)."""
    return client.request(**request_of(case, base_url=base_url, headers=headers))


def _adapter(client):
    """A requests adapter that sends through the httpx `client` (the run's guard and its
    pressure layer)."""
    import requests  # lazy: requests (schemathesis' transport), only when fuzzing live

    class _Adapter(requests.adapters.BaseAdapter):
        def send(self, request, **_):
            answer = client.request(request.method, request.url,
                                    headers=dict(request.headers), content=request.body)
            response = requests.Response()
            response.status_code = answer.status_code
            response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
            response._content = answer.content
            response.url = str(answer.request.url)
            response.request = request
            response.reason = answer.reason_phrase
            response.encoding = answer.encoding
            response.elapsed = datetime.timedelta(0)
            return response

        def close(self):
            pass

    return _Adapter()


def requests_session(client):
    """A `requests.Session` whose every request goes out through the httpx `client`, so
    requests a Schemathesis check re-sends (our follow-up GETs) pass the live guard too."""
    import requests  # lazy: requests (schemathesis' transport), only when fuzzing live

    session = requests.Session()
    session.trust_env = False
    adapter = _adapter(client)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@contextmanager
def probes_through(client):
    """Schemathesis' auth probes (`ignored_auth`) drop the session they were given and open
    their own: while the block runs, the session class they open is one whose every request
    goes through the httpx `client` too, so no probe leaves the run's guard (and its pressure
    layer)."""
    from schemathesis.transport import requests as st_requests  # lazy: only fuzzing live

    original = st_requests.SameHostRedirectsSession
    adapter = _adapter(client)

    class Guarded(original):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.trust_env = False
            self.mount("http://", adapter)
            self.mount("https://", adapter)

    st_requests.SameHostRedirectsSession = Guarded
    try:
        yield
    finally:
        st_requests.SameHostRedirectsSession = original
