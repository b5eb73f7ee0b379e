"""What every target answers, so fixtures ask it instead of testing its name.

A target says how requests are sent (`client`), how to wait (`eventually`), what time it is
(`clock`), whether it controls time, outcomes and dispatch, how strict to be with inferred
requirements, what its guard would refuse, and how to clean up after a test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from conformance.api import FAR_FUTURE_S, Api, api_of
from conformance.fictional import fingerprint
from conformance.pressure import DEFAULT_BUDGET_S, Pressure
from conformance.profiles import DIALECTS, Profile, load_profile
from conformance.redact import Redactor
from conformance.resources import CASSETTES
from conformance.safety import Ledger, SafetyPolicy, SafetyTransport
from conformance.spec import load_spec

if TYPE_CHECKING:
    from starlette.applications import Starlette

#: The environment a target reads (os.environ, or a test's own mapping).
Env = Mapping[str, str]
#: What every response of a client passes through (the suite's spec validation).
Validator = Callable[[httpx.Response], Any]
#: `wait(predicate, *, within=, step=, what=)`: the value once `predicate()` is truthy.
Wait = Callable[..., Any]

#: The WhatsApp number id the mock and the cassettes use (`make record` sets it as the live
#: target's <VENDOR>_WHATSAPP_PHONE_NUMBER_ID so recorded bodies replay).
WHATSAPP_PHONE_NUMBER_ID = "wa_phone_conformance_0001"

#: Live polling: the longest wait for one `eventually`, and the longest pause between polls.
LIVE_DEADLINE = int(os.environ.get("API_LIVE_DEADLINE", "600"))
LIVE_POLL_MAX = float(os.environ.get("API_LIVE_POLL_MAX", "5"))


#: How far the server's `Date` header may read behind its own clock: the header has one-second
#: resolution (RFC 9110 HTTP-date: the seconds are truncated), and a server may refresh it
#: only once a second (stock uvicorn does, in its main loop), so it can show a time up to
#: one more second old. A comparison of a `Date` reading with a server timestamp allows this
#: much, or compares the server's own timestamps with each other instead.
DATE_SLACK_S = 2


class TargetError(Exception):
    """The suite cannot run against this target; the message is one line for the user."""


def check_dialect(text: str, dialect: str) -> None:
    """`dialect` (the `<dialect>` of `live:<dialect>`, `cassette:<dialect>`) has a profile."""
    if dialect not in DIALECTS:
        raise TargetError(f"{text}: unknown dialect {dialect!r} (known: {', '.join(DIALECTS)})")


@dataclass(frozen=True)
class RunOptions:
    """What the user allowed for this run (pytest options of the same names)."""

    allow_dispatch: bool = False   # live: batches may start now (numbers stay fictional)
    mock_outcomes: bool = False    # live: the endpoint is this suite's mock (outcome table)
    strict: bool = False           # not the mock: inferred requirements fail too
    recording: bool = False        # live: exchanges are being recorded into cassettes
    pressure_budget_s: float = DEFAULT_BUDGET_S   # live: longest total wait on pushback


@dataclass
class LiveRun:
    """The run's one guard: policy, ledger and caps shared by every client (live targets)."""

    transport: SafetyTransport
    prefix: str
    pressure: Pressure | None = None   # the run's pushback accounting (pressure.py)

    @property
    def ledger(self) -> Ledger:
        return self.transport.ledger

    @property
    def policy(self) -> SafetyPolicy:
        return self.transport.policy


class Target:
    """One place requests go. Subclasses register a `kind` (conformance.targets) and build
    themselves from a `--target` string with `from_arg`."""

    kind: ClassVar[str]
    #: Controls its own clock: `eventually` moves time instead of waiting for it.
    controls_time: ClassVar[bool] = False
    #: Not this suite's mock (a vendor's server or its recording): an inferred requirement
    #: that does not hold here is reported as "differs from our inference", not failed
    #: (unless --strict).
    grades_inferred_as_differs: ClassVar[bool] = True
    #: Batches outlive the run there (so leftovers can be swept).
    keeps_batches: ClassVar[bool] = False
    #: Answers come from recordings (nothing is sent).
    replays: ClassVar[bool] = False
    #: The server runs in this process (`new_app`), fresh for every test or case.
    in_process: ClassVar[bool] = False

    def __init__(self, text: str, dialect: str, *, options: RunOptions | None = None,
                 base_url: str | None = None, api_key: str | None = None,
                 other_api_key: str | None = None, env: Env = os.environ) -> None:
        self.text = text
        self.dialect = dialect
        self.options = options or RunOptions()
        self.base_url = base_url
        self._api_key = api_key
        self._other_api_key = other_api_key
        self.env = env

    @classmethod
    def from_arg(cls, text: str, arg: str, env: Env, options: RunOptions) -> Target:
        """The target `text` names (`arg`: what follows `<kind>:`); TargetError if none."""
        raise NotImplementedError

    def __repr__(self) -> str:  # keys as fingerprints only: a repr lands in failure output
        return (f"{type(self).__name__}({self.text!r}, base_url={self.base_url!r}, "
                f"api_key={fingerprint(self._api_key)})")

    # -- identity --------------------------------------------------------------------------

    @property
    def api_key(self) -> str | None:
        return self._api_key

    @property
    def other_api_key(self) -> str | None:
        return self._other_api_key

    @cached_property
    def profile(self) -> Profile:
        return load_profile(self.dialect)

    @property
    def deviations_profile(self) -> Profile:
        """Whose known deviations apply (the mock's profile has none)."""
        return self.profile

    @cached_property
    def spec(self) -> dict[str, Any]:
        return load_spec(self.dialect)

    @cached_property
    def api(self) -> Api:
        return api_of(self.spec)

    @cached_property
    def redactor(self) -> Redactor:
        return Redactor((self._api_key, self._other_api_key))

    def env_name(self, suffix: str) -> str:
        return f"{self.dialect.upper()}_{suffix}"

    def agent_ids(self) -> tuple[str, str]:
        return "agent_conformance_0001", "agent_conformance_0002"

    def whatsapp_phone_number_id(self) -> str | None:
        """The vendor's WhatsApp number a WhatsApp batch names in `whatsapp_params` (live:
        <VENDOR>_WHATSAPP_PHONE_NUMBER_ID; None there when unset: WhatsApp tests skip)."""
        return WHATSAPP_PHONE_NUMBER_ID

    # -- what the target lets a test do ----------------------------------------------------

    @property
    def strict(self) -> bool:
        """Inferred requirements fail here (always on the mock; elsewhere with --strict)."""
        return not self.grades_inferred_as_differs or self.options.strict

    @property
    def may_dispatch(self) -> bool:
        """Batches may start during the run (calls are placed)."""
        return True

    @property
    def controls_outcomes(self) -> bool:
        """Calls end as the mock's outcome table says (conformance/mock/outcomes.py)."""
        return True

    @property
    def mutates_foreign_ids(self) -> bool:
        """Cancel/retry/delete may be sent for an id this run did not create."""
        return True

    def hold_seconds(self) -> int:
        """How far ahead a batch that must not start during the test is scheduled."""
        return FAR_FUTURE_S

    def check_ready(self) -> None:
        """Raise TargetError when the target is not configured (missing key, bad URL)."""

    def check_reachable(self, timeout: float = 5.0) -> None:
        """Raise TargetError when the target cannot be reached at all."""

    # -- a run and its tests ---------------------------------------------------------------

    def start_run(self, run_id: str, prefix: str, *, workers: int = 1,
                  slots_dir: str | None = None) -> LiveRun | None:
        """Per-run state shared by every client of the run (the live guard); None here."""
        return None

    def end_run(self, run: LiveRun | None) -> dict[str, str]:
        """Undo what the run left (live: cancel and delete every batch it created);
        {batch id: why it could not be removed}."""
        return {}

    def new_app(self, dialect: str | None = None, **kw: Any) -> Starlette | None:
        """A fresh in-process server for one test (the mock); None elsewhere."""
        return None

    def client(self, *, validator: Validator, api_key: str | None = None,
               app: Starlette | None = None, run: LiveRun | None = None) -> httpx.Client:
        """A client whose every response passes through `validator`. `api_key=""` sends
        none."""
        return httpx.Client(base_url=self.base_url or "", headers=self.auth_headers(api_key),
                            event_hooks={"response": [validator]},
                            transport=self.transport(run), trust_env=False, timeout=30.0)

    def transport(self, run: LiveRun | None) -> httpx.BaseTransport | None:
        return None

    def auth_headers(self, api_key: str | None = None) -> dict[str, str]:
        """The auth header of this target's dialect with `api_key` (default: the target's
        key; `""`: none)."""
        key = self.api_key if api_key is None else api_key
        return {self.profile.auth_header: key} if key else {}

    def refusal(self, run: LiveRun | None, method: str, url: str, *, json: Any = None,
                content: bytes | None = None, headers: dict[str, str] | None = None
                ) -> str | None:
        """Why this target's guard would refuse the request (None: it would be sent)."""
        return None

    def clock(self, app: Starlette | None, client: httpx.Client) -> Callable[[], int]:
        """The target's current unix time: here the server's own `Date` header (a vendor's
        clock, or a served mock's sped-up one), so a clock skewed from the client's does not
        matter; it may read up to DATE_SLACK_S behind the server's clock."""

        list_path = self.api.paths.list()

        def server_now() -> int:
            date = client.get(list_path, params={"limit": 1}).headers.get("date")
            return int(parsedate_to_datetime(date).timestamp()) if date else int(time.time())

        return server_now

    def eventually(self, app: Starlette | None) -> Wait:
        """`wait(predicate, within=, step=, what=)`: polls with backoff until a deadline."""

        def wait(predicate: Callable[[], Any], *, within: int = 3600, step: int = 5,
                 what: str = "the condition") -> Any:
            # Time spent waiting on the server's pushback (429s) is not the server being slow
            # to act: it is added to the deadline.
            deadline = time.monotonic() + LIVE_DEADLINE
            waited = self._pressure_waited()
            delay = 0.2
            while True:
                value = predicate()
                if value:
                    return value
                if time.monotonic() - (self._pressure_waited() - waited) > deadline:
                    raise AssertionError(
                        f"{what} did not happen within {LIVE_DEADLINE}s on {self.text}")
                time.sleep(delay)
                delay = min(delay * 1.5, LIVE_POLL_MAX)

        return wait

    def _pressure_waited(self) -> float:
        pressure = getattr(getattr(self, "run", None), "pressure", None)
        return pressure.waited_s if pressure is not None else 0.0

    def cleanup(self, run: LiveRun | None, client: httpx.Client, batch_ids: list[str]
                ) -> dict[str, str]:
        """Remove what a test created; {batch id: why it could not be removed}. Raises
        `BrokenAnswer` (after trying every batch) when the server's answer broke the contract."""
        return {}

    # -- cassettes ------------------------------------------------------------------------

    @property
    def uses_cassettes(self) -> bool:
        """Scenario exchanges are replayed from, or recorded into, cassettes."""
        return False

    def cassette_dir(self, module_file: str) -> Path:
        """cassettes/<dialect>/<test module>/."""
        return CASSETTES / self.dialect / Path(module_file).stem
