"""Running one generated case against the target, and the per-test canary."""

from __future__ import annotations

import time
import zlib

from conformance.exchanges import BrokenAnswer
from conformance.fuzz.live import (
    live_safe_body,
    probes_through,
    request_of,
    requests_session,
    send_httpx,
)
from conformance.fuzz.world import (
    QUERY_PINNED,
    AppSwitch,
    World,
    credentials_for,
    is_positive,
    operation_id,
    pin_batch_id,
    pin_query,
)
from conformance.targets import MOCK_KEYS


class Reachability:
    """Which operations answered 2xx at least once. The canary: a run in which an operation
    never did (a wrong key makes every answer 401, a broken route every answer 404) must
    fail, not pass."""

    def __init__(self) -> None:
        self.statuses: dict[str | None, dict[int, int]] = {}

    def record(self, operation: str | None, status: int) -> None:
        table = self.statuses.setdefault(operation, {})
        table[status] = table.get(status, 0) + 1

    def reached(self, operation: str) -> bool:
        return any(200 <= s < 300 for s in self.statuses.get(operation, {}))

    def verdict(self, operation: str) -> str | None:
        """None when `operation` answered 2xx at least once, else why this is a failure."""
        if self.reached(operation):
            return None
        seen = self.statuses.get(operation, {})
        total = sum(seen.values())
        detail = ", ".join(f"{s}x{n}" for s, n in sorted(seen.items())) or "no response"
        return (f"canary: {operation} never answered 2xx in {total} generated request(s) "
                f"({detail}); a run that never reaches the operation's success path proves "
                "nothing about it (wrong key? wrong base URL? every request rejected?)")


def _noop(response) -> None:
    """Schemathesis validates fuzzed responses itself."""


#: Live: cases sent per operation test (half positive, half negative). Each is a real request
#: with follow-ups; a shared staging endpoint rate-limits (15 requests/s per key is common),
#: and the whole safe run must fit in about a minute there (every check still runs on each).
LIVE_CASES = 20


class CaseRunner:
    """Runs one generated case against the target and validates it with every check.

    In-process: a fresh `World` per case behind one `AppSwitch`; batch ids and positive
    queries pinned. Live: through the run's guard; a positive submit is rewritten by
    `live_safe_body` (at most `live_submits` per test); a negative one is sent when the
    guard says it cannot place a call; a case the guard would refuse is generated but not
    sent (`unsendable` keeps the reasons). Statuses go to `reach` (the canary)."""

    def __init__(self, target, name_prefix: str, live_run=None, *, agent_id: str | None = None,
                 live_submits: int = 6, live_cases: int = LIVE_CASES, validator=None) -> None:
        self.target = target
        self.max_live_submits = live_submits
        #: Live: cases sent per test and kind (positive, negative) at most: each is a real
        #: request, vendors rate-limit, and one kind must not use up the other's share.
        self.max_live_cases = live_cases
        self.live_sent = {True: 0, False: 0}
        self.name_prefix = name_prefix
        self.agent_id = agent_id
        #: Live: the vendor's WhatsApp number, when configured (drawn WhatsApp batches kept).
        self.whatsapp_id = None if target.in_process else target.whatsapp_phone_number_id()
        self.live_run = live_run
        self.headers = target.auth_headers(None)
        self.reach = Reachability()
        self.operation: str | None = None
        self.live_submits = 0
        self.unsendable: dict[str, int] = {}
        self.switch = AppSwitch()
        self._client = None
        #: Live: the batches made for this test's cases, None until asked for. Asked once per
        #: test: a submit the server answers wrongly is charged by submit's own test, and
        #: submitting again for every case would use up the run's batch cap (the guard then
        #: refuses the rest: the suite's error on top of the server's failure).
        self._own: list[str] | None = None
        self._retryable: list[str] | None = None
        #: The test's validator (a ResponseValidator): a held submit whose answer breaks the
        #: spec is the server's failure, raised again for every case that needed the batch
        #: (the same answer each time, so Hypothesis sees one deterministic failure).
        self.validator = validator
        self._broken: BrokenAnswer | None = None
        self.drawn_id = False

    @property
    def client(self):
        """Live: an httpx client through the run's guard (built once)."""
        if self._client is None:
            self._client = self.target.client(validator=_noop, api_key="", run=self.live_run)
        return self._client

    def run(self, case) -> None:
        op = operation_id(case)
        self.operation = op
        if self.target.in_process:
            self._in_process(case, op)
        else:
            self._live(case, op)

    def _in_process(self, case, op: str | None) -> None:

        # The world's batches belong to the mock's first workspace, whatever key this run
        # sends (a wrong one must see 401s, not a crash).
        world = World.build(self.target.new_app, MOCK_KEYS[0])
        pin_batch_id(case, world)
        pin_query(case, world)
        self.switch.current = world.app
        # Schemathesis' own probes (ignored_auth, ...) send through the operation's app.
        case.operation.app = case.operation.schema.app = self.switch
        headers = credentials_for(case, self.headers)
        token = QUERY_PINNED.set(True)
        try:
            response = case.call(headers=headers)
        finally:
            QUERY_PINNED.reset(token)
        self.reach.record(op, response.status_code)
        case.validate_response(response, headers=headers,
                               transport_kwargs={"app": self.switch, "headers": headers})

    # -- live --------------------------------------------------------------------------------

    def _held_body(self) -> dict | None:
        return live_safe_body({}, self.name_prefix, int(time.time()), agent_id=self.agent_id)

    def _finished_batch(self) -> str | None:
        """Dispatch allowed: a batch of this run that has finished (what retry starts from)."""
        # Two recipients: on the mock one completes and one fails (mixed_number), so there
        # is someone to call again; on a vendor, fictional numbers cannot be reached at all.
        body = live_safe_body({"recipients": [{}, {}]}, self.name_prefix, int(time.time()),
                              agent_id=self.agent_id, dispatch=True)
        api = self.target.api
        response = self.client.post(api.paths.submit(), json=body, headers=self.headers)
        if response.status_code != 200:
            self._judge(response)
            return None
        batch_id = response.json()["id"]
        wait = self.target.eventually(None)
        finished = self.target.api.lifecycle.batch_finished
        wait(lambda: self.client.get(api.paths.get(batch_id), headers=self.headers).json().get(
            "status") in finished, what="a dispatched batch finishing")
        return batch_id

    def _live_batches(self, op: str | None) -> list[str]:
        """Batches this runner created for its cases: one held batch (for retry, one that has
        finished, when dispatch is allowed). Other tests' batches may be gone already."""
        if op == "retryBatchCall" and self.target.may_dispatch:
            if self._retryable is None:
                self._retryable = [b for b in [self._finished_batch()] if b]
            if self._broken is not None:
                raise self._broken
            return self._retryable
        if self._own is None:
            self._own = []
            response = self.client.post(self.target.api.paths.submit(), json=self._held_body(),
                                        headers=self.headers)
            if response.status_code == 200:
                self._own = [response.json()["id"]]
            else:
                self._judge(response)
        if self._broken is not None:
            raise self._broken
        return self._own

    def check_answer(self, case, response) -> None:
        """Live: an answer to an operation of the spec that breaks it raises the validator's
        ContractViolation, in the words every other test uses (one distinct problem, with its
        request and response), before Schemathesis' checks judge the rest. A probe with a
        method the operation does not have (the coverage phase's OPTIONS) is Schemathesis'
        to judge: the spec has no answer for it."""
        if self.validator is not None and case.method.upper() == case.operation.method.upper():
            self.validator(response)

    def _judge(self, response) -> None:
        """Keep the broken answer of a submit this runner made for its cases, if it is one."""
        if self.validator is None:
            return
        try:
            self.validator(response)
        except BrokenAnswer as exc:
            self._broken = exc

    def pin_live_batch(self, case) -> None:
        """Point `batch_id` at a batch this run created: reads keep a drawn id one time in
        n+1 (`drawn_id` then says so); cancel/retry/delete always get one of the run's own
        batches, the only ones the live guard lets them touch."""
        self.drawn_id = False
        params = case.path_parameters or {}
        if "batch_id" not in params:
            return
        op = operation_id(case)
        ids = self._live_batches(op)
        if not ids:
            return
        if self.target.api.operation(op).mutating:
            if params["batch_id"] not in ids:
                slot = zlib.crc32(str(params["batch_id"]).encode("utf-8", "surrogatepass"))
                params["batch_id"] = ids[slot % len(ids)]
            return
        params["batch_id"] = World(None, {f"b{i}": b for i, b in enumerate(ids)}).pin(
            params["batch_id"])
        self.drawn_id = params["batch_id"] not in ids

    def excluded_checks(self) -> list:
        """What a target other than the embedded mock is not held to: for an id it never
        issued, whether the answer is 404 (our reading: NOTFOUND-1, inferred) or 422 (a
        server that validates its id format) is the server's choice, so Schemathesis'
        "schema-valid data is accepted" does not judge that case unless the target is
        strict."""
        if not self.drawn_id or self.target.strict:
            return []
        from schemathesis.specs.openapi.checks import (
            positive_data_acceptance,  # lazy: schemathesis, only when fuzzing
        )

        return [positive_data_acceptance]

    def _skip(self, reason: str) -> None:
        self.unsendable[reason] = self.unsendable.get(reason, 0) + 1

    def _live(self, case, op: str | None) -> None:
        positive = is_positive(case)
        if self.live_sent[positive] >= self.max_live_cases // 2:
            kind = "positive" if positive else "negative"
            self._skip(f"more than {self.max_live_cases // 2} {kind} cases per operation on a "
                       "live target")
            return
        pin_query(case)
        if case.method.upper() != case.operation.method.upper() and case.method.upper() not in (
                "GET", "HEAD", "OPTIONS"):
            # An undocumented-method probe (coverage phase): the live guard refuses unknown
            # mutating requests, so it is generated but not sent.
            self._skip(f"{case.method.upper()} is not an operation of the API")
            return
        if op == "submitBatchCall" and is_positive(case):
            if self.live_submits >= self.max_live_submits:
                self._skip(f"more than {self.max_live_submits} positive submits per test")
                return
            case.body = live_safe_body(case.body, self.name_prefix, int(time.time()),
                                       agent_id=self.agent_id,
                                       whatsapp_phone_number_id=self.whatsapp_id
                                       ) or self._held_body()
        self.pin_live_batch(case)
        headers = credentials_for(case, self.headers)
        request = request_of(case, base_url=self.target.base_url, headers=headers)
        why = self.target.refusal(self.live_run, request["method"], request["url"],
                                  headers=request["headers"], content=request.get("content"))
        if why:
            self._skip(why)
            return
        if op == "submitBatchCall" and is_positive(case):
            self.live_submits += 1
        self.live_sent[positive] += 1
        response = send_httpx(self.client, case, base_url=self.target.base_url,
                              headers=headers)
        self.reach.record(op, response.status_code)
        self.check_answer(case, response)
        with probes_through(self.client):
            case.validate_response(
                response, headers=headers, excluded_checks=self.excluded_checks(),
                transport_kwargs={"session": requests_session(self.client),
                                  "base_url": self.target.base_url, "headers": headers})
