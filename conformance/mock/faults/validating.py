"""Faults in request validation: the mock accepts what it must refuse."""

from __future__ import annotations

from collections.abc import Callable

from conformance.mock.faults.registry import fault, hook


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
