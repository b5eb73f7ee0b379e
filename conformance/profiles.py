"""Dialect profiles: base path, auth header, environment names, dialect and the vendor's
known deviations.

One TOML file per dialect in `conformance/profiles/`. A dialect is derived from the bundled
spec by `derive_dialect`, never hand-copied.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
DIALECTS = ("elevenlabs", "voiceai")
#: The API's base path as the vendor publishes it and the bundled spec keeps it (the one
#: spelling of this literal: bundle/ builds under it, dialects rebase from it).
SPEC_BASE_PATH = "/v1/convai/batch-calling"
BATCH_MODELS = ("BatchCallResponse", "BatchCallDetailedResponse")


class ProfileError(ValueError):
    """A profile is missing or malformed."""


@dataclass(frozen=True)
class Deviation:
    node_id: str
    reason: str
    issue: str


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    base_path: str = SPEC_BASE_PATH
    auth_header: str = "xi-api-key"
    default_base_url: str | None = None
    base_url_env: str | None = None
    api_key_env: str | None = None
    providers_add: tuple[str, ...] = ()
    providers_remove: tuple[str, ...] = ()
    drop_response_fields: tuple[str, ...] = ()
    optional_response_fields: tuple[str, ...] = ()
    free_string_schemas: tuple[str, ...] = ()
    webhooks: bool = True   # False: the vendor publishes no webhooks (its dialect has none)
    deviations: tuple[Deviation, ...] = field(default=())


def available() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


@cache
def load_profile(name: str) -> Profile:
    path = PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"unknown profile {name!r} (known: {', '.join(available())})")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path.name}: {exc}") from None
    dialect = data.get("dialect", {})
    deviations = parse_deviations(data.get("deviations", {}), path.name)
    if name == "mock":
        # The mock speaks every dialect; the elevenlabs one is its default.
        base = {k: v for k, v in data.items() if k in ("name", "title")}
    else:
        base = {k: v for k, v in data.items() if k not in ("dialect", "deviations")}
    return Profile(
        **base,
        providers_add=tuple(dialect.get("providers_add", ())),
        providers_remove=tuple(dialect.get("providers_remove", ())),
        drop_response_fields=tuple(dialect.get("drop_response_fields", ())),
        optional_response_fields=tuple(dialect.get("optional_response_fields", ())),
        free_string_schemas=tuple(dialect.get("free_string_schemas", ())),
        webhooks=bool(dialect.get("webhooks", True)),
        deviations=tuple(deviations),
    )


def parse_deviations(table: dict, where: str) -> list[Deviation]:
    """`{node_id: {reason, issue}}` -> Deviations; every entry needs both."""
    deviations = []
    for node_id, entry in table.items():
        if not isinstance(entry, dict) or not entry.get("reason") or not entry.get("issue"):
            raise ProfileError(f"{where}: deviation {node_id!r} needs a reason and an issue")
        deviations.append(Deviation(node_id, entry["reason"], entry["issue"]))
    return deviations


def load_deviations_file(path: str | Path) -> list[Deviation]:
    """Extra deviations for one run (env CONFORMANCE_DEVIATIONS): a TOML file with a
    `[deviations]` table like a profile's."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from None
    return parse_deviations(data.get("deviations", {}), str(path))


def _refs(node) -> set[str]:
    """Names of the component schemas `node` refers to, directly or through others."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _closure(names: set[str], schemas: dict) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo.extend(_refs(schemas[name]))
    return seen


def _drop_webhooks(out: dict) -> None:
    """Remove `webhooks:`, their delivery rules and the schemas only they use."""
    hooks = out.pop("webhooks", {})
    out.pop("x-conformance-webhook-delivery", None)
    schemas = out["components"]["schemas"]
    used = _closure(_refs(out["paths"]), schemas)
    for name in _closure(_refs(hooks), schemas) - used:
        del schemas[name]


def derive_dialect(spec: dict, profile: Profile) -> dict:
    """Return a copy of the bundled spec rewritten into the profile's dialect."""
    out = copy.deepcopy(spec)
    if profile.base_path != SPEC_BASE_PATH:
        out["paths"] = {
            profile.base_path + path.removeprefix(SPEC_BASE_PATH): item
            for path, item in out["paths"].items()
        }
    out["components"]["securitySchemes"]["ApiKeyAuth"]["name"] = profile.auth_header
    if profile.default_base_url:
        out["servers"] = [{"url": profile.default_base_url}]
    out["info"]["title"] = f"{out['info']['title']} — {profile.title} dialect"
    if not profile.webhooks:
        _drop_webhooks(out)
    schemas = out["components"]["schemas"]
    provider = schemas["TelephonyProvider"]
    provider["enum"] = [v for v in provider["enum"] if v not in profile.providers_remove] + [
        v for v in profile.providers_add if v not in provider["enum"]
    ]
    for name in profile.free_string_schemas:
        schemas[name] = {"type": "string", "title": schemas[name].get("title", name)}
    for model in BATCH_MODELS:
        schema = schemas[model]
        for key in profile.drop_response_fields:
            schema["properties"].pop(key, None)
            if isinstance(schema.get("example"), dict):
                schema["example"].pop(key, None)
        dropped_or_optional = set(profile.drop_response_fields) | set(
            profile.optional_response_fields)
        schema["required"] = [k for k in schema["required"] if k not in dropped_or_optional]
    if profile.drop_response_fields:
        # Examples of batch responses lose the fields this dialect does not have.
        for item in out["paths"].values():
            for op in item.values():
                for response in op.get("responses", {}).values():
                    for media in response.get("content", {}).values():
                        for example in media.get("examples", {}).values():
                            value = example.get("value")
                            if isinstance(value, dict) and "agent_name" in value:
                                for key in profile.drop_response_fields:
                                    value.pop(key, None)
    return out
