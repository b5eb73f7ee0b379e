"""Stateful fuzzing over the spec's links (submit -> get / cancel / retry / delete / export,
cancel / retry -> get), with every Schemathesis check and the suite's domain checks.

Mock: each scenario starts from a fresh mock (Hypothesis never sees state leak between
scenarios) whose clock moves before every call (`STEP_BEFORE`, else `STEP_SECONDS`), so batches
dispatch, finish and become retryable during a scenario. Live: submit bodies are rewritten to
the safe form, retry is left out unless --allow-dispatch, and every batch created is deleted at
the end (the `fuzz_live` fixture). Cassette: skipped (tests/contract/conftest.py says why).
"""

from __future__ import annotations

import time

import hypothesis
import schemathesis
from hypothesis import HealthCheck

from conformance import fuzz
from conformance.targets import build_mock_app

STEP_SECONDS = 120
#: Mock time passing before a call, by operation: cancel meets batches still running,
#: retry meets batches that have finished (so both reach their success path often).
STEP_BEFORE = {"cancelBatchCall": 1, "retryBatchCall": 1800}
#: Live: scenarios x steps (<= 8 submits) plus the stateless run's (<= 7) stay within the
#: safety policy's cap of 20 batches per run.
LIVE_SCENARIOS, LIVE_STEPS = 2, 4
#: Operations a correct target answers 2xx at least once in the mock's stateful run.
MUST_REACH = ("submitBatchCall", "getBatchCall", "cancelBatchCall", "retryBatchCall",
              "deleteBatchCall", "exportBatchCall")


def _machine(target, name_prefix, live_client, allow_dispatch: bool):
    schema = fuzz.load_schema(target.vendor)
    switch = fuzz.AppSwitch()
    headers = {target.profile.auth_header: target.api_key}
    reach = fuzz.Reachability()
    runner = fuzz.CaseRunner(target, name_prefix, live_client)
    if target.kind == "mock":
        schema.app = switch
    elif not allow_dispatch:
        schema = schema.exclude(operation_id="retryBatchCall")
    base = fuzz.state_machine(schema)

    class Machine(base):
        def setup(self):
            if target.kind == "mock":
                switch.current = build_mock_app(target)

        def before_call(self, case):
            op = fuzz.operation_id(case)
            fuzz.pin_query(case)
            if target.kind == "mock":
                switch.current.state.store.advance(STEP_BEFORE.get(op, STEP_SECONDS))
            elif op == "submitBatchCall":
                safe = fuzz.live_safe_body(case.body, name_prefix, int(time.time()))
                case.body = safe if safe is not None else fuzz.live_safe_body(
                    {}, name_prefix, int(time.time()))
            else:
                runner.pin_live_batch(case)   # only batches this run created

        def get_call_kwargs(self, case):
            creds = fuzz.credentials_for(case, headers)
            if target.kind == "mock":
                return {"headers": creds}
            return {"headers": creds, "session": fuzz.HttpxSession(live_client),
                    "base_url": target.base_url}

        def call(self, case, **kwargs):
            if target.kind == "mock":
                return case.call(**kwargs)
            return schemathesis.Response.from_any(fuzz.send_httpx(
                live_client, case, base_url=target.base_url, headers=kwargs["headers"]))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # Name the credentials sent, so ignored_auth knows they are the run's own key.
            case.validate_response(response, additional_checks=additional_checks,
                                   headers=kwargs.get("headers"), transport_kwargs=kwargs,
                                   recorder=self.recorder)

        def after_call(self, response, case):
            super().after_call(response, case)
            reach.record(fuzz.operation_id(case), response.status_code)

    return Machine, reach


def test_stateful(request, target, name_prefix, fuzz_live):
    """Linked sequences of operations keep every answer conformant and every batch
    consistent with its earlier observations."""
    allow_dispatch = request.config.getoption("--allow-dispatch")
    machine, reach = _machine(target, name_prefix, fuzz_live, allow_dispatch)
    config = fuzz.load_config()
    steps = config.projects.default.phases.stateful.max_steps or 10
    scenarios = fuzz.STATEFUL_SCENARIOS[fuzz.depth()]
    phases = list(hypothesis.Phase)
    if target.kind == "live":
        # No shrinking: it would submit more batches than the run's cap allows.
        scenarios, steps = LIVE_SCENARIOS, LIVE_STEPS
        phases = [hypothesis.Phase.explicit, hypothesis.Phase.generate]
    machine.run(settings=hypothesis.settings(
        max_examples=scenarios, stateful_step_count=steps, derandomize=True, database=None,
        deadline=None, phases=phases, suppress_health_check=list(HealthCheck)))
    counts = {op: sum(v.values()) for op, v in reach.statuses.items()}
    request.node.user_properties.append(("fuzz_statuses", repr(reach.statuses)))
    must = MUST_REACH if target.kind == "mock" else ("submitBatchCall",)
    problems = [reach.verdict(op) for op in must if reach.verdict(op)]
    assert not problems, "\n".join(problems) + f"\n(requests per operation: {counts})"
