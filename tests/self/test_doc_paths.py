"""Every path a document names exists: a reader who follows `conformance/safety/` or
`pytest conformance_suite/contract` from a README finds it. A path is any word starting with
one of the project's top folders; `<placeholder>`s, globs and `::test` ids are cut off first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOPS = ("conformance", "conformance_suite", "tests", "docs", "openapi", "benchmarks",
        "cassettes")
DOCS = sorted({*ROOT.glob("*.md"), *ROOT.glob("docs/*.md"), *ROOT.glob("conformance/**/*.md"),
               *ROOT.glob("benchmarks/*.md"), *ROOT.glob("cassettes/*.md"),
               *ROOT.glob("openapi/**/*.md")} - set(ROOT.glob("benchmarks/results/**/*.md")))
PATH = re.compile(r"(?<![\w./:-])((?:" + "|".join(TOPS) + r")/[\w./*<>{}\[\]-]*)")


def named_paths(text: str) -> set[str]:
    """The repository paths a Markdown text names (as far as they are concrete)."""
    found = set()
    for match in PATH.finditer(text):
        path = re.split(r"[<*{\[]|::", match.group(1))[0].rstrip(".,:;)")
        if path.count("/") >= 1 and not path.endswith("/."):
            found.add(path)
    return found


def test_the_path_finder_sees_paths_and_their_concrete_part():
    text = ("see `conformance/safety/` and conformance/profiles/<dialect>.toml, run "
            "`pytest tests/self/test_api.py::test_x` (also: docs/diff.md).")
    assert named_paths(text) == {"conformance/safety/", "conformance/profiles/",
                                 "tests/self/test_api.py", "docs/diff.md"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_document_names_exists(doc):
    missing = sorted(p for p in named_paths(doc.read_text()) if not (ROOT / p).exists())
    assert missing == [], f"{doc.relative_to(ROOT)} names paths that do not exist"
