"""Re-validate every committed cassette (vcrpy YAML: request method/uri, response
status/headers/body) against a candidate spec, each dialect's folder in that dialect: which
recorded exchanges would fail if that spec became the contract."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from conformance.exchanges import validate_response
from conformance.profiles import DIALECTS, derive_dialect, load_profile

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"


class CassetteError(ValueError):
    """A cassette file cannot be read (one line, for the user)."""


@dataclass(frozen=True)
class Failure:
    cassette: str      # path relative to the cassettes folder
    index: int         # interaction number in the file
    method: str
    path: str
    status: int
    errors: tuple[str, ...]

    def line(self) -> str:
        return (f"{self.cassette} #{self.index}: {self.method} {self.path} -> {self.status}: "
                + "; ".join(self.errors))


@dataclass(frozen=True)
class CheckResult:
    checked: int
    failures: tuple[Failure, ...]
    dialects: tuple[str, ...]


def _interactions(path: Path) -> list[dict]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CassetteError(f"{path}: not a readable cassette ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("interactions", []), list):
        raise CassetteError(f"{path}: not a vcrpy cassette (no `interactions` list)")
    return data.get("interactions") or []


def _exchange(interaction: dict) -> tuple[str, str, int, str | None, bytes]:
    request, response = interaction["request"], interaction["response"]
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    content_type = headers.get("content-type")
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else None
    body = (response.get("body") or {}).get("string", b"")
    body = body.encode() if isinstance(body, str) else (body or b"")
    return (request["method"], urlsplit(request["uri"]).path, int(response["status"]["code"]),
            content_type, body)


def check(spec: dict, root: Path = CASSETTES, dialects=DIALECTS) -> CheckResult:
    """Validate every recorded response under `root/<dialect>/` against `spec` (bundled form)
    in that dialect (`derive_dialect`). Exchanges outside the API's base path (none today)
    are not the contract's business and are skipped."""
    failures, checked, seen = [], 0, []
    for name in dialects:
        folder = root / name
        files = sorted(folder.rglob("*.yaml"))
        if not files:
            continue
        seen.append(name)
        profile = load_profile(name)
        dialect = derive_dialect(spec, profile)
        for path in files:
            for index, interaction in enumerate(_interactions(path)):
                try:
                    method, url_path, status, content_type, body = _exchange(interaction)
                except (KeyError, TypeError, ValueError):
                    raise CassetteError(f"{path}: interaction {index} lacks request method/uri "
                                        "or response status") from None
                if not url_path.startswith(profile.base_path):
                    continue
                checked += 1
                errors = validate_response(dialect, method, url_path, status, content_type, body)
                if errors:
                    failures.append(Failure(str(path.relative_to(root)), index, method,
                                            url_path, status, tuple(errors)))
    return CheckResult(checked, tuple(failures), tuple(seen))


def report(result: CheckResult) -> str:
    lines = [f"{len(result.failures)} of {result.checked} recorded exchanges "
             f"({', '.join(result.dialects) or 'no dialect'}) would now fail"
             + (":" if result.failures else ".")]
    lines += [f"  {f.line()}" for f in result.failures]
    return "\n".join(lines) + "\n"
