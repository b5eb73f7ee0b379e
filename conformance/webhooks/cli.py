"""`conformance webhook-check --url URL --secret S`: check a user's webhook receiver.

Wired into conformance/cli.py by `add_parser(subparsers)`. Exit codes: 0 every delivery
answered as expected, 1 some not, 2 cannot run (URL not allowed, receiver unreachable).
"""

from __future__ import annotations

import argparse
import os
import sys

from conformance.webhooks.check import (
    EXIT_CANNOT_RUN,
    OVERSIZED_BYTES,
    CannotRun,
    exit_code,
    run_check,
    summary,
    write_junit,
)

SECRET_ENV = "CONFORMANCE_WEBHOOK_SECRET"


def cmd_webhook_check(args: argparse.Namespace) -> int:

    secret = args.secret or os.environ.get(SECRET_ENV, "")
    try:
        results = run_check(args.url, secret, timeout=args.timeout,
                            oversized_bytes=args.oversized_bytes)
    except CannotRun as exc:
        print(f"conformance: webhook-check: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    print(summary(results, args.url, secret))
    if args.junit:
        path = write_junit(results, args.junit, args.url)
        print(f"JUnit: {path} (render with `conformance report {path}`)")
    return exit_code(results)


def add_parser(subparsers) -> argparse.ArgumentParser:

    parser = subparsers.add_parser(
        "webhook-check", help="send genuine and forged deliveries to your webhook receiver "
        "and check it accepts only the genuine ones")
    parser.add_argument("--url", required=True,
                        help="the receiver: loopback http(s) (127.0.0.1, ::1, localhost) or "
                        "any https URL")
    parser.add_argument("--secret", help=f"the webhook's HMAC secret (default env {SECRET_ENV}; "
                        "never printed, only its fingerprint)")
    parser.add_argument("--junit", default="reports/webhook-check.xml",
                        help="JUnit file for `conformance report` ('' for none)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per delivery")
    parser.add_argument("--oversized-bytes", type=int, default=OVERSIZED_BYTES,
                        help="size of the oversized delivery (default 32 MiB)")
    parser.set_defaults(func=cmd_webhook_check)
    return parser
