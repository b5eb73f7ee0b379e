r"""Live-run safety, enforced in the HTTP transport.

A live run talks to a vendor that rings real phones. Every request goes through
`SafetyTransport` (sync) or `AsyncSafetyTransport`, which inspects it *before* it leaves the
process and raises `UnsafeRequest` (nothing sent) unless all of these hold:

* the host is one of ``policy.allowed_hosts`` (exact, case-insensitive; default loopback
  only), a non-loopback host uses https, the ``Host`` header names exactly the URL's host and
  port, and no routing header (``X-Forwarded-Host``, ``Forwarded``, ``X-Original-URL`` and
  kin) asks a proxy or framework to route elsewhere;
* the path is read once from the raw URL (percent-decoded once) and has no ``.``/``..``
  segment and no encoded ``/``; a mutating request's path has, once decoded, no ``%XX``
  left (a server decoding twice reads another path), no ``\``, ``;`` or control character;
* no request asks for another method (``X-HTTP-Method-Override`` and kin, or a ``_method``
  query parameter): GET/HEAD/OPTIONS with no body are then reads, and safe;
* any other method must be an operation of the dialect's table (conformance.api) with that
  method: submit, cancel, retry, delete (or a path under one of
  ``policy.extra_mutating_paths``, whole segments, loopback hosts only, e.g. the mock admin
  API);
* every mutating body and query: every phone-number-like run in any string (NFKC-folded, so
  full-width digits count; digits of any script; separators: spaces of any kind, dashes of
  any kind, minus signs and middle dots, ``_ / \ . ( )``; invisible format characters such
  as zero-width spaces are dropped), read as every window of its digit groups of 10-15
  digits (so a real number beside a fictional one is seen), and every integer or integral
  float of 11-15 digits, anywhere in it (keys too; ``whatsapp_params.whatsapp_phone_number_id``
  is skipped when it is exactly ``policy.whatsapp_phone_number_id``, the run's own sender) is
  in the fictional range
  ``+1 NXX 555-0100..0199``; a recipient's ``phone_number`` is exactly that form (a string,
  ASCII digits, nothing around it);
* submit: the body is JSON (duplicate keys refused: a server may read another copy); a body
  that names no one to call (no ``recipients`` array, or no recipient object carrying a phone
  number or WhatsApp id) cannot place a call and is sent as it is (request validation is
  tested live too); otherwise ``call_name`` starts with ``policy.name_prefix``, no recipient
  has a ``whatsapp_user_id`` other than exactly ``1NXX5550100..0199`` (a fictional number's
  digits; any, with ``policy.allow_whatsapp``), and unless
  ``policy.allow_dispatch`` the body has an integer ``scheduled_time_unix`` between
  ``policy.min_schedule_ahead_s`` and ``policy.max_schedule_ahead_s`` after ``policy.clock()``;
  the run's caps ``policy.max_batches`` submits and ``policy.max_recipients`` recipients hold
  (counted when sent, whatever the answer: a timed-out submit may still have created a batch);
* cancel/delete: the batch was created by this run (id read from a 2xx submit response into
  the `Ledger`) or, when ``policy.sweep_prefix`` is set, was seen in a list/get response with a
  name starting with that prefix;
* retry: the batch was created by this run *and* ``policy.allow_dispatch`` (a retry may dial at
  once, whatever the original schedule).

Redirects are never followed: a guarded client has ``follow_redirects=False``, and a request
httpx builds to follow a redirect the transport answered (a client built by hand with
``follow_redirects=True``, or ``follow_redirects=True`` on one request) is refused (rule
``redirect``), so a key is never forwarded to another origin and no id from elsewhere is
recorded as owned.
`explain(request)` answers "would this be refused, and why" without sending or counting.

Caps and ownership live in the `Ledger`; share one ledger between all clients of a run.

Bypass warning: a client's ``mounts=`` (and the proxy mounts that ``proxy=`` creates) are used
*instead of* ``transport=`` for the URLs they match. httpx 0.28 ignores HTTP(S)_PROXY when a
transport is given, but older/newer versions may not. Build clients with `guarded_client`
(``trust_env=False``, no mounts) or check them with `is_guarded`.
"""

from conformance.fictional import FICTIONAL_PHONE, is_fictional_phone
from conformance.safety.numbers import phone_likes, real_numbers
from conformance.safety.policy import (
    LOOPBACK_HOSTS,
    MAX_SCHEDULE_AHEAD_S,
    SUITE_PREFIX,
    Ledger,
    SafetyPolicy,
    UnsafeRequest,
    check_prefix,
    name_prefix,
    new_run_id,
)
from conformance.safety.transport import (
    AsyncSafetyTransport,
    SafetyTransport,
    guarded_client,
    is_guarded,
)

__all__ = [
    "AsyncSafetyTransport",
    "FICTIONAL_PHONE",
    "LOOPBACK_HOSTS",
    "Ledger",
    "MAX_SCHEDULE_AHEAD_S",
    "SUITE_PREFIX",
    "SafetyPolicy",
    "SafetyTransport",
    "UnsafeRequest",
    "check_prefix",
    "guarded_client",
    "is_fictional_phone",
    "is_guarded",
    "name_prefix",
    "new_run_id",
    "phone_likes",
    "real_numbers",
]
