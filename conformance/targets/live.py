"""`live:<dialect>`: a real endpoint, every request through the live guard.

One `LiveRun` per run holds the guard's policy, its ledger and its caps; every client of the
run (scenarios, fuzzing, clean-up) sends through its one transport.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from conformance.cleanup import cleanup
from conformance.pressure import Pressure, PressureTransport
from conformance.profiles import load_profile
from conformance.safety import SafetyPolicy, SafetyTransport
from conformance.safety.policy import SharedLedger
from conformance.targets.base import (
    Env,
    LiveRun,
    RunOptions,
    Target,
    TargetError,
    check_dialect,
)


def _reason(response: httpx.Response) -> str:
    """The server's own word for a refusal (`detail.status`, else `detail`), short."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, dict):
        detail = detail.get("status") or detail.get("message")
    return str(detail or response.reason_phrase or "refused")[:60]


class LiveTarget(Target):
    kind = "live"
    keeps_batches = True

    @classmethod
    def from_arg(cls, text: str, arg: str, env: Env, options: RunOptions) -> LiveTarget:
        check_dialect(text, arg)
        profile = load_profile(arg)
        return cls(text, arg, options=options, env=env,
                   base_url=(env.get(profile.base_url_env or "") or "").rstrip("/") or None,
                   api_key=env.get(profile.api_key_env or "") or None,
                   other_api_key=env.get(f"{arg.upper()}_OTHER_API_KEY") or None)

    # -- what a live run may do -------------------------------------------------------------

    @property
    def may_dispatch(self) -> bool:
        return self.options.allow_dispatch

    @property
    def controls_outcomes(self) -> bool:
        return self.options.mock_outcomes

    @property
    def mutates_foreign_ids(self) -> bool:
        return False

    @property
    def uses_cassettes(self) -> bool:
        return self.options.recording

    def agent_ids(self) -> tuple[str, str]:
        first, second = super().agent_ids()
        return (self.env.get(self.env_name("AGENT_ID"), first),
                self.env.get(self.env_name("OTHER_AGENT_ID"), second))

    def whatsapp_phone_number_id(self) -> str | None:
        return self.env.get(self.env_name("WHATSAPP_PHONE_NUMBER_ID")) or None

    # -- configuration ----------------------------------------------------------------------

    def check_ready(self) -> None:
        profile = self.profile
        missing = [str(name) for name, value in ((profile.base_url_env, self.base_url),
                                                 (profile.api_key_env, self.api_key))
                   if not value]
        if missing:
            raise TargetError(f"{self.text}: set {' and '.join(missing)} (the key is never "
                              "written to a file)")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetError(f"{self.text}: {profile.base_url_env}={self.base_url!r} is not "
                              "a URL")

    def check_reachable(self, timeout: float = 10.0) -> None:
        """Pre-flight: one list with limit=1 per key, before anything runs. The suite's own
        trouble (unreachable, a key refused, a base URL that already holds the API path) is
        one line here instead of a whole run charged to the target. A server that answers
        anything else (429 too: a busy server is reachable) is left to the suite to judge."""
        if not self.base_url:
            raise TargetError(f"{self.text}: no base URL")
        url = self.base_url + self.api.paths.list()
        keys = [(self.profile.api_key_env, self.api_key)]
        if self.other_api_key:
            keys.append((self.env_name("OTHER_API_KEY"), self.other_api_key))
        for env_name, key in keys:
            try:
                response = httpx.get(url, params={"limit": 1}, headers=self.auth_headers(key),
                                     timeout=timeout, trust_env=False, follow_redirects=False)
            except httpx.TimeoutException:
                return  # slow is not down: the suite's own waits judge a slow server
            except httpx.HTTPError as exc:
                reason = str(exc) or type(exc).__name__
                raise TargetError(f"{self.text}: {self.base_url} is unreachable "
                                  f"({reason[:100]})") from None
            status = response.status_code
            if status in (401, 403):
                raise TargetError(f"{self.text}: the key in {env_name} was refused ({status} "
                                  f"{_reason(response)})")
            if status == 404:
                base = self.profile.base_path.strip("/")
                hint = (f"; {self.profile.base_url_env} holds the API path, set it to the "
                        "server's root" if base and base in urlsplit(self.base_url).path
                        else f"; is {self.profile.base_url_env} the server's root?")
                raise TargetError(f"{self.text}: GET {url[:100]} answered 404{hint}")

    # -- the run's guard --------------------------------------------------------------------

    def start_run(self, run_id: str, prefix: str, *, workers: int = 1,
                  slots_dir: str | None = None) -> LiveRun:
        """The run's guard over its pressure layer (conformance/pressure.py): every client
        of the run sends through both. `slots_dir` shares the concurrency limit between the
        processes of one run (xdist workers)."""
        # Under pytest-xdist each of `workers` holds its own guard over one ledger of caps
        # shared through `slots_dir` (exact); without that folder, the caps split evenly.
        workers = max(1, workers)
        split = 1 if slots_dir else workers
        policy = SafetyPolicy(
            name_prefix=prefix, base_path=self.profile.base_path,
            allowed_hosts=frozenset({urlsplit(self.base_url or "").hostname or ""}),
            allow_dispatch=self.options.allow_dispatch,
            max_batches=int(self.env.get("API_LIVE_MAX_BATCHES", "200")) // split,
            max_recipients=int(self.env.get("API_LIVE_MAX_RECIPIENTS", "1000")) // split,
            whatsapp_phone_number_id=self.whatsapp_phone_number_id())
        pressure = Pressure(budget_s=self.options.pressure_budget_s,
                            concurrency=workers if slots_dir else 64, slots_dir=slots_dir)
        below = PressureTransport(httpx.HTTPTransport(), pressure,
                                  name_operation=self._operation_name,
                                  key_header=self.profile.auth_header)
        ledger = SharedLedger(slots_dir) if slots_dir else None
        run = LiveRun(SafetyTransport(below, policy, ledger), prefix, pressure)
        below.on_lost = lambda request, reason=None: self._find_lost(run, request)
        self.run = run
        return run

    def _operation_name(self, request: httpx.Request) -> str:
        found = self.api.match(request.method, request.url.path)
        return found[0].name if found else f"{request.method} {request.url.path}"

    #: How many list pages (of 100) are walked to find a submit whose answer was lost.
    LOST_WALK_PAGES = 5

    def _find_lost(self, run: LiveRun, request: httpx.Request) -> str:
        """A submit was sent and its answer lost: find its batch by its unique name (the
        run's prefix) so the run cleans it up; never send the submit again."""
        if self._operation_name(request) != "submit":
            return "nothing to look for"
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            body = {}
        name, agent = body.get("call_name"), body.get("agent_id")
        if not isinstance(name, str) or not name.startswith(run.prefix):
            return "it named no batch of this run, so there is nothing to clean up"
        header = self.profile.auth_header
        params: dict[str, str | int] = {"limit": 100}
        if isinstance(agent, str):
            params["agent_id"] = agent
        try:
            with httpx.Client(base_url=self.base_url or "", transport=run.transport,
                              headers={header: request.headers.get(header, "")},
                              trust_env=False, timeout=30.0) as http:
                for _ in range(self.LOST_WALK_PAGES):
                    page = http.get(self.api.paths.list(), params=params).json()
                    for batch in page.get("batch_calls") or []:
                        if batch.get("name") == name:
                            run.ledger.record(batch["id"])
                            return (f"its batch {batch['id']} was found by its name and is "
                                    "cleaned up with the run")
                    if not page.get("has_more") or not page.get("next_doc"):
                        break
                    params["last_doc"] = page["next_doc"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            return f"looking for its batch failed ({type(exc).__name__}); `conformance sweep`"
        return (f"no batch named {name!r} in the {self.LOST_WALK_PAGES * 100} newest; if it "
                "was made, `conformance sweep` removes it")

    def end_run(self, run: LiveRun | None) -> dict[str, str]:
        """Cancel and delete whatever the run's ledger still holds."""
        if run is None:
            return {}
        if run.pressure is not None:
            run.pressure.cleanup_grace()
        try:
            with self.client(validator=lambda response: None, run=run) as owner:
                failed = self.cleanup(run, owner, run.ledger.ids())
        finally:
            run.transport.close()
        return failed

    def transport(self, run: LiveRun | None) -> SafetyTransport:
        if run is None:
            raise TargetError(f"{self.text}: a live client needs the run's guard")
        return run.transport

    def refusal(self, run: LiveRun | None, method: str, url: str, *, json: Any = None,
                content: bytes | None = None, headers: dict[str, str] | None = None
                ) -> str | None:
        request = httpx.Request(method, httpx.URL(self.base_url or "").join(url), json=json,
                                content=content,
                                headers=self.auth_headers(None) if headers is None else headers)
        return self.transport(run).explain(request)

    def cleanup(self, run: LiveRun | None, client: httpx.Client, batch_ids: list[str]
                ) -> dict[str, str]:
        if run is None:
            raise TargetError(f"{self.text}: clean-up needs the run's guard")
        for batch_id in batch_ids:
            run.ledger.record(batch_id)
        report = cleanup(client, run.ledger, self.api)
        if report.broken:
            # Every batch was tried; the server's broken answer is its failure (not a clean-up
            # the suite could not do): the first one, with its exchange, for the report.
            raise report.broken[0]
        return report.failed


