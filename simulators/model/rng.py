"""Independent, reproducible random streams: one per (seed, purpose, machine, ...).

Streams are derived by hashing, so adding a machine or a failure mode does not shift the
draws of the others, and Python's per-process hash randomisation plays no part.

>>> stream(42, "noise", "CNC-101").random() == stream(42, "noise", "CNC-101").random()
True
>>> stream(42, "noise", "CNC-101").random() == stream(43, "noise", "CNC-101").random()
False
"""

from __future__ import annotations

import hashlib
import random


def stream(seed: int, *names: str | int) -> random.Random:
    """A `random.Random` seeded from `seed` and the names."""
    material = "\x1f".join([str(seed), *map(str, names)]).encode()
    return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:16], "big"))
