"""Named faults of the whole contract: WhatsApp batches and export's agreement with get,
each caught by a named test of the scenario suite (conformance/mock/fault_matrix.json).

A definition module of conformance/mock/faults/ (the package imports it, so its `@fault`s
register); each patches one hook point of the validator or the shaper through `hook`.
"""

from __future__ import annotations

from conformance.mock.faults.registry import fault, hook, post

RECIPIENT_ID, PHONE, WHATSAPP, STATUS = 0, 1, 2, 3  # shaping.EXPORT_COLUMNS positions


@fault("whatsapp-params-refused", "whatsapp",
       "Submit answers 422 to a valid `whatsapp_params` (both template fields present as "
       "strings), as if WhatsApp batches were not supported.")
def _whatsapp_refused(parts):
    def make(orig):
        def body(op_id, document):
            errors = orig(op_id, document)
            if (op_id == "submitBatchCall" and isinstance(document, dict)
                    and isinstance(document.get("whatsapp_params"), dict) and not errors):
                errors = [{"type": "value_error", "loc": ["body", "whatsapp_params"],
                           "msg": "Value error, WhatsApp batches are not enabled",
                           "input": document["whatsapp_params"]}]
            return errors
        return body
    hook(parts, "validator", "body", make)


@fault("whatsapp-user-id-dropped", "whatsapp",
       "Recipients answer `whatsapp_user_id` null (get) and empty (export): the WhatsApp user "
       "a recipient was sent with is lost.")
def _whatsapp_dropped(parts):
    def after(doc):
        if "whatsapp_user_id" in doc:
            doc["whatsapp_user_id"] = None
        return doc
    post(parts, "shaper", "shape_recipient", after)

    _rewrite_rows(parts, lambda rows: [[*r[:WHATSAPP], None, *r[WHATSAPP + 1:]] for r in rows])


@fault("export-status-disagrees", "export",
       "Export reports every recipient `pending` (the status at submit), whatever get says.")
def _export_status_stale(parts):
    _rewrite_rows(parts, lambda rows: [[*r[:STATUS], "pending", *r[STATUS + 1:]] for r in rows])


@fault("export-drops-cancelled", "export",
       "Export leaves out recipients that were cancelled (get still lists them).")
def _export_drops_cancelled(parts):
    _rewrite_rows(parts, lambda rows: [r for r in rows if r[STATUS] != "cancelled"])


def _rewrite_rows(parts, rewrite) -> None:
    """Export's rows (the header kept) passed through `rewrite(rows) -> rows`."""
    def make(orig):
        def rows(batch, limit):
            out = orig(batch, limit)
            return [out[0]] + rewrite(out[1:])
        return rows
    hook(parts, "shaper", "csv_rows", make)
