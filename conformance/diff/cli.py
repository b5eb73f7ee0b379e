"""`conformance diff OLD NEW` and `conformance cassettes check --spec FILE`.

Exit codes: 0 nothing at or above `--fail-on` (diff) / every exchange validates
(cassettes); 1 something is / some fail; 2 cannot run, with a one-line reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conformance.diff import ContractError, cassettes, diff_files, load_contract, render
from conformance.diff.cassettes import CASSETTES
from conformance.diff.render import FORMATS
from conformance.diff.rules import LEVELS, at_or_above
from conformance.refs import RefError

EXIT_OK, EXIT_FOUND, EXIT_CANNOT_RUN = 0, 1, 2


def _fail(message: str) -> int:
    print(f"conformance: {message}", file=sys.stderr)
    return EXIT_CANNOT_RUN


def cmd_diff(args: argparse.Namespace) -> int:

    try:
        changes = diff_files(args.old, args.new, as_published=args.as_published)
    except (ContractError, RefError) as exc:
        return _fail(str(exc))
    except RecursionError:
        return _fail(f"{args.old} / {args.new}: schemas nest too deeply to compare")
    output = render.render(args.format, changes, args.old, args.new, args.fail_on)
    if args.output:
        Path(args.output).write_text(output)
    else:
        sys.stdout.write(output)
    return EXIT_FOUND if any(at_or_above(c.level, args.fail_on) for c in changes) else EXIT_OK


def cmd_cassettes_check(args: argparse.Namespace) -> int:

    try:
        spec = load_contract(args.spec)
        root = Path(args.cassettes)
        if not root.is_dir():
            return _fail(f"{root}: no such folder")
        result = cassettes.check(spec, root)
    except (ContractError, cassettes.CassetteError) as exc:
        return _fail(str(exc))
    except (KeyError, TypeError) as exc:
        return _fail(f"{args.spec}: not a spec of this API ({type(exc).__name__}: {exc})")
    if not result.checked:
        return _fail(f"{root}: no recorded exchange of this API found")
    sys.stdout.write(cassettes.report(result))
    return EXIT_FOUND if result.failures else EXIT_OK


def add_parser(subparsers) -> None:
    """Register `diff` and `cassettes` on the `conformance` command line."""

    diff = subparsers.add_parser(
        "diff", help="what changed between two contracts, judged for clients",
        description="Compare two contracts of the batch-calling API: the bundled spec or a "
        "vendor's openapi.json (its batch-calling part is extracted as `make spec` does).")
    diff.add_argument("old", help="the contract clients were written against")
    diff.add_argument("new", help="the contract they will meet")
    diff.add_argument("--format", choices=FORMATS, default="text")
    diff.add_argument("--fail-on", choices=LEVELS, default="breaking",
                      help="exit 1 when a change is at or above this level (default breaking)")
    diff.add_argument("--output", help="write the report to this file instead of stdout")
    diff.add_argument("--as-published", action="store_true",
                      help="compare vendor files as extracted, without the bundled overlay")
    diff.set_defaults(func=cmd_diff)


    tapes = subparsers.add_parser("cassettes", help="committed cassettes against a spec")
    tapes_sub = tapes.add_subparsers(dest="cassettes_command", required=True)
    check = tapes_sub.add_parser("check", help="re-validate every recorded response against "
                                 "a candidate spec (each dialect's cassettes in that dialect)")
    check.add_argument("--spec", required=True, help="bundled-form spec or vendor openapi.json")
    check.add_argument("--cassettes", default=str(CASSETTES), help="cassettes folder")
    check.set_defaults(func=cmd_cassettes_check)
