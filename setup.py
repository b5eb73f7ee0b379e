"""Builds the wheel: everything is declared in pyproject.toml; this only bundles the data a
run needs that lives outside the package in a checkout (the bundled spec, the recorded
cassettes, the fuzz settings) into `conformance/_bundled/`, where conformance.resources finds
it when the package is installed rather than checked out."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLED = {"openapi/batch-calling.yaml": "openapi/batch-calling.yaml",
           "schemathesis.toml": "schemathesis.toml", "cassettes": "cassettes"}


class BuildWithData(build_py):
    def run(self):
        super().run()
        dest = Path(self.build_lib) / "conformance" / "_bundled"
        for source, target in BUNDLED.items():
            src, out = HERE / source, dest / target
            out.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, out, dirs_exist_ok=True)
            else:
                shutil.copy2(src, out)


setup(cmdclass={"build_py": BuildWithData})
