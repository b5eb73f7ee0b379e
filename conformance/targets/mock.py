"""`mock` and `mock:<fault>`: the embedded mock, fresh and in-process for every test."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from conformance.exchanges import BrokenAnswer
from conformance.fictional import MOCK_KEYS
from conformance.profiles import Profile, load_profile
from conformance.targets.base import (
    Env,
    LiveRun,
    RunOptions,
    Target,
    TargetError,
    Validator,
    Wait,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette



class MockTarget(Target):
    kind = "mock"
    controls_time = True
    grades_inferred_as_differs = False
    in_process = True

    def __init__(self, text: str, fault: str | None = None, **kw: Any) -> None:
        super().__init__(text, "elevenlabs", base_url="http://mock.invalid",
                         api_key=MOCK_KEYS[0], other_api_key=MOCK_KEYS[1], **kw)
        self.fault = fault

    @classmethod
    def from_arg(cls, text: str, arg: str, env: Env, options: RunOptions) -> MockTarget:
        if arg:
            from conformance.mock.faults import (  # lazy: the mock's web stack (starlette)
                UnknownFault,
                resolve_faults,
            )

            try:
                resolve_faults([arg])
            except UnknownFault as exc:
                raise TargetError(f"{text}: {exc}") from None
        return cls(text, arg or None, options=options, env=env)

    @property
    def deviations_profile(self) -> Profile:

        return load_profile("mock")

    def new_app(self, dialect: str | None = None, **kw: Any) -> Starlette:
        """A fresh mock with this target's fault; `kw` goes to create_app (a clock, a
        webhook receiver, a choice set)."""
        from conformance.mock.app import (
            create_app,  # lazy: the mock's web stack (starlette)
        )
        from conformance.mock.clock import (
            ManualClock,  # lazy: the mock's web stack, only for the mock target
        )

        kw.setdefault("clock", ManualClock())
        # API_MOCK_CHOICES: the choice set the embedded mock serves (default, alternate or a
        # .toml). The mock target enforces inferred requirements, so a set that flips one
        # (the alternate set: CANCEL-4, CANCEL-5, RETRY-4, NOTFOUND-1) fails those tests.
        kw.setdefault("choices", self.env.get("API_MOCK_CHOICES") or "default")
        return create_app(profile=dialect or self.dialect, keys=list(MOCK_KEYS),
                          faults=[self.fault] if self.fault else [], **kw)

    def client(self, *, validator: Validator, api_key: str | None = None,
               app: Starlette | None = None, run: LiveRun | None = None) -> httpx.Client:

        with warnings.catch_warnings():
            # Starlette 1.x nudges towards httpx2; the vendor SDK and vcrpy speak httpx.
            warnings.simplefilter("ignore")
            from starlette.testclient import (
                TestClient,  # lazy: the mock's web stack (starlette)
            )

        assert app is not None, "a mock client talks to its test's app"
        client = TestClient(app, base_url=self.base_url or "", raise_server_exceptions=False,
                            headers=self.auth_headers(api_key))
        client.event_hooks = {"response": [validator]}
        return client

    def clock(self, app: Starlette | None, client: httpx.Client) -> Callable[[], int]:
        assert app is not None, "the mock target's clock is its app's"
        now: Callable[[], int] = app.state.store.now
        return now

    def eventually(self, app: Starlette | None) -> Wait:
        assert app is not None, "the mock target waits on its app's clock"
        store = app.state.store

        def wait(predicate: Callable[[], Any], *, within: int = 3600, step: int = 5,
                 what: str = "the condition") -> Any:
            for _ in range(within // step + 1):
                value = predicate()
                if value:
                    return value
                store.advance(step)
            # The mock's time is the suite's own: nothing slow or external can be behind a
            # wait that ran out, so it is the server's failure, charged to the test's
            # requirement (a fixture's set-up too), never "could not run".
            raise BrokenAnswer(f"{what} did not happen within {within}s of mock time",
                               requirement="")

        return wait
