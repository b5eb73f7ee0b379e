"""Post-call webhooks of batch calls: signing, events, delivery, and checking a receiver.

Modules, one job each: `signing` (the ElevenLabs-Signature header), `events` (payloads and
their validation against the spec's `webhooks:`), `delivery` (queue, retries, log, senders),
`receiver` (a loopback receiver that records what arrives), `check` (the `webhook-check`
deliveries and their verdicts), `cli` (the `conformance webhook-check` subcommand).
"""

from conformance.fictional import fingerprint
from conformance.webhooks.signing import HEADER, TOLERANCE_SECS, SignatureError, sign, verify

__all__ = ["HEADER", "TOLERANCE_SECS", "SignatureError", "fingerprint", "sign", "verify"]
