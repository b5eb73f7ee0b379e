"""`conformance sweep`: cancel and delete what earlier live runs left behind, by name prefix."""

from __future__ import annotations

import os
import sys
import time
from urllib.parse import urlsplit

import httpx

from conformance.safety import (
    SafetyPolicy,
    SweepError,
    UnsafeRequest,
    guarded_client,
    name_prefix,
    new_run_id,
    sweep,
)
from conformance.targets import TargetError, parse_target


def run_sweep(target_text: str, *, prefix: str = "cst-", dry_run: bool = False,
              min_age_s: int = 0, env=os.environ) -> int:
    """Sweep a live target; 0 when nothing is left, 1 when some batch could not be removed."""
    target = parse_target(target_text, env)
    if target.kind != "live":
        raise TargetError(f"{target_text}: sweep works on live:<vendor> targets only")
    target.check_ready()
    profile = target.profile
    policy = SafetyPolicy(name_prefix=name_prefix(new_run_id()), base_path=profile.base_path,
                          allowed_hosts=frozenset({urlsplit(target.base_url).hostname}),
                          sweep_prefix=prefix)
    with guarded_client(target.base_url, policy, headers={profile.auth_header: target.api_key},
                        timeout=30.0) as client:
        try:
            swept = sweep(client, profile.base_path, prefix, time.time(), dry_run=dry_run,
                          min_age_s=min_age_s)
        except SweepError as exc:
            for batch_id in exc.swept:
                print(f"swept {batch_id}")
            print(f"conformance sweep: {len(exc.errors)} batch(es) left: {exc.errors}",
                  file=sys.stderr)
            return 1
        except (httpx.HTTPError, UnsafeRequest) as exc:
            raise TargetError(f"{target_text}: sweep failed: {exc}") from None
    verb = "would sweep" if dry_run else "swept"
    for index, batch_id in enumerate(swept, 1):
        print(f"[{index}/{len(swept)}] {verb} {batch_id}")
    print(f"conformance sweep: {verb} {len(swept)} batch(es) named {prefix}* on {target_text}")
    return 0
