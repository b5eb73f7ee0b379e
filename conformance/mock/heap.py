"""Keeping CPython's cyclic garbage collector off the served mock's long-lived store.

Every stored recipient is a container object the collector tracks. A served mock under a
submit load stores ~100,000 of them a second, and each full (oldest-generation)
collection walks all of them: that walk was the submit p99 of 200+ ms
(benchmarks/README.md). The store's records hold no reference cycles (a deleted batch is
freed by reference counting alone, frozen or not), so they never need the collector.

`HeapPolicy` freezes the heap (`gc.freeze()`: move every tracked object to the permanent
generation, which collections do not walk) once after start-up, and again after every
`every` recipients stored, each time after a full collection of what is not yet frozen (so
no cyclic garbage is ever frozen; that collection walks only what arrived since the last
freeze). Collections then cost what the young objects of the last few requests cost.

Served mock only (`python -m conformance.mock`, `--no-gc-freeze` turns it off): it changes
the whole process's collector, which a test process should not have done to it.
"""

from __future__ import annotations

import gc

#: Recipients stored between two freezes: a collection of what arrived since the last one
#: walks about this many records (about 2 ms on the benchmark machine).
FREEZE_EVERY = 20_000


class HeapPolicy:
    def __init__(self, store, every: int = FREEZE_EVERY) -> None:
        self.every = every
        self.pending = 0
        self.freezes = 0
        store.after_submit.append(self.stored)

    def freeze(self) -> None:
        gc.collect()
        gc.freeze()
        self.freezes += 1
        self.pending = 0

    def stored(self, batch) -> None:
        self.pending += batch.scheduled + 1
        if self.pending >= self.every:
            self.freeze()
