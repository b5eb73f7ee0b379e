"""Clean-up after live runs, in one place: a run's own batches at teardown (`cleanup`), and
leftovers of earlier runs by name prefix (`sweep`; the `conformance sweep` command is
conformance/cli.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from conformance.exchanges import BrokenAnswer, Exchange
from conformance.safety import Ledger, UnsafeRequest, check_prefix


@dataclass
class CleanupReport:
    deleted: list[str] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    #: Answers of the server that broke the contract on the way (a cancel or delete whose
    #: answer breaks the spec): the server's failure, not a clean-up the suite could not do.
    broken: list[BrokenAnswer] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _base_path(api: Any) -> str:
    """A base path, or anything with `.base_path` (an Api, a Profile)."""
    base = api if isinstance(api, str) else api.base_path
    return "/" + base.strip("/")


def _cancel_delete(client: httpx.Client, base: str, batch_id: str, *, cancel: bool = True,
                   broken: list[BrokenAnswer] | None = None) -> str:
    """'deleted' or 'gone'; raises RuntimeError with a reason otherwise. Cancel errors other
    than transport failures are tolerated (a finished batch may refuse a cancel). A broken
    answer (a validating client's ContractViolation) is kept in `broken` and the clean-up goes
    on: the batch is still deleted, and the server is charged with what it answered."""
    url = f"{base}/{quote(batch_id, safe='')}"
    if cancel:
        try:
            client.post(f"{url}/cancel")
        except BrokenAnswer as exc:
            if broken is None:
                raise
            broken.append(exc)
    try:
        response = client.delete(url)
        status = response.status_code
    except BrokenAnswer as exc:
        if broken is None or exc.status is None:
            raise
        broken.append(exc)
        status = exc.status
    if status == 404:
        return "gone"
    if 200 <= status < 300:
        return "deleted"
    raise BrokenAnswer(f"delete answered {status}", requirement="DELETE-1",
                       rule=f"delete answered {status}, not 204",
                       exchange=Exchange("DELETE", url, "", status, "", "deleteBatchCall"))


def cleanup(client: httpx.Client, ledger: Ledger, api: Any) -> CleanupReport:
    """Cancel then delete every batch in `ledger` (404 = already gone). `api` is a base path
    or anything with `.base_path` (a Profile). Never raises for one batch; see the report."""
    base = _base_path(api)
    report = CleanupReport()
    for batch_id in ledger.ids():
        try:
            outcome = _cancel_delete(client, base, batch_id, broken=report.broken)
        except BrokenAnswer as exc:
            report.failed[batch_id] = str(exc)
            report.broken.append(exc)
            continue
        except (httpx.HTTPError, UnsafeRequest, RuntimeError) as exc:
            report.failed[batch_id] = str(exc)
            continue
        (report.deleted if outcome == "deleted" else report.already_gone).append(batch_id)
        ledger.forget(batch_id)
    return report


class SweepError(RuntimeError):
    """Some batches could not be swept; `swept` holds those that were."""

    def __init__(self, swept: list[str], errors: dict[str, str]) -> None:
        self.swept = swept
        self.errors = errors
        super().__init__(f"sweep: {len(errors)} batch(es) not deleted: {errors}; "
                         f"swept {len(swept)}")


def sweep(client: httpx.Client, base_path: str, prefix: str, now: float, *,
          min_age_s: int = 0, dry_run: bool = False, limit: int = 100,
          max_pages: int = 1000, broken: list[BrokenAnswer] | None = None) -> list[str]:
    """Cancel and delete every batch whose name starts with `prefix` (which must start with
    ``cst-``) and which was created at least `min_age_s` before `now` (so a concurrent run's
    fresh batches survive). Pages through the list (``next_doc`` → ``last_doc``) first, then
    acts. Returns the ids swept (with `dry_run`, the ids that would be). Raises RuntimeError
    when the list fails, `SweepError` when some deletes failed (after trying every batch).

    Through a validating client (a `ResponseValidator` hook), a list answer that breaks the
    spec raises its `BrokenAnswer` (nothing is swept on a list the server broke); a broken
    cancel or delete answer is kept in `broken` and the sweep goes on.

    Through a `SafetyTransport`, the policy needs ``sweep_prefix`` covering `prefix`.
    """
    check_prefix(prefix, "sweep prefix", allow_bare=True)
    base = _base_path(base_path)
    found: dict[str, Mapping[str, Any]] = {}
    cursor: str | None = None
    seen_cursors: set[str] = set()
    for _ in range(max_pages):
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["last_doc"] = cursor
        response = client.get(f"{base}/workspace", params=params)
        if response.status_code != 200:
            hint = " (is the key right?)" if response.status_code in (401, 403) else ""
            raise RuntimeError(f"list answered {response.status_code}{hint}")
        page = response.json()
        for item in page.get("batch_calls") or ():
            name, created = item.get("name"), item.get("created_at_unix")
            if not (isinstance(name, str) and name.startswith(prefix)):
                continue
            if not isinstance(item.get("id"), str):
                continue
            if min_age_s and isinstance(created, int) and created > now - min_age_s:
                continue
            found.setdefault(item["id"], item)
        cursor = page.get("next_doc")
        if not page.get("has_more") or not cursor or cursor in seen_cursors:
            break
        seen_cursors.add(cursor)
    if dry_run:
        return list(found)
    swept: list[str] = []
    errors: dict[str, str] = {}
    for batch_id, item in found.items():
        try:
            _cancel_delete(client, base, batch_id,
                           cancel=item.get("status") in ("pending", "in_progress"),
                           broken=broken)
        except (httpx.HTTPError, UnsafeRequest, RuntimeError, BrokenAnswer) as exc:
            errors[batch_id] = str(exc)
            continue
        swept.append(batch_id)
    if errors:
        raise SweepError(swept, errors)
    return swept
