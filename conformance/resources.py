"""Where the project's data lives: the bundled spec, profiles, cassettes, fuzz settings.

One place, so that a checkout and an installed wheel find the same files.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
SPEC_PATH = ROOT / "openapi" / "batch-calling.yaml"
CASSETTES = ROOT / "cassettes"
FUZZ_SETTINGS = ROOT / "schemathesis.toml"
