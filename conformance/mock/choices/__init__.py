"""The mock's undocumented choices, as data: `default.toml` and `alternate.toml` here.

Where the vendor's documentation is silent the mock must still do *something*; each such
decision is a named choice with a value, a one-line description and the alternatives it
may take. `load_choices("default" | "alternate" | path)` reads a set; `create_app(choices=)`
and `conformance-mock --choices` pick one. Both sets keep the documented contract; the
suite reports where a server's choice differs from its own inference.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NAMED = {"default": HERE / "default.toml", "alternate": HERE / "alternate.toml"}


@dataclass(frozen=True)
class Choices:
    """One choice set (see default.toml for what each field means)."""

    name: str = "default"
    cancel_finished_batch: str = "conflict"        # conflict | accept
    retry_unfinished_batch: str = "conflict"       # conflict | accept
    cancel_finished_recipients: str = "keep"       # keep | cancel
    voicemail_counts_as_finished: bool = True
    all_failed_batch_status: str = "failed"        # failed | completed
    default_concurrency: int = 10
    list_order: str = "newest_first"               # newest_first | oldest_first
    max_page_limit: int = 100
    call_time_scale: float = 1.0
    id_format: str = "hex"                         # hex | uuid
    cursor_format: str = "base64url"               # base64url | hex
    malformed_id_status: int = 404                 # 404 | 422

    def replace(self, **changes: Any) -> Choices:

        return replace(self, **changes)


class ChoiceError(ValueError):
    pass


def _check(key: str, entry: Any, source: str) -> Any:
    if not isinstance(entry, dict) or "value" not in entry:
        raise ChoiceError(f"{source}: [{key}] needs value, description and alternatives")
    value, alternatives = entry["value"], entry.get("alternatives")
    if not entry.get("description") or not isinstance(alternatives, list):
        raise ChoiceError(f"{source}: [{key}] needs a description and a list of alternatives")
    if value not in alternatives:
        raise ChoiceError(f"{source}: [{key}] value {value!r} is not one of {alternatives}")
    return value


def load_choices(which: str | Path | Choices | None = "default") -> Choices:
    """A choice set by name ("default", "alternate"), from a TOML file, or as given."""
    if which is None:
        which = "default"
    if isinstance(which, Choices):
        return which
    path = NAMED.get(str(which), Path(which))
    if not path.is_file():
        raise ChoiceError(f"no choice set {str(which)!r} (known: {', '.join(NAMED)}, "
                          "or a path to a .toml file)")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    known = {f.name: f for f in fields(Choices) if f.name != "name"}
    unknown = set(data) - set(known) - {"name"}
    if unknown:
        raise ChoiceError(f"{path.name}: unknown choice(s) {sorted(unknown)}")
    missing = set(known) - set(data)
    if missing:
        raise ChoiceError(f"{path.name}: missing choice(s) {sorted(missing)}")
    values = {key: _check(key, data[key], path.name) for key in known}
    return Choices(name=str(data.get("name", path.stem)), **values)


def describe(which: str | Path = "default") -> dict[str, dict]:
    """key -> {value, description, alternatives} as the file says (README, tests)."""
    path = NAMED.get(str(which), Path(which))
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if isinstance(v, dict)}
