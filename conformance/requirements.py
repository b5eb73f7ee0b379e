"""The requirements table (conformance/requirements.toml): what the suite checks, and how
sure we are that the vendor promises it. Tests name one each; the report groups by them."""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

TABLE = Path(__file__).resolve().parent / "requirements.toml"
GRADES = ("documented", "observed", "inferred")


class RequirementError(ValueError):
    """The table is malformed, or a test names a requirement it does not have."""


@dataclass(frozen=True)
class Requirement:
    id: str
    text: str
    grade: str
    source: str

    @property
    def inferred(self) -> bool:
        return self.grade == "inferred"


@cache
def load(path: Path = TABLE) -> dict[str, Requirement]:
    data = tomllib.loads(path.read_text())
    table = {}
    for rid, entry in data.items():
        missing = {"text", "grade", "source"} - set(entry)
        if missing:
            raise RequirementError(f"{path.name}: {rid} lacks {', '.join(sorted(missing))}")
        if entry["grade"] not in GRADES:
            raise RequirementError(f"{path.name}: {rid} grade {entry['grade']!r} is not one "
                                   f"of {', '.join(GRADES)}")
        table[rid] = Requirement(rid, entry["text"], entry["grade"], entry["source"])
    return table


def as_json(table: dict[str, Requirement]) -> str:
    return json.dumps({r.id: {k: v for k, v in asdict(r).items() if k != "id"}
                       for r in table.values()}, sort_keys=True)
