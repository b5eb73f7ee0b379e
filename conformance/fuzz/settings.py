"""Fuzz settings: the root `schemathesis.toml` (fixed seed, derandomized, no example
database), the nightly overlay, the dialect's schema and its state machine."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping

import schemathesis
from schemathesis.config import SchemathesisConfig

from conformance.fuzz import _compat
from conformance.resources import FUZZ_SETTINGS
from conformance.spec import load_spec

#: `CONFORMANCE_FUZZ=deep`: the nightly run (more examples, longer stateful runs).
DEEP = {
    "generation": {"max-examples": 1000},
    "phases": {"stateful": {"max-steps": 30}},
}
#: `CONFORMANCE_FUZZ=mutants`: the reduced profile `make mutants` runs once per mutant
#: (same seed and phases, fewer examples: hundreds of runs must fit in an hour). 50, not
#: fewer: with 10 or 25 the fixed seed never reaches retry's success path on the correct mock
#: (every operation's canary must see a 2xx, or the baseline itself is NOT CONFORMANT).
REDUCED = {
    "generation": {"max-examples": 50},
    "phases": {"stateful": {"max-steps": 8}},
}
#: Stateful scenarios (Hypothesis examples of the state machine) per run (mutants: 20, since
#: 10 left retry's canary unreached in a whole-suite baseline of the correct mock).
STATEFUL_SCENARIOS = {"ci": 60, "deep": 600, "mutants": 20}


def depth(env: Mapping[str, str] = os.environ) -> str:
    value = env.get("CONFORMANCE_FUZZ", "ci").strip().lower() or "ci"
    if value not in STATEFUL_SCENARIOS:
        raise ValueError(f"CONFORMANCE_FUZZ={value!r}: use ci, deep or mutants")
    return value


def _merge(base: dict, overlay: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def settings_dict(level: str | None = None) -> dict:
    """The root schemathesis.toml as a dict, with the `deep` overlay when asked for."""
    data = tomllib.loads(FUZZ_SETTINGS.read_text())
    overlay = {"deep": DEEP, "mutants": REDUCED}.get(level or depth())
    if overlay:
        data = _merge(data, overlay)
    return data


def load_config(level: str | None = None) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(settings_dict(level), base_dir=str(FUZZ_SETTINGS.parent))


def load_schema(dialect: str, level: str | None = None):
    """The dialect of the bundled spec as a Schemathesis schema."""

    return schemathesis.openapi.from_dict(copy.deepcopy(load_spec(dialect)),
                                          config=load_config(level))


def state_machine(schema):
    """`schema.as_state_machine()` whose scenarios may start with submit
    (see _compat.drop_inferred_inputs)."""
    _compat.drop_inferred_inputs(schema, "submitBatchCall")
    return schema.as_state_machine()
