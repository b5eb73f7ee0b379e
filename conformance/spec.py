"""The bundled spec, in each dialect, and validation of responses against it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.profiles import Profile, derive_dialect, load_profile
from conformance.resources import SPEC_PATH

SPEC_URI = "urn:conformance:spec"


@cache
def _bundled() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return spec


@cache
def _load(name: str) -> dict[str, Any]:
    profile = load_profile(name)
    return derive_dialect(_bundled(), profile)


def load_spec(profile: str | Profile = "elevenlabs") -> dict[str, Any]:
    """The spec in one dialect (cached: treat as read-only)."""
    name = profile.name if isinstance(profile, Profile) else profile
    return _load("elevenlabs" if name == "mock" else name)


def _registry(spec: dict[str, Any]) -> Registry[Any]:
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    return registry


def _absolute_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (SPEC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#")
                    else _absolute_refs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute_refs(v) for v in node]
    return node


class SchemaValidator:
    """A Draft 2020-12 validator with a compiled fast path.

    `jsonschema` (Python) is the reference: its errors carry the paths and messages the
    suite reports and the mock turns into 422 items. `jsonschema_rs` answers the common
    question, "is this valid?", about 50x faster, so the reference only runs on instances
    the fast one rejects. Both treat `format` as an annotation (Draft 2020-12's default);
    tests/self/test_fast_paths.py checks that they agree on generated valid and invalid data.
    """

    def __init__(self, spec: dict[str, Any], schema: dict[str, Any]) -> None:
        self.reference = Draft202012Validator(_absolute_refs(copy.deepcopy(schema)),
                                              registry=_registry(spec))
        self.fast = jsonschema_rs.Draft202012Validator(
            {**schema, "components": spec.get("components", {})}, validate_formats=False)

    def is_valid(self, instance: Any) -> bool:
        return self.fast.is_valid(instance)

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        """The reference validator's errors; none without asking it when the fast path
        accepts the instance."""
        if self.fast.is_valid(instance):
            return iter(())
        errors: Iterator[ValidationError] = self.reference.iter_errors(instance)
        return errors


_validators: dict[tuple[int, str], SchemaValidator] = {}


def schema_validator(spec: dict[str, Any], schema: dict[str, Any]) -> SchemaValidator:
    """A Draft 2020-12 validator for `schema`, whose local `$ref`s resolve in `spec`."""
    key = (id(spec), json.dumps(schema, sort_keys=True))
    validator = _validators.get(key)
    if validator is None:
        validator = SchemaValidator(spec, schema)
        _validators[key] = validator
    return validator
