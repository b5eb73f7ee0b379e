"""Installable as a tool, not only as a checkout: the built wheel, installed into a fresh
virtual environment outside the checkout, runs the suite from an empty folder against the
mock, a cassette replay and a live target (the mock served on loopback)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
from livehelp import ROOT, live_env, served_mock


def _run(command, cwd, env=None, timeout=600):
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv holding the wheel (its dependencies come from this one, without its .pth
    files, so the checkout's editable install is not visible there)."""
    tmp = tmp_path_factory.mktemp("wheel")
    code, out = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                      "-q", "-w", str(tmp / "dist"), str(ROOT)], cwd=tmp)
    assert code == 0, out[-3000:]
    wheel = next((tmp / "dist").glob("conformance-*.whl"))
    venv = tmp / "venv"
    code, out = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    assert code == 0, out
    target_site = next(venv.glob("lib/python*/site-packages"))
    (target_site / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    code, out = _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                      "install", "-q", "--no-deps", str(wheel)], cwd=tmp)
    assert code == 0, out[-3000:]
    return venv, tmp


def _env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    return {**env, **(extra or {})}


def test_the_wheel_carries_the_suite_and_its_data(installed):
    venv, tmp = installed
    code, out = _run([str(venv / "bin" / "python"), "-c",
                      "import conformance, conformance_suite, conformance.resources as r; "
                      "print(conformance.__file__); print(r.SPEC_PATH.is_file(), "
                      "r.CASSETTES.is_dir(), r.FUZZ_SETTINGS.is_file())"],
                     cwd=tmp, env=_env())
    assert code == 0, out
    assert str(ROOT) not in out.splitlines()[0], "the checkout was imported, not the wheel"
    assert out.splitlines()[1] == "True True True"


@pytest.mark.parametrize("where", ["mock", "cassette:voiceai"])
def test_the_installed_tool_runs_the_suite_from_an_empty_folder(installed, tmp_path, where):
    venv, _ = installed
    code, out = _run([str(venv / "bin" / "conformance"), "run", "--target", where,
                      "--reports", "out", "--", "-q", "-k",
                      "cancel_cancels or submit_echoes or getBatchCall"],
                     cwd=tmp_path, env=_env())
    assert code == 0, out[-3000:]
    assert "CONFORMANT" in out and (tmp_path / "out" / "report.html").is_file()
    assert not (tmp_path / "out" / "report.md").read_text().count("FAIL |")


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
