"""The API's history as contracts, for `conformance diff` to be proved on (openapi/history/).

The anchor, `openapi/history/5-2026-08-22.json`, is a byte-for-byte copy of the vendor
fragment of 2026-08-22 (sha256 `ANCHOR_SHA256`, the one openapi/README.md records). Every
other file is generated from it by this module (`python -m conformance.diff.history`;
`--check` fails when a committed file differs):

* EARLIER contracts undo, newest first, what the project's reference notes on the API
  (API-NOTES.md, "Enums" and "The API changes often", read 2026-12) date:
  recipient status `dispatched` added 2026-01, provider `exotel` 2026-05, recipient status
  `voicemail` 2025-08, `initiated` 2025-05, and the export endpoint (undated: "an endpoint
  [was] added within the last year"; it is undone first, so every earlier file lacks it).
* The NEWER contract adds what the official SDK `elevenlabs==2.78.0` shows and the fragment
  lacks (read in its `elevenlabs/types/` and `conversational_ai/batch_calls/raw_client.py`):
  `telephony_call_config.twilio_machine_detection` and its models, the split of
  `TelephonyCallConfig` into `-Input` (submit) and `-Output` (responses), and export's
  `limit` query parameter. Each addition carries `x-conformance-source: documented` and
  `x-conformance-sdk` naming the SDK file; tests/self/test_diff.py checks them against the
  installed SDK.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys

from conformance import bundle

HISTORY_DIR = bundle.OPENAPI_DIR / "history"
ANCHOR = HISTORY_DIR / "5-2026-08-22.json"
ANCHOR_SHA256 = "8c192deb323c9d2c09187f54e8565be9f35689e685e559bd740232bcf691c211"
SDK = "elevenlabs==2.78.0"
EXPORT_PATH = f"{bundle.BASE}/{{batch_id}}/export"
REF = "#/components/schemas/"

# (file, what the step back from the next-newer file undoes), newest first.
EARLIER = [
    ("4-2026-05-exotel.json", ("path", EXPORT_PATH)),
    ("3-2026-01-dispatched.json", ("enum", "TelephonyProvider", "exotel")),
    ("2-2025-08-voicemail.json", ("enum", "BatchCallRecipientStatus", "dispatched")),
    ("1-2025-05-initiated.json", ("enum", "BatchCallRecipientStatus", "voicemail")),
    ("0-before-2025-05.json", ("enum", "BatchCallRecipientStatus", "initiated")),
]
NEWER = "6-sdk-2.78.0.json"
WHAT = {
    "path": "the export endpoint (undated in the notes; undone first)",
    "TelephonyProvider": "provider `exotel` (added 2026-05)",
    "dispatched": "recipient status `dispatched` (added 2026-01)",
    "voicemail": "recipient status `voicemail` (added 2025-08)",
    "initiated": "recipient status `initiated` (added 2025-05)",
}


def _dump(doc: dict) -> str:
    return json.dumps(doc, indent=1) + "\n"


def _undo(doc: dict, step: tuple) -> dict:
    out = copy.deepcopy(doc)
    if step[0] == "path":
        del out["paths"][step[1]]
    else:
        _, schema, value = step
        out["components"]["schemas"][schema]["enum"].remove(value)
    return bundle.extract(out)  # drops what nothing reaches any more


def _label(step: tuple) -> str:
    return WHAT["path"] if step[0] == "path" else WHAT.get(step[2], WHAT.get(step[1], ""))


def _sdk(file: str, **node) -> dict:
    return {**node, "x-conformance-source": "documented",
            "x-conformance-sdk": f"{SDK} elevenlabs/{file}"}


def _machine_detection_models() -> dict:
    t = "types/"
    return {
        "TwilioAnsweredBy": _sdk(
            t + "twilio_answered_by.py", type="string", title="TwilioAnsweredBy",
            enum=["human", "fax", "unknown", "machine_start", "machine_end_beep",
                  "machine_end_silence", "machine_end_other"]),
        "TwilioMachineDetectionAction": _sdk(
            t + "twilio_machine_detection_action.py", type="string",
            title="TwilioMachineDetectionAction", enum=["hang_up"]),
        "TwilioMachineDetectionConfig": _sdk(
            t + "twilio_machine_detection_config.py", type="object",
            title="TwilioMachineDetectionConfig",
            description="How to run Twilio's carrier-level answering machine detection (AMD) "
            "on a call.",
            properties={
                "mode": {"$ref": REF + "TwilioMachineDetectionMode"},
                "actions": {"type": "array", "title": "Actions",
                            "items": {"$ref": REF + "TwilioMachineDetectionRule"},
                            "description": "Actions to take on the call per AMD verdict. Each "
                            "action can appear in at most one rule."},
            }),
        "TwilioMachineDetectionMode": _sdk(
            t + "twilio_machine_detection_mode.py", type="string",
            title="TwilioMachineDetectionMode", enum=["enable", "detect_message_end"]),
        "TwilioMachineDetectionRule": _sdk(
            t + "twilio_machine_detection_rule.py", type="object",
            title="TwilioMachineDetectionRule",
            description="Action to take on a live call for the given AMD verdicts.",
            properties={
                "action": {"$ref": REF + "TwilioMachineDetectionAction", "default": "hang_up"},
                "answered_by": {"type": "array", "title": "Answered By",
                                "items": {"$ref": REF + "TwilioAnsweredBy"},
                                "description": "Verdicts that trigger the action."},
            },
            required=["answered_by"]),
    }


def newer(anchor: dict) -> dict:
    """The anchor plus what SDK 2.78.0 documents (module docstring)."""
    out = copy.deepcopy(anchor)
    schemas = out["components"]["schemas"]
    base = schemas.pop("TelephonyCallConfig")
    for half in ("Input", "Output"):
        model = copy.deepcopy(base)
        model["title"] = f"TelephonyCallConfig-{half}"
        model["properties"]["twilio_machine_detection"] = _sdk(
            f"types/telephony_call_config_{half.lower()}.py",
            anyOf=[{"$ref": REF + "TwilioMachineDetectionConfig"}, {"type": "null"}],
            description="Configuration for Twilio's carrier-level answering machine detection "
            "(AMD). Omit or set to null to disable it. Ignored for non-Twilio providers and "
            "for inbound calls.")
        schemas[f"TelephonyCallConfig-{half}"] = _sdk(
            f"types/telephony_call_config_{half.lower()}.py", **model)
    schemas.update(_machine_detection_models())
    body = schemas[bundle.SUBMIT_BODY_VENDOR_NAME]["properties"]["telephony_call_config"]
    body["$ref"] = REF + "TelephonyCallConfig-Input"
    for name in ("BatchCallResponse", "BatchCallDetailedResponse"):
        schemas[name]["properties"]["telephony_call_config"] = {
            "$ref": REF + "TelephonyCallConfig-Output"}
    export = out["paths"][EXPORT_PATH]["get"]
    export["description"] = (
        "Download all recipients and conversation results for a batch call as CSV, including "
        "calls that are still in progress.")
    export["x-conformance-sdk"] = f"{SDK} elevenlabs/conversational_ai/batch_calls/raw_client.py"
    export["parameters"].insert(1, _sdk(
        "conversational_ai/batch_calls/raw_client.py", name="limit", **{"in": "query"},
        required=False,
        description="Only export the first N recipients; used to preview the columns. Omit to "
        "export every recipient.",
        schema={"anyOf": [{"type": "integer"}, {"type": "null"}], "title": "Limit"}))
    out["info"] = {
        "title": f"{anchor['info']['title']} + what the official SDK {SDK} documents "
        "(conformance.diff.history)", "version": anchor["info"]["version"]}
    out["components"]["schemas"] = dict(sorted(schemas.items()))
    return bundle.extract(out)


def generate() -> dict[str, str]:
    """File name -> text of every generated file in openapi/history/."""
    text = ANCHOR.read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest != ANCHOR_SHA256:
        raise SystemExit(f"{ANCHOR} is not the 2026-08-22 fragment (sha256 {digest})")
    anchor = json.loads(text)
    files = {NEWER: _dump(newer(anchor))}
    doc, undone = anchor, []
    for name, step in EARLIER:
        doc = _undo(doc, step)
        undone.append(_label(step))
        doc["info"] = {"title": f"{anchor['info']['title']}, without: " + "; ".join(undone)
                       + " (conformance.diff.history)", "version": anchor["info"]["version"]}
        files[name] = _dump(doc)
    return files


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    files = generate()
    if "--check" in argv:
        stale = [n for n, t in files.items()
                 if not (HISTORY_DIR / n).is_file() or (HISTORY_DIR / n).read_text() != t]
        for name in stale:
            print(f"openapi/history/{name} is stale: run python -m conformance.diff.history",
                  file=sys.stderr)
        return 1 if stale else 0
    for name, text in files.items():
        (HISTORY_DIR / name).write_text(text)
        print(f"wrote openapi/history/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
