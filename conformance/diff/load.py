"""Read a contract of this API from a file: the bundled spec as it is, or a vendor's
`openapi.json` (full or already a fragment) through conformance.bundle's own extraction and build,
so both sides of a diff are in the same form."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from conformance import bundle


class ContractError(ValueError):
    """The file cannot be read as a contract of this API (one line, for the user)."""


def read_document(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ContractError(f"{path}: no such file")
    try:
        text = path.read_text()
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ContractError(f"{path}: not JSON or YAML ({reason})") from None
    if not isinstance(doc, dict) or not (doc.get("openapi") or doc.get("swagger")):
        raise ContractError(f"{path}: not an OpenAPI document (no `openapi` field)")
    if not isinstance(doc.get("paths"), dict):
        raise ContractError(f"{path}: not an OpenAPI document (no `paths` object)")
    return doc


def is_bundled(doc: dict) -> bool:
    """Our generated spec (any dialect) carries the name of the fragment it came from."""
    return "x-conformance-vendor-fragment" in doc


def load_contract(path: str | Path, *, as_published: bool = False) -> dict:
    """The contract in `path`, ready to compare.

    A vendor file is reduced to its batch-calling paths and the schemas they reach
    (`bundle.extract`) and, unless `as_published`, built into the bundled form
    (`bundle.build`) so that it compares with `openapi/batch-calling.yaml` change for
    change, the suite's own additions being the same on both sides."""
    doc = read_document(path)
    if is_bundled(doc):
        return doc
    try:
        fragment = bundle.extract(doc)
    except ValueError as exc:
        raise ContractError(f"{path}: {exc}") from None
    if as_published:
        return fragment
    try:
        return bundle.build(fragment, Path(path).name)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ContractError(f"{path}: cannot be built into the bundled form "
                            f"({type(exc).__name__}: {exc}); try --as-published") from None
