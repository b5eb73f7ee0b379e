"""Named, deliberate bugs for the mock: the suite must catch every one of them.

Each fault is a small patch of one part of the app (the store, the shaper, the validator,
the authenticator, the status-code table or the error builder; see app.AppParts), applied
once when the app is built. Handlers never test whether a fault is active.

Select with `create_app(faults=["submit-201", ...])` or `python -m conformance.mock --fault
submit-201`. The table in README.md lists them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from conformance.mock.store import FINISHED, TERMINAL, encode_cursor


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


def _wrap_method(obj, name: str, make: Callable[[Callable], Callable]) -> None:
    """Replace `obj.name` (an instance attribute shadows the class's method)."""
    original = getattr(obj, name)
    setattr(obj, name, functools.wraps(original)(make(original)))


def _post(obj, name: str, after: Callable) -> None:
    """Run `after(result)` on the result of `obj.name(...)` and return what it returns."""
    _wrap_method(obj, name, lambda orig: lambda *a, **k: after(orig(*a, **k)))


# --- schema ----------------------------------------------------------------------------
@fault("drop-agent-name", "schema",
       "Batch responses (submit, list, get, cancel, retry) omit the required key `agent_name`.")
def _drop_agent_name(parts):
    def after(doc):
        doc.pop("agent_name", None)
        return doc
    _post(parts.shaper, "batch", after)


@fault("created-at-as-string", "schema",
       "`created_at_unix` is sent as a string of digits instead of an integer.")
def _created_at_string(parts):
    def after(doc):
        doc["created_at_unix"] = str(doc["created_at_unix"])
        return doc
    _post(parts.shaper, "batch", after)


@fault("recipient-omits-null-conversation-id", "schema",
       "Recipients leave out `conversation_id` while it is null instead of sending null.")
def _omit_null_conversation_id(parts):
    def after(doc):
        if doc.get("conversation_id") is None:
            doc.pop("conversation_id", None)
        return doc
    _post(parts.shaper, "recipient", after)


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
    _wrap_method(parts.errors, "not_found", make)


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
    _wrap_method(parts.validator, method, make)


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
            return parts.auth.default_workspace if not key else orig(key)
        return resolve
    _wrap_method(parts.auth, "resolve", make)


@fault("wrong-key-accepted", "auth",
       "An unknown API key is served as the first key's workspace instead of 401.")
def _wrong_key(parts):
    def make(orig):
        def resolve(key):
            return parts.auth.default_workspace if key and key not in parts.auth.keys \
                else orig(key)
        return resolve
    _wrap_method(parts.auth, "resolve", make)


@fault("cross-workspace-lookup", "isolation",
       "get/cancel/retry/delete/export find a batch whatever workspace owns it.")
def _cross_lookup(parts):
    store = parts.store

    def lookup(workspace, batch_id):
        batch = store._batches.get(batch_id)
        if batch is None:
            return type(store)._lookup(store, workspace, batch_id)   # raises NotFound
        return batch
    store._lookup = lookup


@fault("list-all-workspaces", "isolation",
       "List shows the batches of every workspace, not only the caller's.")
def _list_all(parts):
    parts.store._index_keys = lambda workspace, agent_id: (("all", "*"), ("agent", "*", agent_id))


# --- lifecycle, counters, timing -------------------------------------------------------
@fault("cancel-leaves-one-pending", "cancel",
       "Cancel leaves one not-yet-dispatched recipient `pending` (never called, never "
       "cancelled).")
def _cancel_leaves_pending(parts):
    store = parts.store

    def after(batch):
        for recipient in batch.recipients:
            if recipient.status == "cancelled" and not recipient.dispatched:
                batch.counts["cancelled"] -= 1
                batch.counts["pending"] += 1
                recipient.status = "pending"
                break
        return batch
    _post(store, "cancel", after)


@fault("cancel-finished-accepted", "cancel",
       "Cancel of a completed/failed/cancelled batch answers 200 and marks it cancelled "
       "instead of 409.")
def _cancel_finished(parts):
    parts.store.cancellable = frozenset(
        {"pending", "in_progress", "completed", "failed", "cancelled"})


@fault("retry-count-not-incremented", "retry", "Retry re-queues recipients but `retry_count` "
       "stays unchanged.")
def _retry_count(parts):
    def after(batch):
        batch.retry_count -= 1
        return batch
    _post(parts.store, "retry", after)


@fault("retry-requeues-completed", "retry",
       "Retry calls completed recipients again too (not only failed and voicemail ones).")
def _retry_completed(parts):
    parts.store.retryable = frozenset({"failed", "voicemail", "completed"})


@fault("soft-delete", "delete",
       "Delete hides the batch from list but get/cancel/retry/export still find it.")
def _soft_delete(parts):
    store = parts.store

    def remove(batch):
        for key in store._index_keys(batch.workspace, batch.agent_id):
            seqs = store._index.get(key, [])
            if batch.seq in seqs:
                seqs.remove(batch.seq)
    store._remove = remove


@fault("page-ignores-limit", "pagination", "List ignores `limit` and returns every batch.")
def _ignores_limit(parts):
    def make(orig):
        def list_(workspace, limit=100, cursor=None, agent_id=None):
            return orig(workspace, 10**9, cursor, agent_id)
        return list_
    _wrap_method(parts.store, "list", make)


@fault("page-overlap", "pagination",
       "Each page's `next_doc` points one batch back, so a page's last batch repeats as the "
       "next page's first.")
def _page_overlap(parts):
    def after(page):
        if page.next_cursor is not None and page.batches:
            return page._replace(next_cursor=encode_cursor(page.batches[-1].seq + 1))
        return page
    _post(parts.store, "list", after)


@fault("finished-exceeds-dispatched", "counters",
       "Once any call has finished, `total_calls_finished` reads one more than "
       "`total_calls_dispatched`.")
def _finished_exceeds(parts):
    def after(doc):
        if doc.get("total_calls_finished"):
            doc["total_calls_finished"] = doc["total_calls_dispatched"] + 1
        return doc
    _post(parts.shaper, "batch", after)


@fault("scheduled-counts-dispatched", "counters",
       "`total_calls_scheduled` reports the dispatched count instead of the number of "
       "recipients.")
def _scheduled_counts_dispatched(parts):
    def after(doc):
        if "total_calls_scheduled" in doc:
            doc["total_calls_scheduled"] = doc.get("total_calls_dispatched", 0)
        return doc
    _post(parts.shaper, "batch", after)


@fault("concurrency-limit-exceeded", "concurrency",
       "One call more than `target_concurrency_limit` (or the default) is in flight at once.")
def _concurrency(parts):
    store = parts.store

    def make(orig):
        def fill(batch, at):
            batch.concurrency += 1
            try:
                orig(batch, at)
            finally:
                batch.concurrency -= 1
        return fill
    _wrap_method(store, "_fill", make)


@fault("dispatch-before-schedule", "scheduling",
       "A batch scheduled in the future starts dispatching immediately.")
def _dispatch_early(parts):
    store = parts.store

    def make(orig):
        def submit(workspace, request):
            scheduled = request.get("scheduled_time_unix")
            batch = orig(workspace, {**request, "scheduled_time_unix": None})
            if scheduled is not None:
                batch.scheduled_time = int(scheduled)
            return batch
        return submit
    _wrap_method(store, "submit", make)


@fault("conversation-id-never-set", "lifecycle",
       "Recipients keep `conversation_id` null even after their call is initiated.")
def _conversation_never_set(parts):
    def after(doc):
        if "conversation_id" in doc:
            doc["conversation_id"] = None
        return doc
    _post(parts.shaper, "recipient", after)


@fault("batch-never-completes", "lifecycle",
       "The batch stays `in_progress` after every recipient has finished.")
def _never_completes(parts):
    parts.store._check_done = lambda batch, at: None


@fault("finished-recipient-cancelled", "cancel",
       "Cancel also rewrites recipients that already finished (completed/failed/voicemail) "
       "to `cancelled`.")
def _cancel_rewrites_finished(parts):
    store = parts.store

    def after(batch):
        for recipient in batch.recipients:
            if recipient.status in FINISHED:
                batch.counts[recipient.status] -= 1
                batch.counts["cancelled"] += 1
                recipient.status = "cancelled"
        return batch
    _post(store, "cancel", after)


@fault("last-updated-before-created", "timestamps",
       "`last_updated_at_unix` is reported one second before `created_at_unix`.")
def _last_updated_before(parts):
    def after(doc):
        doc["last_updated_at_unix"] = doc["created_at_unix"] - 1 \
            if isinstance(doc.get("created_at_unix"), int) else doc.get("last_updated_at_unix")
        return doc
    _post(parts.shaper, "batch", after)


@fault("export-no-header", "export", "The CSV export has no header row.")
def _export_no_header(parts):
    def make(orig):
        def rows(batch, limit):
            return orig(batch, limit)[1:]
        return rows
    _wrap_method(parts.shaper, "csv_rows", make)


@fault("export-ignores-limit", "export", "Export ignores `limit` and writes every recipient.")
def _export_ignores_limit(parts):
    def make(orig):
        def rows(batch, limit):
            return orig(batch, None)
        return rows
    _wrap_method(parts.shaper, "csv_rows", make)


@fault("delete-in-flight-keeps-calling", "delete",
       "Deleting a batch answers 204 but it stays listed until all its calls end.")
def _delete_keeps_listed(parts):
    store = parts.store

    def make(orig):
        def delete(workspace, batch_id):
            batch = store.get(workspace, batch_id)
            if any(r.status not in TERMINAL for r in batch.recipients):
                batch.deleted = False   # nothing removed; the answer is still 204
                return None
            return orig(workspace, batch_id)
        return delete
    _wrap_method(store, "delete", make)


# Webhook faults live in their own module and register into FAULTS on import.
from conformance.mock import webhook_faults  # noqa: E402, F401
