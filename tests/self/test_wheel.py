"""Installable as a tool, not only as a checkout, exactly as the README says: the built wheel,
`pip install`ed with no extras into a fresh virtual environment, runs the suite from an empty
folder against the mock, a cassette replay and a live target (the mock served on loopback).

Tests send nothing past loopback, so pip installs with `--no-index`: the new environment sees
only the wheel's own declared dependencies (the closure of its `Requires-Dist` without
extras), linked from this environment. A module the shipped suite imports that is not among
them (an extra, a test tool) fails here as it would for a user; a dependency the wheel forgot
to declare makes pip refuse the install."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest
from livehelp import ROOT, live_env, served_mock
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# One wheel and one environment for the whole module, on one xdist worker.
pytestmark = pytest.mark.xdist_group("wheel")


def _run(command, cwd, env=None, timeout=600):
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def runtime_closure(name: str) -> set[str]:
    """The distributions `pip install <name>` (no extras) brings in, as installed here."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = canonicalize_name(stack.pop())
        if current in seen:
            continue
        seen.add(current)
        for text in distribution(current).requires or ():
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(req.name)
    return seen


def link_dependencies(into: Path) -> set[str]:
    """Symlink every top-level file of the wheel's runtime dependencies into `into`."""
    deps = runtime_closure("conformance") - {"conformance"}
    for name in deps:
        dist = distribution(name)
        for file in dist.files or ():
            parts = Path(file).parts
            if not parts or parts[0] == ".." or parts[0].endswith(".pth"):
                continue
            link = into / parts[0]
            if not link.exists():
                link.symlink_to(Path(dist.locate_file(parts[0])).resolve())
    return deps


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv into which the wheel is pip-installed as the README says (no extras)."""
    tmp = tmp_path_factory.mktemp("wheel")
    code, out = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                      "-q", "-w", str(tmp / "dist"), str(ROOT)], cwd=tmp)
    assert code == 0, out[-3000:]
    wheel = next((tmp / "dist").glob("conformance-*.whl"))
    deps_dir = tmp / "deps"
    deps_dir.mkdir()
    deps = link_dependencies(deps_dir)
    assert "elevenlabs" not in deps, "the official SDK is an extra, not a dependency"
    venv = tmp / "venv"
    code, out = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    assert code == 0, out
    target_site = next(venv.glob("lib/python*/site-packages"))
    (target_site / "deps.pth").write_text(f"{deps_dir}\n")
    code, out = _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                      "install", "-q", "--no-index", str(wheel)], cwd=tmp)
    assert code == 0, out[-3000:]
    return venv, tmp


def _env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    return {**env, **(extra or {})}


def test_the_wheel_carries_the_suite_and_its_data(installed):
    venv, tmp = installed
    code, out = _run([str(venv / "bin" / "python"), "-c",
                      "import conformance, conformance_suite, conformance.resources as r; "
                      "import importlib.util as u; "
                      "print(conformance.__file__); print(r.SPEC_PATH.is_file(), "
                      "r.CASSETTES.is_dir(), r.FUZZ_SETTINGS.is_file(), "
                      "(r.PACKAGE / 'py.typed').is_file(), u.find_spec('elevenlabs') is None)"],
                     cwd=tmp, env=_env())
    assert code == 0, out
    assert str(ROOT) not in out.splitlines()[0], "the checkout was imported, not the wheel"
    assert out.splitlines()[1] == "True True True True True"


@pytest.mark.parametrize("where", ["mock", "cassette:voiceai"])
def test_the_installed_tool_runs_the_suite_from_an_empty_folder(installed, tmp_path, where):
    """The whole suite collects (no import outside the wheel's dependencies) and the chosen
    tests pass; nothing but the reports is left in the folder (no .hypothesis/)."""
    venv, _ = installed
    code, out = _run([str(venv / "bin" / "conformance"), "run", "--target", where,
                      "--reports", "out", "--", "-q", "-k",
                      "cancel_cancels or submit_echoes or getBatchCall or official_sdk"],
                     cwd=tmp_path, env=_env())
    assert code == 0, out[-3000:]
    assert "CONFORMANT" in out and (tmp_path / "out" / "report.html").is_file()
    assert not (tmp_path / "out" / "report.md").read_text().count("FAIL |")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_installed_tool_runs_live_in_safe_mode(installed, tmp_path):
    venv, _ = installed
    with served_mock("elevenlabs") as (app, base_url):
        code, out = _run([str(venv / "bin" / "conformance"), "run", "--target",
                          "live:elevenlabs", "--reports", "out", "--", "-q", "-k",
                          "cancel_cancels or missing_key or test_list"],
                         cwd=tmp_path, env=_env(live_env("elevenlabs", base_url)))
        left = app.state.store.all_batches()
    assert code == 0, out[-3000:]
    assert " passed" in out and left == []
    assert Path(tmp_path / "out" / "live-elevenlabs.xml").is_file()
