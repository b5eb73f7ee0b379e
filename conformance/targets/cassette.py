"""`cassette:<dialect>`: recorded exchanges replayed with the network blocked."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conformance.targets.base import Env, RunOptions, Target, Wait, check_dialect

if TYPE_CHECKING:
    from starlette.applications import Starlette

#: Cassettes are recorded and replayed under this run id, so names echo as recorded.
RECORDED_RUN_ID = "recorded"


class CassetteTarget(Target):
    kind = "cassette"
    replays = True

    @classmethod
    def from_arg(cls, text: str, arg: str, env: Env, options: RunOptions) -> CassetteTarget:
        check_dialect(text, arg)
        # Keys were filtered out of the recording; these only select the workspace.
        return cls(text, arg, options=options, env=env, base_url="http://127.0.0.1:9",
                   api_key="cassette-replay-key", other_api_key="cassette-replay-other-key")

    @property
    def uses_cassettes(self) -> bool:
        return True

    def eventually(self, app: Starlette | None) -> Wait:
        """Replays the recorded polls: no waiting, and a bound on how many."""

        def wait(predicate: Callable[[], Any], *, within: int = 3600, step: int = 5,
                 what: str = "the condition") -> Any:
            for _ in range(10_000):
                value = predicate()
                if value:
                    return value
            raise AssertionError(f"{what}: cassette replay never reached it")

        return wait
