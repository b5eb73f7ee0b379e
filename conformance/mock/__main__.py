"""Serve the mock: `python -m conformance.mock --port 8080` (console script: conformance-mock)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from conformance.fictional import fingerprint
from conformance.mock.app import create_app
from conformance.mock.choices import NAMED as CHOICE_SETS
from conformance.mock.clock import DEFAULT_START, Clock, ManualClock, WallClock
from conformance.mock.faults import FAULTS, UnknownFault
from conformance.mock.heap import HeapPolicy
from conformance.mock.parts import DEFAULT_KEYS, MAX_BODY_BYTES
from conformance.mock.server import uvicorn_options
from conformance.mock.staging import Staging, StagingOptions, parse_latency, preload


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conformance-mock",
        description="Stateful mock of a batch-calling API (see conformance/mock/README.md).")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--profile", default="elevenlabs",
                        help="dialect: elevenlabs (default) or voiceai")
    parser.add_argument("--key", action="append", dest="keys", metavar="KEY",
                        help=f"accepted API key, repeatable; each key is its own workspace "
                             f"(default: {', '.join(DEFAULT_KEYS)})")
    parser.add_argument("--fault", action="append", dest="faults", default=[], metavar="NAME",
                        help="activate a named fault, repeatable (--list-faults shows them)")
    parser.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    parser.add_argument("--admin", action="store_true",
                        help="serve the admin API under /_mock/ (clock, reset, faults)")
    parser.add_argument("--clock", choices=("wall", "manual"), default="wall",
                        help="wall: real time (default); manual: moves only via the admin API")
    parser.add_argument("--start", type=int, default=None,
                        help=f"manual clock start, unix seconds (default {DEFAULT_START})")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="wall clock speed-up, e.g. 60 = one real second is a mock minute")
    parser.add_argument("--choices", default="default", metavar="SET",
                        help=f"the mock's undocumented choices: {' | '.join(CHOICE_SETS)} or a "
                             ".toml path (default: default; see conformance/mock/README.md)")
    parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES)
    parser.add_argument("--webhook-url", metavar="URL",
                        help="deliver signed post-call webhooks to this loopback URL "
                             "(127.0.0.1, ::1 or localhost only)")
    parser.add_argument("--webhook-secret", metavar="S",
                        default=os.environ.get("CONFORMANCE_MOCK_WEBHOOK_SECRET"),
                        help="HMAC secret of the deliveries (default env "
                             "CONFORMANCE_MOCK_WEBHOOK_SECRET; printed only as a fingerprint)")
    parser.add_argument("--webhook-no-retries", action="store_true",
                        help="never retry a failed delivery (the vendor's default setting)")
    parser.add_argument("--no-gc-freeze", action="store_true",
                        help="leave the garbage collector walking the whole store (default: "
                             "freeze it after start-up and every 20,000 stored recipients; "
                             "conformance/mock/heap.py)")
    staging = parser.add_argument_group(
        "staging", "behave like a shared staging endpoint (all off by default; "
        "conformance/mock/staging.py)")
    staging.add_argument("--rate-limit", type=int, default=0, metavar="N",
                         help="at most N requests per second per API key; over it 429 "
                              "system_busy with Retry-After")
    staging.add_argument("--max-concurrent", type=int, default=0, metavar="N",
                         help="at most N requests in flight per API key; over it 429 "
                              "too_many_concurrent_requests (with and without Retry-After)")
    staging.add_argument("--latency", default=None, metavar="A-B",
                         help="every answer takes a uniform A..B milliseconds, e.g. 50-250")
    staging.add_argument("--flaky", type=float, default=0.0, metavar="P",
                         help="drop the connection of a fraction P of GET/HEAD requests")
    staging.add_argument("--date-lag", action="store_true",
                         help="refresh the Date header once a second, like stock uvicorn (up "
                              "to a second behind the clock, on top of its resolution)")
    staging.add_argument("--clock-skew", type=float, default=0.0, metavar="S",
                         help="the wall clock runs S seconds ahead of the machine's (< 0: "
                              "behind)")
    staging.add_argument("--preload", type=int, default=0, metavar="N",
                         help="N earlier, finished batches per workspace (five other agents)")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true",
                        help="do not log each request (uvicorn's access log), e.g. under load")
    return parser


def _webhook_line(app) -> str:
    hooks = app.state.parts.webhooks
    if hooks is None:
        return ""
    d = hooks.dispatcher
    return (f", webhooks to {d.url} (secret {d.secret_fingerprint}, "
            f"retries {'on' if d.retries else 'off'})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_faults:
        for f in FAULTS.values():
            print(f"{f.name:40} {f.category:12} {f.description}")
        return 0
    clock: Clock
    if args.clock == "manual":
        clock = ManualClock(args.start) if args.start is not None else ManualClock()
    else:
        clock = WallClock(args.time_scale, skew=args.clock_skew)
    if args.webhook_url and not args.webhook_secret:
        print("conformance-mock: --webhook-url needs --webhook-secret (or env "
              "CONFORMANCE_MOCK_WEBHOOK_SECRET)", file=sys.stderr)
        return 2
    try:
        app = create_app(args.profile, keys=args.keys, clock=clock, faults=args.faults,
                         admin=args.admin, max_body_bytes=args.max_body_bytes,
                         choices=args.choices,
                         webhook_url=args.webhook_url, webhook_secret=args.webhook_secret,
                         webhook_retries=not args.webhook_no_retries,
                         webhook_background=bool(args.webhook_url))
        staging = StagingOptions(
            rate_limit=args.rate_limit, max_concurrent=args.max_concurrent,
            latency_ms=parse_latency(args.latency) if args.latency else (0, 0),
            flaky=args.flaky, date_lag=args.date_lag)
        if not 0 <= args.flaky < 1 or args.rate_limit < 0 or args.max_concurrent < 0:
            raise ValueError("--flaky is a fraction in [0, 1); --rate-limit and "
                             "--max-concurrent are >= 0")
    except (UnknownFault, ValueError) as exc:
        print(f"conformance-mock: {exc}", file=sys.stderr)
        return 2
    import uvicorn  # lazy: the server stack, only when serving

    if args.preload:
        preload(app.state.store, sorted(set(app.state.parts.keys.values())), args.preload)
    served: Any = app   # the app, or the app behind the staging middleware
    if staging.active:
        served = Staging(app, staging, app.state.profile.auth_header, clock)

    profile = app.state.profile
    print(f"conformance-mock: {profile.name} dialect at http://{args.host}:{args.port}"
          f"{profile.base_path}, auth header {profile.auth_header}, keys "
          f"{', '.join(map(fingerprint, app.state.keys))}, clock {args.clock}, "
          f"choices {app.state.choices.name}"
          f"{', admin API on /_mock/' if args.admin else ''}"
          f"{', faults ' + ', '.join(app.state.faults) if app.state.faults else ''}"
          f"{_webhook_line(app)}"
          f"{', ' + staging.describe() if staging.active else ''}"
          f"{f', clock {args.clock_skew:+g} s skew' if args.clock_skew else ''}"
          f"{f', {args.preload} earlier batches per workspace' if args.preload else ''}",
          file=sys.stderr)
    if not args.no_gc_freeze:

        HeapPolicy(app.state.store).freeze()   # start-up: modules, spec, validators
    # The app sends Date in mock time (ClockDate); uvicorn's would be wall time.
    uvicorn.run(served, host=args.host, port=args.port, log_level=args.log_level,
                access_log=not args.no_access_log, **uvicorn_options())
    return 0


if __name__ == "__main__":
    sys.exit(main())
