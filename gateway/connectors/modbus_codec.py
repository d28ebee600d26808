"""Pure Modbus helpers: merging tags into block reads, and decoding registers into values."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

FORMATS = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q",
           "uint64": "Q", "float32": "f", "float64": "d"}  # fmt: skip
FAST = {name: struct.Struct(">" + code) for name, code in FORMATS.items()}
BIT_TABLES = ("coil", "discrete")
MAX_BITS = 2000  # Modbus limit for one coil/discrete read


@dataclass(frozen=True)
class Point:
    """A tag reduced to what reading and decoding need."""

    key: str
    table: str
    address: int
    size: int  # registers (or bits)
    type: str
    byte_order: str = "big"
    word_order: str = "big"
    scale: float = 1.0
    offset: float = 0.0
    bit: int | None = None
    encoding: str = "ascii"

    @property
    def plain(self) -> bool:
        """Big-endian bytes and words: decodable straight from the block's bytes."""
        return self.byte_order == "big" and self.word_order == "big"


@dataclass(frozen=True)
class Block:
    """One read request: `count` registers (or bits) from `address` in `table`."""

    table: str
    address: int
    count: int
    points: tuple[Point, ...]


def plan_blocks(points: Sequence[Point], *, max_gap: int, max_block: int = 125) -> list[Block]:
    """Merge points into as few reads as possible: contiguous (or up to `max_gap` apart) points
    of one table share a read of at most `max_block` registers (2000 bits for coils).

    >>> pts = [Point("a", "holding", 0, 2, "float32"), Point("b", "holding", 2, 1, "int16"),
    ...        Point("c", "holding", 10, 1, "int16"), Point("d", "input", 0, 1, "int16")]
    >>> [(b.table, b.address, b.count, len(b.points)) for b in plan_blocks(pts, max_gap=0)]
    [('holding', 0, 3, 2), ('holding', 10, 1, 1), ('input', 0, 1, 1)]
    >>> [(b.address, b.count) for b in plan_blocks(pts, max_gap=8) if b.table == "holding"]
    [(0, 11)]
    >>> [(b.address, b.count) for b in plan_blocks(
    ...     [Point(str(n), "holding", n * 2, 2, "float32") for n in range(100)], max_gap=0)]
    [(0, 124), (124, 76)]
    """
    blocks: list[Block] = []
    for table in sorted({p.table for p in points}):
        limit = MAX_BITS if table in BIT_TABLES else max_block
        ordered = sorted((p for p in points if p.table == table), key=lambda p: p.address)
        start = end = -1
        members: list[Point] = []
        for point in ordered:
            point_end = point.address + point.size
            if members and point.address - end <= max_gap and point_end - start <= limit:
                end = max(end, point_end)
                members.append(point)
                continue
            if members:
                blocks.append(Block(table, start, end - start, tuple(members)))
            start, end, members = point.address, point_end, [point]
        if members:
            blocks.append(Block(table, start, end - start, tuple(members)))
    return blocks


@dataclass(frozen=True)
class Columnar:
    """A block of plain 16-bit integers (one register each, no scale or offset, one signedness):
    decoded all at once instead of point by point."""

    keys: tuple[str, ...]
    offsets: tuple[int, ...]  # register offsets in the block
    signed: bool

    def values(self, registers: Sequence[int]) -> list[float]:
        """The points' values, in `keys` order.

        >>> c = columnar(Block("holding", 0, 3, (Point("a", "holding", 0, 1, "int16"),
        ...                                        Point("b", "holding", 2, 1, "int16"))))
        >>> c.values([1, 99, 0xFFFF])
        [1.0, -1.0]
        """
        if self.signed:
            n = len(registers)
            registers = struct.unpack(f">{n}h", struct.pack(f">{n}H", *registers))
        return [float(registers[n]) for n in self.offsets]


def columnar(block: Block) -> Columnar | None:
    """The columnar plan of `block`, or None when a point needs the general decoder.

    >>> columnar(Block("holding", 0, 2, (Point("a", "holding", 0, 1, "uint16"),
    ...                                  Point("b", "holding", 1, 1, "uint16", scale=0.1))))
    >>> columnar(Block("holding", 5, 2, (Point("a", "holding", 5, 1, "uint16"),
    ...                                  Point("b", "holding", 6, 1, "uint16")))).offsets
    (0, 1)
    """
    types = {p.type for p in block.points}
    if block.table in BIT_TABLES or len(types) != 1 or not types <= {"uint16", "int16"}:
        return None
    for p in block.points:
        if p.size != 1 or not p.plain or p.scale != 1.0 or p.offset != 0.0:
            return None
    return Columnar(
        keys=tuple(p.key for p in block.points),
        offsets=tuple(p.address - block.address for p in block.points),
        signed=types == {"int16"},
    )


def registers_to_bytes(registers: Sequence[int], *, byte_order: str, word_order: str) -> bytes:
    """Registers as the bytes of one big-endian value (after applying the device's orders).

    >>> registers_to_bytes([0x0102, 0x0304], byte_order="big", word_order="big").hex()
    '01020304'
    >>> registers_to_bytes([0x0102, 0x0304], byte_order="big", word_order="little").hex()
    '03040102'
    >>> registers_to_bytes([0x0102, 0x0304], byte_order="little", word_order="little").hex()
    '04030201'
    """
    words = list(registers) if word_order == "big" else list(reversed(registers))
    out = bytearray()
    for word in words:
        hi, lo = (word >> 8) & 0xFF, word & 0xFF
        out += bytes((hi, lo)) if byte_order == "big" else bytes((lo, hi))
    return bytes(out)


def decode(point: Point, registers: Sequence[int]) -> float | str:
    """The value of `point` from its registers (scale and offset applied to numbers).

    >>> decode(Point("t", "holding", 0, 2, "float32"), [0x41C8, 0x0000])
    25.0
    >>> decode(Point("t", "holding", 0, 2, "int32", word_order="little"), [0xFFFE, 0xFFFF])
    -2.0
    >>> decode(Point("t", "holding", 0, 1, "uint16", scale=0.1, offset=-10), [1234])
    113.4
    >>> decode(Point("t", "holding", 0, 3, "string"), [0x4142, 0x4300, 0])
    'ABC'
    >>> decode(Point("t", "holding", 0, 1, "bool", bit=3), [0b1000])
    1.0
    """
    if point.type == "string":
        raw = registers_to_bytes(registers, byte_order=point.byte_order, word_order="big")
        return raw.split(b"\0", 1)[0].decode(point.encoding, errors="replace").rstrip()
    if point.type == "bool":
        word = registers[0]
        on = bool((word >> point.bit) & 1) if point.bit is not None else word != 0
        return 1.0 if on else 0.0
    raw = registers_to_bytes(registers, byte_order=point.byte_order, word_order=point.word_order)
    number = struct.unpack(">" + FORMATS[point.type], raw)[0]
    value = float(number) * point.scale + point.offset
    if point.scale != 1.0 or point.offset != 0.0:
        value = round(value, 12)
    return value
