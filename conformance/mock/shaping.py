"""Response shaping and encoding: store records -> the dialect's documents -> bytes.

* `Shaper` builds exactly the properties the dialect's response schemas list. Its hook
  points (`HOOKS`) are where faults change what is sent: `shape_batch` (a batch document:
  submit, list items, get, cancel, retry), `shape_recipient` (one recipient of get),
  `shape_page` (a list page's `next_doc` / `has_more`), `csv_rows` (the export's rows).
* `Encoder` turns documents into bytes; `CachingEncoder` keeps each batch's bytes under its
  `version` (bumped by every change the store makes, hooks included), so a list page is a
  join of cached items. Shaping hooks run before the bytes are stored, so a faulted mock is
  cached as safely as a clean one (tests/self/test_fast_paths.py compares both encoders).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import orjson

from conformance.mock.model import Batch, Page, Recipient

#: The shaper's hook points (README "Faults").
HOOKS = ("shape_batch",       # (batch) -> dict
         "shape_recipient",   # (recipient) -> dict
         "shape_page",        # (page) -> {"next_doc", "has_more"}
         "csv_rows")          # (batch, limit) -> [header, *rows]

EXPORT_COLUMNS = ("recipient_id", "phone_number", "whatsapp_user_id", "status",
                  "conversation_id", "created_at_unix", "updated_at_unix")
#: The order of `Shaper.full` and `Shaper.recipient`: the vendor's, property by property.
BATCH_KEYS = [
    "id", "phone_number_id", "phone_provider", "whatsapp_params", "name", "agent_id",
    "branch_id", "environment", "created_at_unix", "scheduled_time_unix", "timezone",
    "total_calls_dispatched", "total_calls_scheduled", "total_calls_finished",
    "last_updated_at_unix", "status", "retry_count", "telephony_call_config",
    "target_concurrency_limit", "agent_name", "branch_name"]
RECIPIENT_KEYS = [
    "id", "phone_number", "whatsapp_user_id", "status", "created_at_unix", "updated_at_unix",
    "conversation_id", "conversation_initiation_client_data"]


class Shaper:
    """Emits exactly the properties the dialect's response schemas list.

    `full` and `shape_recipient` build every property the API knows, in the vendor's
    order; a dialect that lists fewer (voiceai) gets them filtered out. The filter is
    skipped when nothing would be dropped: shaping is half the cost of a get or a list.
    """

    def __init__(self, spec: dict) -> None:
        schemas = spec["components"]["schemas"]
        self.batch_keys = list(schemas["BatchCallResponse"]["properties"])
        self.detailed_keys = list(schemas["BatchCallDetailedResponse"]["properties"])
        self.recipient_keys = list(schemas["OutboundCallRecipientResponseModel"]["properties"])
        self._batch_all = self.batch_keys == BATCH_KEYS
        self._detailed_all = [k for k in self.detailed_keys if k != "recipients"] \
            == self.batch_keys
        self._recipient_all = self.recipient_keys == RECIPIENT_KEYS

    def full(self, b: Batch) -> dict:
        return {
            "id": b.id, "phone_number_id": b.phone_number_id, "phone_provider": b.phone_provider,
            "whatsapp_params": b.whatsapp_params, "name": b.name, "agent_id": b.agent_id,
            "branch_id": b.branch_id, "environment": b.environment,
            "created_at_unix": b.created_at, "scheduled_time_unix": b.scheduled_time,
            "timezone": b.timezone, "total_calls_dispatched": b.dispatched,
            "total_calls_scheduled": b.scheduled, "total_calls_finished": b.finished,
            "last_updated_at_unix": b.last_updated, "status": b.status,
            "retry_count": b.retry_count, "telephony_call_config": dict(b.telephony_call_config),
            "target_concurrency_limit": b.target_concurrency_limit, "agent_name": b.agent_name,
            "branch_name": b.branch_name,
        }

    # Hook points -------------------------------------------------------------------------
    def shape_batch(self, b: Batch) -> dict:
        full = self.full(b)
        if self._batch_all:
            return full
        return {k: full[k] for k in self.batch_keys if k in full}

    def shape_recipient(self, r: Recipient) -> dict:
        full = {"id": r.id, "phone_number": r.phone_number, "whatsapp_user_id": r.whatsapp_user_id,
                "status": r.status, "created_at_unix": r.created_at,
                "updated_at_unix": r.updated_at, "conversation_id": r.conversation_id,
                "conversation_initiation_client_data": r.client_data}
        if self._recipient_all:
            return full
        return {k: full[k] for k in self.recipient_keys if k in full}

    def shape_page(self, page: Page) -> dict:
        return {"next_doc": page.next_cursor, "has_more": page.has_more}

    def csv_rows(self, b: Batch, limit: int | None) -> list[list]:
        """The header, then the first `limit` recipients (all when None; none when <= 0)."""
        recipients = b.recipients if limit is None else b.recipients[:max(0, limit)]
        rows: list[list] = [list(EXPORT_COLUMNS)]
        for r in recipients:
            rows.append([r.id, r.phone_number, r.whatsapp_user_id, r.status, r.conversation_id,
                         r.created_at, r.updated_at])
        return rows

    # Documents -----------------------------------------------------------------------------
    def batch(self, b: Batch) -> dict:
        return self.shape_batch(b)

    def recipient(self, r: Recipient) -> dict:
        return self.shape_recipient(r)

    def detailed(self, b: Batch) -> dict:
        out = self.shape_batch(b)
        if not self._detailed_all:
            out = {k: out[k] for k in self.detailed_keys if k in out}
        out["recipients"] = list(map(self.shape_recipient, b.recipients))
        return out

    def page(self, page: Page) -> dict:
        return {"batch_calls": [self.shape_batch(b) for b in page.batches],
                **self.shape_page(page)}

    def csv(self, b: Batch, limit: int | None) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for row in self.csv_rows(b, limit):
            writer.writerow(["" if v is None else v for v in row])
        return out.getvalue()


def dumps(body: Any) -> bytes:
    """orjson encodes a 100-recipient batch ~10x faster than the standard library. What
    orjson refuses and JSON can carry (integers beyond 64 bits, lone surrogates, both valid
    in a request) goes through the standard library, escaped to ASCII: exact, and valid
    UTF-8. Non-finite numbers never get this far (validation.py refuses them)."""
    try:
        return orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(body, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")


class Encoder:
    """Shaped documents to response bytes."""

    def __init__(self, shaper: Shaper) -> None:
        self.shaper = shaper

    def batch(self, b: Batch) -> bytes:
        return dumps(self.shaper.batch(b))

    def detailed(self, b: Batch) -> bytes:
        return dumps(self.shaper.detailed(b))

    def page(self, page: Page) -> bytes:
        return dumps(self.shaper.page(page))


class CachingEncoder(Encoder):
    """The same bytes, kept on each batch under its `version` and re-encoded only when the
    version moves: a list page is then a join of cached items instead of 100 shapings and
    encodings (benchmarks/README.md).

    Correct with faults on: the store bumps `version` on every transition and after every
    `on_*` hook, and the shaping hooks run inside `make` below, before the bytes are kept.
    """

    @staticmethod
    def stamp(b: Batch) -> int:
        return b.version

    def _cached(self, b: Batch, kind: str, make) -> bytes:
        stamp = self.stamp(b)
        hit = b.encoded.get(kind)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        data = dumps(make(b))
        b.encoded[kind] = (stamp, data)
        return data

    def batch(self, b: Batch) -> bytes:
        return self._cached(b, "batch", self.shaper.batch)

    def detailed(self, b: Batch) -> bytes:
        return self._cached(b, "detailed", self.shaper.detailed)

    def page(self, page: Page) -> bytes:
        cached, shape = self._cached, self.shaper.batch
        items = [cached(b, "batch", shape) for b in page.batches]
        rest = dumps(self.shaper.shape_page(page))   # {"next_doc":...,"has_more":...}
        tail = b"]}" if rest == b"{}" else b"]," + rest[1:]
        return b"".join((b'{"batch_calls":[', b",".join(items), tail))
