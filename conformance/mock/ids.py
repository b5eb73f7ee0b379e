"""Identifiers and list cursors of the mock (formats chosen by `choices.id_format` and
`choices.cursor_format`).

Batch ids are digests of the server's seed and a sequence number: deterministic (same seed,
same inputs, same ids) and revealing nothing. List cursors are opaque and bound to one
workspace: the position they carry is encrypted with a key derived from the seed and the
workspace (a 4-round Feistel permutation over 16 bytes, half of which must decrypt to zero),
so a cursor cannot be forged, read, or replayed in another workspace, and one workspace
cannot count another's batches.
"""

from __future__ import annotations

import base64
import hashlib
import re

_HEX_ID = re.compile(r"btcal_[0-9a-f]{24}")
_UUID_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def digest(*parts, size: int = 12) -> str:
    return hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=size).hexdigest()


def batch_id(fmt: str, seed: str, seq: int) -> str:
    if fmt == "uuid":
        h = digest(seed, "batch", seq, size=16)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    return "btcal_" + digest(seed, "batch", seq)


def well_formed_id(fmt: str, value: str) -> bool:
    """Whether `value` has the shape of this server's batch ids (`malformed_id_status`)."""
    return (_UUID_ID if fmt == "uuid" else _HEX_ID).fullmatch(value) is not None


class InvalidCursorText(ValueError):
    pass


class Cursors:
    """Encodes list positions as opaque per-workspace cursors."""

    def __init__(self, seed: str, fmt: str = "base64url") -> None:
        self.seed = seed
        self.fmt = fmt

    def _keys(self, workspace: str) -> list[bytes]:
        return [hashlib.blake2b(f"{self.seed}/cursor/{workspace}/{r}".encode(),
                                digest_size=16).digest() for r in range(4)]

    @staticmethod
    def _round(key: bytes, half: bytes) -> bytes:
        return hashlib.blake2b(half, key=key, digest_size=8).digest()

    def encode(self, workspace: str, position: int) -> str:
        left, right = position.to_bytes(8, "big"), bytes(8)
        for key in self._keys(workspace):
            left, right = right, bytes(a ^ b for a, b in zip(left, self._round(key, right),
                                                             strict=True))
        raw = left + right
        if self.fmt == "hex":
            return raw.hex()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, workspace: str, cursor: str) -> int:
        try:
            if self.fmt == "hex":
                if len(cursor) != 32:
                    raise ValueError
                raw = bytes.fromhex(cursor)
            else:
                if len(cursor) != 22 or not cursor.isascii():
                    raise ValueError
                raw = base64.urlsafe_b64decode(cursor + "==")
            if len(raw) != 16:
                raise ValueError
        except ValueError:
            raise InvalidCursorText(cursor) from None
        left, right = raw[:8], raw[8:]
        for key in reversed(self._keys(workspace)):
            left, right = bytes(a ^ b for a, b in zip(right, self._round(key, left),
                                                      strict=True)), left
        if right != bytes(8):
            raise InvalidCursorText(cursor)
        return int.from_bytes(left, "big")
