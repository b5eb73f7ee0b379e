"""The rule table (`rules.toml`, data) and the one record every comparison emits."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

RULES_FILE = Path(__file__).with_name("rules.toml")
LEVELS = ("info", "warning", "breaking")  # in rising order


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    description: str
    message: str


@cache
def rules() -> dict[str, Rule]:
    table = tomllib.loads(RULES_FILE.read_text())
    out = {}
    for rule_id, entry in table.items():
        if entry.get("level") not in LEVELS:
            raise ValueError(f"{RULES_FILE.name}: rule {rule_id} has level {entry.get('level')!r}")
        out[rule_id] = Rule(rule_id, entry["level"], entry["description"], entry["message"])
    return out


def at_or_above(level: str, threshold: str) -> bool:
    return LEVELS.index(level) >= LEVELS.index(threshold)


@dataclass(frozen=True)
class Change:
    """One difference between two contracts, judged by one rule."""

    id: str
    level: str
    operation: str   # operationId (NEW's, or OLD's when the operation is gone)
    method: str
    path: str
    pointer: str     # JSON pointer from the document root, through followed $refs
    message: str     # "<operationId>: <subject> <what happened>."
    schema: str | None = None  # the named schema the change sits in, when there is one
    subject: str = ""  # what the change concerns, in words ("query parameter 'limit'")

    def as_dict(self) -> dict:
        return asdict(self)


def make_change(rule_id: str, *, operation: str, method: str, path: str, pointer: str,
                schema: str | None = None, subject: str = "", **fill) -> Change:
    rule = rules()[rule_id]
    values = {"name": "", "old": "", "new": "", "detail": ""}
    values.update({k: _show(v) for k, v in fill.items()})
    subject = subject or f"operation {method} {path}"
    sentence = rule.message.format(subject=subject, **values)
    who = operation or f"{method} {path}"
    return Change(rule_id, rule.level, operation, method, path, pointer,
                  f"{who}: {sentence}", schema, subject)


def _show(value) -> str:
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "|".join(sorted(map(str, value))) or "any"
    if value is None:
        return "none"
    return f"`{value}`"
