"""Largest-Triangle-Three-Buckets downsampling: keeps the visual shape of a series in n points."""

from __future__ import annotations

from collections.abc import Sequence


def lttb(points: Sequence[tuple[float, float]], threshold: int) -> list[tuple[float, float]]:
    """Downsample (x, y) points, sorted by x, to at most `threshold` points.

    The first and last points are kept; each bucket in between contributes the point forming the
    largest triangle with the previously chosen point and the next bucket's average.

    >>> lttb([(0, 0), (1, 5), (2, 0), (3, 0), (4, 0)], 3)
    [(0, 0), (1, 5), (4, 0)]
    >>> lttb([(0, 1), (1, 2)], 10)
    [(0, 1), (1, 2)]
    """
    n = len(points)
    if threshold >= n:
        return list(points)
    if threshold < 3:
        raise ValueError("lttb needs a threshold of at least 3 points")
    sampled = [points[0]]
    every = (n - 2) / (threshold - 2)
    a = 0
    for i in range(threshold - 2):
        start = int(i * every) + 1
        end = int((i + 1) * every) + 1
        next_start = end
        next_end = min(int((i + 2) * every) + 1, n)
        if next_start >= n - 1:
            avg_x, avg_y = points[-1]
        else:
            span = points[next_start:next_end]
            avg_x = sum(p[0] for p in span) / len(span)
            avg_y = sum(p[1] for p in span) / len(span)
        ax, ay = points[a]
        best, best_area = start, -1.0
        for j in range(start, min(end, n - 1)):
            x, y = points[j]
            area = abs((ax - avg_x) * (y - ay) - (ax - x) * (avg_y - ay))
            if area > best_area:
                best, best_area = j, area
        sampled.append(points[best])
        a = best
    sampled.append(points[-1])
    return sampled
