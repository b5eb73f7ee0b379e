"""Webhook events of batch calls: which event a finished call produces, its payload, and
checks of a payload against the spec's `webhooks:` (openapi/webhooks/, docs/webhooks.md).

Which recipient outcome produces which event (graded in docs/webhooks.md):

| final recipient status | event | grade |
|---|---|---|
| `completed` | `post_call_transcription` | documented (a call that finished) |
| `voicemail` | `post_call_transcription` (termination_reason `voicemail`) | inferred |
| `failed` | `call_initiation_failure` | documented (a call that could not be placed) |
| `cancelled` | none | inferred (no call ended) |

`post_call_audio` is in the contract but the mock never sends it: it records no audio, and
the vendor sends it only when audio delivery is switched on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from conformance.spec import load_spec, schema_validator

TRANSCRIPTION = "post_call_transcription"
AUDIO = "post_call_audio"
INITIATION_FAILURE = "call_initiation_failure"
EVENT_TYPES = (TRANSCRIPTION, AUDIO, INITIATION_FAILURE)
#: event type -> the name of its entry under `webhooks:` in the spec
WEBHOOK_NAMES = {TRANSCRIPTION: "postCallTranscription", AUDIO: "postCallAudio",
                 INITIATION_FAILURE: "callInitiationFailure"}
#: final recipient status -> the event its call produces (absent: none)
EVENT_FOR_STATUS = {"completed": TRANSCRIPTION, "voicemail": TRANSCRIPTION,
                    "failed": INITIATION_FAILURE}


@dataclass(frozen=True)
class CallEnd:
    """What an event is built from: one finished call attempt of one recipient."""

    batch_id: str
    recipient_id: str
    agent_id: str
    conversation_id: str | None
    status: str              # completed | voicemail | failed
    started_at: int          # the call was initiated (unix seconds)
    ended_at: int
    failure_reason: str = "unknown"   # failed calls: no-answer | busy | unknown
    client_data: dict | None = None


def event_type_for(status: str) -> str | None:
    return EVENT_FOR_STATUS.get(status)


def _link(end: CallEnd) -> dict:
    return {"batch_call_id": end.batch_id, "batch_call_recipient_id": end.recipient_id,
            "campaign": None}


def _first_message(end: CallEnd) -> str:
    override = ((end.client_data or {}).get("conversation_config_override") or {})
    message = ((override.get("agent") or {}).get("first_message"))
    return message or f"Hello, this is agent {end.agent_id} calling."


def build_event(end: CallEnd, event_type: str | None = None) -> dict:
    """The payload of the event `end` produces (or of `event_type`, when given)."""
    event_type = event_type or event_type_for(end.status)
    data: dict[str, Any]
    if event_type == INITIATION_FAILURE:
        data = {"agent_id": end.agent_id, "conversation_id": end.conversation_id,
                "failure_reason": end.failure_reason,
                "metadata": {"type": "mock", "body": {}, "batch_call": _link(end)}}
    elif event_type == TRANSCRIPTION:
        duration = max(0, end.ended_at - end.started_at)
        voicemail = end.status == "voicemail"
        data = {
            "agent_id": end.agent_id,
            "conversation_id": end.conversation_id,
            "status": "done",
            "user_id": None,
            "transcript": [{"role": "agent", "message": _first_message(end),
                            "time_in_call_secs": 0}],
            "metadata": {"start_time_unix_secs": end.started_at,
                         "call_duration_secs": duration,
                         "termination_reason": "voicemail" if voicemail else None,
                         "batch_call": _link(end)},
            "analysis": {"call_successful": "failure" if voicemail else "success"},
            "conversation_initiation_client_data": end.client_data,
            "has_audio": False, "has_user_audio": False, "has_response_audio": False,
        }
    else:
        raise ValueError(f"no event for a call that ended {end.status!r}")
    return {"type": event_type, "event_timestamp": end.ended_at, "data": data}


def batch_link(payload) -> tuple[str | None, str | None]:
    """(batch_call_id, batch_call_recipient_id) named by `data.metadata.batch_call`."""
    try:
        link = payload["data"]["metadata"]["batch_call"]
    except (KeyError, TypeError):
        return None, None
    if not isinstance(link, dict):
        return None, None
    return link.get("batch_call_id"), link.get("batch_call_recipient_id")


def webhook_schema(spec: dict, event_type: str) -> dict:
    """The request-body schema of `event_type` in the spec (KeyError if it has none)."""
    hook = spec["webhooks"][WEBHOOK_NAMES[event_type]]["post"]
    return hook["requestBody"]["content"]["application/json"]["schema"]


def validate_event(spec: dict, payload) -> list[str]:
    """Every way `payload` breaks the spec's webhook schema of its own `type`."""

    if not isinstance(payload, dict):
        return ["payload is not a JSON object"]
    event_type = payload.get("type")
    if event_type not in WEBHOOK_NAMES:
        return [f"unknown event type {event_type!r} (known: {', '.join(EVENT_TYPES)})"]
    if "webhooks" not in spec:
        return ["this dialect has no webhooks"]
    validator = schema_validator(spec, webhook_schema(spec, event_type))
    return [f"{event_type}: at /{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))]


@dataclass(frozen=True)
class DeliveryRules:
    """`x-conformance-webhook-delivery` of the spec (docs/webhooks.md grades each)."""

    header: str
    tolerance_secs: int
    success_status: int
    retryable: tuple          # ints and "5xx"
    retried_event_types: tuple[str, ...]
    retry_delays_secs: tuple[int, ...]
    max_pending_retries: int
    auto_disable_after_failures: int
    auto_disable_quiet_secs: int

    def is_retryable(self, status: int | None) -> bool:
        """408, 429, 5xx; a connection error (None) too (inferred)."""
        if status is None:
            return True
        return status in self.retryable or ("5xx" in self.retryable and 500 <= status <= 599)


@cache
def _rules(name: str) -> DeliveryRules:

    raw = load_spec(name)["x-conformance-webhook-delivery"]
    return DeliveryRules(
        header=raw["signature_header"], tolerance_secs=int(raw["tolerance_secs"]),
        success_status=int(raw["success_status"]), retryable=tuple(raw["retryable_statuses"]),
        retried_event_types=tuple(raw["retried_event_types"]),
        retry_delays_secs=tuple(int(d) for d in raw["retry_delays_secs"]),
        max_pending_retries=int(raw["max_pending_retries"]),
        auto_disable_after_failures=int(raw["auto_disable_after_failures"]),
        auto_disable_quiet_secs=int(raw["auto_disable_quiet_secs"]))


def delivery_rules(profile: str = "elevenlabs") -> DeliveryRules:
    """The delivery rules of a dialect's spec (KeyError when it has no webhooks)."""
    return _rules("elevenlabs" if profile == "mock" else profile)
