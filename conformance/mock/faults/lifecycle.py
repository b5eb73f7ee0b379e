"""Faults in a batch's life: cancel, retry, delete, pagination, counters, timing, export."""

from __future__ import annotations

from conformance.api import lifecycle
from conformance.mock.faults.registry import fault, hook, post, replace

LIFE = lifecycle()


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
    replace(parts, "store", "on_cancel", after)


@fault("cancel-finished-accepted", "cancel",
       "Cancel of a completed/failed/cancelled batch answers 200 and marks it cancelled "
       "instead of 409.")
def _cancel_finished(parts):
    replace(parts, "store", "cancellable", lambda batch: True)


@fault("retry-count-not-incremented", "retry", "Retry re-queues recipients but `retry_count` "
       "stays unchanged.")
def _retry_count(parts):
    def after(batch, now):
        batch.retry_count -= 1
    replace(parts, "store", "on_retry", after)


@fault("retry-requeues-completed", "retry",
       "Retry calls completed recipients again too (not only failed and voicemail ones).")
def _retry_completed(parts):
    replace(parts, "store", "retryable",
             lambda recipient: recipient.status in ("failed", "voicemail", "completed"))


@fault("soft-delete", "delete",
       "Delete hides the batch from list but get/cancel/retry/export still find it.")
def _soft_delete(parts):
    replace(parts, "store", "forget", lambda batch: None)


@fault("page-ignores-limit", "pagination", "List ignores `limit` and returns every batch.")
def _ignores_limit(parts):
    replace(parts, "store", "page_limit", lambda limit: 10**9)


@fault("page-overlap", "pagination",
       "Each page's `next_doc` points one batch back, so a page's last batch repeats as the "
       "next page's first.")
def _page_overlap(parts):
    s = parts.store
    back = -1 if s.choices.list_order == "oldest_first" else 1

    def cursor_for(workspace, batch):
        return s.cursors.encode(workspace, batch.seq + back)
    replace(parts, "store", "cursor_for", cursor_for)


@fault("finished-exceeds-dispatched", "counters",
       "Once any call has finished, `total_calls_finished` reads one more than "
       "`total_calls_dispatched`.")
def _finished_exceeds(parts):
    def after(doc):
        if doc.get("total_calls_finished"):
            doc["total_calls_finished"] = doc["total_calls_dispatched"] + 1
        return doc
    post(parts, "shaper", "shape_batch", after)


@fault("scheduled-counts-dispatched", "counters",
       "`total_calls_scheduled` reports the dispatched count instead of the number of "
       "recipients.")
def _scheduled_counts_dispatched(parts):
    def after(doc):
        if "total_calls_scheduled" in doc:
            doc["total_calls_scheduled"] = doc.get("total_calls_dispatched", 0)
        return doc
    post(parts, "shaper", "shape_batch", after)


@fault("concurrency-limit-exceeded", "concurrency",
       "One call more than `target_concurrency_limit` (or the default) is in flight at once.")
def _concurrency(parts):
    post(parts, "store", "fill_slots", lambda slots: slots + 1)


@fault("dispatch-before-schedule", "scheduling",
       "A batch scheduled in the future starts dispatching immediately.")
def _dispatch_early(parts):
    replace(parts, "store", "start_at", lambda batch, now: now)


@fault("conversation-id-never-set", "lifecycle",
       "Recipients keep `conversation_id` null even after their call is initiated.")
def _conversation_never_set(parts):
    def after(doc):
        if "conversation_id" in doc:
            doc["conversation_id"] = None
        return doc
    post(parts, "shaper", "shape_recipient", after)


@fault("batch-never-completes", "lifecycle",
       "The batch stays `in_progress` after every recipient has finished.")
def _never_completes(parts):
    replace(parts, "store", "is_done", lambda batch: False)


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
    replace(parts, "store", "on_cancel", after)


@fault("last-updated-before-created", "timestamps",
       "`last_updated_at_unix` is reported one second before `created_at_unix`.")
def _last_updated_before(parts):
    def after(doc):
        doc["last_updated_at_unix"] = doc["created_at_unix"] - 1 \
            if isinstance(doc.get("created_at_unix"), int) else doc.get("last_updated_at_unix")
        return doc
    post(parts, "shaper", "shape_batch", after)


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
    replace(parts, "store", "on_delete", on_delete)
