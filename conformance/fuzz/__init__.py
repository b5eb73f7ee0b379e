"""Property-based fuzzing harness (Schemathesis 4): settings, domain checks, the mock world,
live rewriting and the per-case runner, one module each.

No pytest here: `conformance_suite/contract/` drives it, and `schemathesis.toml` names this
package in `hooks`, so `st run openapi/batch-calling.yaml --url ...` gets the same checks
(including the canary, `checks.EnsureReachability`) and the same `before_call` hook.
"""

from __future__ import annotations

import schemathesis

from conformance.fuzz import checks
from conformance.fuzz.checks import DOMAIN_CHECKS, operation_id
from conformance.fuzz.live import live_safe_body, probes_through, requests_session, send_httpx
from conformance.fuzz.runner import CaseRunner, Reachability
from conformance.fuzz.settings import (
    DEEP,
    STATEFUL_SCENARIOS,
    depth,
    load_config,
    load_schema,
    settings_dict,
    state_machine,
)
from conformance.fuzz.world import (
    QUERY_PINNED,
    AppSwitch,
    World,
    credentials_for,
    is_positive,
    mixed_number,
    pin_batch_id,
    pin_query,
    satisfy_recipient_rule,
    vary_outcomes,
)

__all__ = ["DEEP", "DOMAIN_CHECKS", "STATEFUL_SCENARIOS", "AppSwitch", "CaseRunner",
           "Reachability", "World", "checks", "credentials_for", "depth", "is_positive",
           "live_safe_body", "load_config", "load_schema", "mixed_number", "operation_id",
           "pin_batch_id", "pin_query", "probes_through", "requests_session",
           "satisfy_recipient_rule",
           "send_httpx", "settings_dict", "state_machine", "vary_outcomes"]


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    """Every positive case, from pytest or from `st run`, is made positive for the API:
    a submit satisfies the recipient rule, a query is mapped into the accepted range."""
    if operation_id(case) == "submitBatchCall" and is_positive(case):
        satisfy_recipient_rule(case.body)
    if not QUERY_PINNED.get():
        pin_query(case)
