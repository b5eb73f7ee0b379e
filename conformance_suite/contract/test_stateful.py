"""Stateful fuzzing over the spec's links (submit -> get / cancel / retry / delete / export,
cancel / retry -> get), with every Schemathesis check and the suite's domain checks.

In-process: each scenario starts from a fresh mock (Hypothesis never sees state leak between
scenarios) whose clock moves before every call (`STEP_BEFORE`, else `STEP_SECONDS`), so batches
dispatch, finish and become retryable during a scenario; positive submits get numbers whose
first call fails (`fuzz.vary_outcomes`: retry has someone to call again) and a drawn batch id
is pinned to one of the scenario's batches, or kept one time in n+1 (as live pins it), so
retry's success path is met by design, not by the luck of one generation. Live: submit
bodies are rewritten to the safe form, retry is left out unless dispatch is allowed, every
other request goes through the run's guard, and every batch created is deleted at the end of
the run. Replaying targets: skipped (contract/plugin.py says why).
"""

from __future__ import annotations

import time

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck

from conformance import fuzz

STEP_SECONDS = 120
#: Mock time passing before a call, by operation: cancel meets batches still running,
#: retry meets batches that have finished (so both reach their success path often).
STEP_BEFORE = {"cancelBatchCall": 1, "retryBatchCall": 1800}
#: Live: scenarios x steps (each at most one submit) stay well within the run's cap of 200,
#: and within a rate-limited staging endpoint's minute (conformance/fuzz/runner.LIVE_CASES).
LIVE_SCENARIOS, LIVE_STEPS = 4, 6


def _machine(target, name_prefix, live_run, agent_id, validator=None):
    schema = fuzz.load_schema(target.dialect)
    switch = fuzz.AppSwitch()
    reach = fuzz.Reachability()
    runner = fuzz.CaseRunner(target, name_prefix, live_run, agent_id=agent_id,
                             validator=validator)
    headers = runner.headers
    if target.in_process:
        schema.app = switch
    elif not target.may_dispatch:
        schema = schema.exclude(operation_id="retryBatchCall")
    base = fuzz.state_machine(schema)

    issued: dict[str, str] = {}     # in-process: the batches this scenario's mock issued

    class Machine(base):
        def setup(self):
            if target.in_process:
                switch.current = target.new_app()
                issued.clear()

        def before_call(self, case):
            op = fuzz.operation_id(case)
            fuzz.pin_query(case)
            if target.in_process:
                if op == "submitBatchCall" and fuzz.is_positive(case):
                    fuzz.vary_outcomes(case.body)   # batches retry can start from
                elif issued and (case.path_parameters or {}).get("batch_id") not in issued.values():
                    # A drawn id (not a link's): one of the scenario's batches, or kept as
                    # drawn one time in n+1 (a 404), as the live path pins it.
                    fuzz.pin_batch_id(case, fuzz.World(None, issued))
                switch.current.state.store.advance(STEP_BEFORE.get(op, STEP_SECONDS))
            elif op == "submitBatchCall":
                runner.drawn_id = False
                case.body = fuzz.live_safe_body(
                    case.body, name_prefix, int(time.time()), agent_id=agent_id,
                    whatsapp_phone_number_id=runner.whatsapp_id) or runner._held_body()
            else:
                runner.pin_live_batch(case)   # only batches this run created

        def get_call_kwargs(self, case):
            creds = fuzz.credentials_for(case, headers)
            if target.in_process:
                return {"headers": creds}
            return {"headers": creds, "session": fuzz.requests_session(runner.client),
                    "base_url": target.base_url}

        def call(self, case, **kwargs):
            if target.in_process:
                return case.call(**kwargs)
            answer = fuzz.send_httpx(runner.client, case, base_url=target.base_url,
                                     headers=kwargs["headers"])
            runner.check_answer(case, answer)
            return schemathesis.Response.from_any(answer)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # Name the credentials sent, so ignored_auth knows they are the run's own key.
            if target.in_process:
                return case.validate_response(response, additional_checks=additional_checks,
                                              excluded_checks=[],
                                              headers=kwargs.get("headers"),
                                              transport_kwargs=kwargs, recorder=self.recorder)
            with fuzz.probes_through(runner.client):   # auth probes through the guard too
                case.validate_response(response, additional_checks=additional_checks,
                                       excluded_checks=runner.excluded_checks(),
                                       headers=kwargs.get("headers"),
                                       transport_kwargs=kwargs, recorder=self.recorder)

        def after_call(self, response, case):
            super().after_call(response, case)
            reach.record(fuzz.operation_id(case), response.status_code)
            if target.in_process and response.status_code == 200 and \
                    fuzz.operation_id(case) == "submitBatchCall":
                body = fuzz.checks.body_of(response)
                batch_id = body.get("id") if isinstance(body, dict) else None
                if isinstance(batch_id, str):
                    issued[f"b{len(issued)}"] = batch_id

    return Machine, reach


@pytest.mark.lasts(24)
@pytest.mark.requirement("CONTRACT-2")
def test_stateful(request, target, name_prefix, live_run, agent_id, validator):
    """Linked sequences of operations keep every answer conformant and every batch
    consistent with its earlier observations."""
    machine, reach = _machine(target, name_prefix, live_run, agent_id, validator)
    config = fuzz.load_config()
    steps = config.projects.default.phases.stateful.max_steps or 10
    scenarios = fuzz.STATEFUL_SCENARIOS[fuzz.depth()]
    phases = list(hypothesis.Phase)
    if not target.in_process:
        # No shrinking: it would submit more batches than the run's cap allows.
        scenarios, steps = LIVE_SCENARIOS, LIVE_STEPS
        phases = [hypothesis.Phase.explicit, hypothesis.Phase.generate]
    machine.run(settings=hypothesis.settings(
        max_examples=scenarios, stateful_step_count=steps, derandomize=True, database=None,
        deadline=None, phases=phases, suppress_health_check=list(HealthCheck)))
    counts = {op: sum(v.values()) for op, v in reach.statuses.items()}
    # The canary. In-process, every operation a link reaches must have answered 2xx. Live,
    # the scenarios are few and the server's ids and timing are its own, so which steps
    # meet a batch is not fixed: submit must succeed here, and each operation's own test
    # (test_operations.py, its batch_id pinned to one of this run's batches) carries that
    # operation's canary.
    must = ([op.id for op in target.api.operations if op.params or op.name == "submit"]
            if target.in_process else ["submitBatchCall"])
    problems = [reach.verdict(op) for op in must if reach.verdict(op)]
    assert not problems, "\n".join(problems) + f"\n(requests per operation: {counts})"
