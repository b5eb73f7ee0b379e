"""Faults at the edges the suite once let through (issue 20): a broken answer a fixture meets
first (a submit's content type, a clean-up cancel or delete), paging edges, a workspace's
batch deleted by another key, the documented 10,000-recipient boundary, and non-ASCII
names."""

from __future__ import annotations

from conformance.mock.errors import item
from conformance.mock.faults.registry import fault, hook, post, replace


@fault("submit-text-plain", "status",
       "Submit answers its JSON body with `Content-Type: text/plain` (a fixture's submit is "
       "the first to see it).")
def _submit_text_plain(parts):
    parts.media["submit"] = "text/plain; charset=utf-8"


@fault("delete-200-body", "status",
       "Delete answers 200 with a JSON body (`{\"status\": \"ok\"}`) instead of 204 with "
       "none (a run's tear-down clean-up is the first to see it).")
def _delete_200_body(parts):
    parts.status["delete"] = 200
    parts.bodies["delete"] = b'{"status":"ok"}'
    parts.media["delete"] = "application/json"


@fault("page-has-more-on-exact-multiple", "pagination",
       "`has_more` is computed as `len(page) == limit`: a full last page says `has_more: "
       "true`, and its `next_doc` leads to an empty page.")
def _has_more_on_full_page(parts):
    store = parts.store
    limits = [0]

    def remember(limit):
        limits[0] = limit
        return limit
    post(parts, "store", "page_limit", remember)

    def make(orig):
        def shape_page(page):
            doc = orig(page)
            if page.batches and not page.has_more and len(page.batches) == limits[0]:
                last = page.batches[-1]
                doc.update(has_more=True, next_doc=store.cursor_for(last.workspace, last))
            return doc
        return shape_page
    hook(parts, "shaper", "shape_page", make)


@fault("list-filter-first-page-only", "pagination",
       "`agent_id` filters the first list page only: a page read with `last_doc` lists the "
       "batches of every agent.")
def _filter_first_page(parts):
    def make(orig):
        def list_index(workspace, agent_id, cursor):
            return orig(workspace, None if cursor else agent_id, cursor)
        return list_index
    hook(parts, "store", "list_index", make)


@fault("cross-workspace-delete", "isolation",
       "Another workspace's key can delete your batch (answered 204); every other operation "
       "still answers it 404.")
def _cross_delete(parts):
    replace(parts, "store", "may_delete", lambda workspace, batch: True)


@fault("cancel-undeclared-status", "schema",
       "A cancelled batch reports `status: \"canceled\"`, a value the spec does not list (a "
       "run's clean-up cancel is often the first to see it).")
def _canceled(parts):
    def after(doc):
        if doc.get("status") == "cancelled":
            doc["status"] = "canceled"
        return doc
    post(parts, "shaper", "shape_batch", after)


@fault("non-ascii-name-500", "validation",
       "A submit whose `call_name` is not plain ASCII fails with 500 (an encoding bug).")
def _non_ascii_500(parts):
    def make(orig):
        def body(op_id, document):
            name = document.get("call_name") if isinstance(document, dict) else None
            if isinstance(name, str) and not name.isascii():
                raise UnicodeEncodeError("ascii", name, 0, 1, "ordinal not in range(128)")
            return orig(op_id, document)
        return body
    hook(parts, "validator", "body", make)


@fault("reject-10000-recipients", "validation",
       "Submit refuses 10,000 recipients (the documented maximum) with 422, off by one.")
def _reject_10000(parts):
    def make(orig):
        def body(op_id, document):
            errors = orig(op_id, document)
            recipients = document.get("recipients") if isinstance(document, dict) else None
            if isinstance(recipients, list) and len(recipients) >= 10_000 and not any(
                    e["loc"] == ["body", "recipients"] for e in errors):
                errors = [*errors, item("too_long", ["body", "recipients"],
                                        "List should have at most 9999 items after "
                                        "validation", None, {"max_length": 9999})]
            return errors
        return body
    hook(parts, "validator", "body", make)
