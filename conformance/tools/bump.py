"""A spec bump with evidence (`make spec VENDOR_SPEC=path/to/openapi.json`).

1. extract the batch-calling fragment from the vendor file (`bundle.extract`),
2. build the candidate bundled spec from it (`bundle.build`),
3. print what changed against the committed `openapi/batch-calling.yaml` (`conformance diff`),
4. write the fragment to `openapi/vendor/` (replacing the previous one; git keeps it) and
   the candidate over the bundled spec,
5. re-validate every committed cassette against the candidate and list each exchange that
   would now fail.

Exit 0: written, every cassette still validates; 1: written, some recorded exchanges fail
(re-record them with `make record` if the change is real, or revert); 2: cannot run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from conformance import bundle
from conformance.diff import cassettes, render
from conformance.diff.load import ContractError, read_document
from conformance.diff.operations import diff_contracts


def fragment_name(vendor_path: Path, name: str | None) -> str:
    name = name or vendor_path.name
    if not name.endswith(".json"):
        name += ".json"
    return name if name.startswith(bundle.FRAGMENT_PREFIX) else bundle.FRAGMENT_PREFIX + name


def run(vendor_path: Path, *, name: str | None = None, write: bool = True,
        out=sys.stdout) -> int:
    try:
        fragment = bundle.extract(read_document(vendor_path))
    except ContractError as exc:
        print(f"spec: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"spec: {vendor_path}: {exc}", file=sys.stderr)
        return 2
    target = bundle.VENDOR_DIR / fragment_name(vendor_path, name)
    committed = yaml.safe_load(bundle.OUTPUT.read_text())
    candidate = bundle.build(fragment, target.name)
    changes = diff_contracts(committed, candidate)
    out.write(render.text(changes, str(bundle.OUTPUT.relative_to(bundle.ROOT)),
                          f"candidate from {vendor_path}", "breaking"))
    if write:
        for old in bundle.VENDOR_DIR.glob("*.json"):
            if old != target:
                old.unlink()
        if not target.is_file() or json.loads(target.read_text()) != fragment:
            target.write_text(json.dumps(fragment, indent=1) + "\n")
        bundle.OUTPUT.write_text(bundle.dump(candidate))
        out.write(f"wrote {target.relative_to(bundle.ROOT)} and "
                  f"{bundle.OUTPUT.relative_to(bundle.ROOT)}\n")
    try:
        result = cassettes.check(candidate)
    except cassettes.CassetteError as exc:
        print(f"spec: {exc}", file=sys.stderr)
        return 2
    out.write(cassettes.report(result))
    return 1 if result.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.tools.bump",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("vendor_spec", type=Path, help="the vendor's openapi.json (or fragment)")
    parser.add_argument("--name", help="file name of the fragment in openapi/vendor/ "
                        f"(default: the vendor file's, prefixed {bundle.FRAGMENT_PREFIX})")
    parser.add_argument("--dry-run", action="store_true", help="print the diff and the "
                        "cassette check, write nothing")
    args = parser.parse_args(argv)
    return run(args.vendor_spec, name=args.name, write=not args.dry_run)


if __name__ == "__main__":
    raise SystemExit(main())
