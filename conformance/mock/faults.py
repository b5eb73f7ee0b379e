"""Named, deliberate bugs for the mock: the suite must catch every one of them.

Each fault is a small patch of one NAMED HOOK POINT of one part of the app, applied once
when the app is built; handlers never test whether a fault is active. The hook points
(README "Faults" lists them with their signatures):

* store (store.HOOKS): start_at, on_submit, owns, index_keys, page_limit, cursor_for,
  fill_slots, is_done, cancellable, on_cancel, retryable, on_retry, on_delete, forget
* shaper (shaping.HOOKS): shape_batch, shape_recipient, shape_page, csv_rows
* error builder (errors.HOOKS): not_found
* validator (validation.HOOKS): query, body
* authenticator (Auth.HOOKS): resolve
* plus the status-code table `parts.status` (data, not code)

`hook()` refuses any other name, so a fault cannot reach into a private method. The store
bumps a batch's version after each `on_*` hook and the shaping hooks run before the
response cache keeps bytes, so faults compose with the cache and with either choice set.

Select with `create_app(faults=["submit-201", ...])` or `python -m conformance.mock --fault
submit-201`. The table in README.md lists them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from conformance.api import lifecycle
from conformance.mock import errors as errors_module
from conformance.mock import shaping, store, validation

LIFE = lifecycle()


@dataclass(frozen=True)
class Fault:
    name: str
    category: str
    description: str
    apply: Callable  # apply(parts: AppParts) -> None


FAULTS: dict[str, Fault] = {}


class UnknownFault(ValueError):
    pass


def fault(name: str, category: str, description: str):
    def register(func):
        if name in FAULTS:
            raise RuntimeError(f"duplicate fault {name}")
        FAULTS[name] = Fault(name, category, description, func)
        return func
    return register


def resolve_faults(names: Iterable[str | Fault]) -> list[Fault]:
    out = []
    for item in names or ():
        if isinstance(item, Fault):
            out.append(item)
            continue
        if item not in FAULTS:
            raise UnknownFault(f"unknown fault {item!r}; known faults: {', '.join(FAULTS)}")
        out.append(FAULTS[item])
    return out


def apply_faults(parts, faults: Iterable[Fault]) -> None:
    for f in faults:
        f.apply(parts)


#: part name in AppParts -> its hook points
HOOK_POINTS = {"store": store.HOOKS, "shaper": shaping.HOOKS, "errors": errors_module.HOOKS,
               "validator": validation.HOOKS, "auth": ("resolve",),
               "webhooks": ("event_for",)}


def hook(parts, part: str, name: str, make: Callable[[Callable], Callable]) -> None:
    """Replace hook point `name` of `parts.<part>` by `make(original)`."""
    if name not in HOOK_POINTS[part]:
        raise ValueError(f"{part}.{name} is not a hook point ({', '.join(HOOK_POINTS[part])})")
    obj = getattr(parts, part)
    original = getattr(obj, name)
    setattr(obj, name, functools.wraps(original)(make(original)))


def _post(parts, part: str, name: str, after: Callable) -> None:
    """Run `after(result)` on the result of the hook and return what it returns."""
    hook(parts, part, name, lambda orig: lambda *a, **k: after(orig(*a, **k)))


def _replace(parts, part: str, name: str, func: Callable) -> None:
    hook(parts, part, name, lambda orig: func)


# --- schema ----------------------------------------------------------------------------
@fault("drop-agent-name", "schema",
       "Batch responses (submit, list, get, cancel, retry) omit the required key `agent_name`.")
def _drop_agent_name(parts):
    def after(doc):
        doc.pop("agent_name", None)
        return doc
    _post(parts, "shaper", "shape_batch", after)


@fault("created-at-as-string", "schema",
       "`created_at_unix` is sent as a string of digits instead of an integer.")
def _created_at_string(parts):
    def after(doc):
        doc["created_at_unix"] = str(doc["created_at_unix"])
        return doc
    _post(parts, "shaper", "shape_batch", after)


@fault("recipient-omits-null-conversation-id", "schema",
       "Recipients leave out `conversation_id` while it is null instead of sending null.")
def _omit_null_conversation_id(parts):
    def after(doc):
        if doc.get("conversation_id") is None:
            doc.pop("conversation_id", None)
        return doc
    _post(parts, "shaper", "shape_recipient", after)


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


# --- validation ------------------------------------------------------------------------
def _drop_errors(parts, method: str, keep: Callable[[dict], bool]) -> None:
    def make(orig):
        def validate(*a, **k):
            result = orig(*a, **k)
            if isinstance(result, tuple):
                values, errors = result
                return values, [e for e in errors if keep(e)]
            return [e for e in result if keep(e)]
        return validate
    hook(parts, "validator", method, make)


@fault("accept-too-many-recipients", "validation",
       "Submit accepts more than 10,000 recipients (the maxItems check is skipped).")
def _too_many(parts):
    _drop_errors(parts, "body", lambda e: e["type"] != "too_long")


@fault("accept-missing-agent-id", "validation",
       "Submit accepts a body without `agent_id` (and answers with agent_id null).")
def _missing_agent(parts):
    _drop_errors(parts, "body", lambda e: e["loc"] != ["body", "agent_id"])


@fault("limit-not-validated", "validation",
       "List ignores a `limit` that is not an integer (serves the default page) instead of 422.")
def _limit_not_validated(parts):
    _drop_errors(parts, "query", lambda e: e["loc"] != ["query", "limit"])


# --- auth and workspaces ---------------------------------------------------------------
@fault("missing-key-accepted", "auth",
       "A request without an API key is served as the first key's workspace instead of 401.")
def _missing_key(parts):
    def make(orig):
        def resolve(key):
            return next(iter(parts.auth.keys.values())) if not key else orig(key)
        return resolve
    hook(parts, "auth", "resolve", make)


@fault("wrong-key-accepted", "auth",
       "An unknown API key is served as the first key's workspace instead of 401.")
def _wrong_key(parts):
    def make(orig):
        def resolve(key):
            return next(iter(parts.auth.keys.values())) if key and key not in parts.auth.keys \
                else orig(key)
        return resolve
    hook(parts, "auth", "resolve", make)


@fault("cross-workspace-lookup", "isolation",
       "get/cancel/retry/delete/export find a batch whatever workspace owns it.")
def _cross_lookup(parts):
    _replace(parts, "store", "owns", lambda workspace, batch: True)


@fault("list-all-workspaces", "isolation",
       "List shows the batches of every workspace, not only the caller's.")
def _list_all(parts):
    _replace(parts, "store", "index_keys",
             lambda workspace, agent_id: (("all", "*"), ("agent", "*", agent_id)))


# --- lifecycle, counters, timing -------------------------------------------------------
@fault("cancel-leaves-one-pending", "cancel",
       "Cancel leaves one not-yet-dispatched recipient `pending` (never called, never "
       "cancelled).")
def _cancel_leaves_pending(parts):
    def after(batch, now):
        for recipient in batch.recipients:
            if recipient.status == "cancelled" and not recipient.dispatched:
                batch.counts["cancelled"] -= 1
                batch.counts["pending"] += 1
                recipient.status = "pending"
                break
    _replace(parts, "store", "on_cancel", after)


@fault("cancel-finished-accepted", "cancel",
       "Cancel of a completed/failed/cancelled batch answers 200 and marks it cancelled "
       "instead of 409.")
def _cancel_finished(parts):
    _replace(parts, "store", "cancellable", lambda batch: True)


@fault("retry-count-not-incremented", "retry", "Retry re-queues recipients but `retry_count` "
       "stays unchanged.")
def _retry_count(parts):
    def after(batch, now):
        batch.retry_count -= 1
    _replace(parts, "store", "on_retry", after)


@fault("retry-requeues-completed", "retry",
       "Retry calls completed recipients again too (not only failed and voicemail ones).")
def _retry_completed(parts):
    _replace(parts, "store", "retryable",
             lambda recipient: recipient.status in ("failed", "voicemail", "completed"))


@fault("soft-delete", "delete",
       "Delete hides the batch from list but get/cancel/retry/export still find it.")
def _soft_delete(parts):
    _replace(parts, "store", "forget", lambda batch: None)


@fault("page-ignores-limit", "pagination", "List ignores `limit` and returns every batch.")
def _ignores_limit(parts):
    _replace(parts, "store", "page_limit", lambda limit: 10**9)


@fault("page-overlap", "pagination",
       "Each page's `next_doc` points one batch back, so a page's last batch repeats as the "
       "next page's first.")
def _page_overlap(parts):
    s = parts.store
    back = -1 if s.choices.list_order == "oldest_first" else 1

    def cursor_for(workspace, batch):
        return s.cursors.encode(workspace, batch.seq + back)
    _replace(parts, "store", "cursor_for", cursor_for)


@fault("finished-exceeds-dispatched", "counters",
       "Once any call has finished, `total_calls_finished` reads one more than "
       "`total_calls_dispatched`.")
def _finished_exceeds(parts):
    def after(doc):
        if doc.get("total_calls_finished"):
            doc["total_calls_finished"] = doc["total_calls_dispatched"] + 1
        return doc
    _post(parts, "shaper", "shape_batch", after)


@fault("scheduled-counts-dispatched", "counters",
       "`total_calls_scheduled` reports the dispatched count instead of the number of "
       "recipients.")
def _scheduled_counts_dispatched(parts):
    def after(doc):
        if "total_calls_scheduled" in doc:
            doc["total_calls_scheduled"] = doc.get("total_calls_dispatched", 0)
        return doc
    _post(parts, "shaper", "shape_batch", after)


@fault("concurrency-limit-exceeded", "concurrency",
       "One call more than `target_concurrency_limit` (or the default) is in flight at once.")
def _concurrency(parts):
    _post(parts, "store", "fill_slots", lambda slots: slots + 1)


@fault("dispatch-before-schedule", "scheduling",
       "A batch scheduled in the future starts dispatching immediately.")
def _dispatch_early(parts):
    _replace(parts, "store", "start_at", lambda batch, now: now)


@fault("conversation-id-never-set", "lifecycle",
       "Recipients keep `conversation_id` null even after their call is initiated.")
def _conversation_never_set(parts):
    def after(doc):
        if "conversation_id" in doc:
            doc["conversation_id"] = None
        return doc
    _post(parts, "shaper", "shape_recipient", after)


@fault("batch-never-completes", "lifecycle",
       "The batch stays `in_progress` after every recipient has finished.")
def _never_completes(parts):
    _replace(parts, "store", "is_done", lambda batch: False)


@fault("finished-recipient-cancelled", "cancel",
       "Cancel also rewrites recipients that already finished (completed/failed/voicemail) "
       "to `cancelled`.")
def _cancel_rewrites_finished(parts):
    def after(batch, now):
        for recipient in batch.recipients:
            if recipient.status in LIFE.recipient_finished:
                batch.counts[recipient.status] -= 1
                batch.counts["cancelled"] += 1
                recipient.status = "cancelled"
    _replace(parts, "store", "on_cancel", after)


@fault("last-updated-before-created", "timestamps",
       "`last_updated_at_unix` is reported one second before `created_at_unix`.")
def _last_updated_before(parts):
    def after(doc):
        doc["last_updated_at_unix"] = doc["created_at_unix"] - 1 \
            if isinstance(doc.get("created_at_unix"), int) else doc.get("last_updated_at_unix")
        return doc
    _post(parts, "shaper", "shape_batch", after)


@fault("export-no-header", "export", "The CSV export has no header row.")
def _export_no_header(parts):
    def make(orig):
        def rows(batch, limit):
            return orig(batch, limit)[1:]
        return rows
    hook(parts, "shaper", "csv_rows", make)


@fault("export-ignores-limit", "export", "Export ignores `limit` and writes every recipient.")
def _export_ignores_limit(parts):
    def make(orig):
        def rows(batch, limit):
            return orig(batch, None)
        return rows
    hook(parts, "shaper", "csv_rows", make)


@fault("delete-in-flight-keeps-calling", "delete",
       "Deleting a batch answers 204 but it stays listed until all its calls end.")
def _delete_keeps_listed(parts):
    def on_delete(batch):
        return all(r.status in LIFE.recipient_terminal for r in batch.recipients)
    _replace(parts, "store", "on_delete", on_delete)


# Webhook faults, and the whole contract's (WhatsApp, export agreement), live in their own
# modules and register into FAULTS on import.
from conformance.mock import contract_faults, webhook_faults  # noqa: E402, F401
