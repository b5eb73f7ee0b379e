"""Targets: where the suite's requests go, chosen by one option.

    mock              the embedded mock, in-process (default), elevenlabs dialect
    mock:<fault>      the same mock with one named deliberate bug
    cassette:<dialect> recorded exchanges replayed, network blocked
    live:<dialect>     a real endpoint: <VENDOR>_BASE_URL and <VENDOR>_API_KEY

A target string names a class (as Bowtie maps a connector string to one); the object answers
what tests need. Only this package knows which kind a target is.
"""

from __future__ import annotations

import os

from conformance.fictional import MOCK_KEYS
from conformance.targets.base import Env, LiveRun, RunOptions, Target, TargetError
from conformance.targets.cassette import RECORDED_RUN_ID, CassetteTarget
from conformance.targets.live import LiveTarget
from conformance.targets.mock import MockTarget

__all__ = ["KINDS", "MOCK_KEYS", "RECORDED_RUN_ID", "CassetteTarget", "LiveRun", "LiveTarget",
           "MockTarget", "RunOptions", "Target", "TargetError", "parse_target"]

KINDS: dict[str, type[Target]] = {cls.kind: cls for cls in (MockTarget, CassetteTarget,
                                                            LiveTarget)}
FORMS = "mock, mock:<fault>, cassette:<dialect> or live:<dialect>"


def parse_target(text: str, env: Env = os.environ, options: RunOptions | None = None
                 ) -> Target:
    """The target a `--target` string names; TargetError (one line) when it names none."""
    kind, _, arg = text.partition(":")
    cls = KINDS.get(kind)
    if cls is None:
        raise TargetError(f"unknown target {text!r}: use {FORMS}")
    return cls.from_arg(text, arg, env, options or RunOptions())
