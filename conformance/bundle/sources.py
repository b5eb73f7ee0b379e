"""Where the bundled spec comes from and the vocabulary of its overlay: the files it is built
from, the vendor's operations and our names for them, and the tables of what is added."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.profiles import SPEC_BASE_PATH
from conformance.resources import ROOT

OPENAPI_DIR = ROOT / "openapi"
VENDOR_DIR = OPENAPI_DIR / "vendor"
FRAGMENT_PREFIX = "elevenlabs-batch-calling-openapi-"
EXAMPLES_DIR = OPENAPI_DIR / "examples"
WEBHOOKS_DIR = OPENAPI_DIR / "webhooks"
OUTPUT = OPENAPI_DIR / "batch-calling.yaml"

#: The vendor's base path, which the bundled spec keeps.
BASE = SPEC_BASE_PATH


def vendor_fragment() -> Path:
    """The one vendor fragment in `openapi/vendor/` (a spec bump replaces it)."""
    found = sorted(VENDOR_DIR.glob("*.json"))
    if len(found) != 1:
        raise SystemExit(f"{VENDOR_DIR} must hold exactly one vendor fragment, found "
                         f"{len(found)}")
    return found[0]


OPERATIONS = {
    "create_batch_call": ("submitBatchCall", f"{BASE}/submit", "post"),
    "get_workspace_batch_calls": ("listBatchCalls", f"{BASE}/workspace", "get"),
    "get_batch_call": ("getBatchCall", f"{BASE}/{{batch_id}}", "get"),
    "delete_batch_call": ("deleteBatchCall", f"{BASE}/{{batch_id}}", "delete"),
    "cancel_batch_call": ("cancelBatchCall", f"{BASE}/{{batch_id}}/cancel", "post"),
    "retry_batch_call": ("retryBatchCall", f"{BASE}/{{batch_id}}/retry", "post"),
    "export_batch_call": ("exportBatchCall", f"{BASE}/{{batch_id}}/export", "get"),
}

SUBMIT_BODY_VENDOR_NAME = "Body_Submit_a_batch_call_request__v1_convai_batch_calling_submit_post"
SUBMIT_BODY = "SubmitBatchCallRequest"
# Vendor schema names -> ours. FastAPI splits a model used in requests and responses into
# `-Input` and `-Output` (SDK 2.78.0 shows it for TelephonyCallConfig); the request half keeps
# the name clients and this suite already know.
RENAMES = {
    SUBMIT_BODY_VENDOR_NAME: SUBMIT_BODY,
    "TelephonyCallConfig-Input": "TelephonyCallConfig",
}

# Response models whose every key the vendor's server always emits (null where nullable).
ALL_KEYS_REQUIRED = [
    "BatchCallResponse",
    "BatchCallDetailedResponse",
    "OutboundCallRecipientResponseModel",
    "WorkspaceBatchCallsResponse",
    "HTTPValidationError",
]

ERROR_STATUSES = {
    "401": (
        "Missing or invalid API key (`status` is `needs_authorization` without a key, "
        "`invalid_api_key` with a wrong one).",
        "documented",
    ),
    "403": (
        "The workspace has not accepted the batch-calling terms "
        "(`status`: `batch_calling_agreement_required`).",
        "documented",
    ),
    "404": ("No batch with this id in the caller's workspace.", "inferred"),
    "409": (
        "The batch's state does not allow this operation (for example cancelling a batch "
        "that already finished).",
        "inferred",
    ),
    "413": ("Request body larger than the server accepts.", "inferred"),
    "415": ("Request body is not `application/json`.", "inferred"),
}

# Which extra error statuses each operation documents, beyond 401 and 422.
EXTRA_ERRORS = {
    "submitBatchCall": ["403", "413", "415"],
    "listBatchCalls": [],
    "getBatchCall": ["404"],
    "deleteBatchCall": ["404"],
    "cancelBatchCall": ["404", "409"],
    "retryBatchCall": ["404", "409"],
    "exportBatchCall": ["404"],
}

LINK_TARGETS = ["getBatchCall", "cancelBatchCall", "retryBatchCall", "deleteBatchCall",
                "exportBatchCall"]


# The lifecycle every client relies on and no vendor publishes (inferred; the mock implements
# it, conformance/mock/README.md explains it). Reports measure coverage against it.
TRANSITIONS = {
    "batch": [
        "pending->in_progress", "pending->cancelled", "in_progress->completed",
        "in_progress->failed", "in_progress->cancelled", "completed->in_progress",
        "failed->in_progress",
    ],
    "recipient": [
        "pending->dispatched", "dispatched->initiated", "initiated->in_progress",
        "in_progress->completed", "in_progress->voicemail", "initiated->failed",
        "pending->cancelled", "dispatched->cancelled", "initiated->cancelled",
        "in_progress->cancelled", "failed->pending", "voicemail->pending",
    ],
}
# The enums whose values a conformance run should see (the rest are the vendor's catalogues
# of LLMs and SDK names, which say nothing about batch calling).
COVERAGE_ENUMS = ["BatchCallStatus", "BatchCallRecipientStatus", "TelephonyProvider"]


def load_example(name: str) -> dict[str, Any]:
    """An example from openapi/examples/."""
    example: dict[str, Any] = json.loads((EXAMPLES_DIR / name).read_text())
    return example
