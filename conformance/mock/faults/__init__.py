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
* webhooks (MockWebhooks): event_for
* plus the status-code table `parts.status` (data, not code)

`hook()` refuses any other name, so a fault cannot reach into a private method. The store
bumps a batch's version after each `on_*` hook and the shaping hooks run before the
response cache keeps bytes, so faults compose with the cache and with either choice set.

Select with `create_app(faults=["submit-201", ...])` or `python -m conformance.mock --fault
submit-201`. The table in README.md lists them all.

The package: `registry.py` holds `FAULTS`, the `@fault` decorator and the hook helpers; every
other module here is a definition module (responses, validating, access, lifecycle,
webhooks), imported below so that its `@fault`s register. To add faults, add a module beside
them that imports from `conformance.mock.faults.registry`: nothing else to edit.
"""

from __future__ import annotations

import importlib
import pkgutil

from conformance.mock.faults.registry import (
    FAULTS,
    HOOK_POINTS,
    Fault,
    UnknownFault,
    apply_faults,
    fault,
    hook,
    post,
    replace,
    resolve_faults,
)

__all__ = ["FAULTS", "HOOK_POINTS", "Fault", "UnknownFault", "apply_faults", "fault", "hook",
           "post", "replace", "resolve_faults"]

#: The definition modules, in file-name order (every module of this package but the registry).
DEFINITIONS = tuple(info.name for info in pkgutil.iter_modules(__path__)
                    if info.name != "registry")
for _name in DEFINITIONS:
    importlib.import_module(f"{__name__}.{_name}")
