"""Exponential reconnect delays with jitter."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from `initial` up to `maximum`, each jittered by +-20%.

    >>> b = Backoff(initial=1.0, maximum=5.0, jitter=0.0)
    >>> [b.next() for _ in range(5)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    >>> b.reset(); b.next()
    1.0
    """

    def __init__(self, *, initial: float, maximum: float, jitter: float = 0.2) -> None:
        self.initial = initial
        self.maximum = max(maximum, initial)
        self.jitter = jitter
        self._current = initial

    def next(self) -> float:
        """The delay before the next attempt."""
        delay = self._current
        self._current = min(self._current * 2, self.maximum)
        if self.jitter:
            delay *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return delay

    def reset(self) -> None:
        """Back to the initial delay (after a link that stayed up)."""
        self._current = self.initial
