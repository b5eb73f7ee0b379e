"""Faults in authentication and workspace isolation."""

from __future__ import annotations

from conformance.mock.faults.registry import fault, hook, replace


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
    replace(parts, "store", "owns", lambda workspace, batch: True)


@fault("list-all-workspaces", "isolation",
       "List shows the batches of every workspace, not only the caller's.")
def _list_all(parts):
    replace(parts, "store", "index_keys",
             lambda workspace, agent_id: (("all", "*"), ("agent", "*", agent_id)))
