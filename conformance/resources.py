"""Where the project's data lives: the bundled spec, cassettes, fuzz settings.

One place, so that a checkout and an installed wheel find the same files: a checkout keeps
them at its root (`openapi/`, `cassettes/`, `schemathesis.toml`); a wheel carries copies in
`conformance/_bundled/` (setup.py puts them there).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
#: A checkout has its spec at the root; an installed wheel has the bundled copy.
DATA = ROOT if (ROOT / "openapi" / "batch-calling.yaml").is_file() else PACKAGE / "_bundled"
SPEC_PATH = DATA / "openapi" / "batch-calling.yaml"
CASSETTES = DATA / "cassettes"
FUZZ_SETTINGS = DATA / "schemathesis.toml"
