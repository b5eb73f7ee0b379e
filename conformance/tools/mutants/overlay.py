"""The import overlay: one mutant applied to one fresh process, never to the files on disk.

A `sitecustomize.py` in a temporary folder first on PYTHONPATH serves the mutated source for
its one module. The fast path (forked.py) patches a forked child instead; this path serves
what a patch cannot reach (module-level lines, lines that run at import) and the self-test.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from conformance.tools.mutants.generate import MOCK, ROOT, Mutant, mutated_source

#: Written as `sitecustomize.py` into a temporary folder put first on PYTHONPATH: the
#: process it starts imports the mutated source for one module, and nothing else changes.
#: With CONFORMANCE_MUTANTS_COVER it records which lines of the mock the process runs.
SHIM = '''\
import atexit, builtins, importlib.abc, importlib.util, json, os, sys

_spec = os.environ.get("CONFORMANCE_MUTANT")
if _spec:
    # ExceptionReplacer's mutants catch this instead of the original exception.
    builtins.CosmicRayTestingException = type("CosmicRayTestingException", (Exception,), {})
    _m = json.load(open(_spec))

    class _Loader(importlib.abc.Loader):
        def create_module(self, spec):
            return None

        def exec_module(self, module):
            module.__file__ = _m["origin"]
            exec(compile(_m["source"], _m["origin"], "exec"), module.__dict__)

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name != _m["module"]:
                return None
            return importlib.util.spec_from_loader(name, _Loader(), origin=_m["origin"])

    sys.meta_path.insert(0, _Finder())

_cover = os.environ.get("CONFORMANCE_MUTANTS_COVER")
if _cover:
    import coverage
    _cov = coverage.Coverage(data_file=_cover, include=[os.environ["CONFORMANCE_MUTANTS_INCLUDE"]])
    _cov.start()

    def _save():
        _cov.stop()
        _cov.save()
    atexit.register(_save)
    # uvicorn re-raises SIGTERM once shut down: exit through atexit, not the default kill.
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
'''


def make_overlay(folder: Path, mutant: Mutant | None, source: str | None = None) -> dict:
    """Environment entries that apply `mutant` (None: the correct mock) to a process."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SHIM)
    env = {"PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}
    if mutant is not None:
        spec = folder / "mutant.json"
        spec.write_text(json.dumps({
            "module": f"conformance.mock.{mutant.module}",
            "origin": str(MOCK / f"{mutant.module}.py"),
            "source": source or mutated_source(mutant.module, mutant.operator,
                                               mutant.occurrence)}))
        env["CONFORMANCE_MUTANT"] = str(spec)
    return env


def clean_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONFORMANCE_MUTANT", "ELEVENLABS_", "VOICEAI_", "API_TARGET",
                                "PYTEST_"))}
    env["CONFORMANCE_FUZZ"] = "mutants"
    env.update(extra or {})
    return env


def nice() -> list[str]:
    return ["nice", "-n", os.environ.get("MUTANTS_NICE", "15")] if shutil.which("nice") else []
