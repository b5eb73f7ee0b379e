"""Stateful mock of batch-calling APIs (ElevenLabs Agents and look-alikes). See README.md."""

from conformance.mock.app import create_app
from conformance.mock.clock import ManualClock, WallClock
from conformance.mock.faults import FAULTS, Fault, UnknownFault
from conformance.mock.outcomes import NUMBERS
from conformance.mock.parts import DEFAULT_KEYS, MAX_BODY_BYTES
from conformance.mock.store import Store

__all__ = ["DEFAULT_KEYS", "FAULTS", "Fault", "MAX_BODY_BYTES", "ManualClock", "NUMBERS",
           "Store", "UnknownFault", "WallClock", "create_app"]
