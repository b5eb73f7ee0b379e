"""Faults in what a response looks like: its schema, its status code, its error body."""

from __future__ import annotations

from conformance.mock.faults.registry import fault, hook, post


# --- schema ----------------------------------------------------------------------------
@fault("drop-agent-name", "schema",
       "Batch responses (submit, list, get, cancel, retry) omit the required key `agent_name`.")
def _drop_agent_name(parts):
    def after(doc):
        doc.pop("agent_name", None)
        return doc
    post(parts, "shaper", "shape_batch", after)


@fault("created-at-as-string", "schema",
       "`created_at_unix` is sent as a string of digits instead of an integer.")
def _created_at_string(parts):
    def after(doc):
        doc["created_at_unix"] = str(doc["created_at_unix"])
        return doc
    post(parts, "shaper", "shape_batch", after)


@fault("recipient-omits-null-conversation-id", "schema",
       "Recipients leave out `conversation_id` while it is null instead of sending null.")
def _omit_null_conversation_id(parts):
    def after(doc):
        if doc.get("conversation_id") is None:
            doc.pop("conversation_id", None)
        return doc
    post(parts, "shaper", "shape_recipient", after)


# --- status codes ----------------------------------------------------------------------
@fault("submit-201", "status", "Submit answers 201 instead of 200.")
def _submit_201(parts):
    parts.status["submit"] = 201


@fault("delete-200", "status", "Delete answers 200 (empty body) instead of 204.")
def _delete_200(parts):
    parts.status["delete"] = 200


@fault("not-found-string-detail", "errors",
       "404 for an unknown batch carries `{\"detail\": \"...\"}` (a string) instead of the "
       "object error.")
def _not_found_string(parts):
    def make(orig):
        def not_found(message):
            error = orig(message)
            error.body = {"detail": message}
            return error
        return not_found
    hook(parts, "errors", "not_found", make)
