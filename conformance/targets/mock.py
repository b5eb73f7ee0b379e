"""`mock` and `mock:<fault>`: the embedded mock, fresh and in-process for every test."""

from __future__ import annotations

import warnings

from conformance.profiles import load_profile
from conformance.targets.base import Target, TargetError

#: Accepted keys of the embedded mock (= conformance.mock.app.DEFAULT_KEYS).
MOCK_KEYS = ("mock-key-local", "mock-key-other")


class MockTarget(Target):
    kind = "mock"
    controls_time = True
    is_vendor = False
    in_process = True

    def __init__(self, text: str, fault: str | None = None, **kw) -> None:
        super().__init__(text, "elevenlabs", base_url="http://mock.invalid",
                         api_key=MOCK_KEYS[0], other_api_key=MOCK_KEYS[1], **kw)
        self.fault = fault

    @classmethod
    def from_arg(cls, text: str, arg: str, env, options) -> MockTarget:
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
    def deviations_profile(self):

        return load_profile("mock")

    def new_app(self, dialect: str | None = None, **kw):
        """A fresh mock with this target's fault; `kw` goes to create_app (a clock, a
        webhook receiver, a choice set)."""
        from conformance.mock.app import (
            create_app,  # lazy: the mock's web stack (starlette)
        )
        from conformance.mock.clock import (
            ManualClock,  # lazy: the mock's web stack, only for the mock target
        )

        kw.setdefault("clock", ManualClock())
        return create_app(profile=dialect or self.dialect, keys=list(MOCK_KEYS),
                          faults=[self.fault] if self.fault else [], **kw)

    def client(self, *, validator, api_key=None, app=None, run=None):

        with warnings.catch_warnings():
            # Starlette 1.x nudges towards httpx2; the vendor SDK and vcrpy speak httpx.
            warnings.simplefilter("ignore")
            from starlette.testclient import (
                TestClient,  # lazy: the mock's web stack (starlette)
            )

        client = TestClient(app, base_url=self.base_url, raise_server_exceptions=False,
                            headers=self._auth(api_key))
        client.event_hooks = {"response": [validator]}
        return client

    def clock(self, app, client):
        return app.state.store.now

    def eventually(self, app):
        store = app.state.store

        def wait(predicate, *, within: int = 3600, step: int = 5, what: str = "the condition"):
            for _ in range(within // step + 1):
                value = predicate()
                if value:
                    return value
                store.advance(step)
            raise AssertionError(f"{what} did not happen within {within}s of mock time")

        return wait
