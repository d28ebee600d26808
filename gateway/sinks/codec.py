"""Binary form of a batch in the spool: a JSON header (signal declarations, text values) and
column arrays (signal index, time in microseconds, value, quality), with a CRC."""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from datetime import UTC, datetime, timedelta

import orjson

from gateway.records import Record, SignalSpec

MAGIC = b"MESSPL01"
_HEAD = struct.Struct("<8sIII")  # magic, header length, rows, crc32 of everything after
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_NULL, _NUMBER, _TEXT = 0, 1, 2


class SpoolFormatError(ValueError):
    """A spool file is truncated or corrupt."""


def _micros(ts: datetime) -> int:
    return (ts - EPOCH) // _US


def encode(records: list[Record], specs: dict[str, SignalSpec]) -> bytes:
    """Serialise records (with the declarations of their signals).

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    >>> rs = [Record("a", t, t, 1.5, 0), Record("b", None, t, "x", -32768),
    ...       Record("a", t, t, None, 3)]
    >>> back, _ = decode(encode(rs, {}))
    >>> [(r.signal, r.ts, r.value, r.quality) for r in back] == [
    ...     (r.signal, r.ts, r.value, r.quality) for r in rs]
    True
    """
    index: dict[str, int] = {}
    sig = array("I")
    ts = array("q")
    val = array("d")
    qual = array("h")
    kind = bytearray()
    texts: list[str] = []
    for record in records:
        n = index.get(record.signal)
        if n is None:
            n = index[record.signal] = len(index)
        sig.append(n)
        ts.append(_micros(record.ts))
        qual.append(record.quality)
        value = record.value
        if value is None:
            kind.append(_NULL)
            val.append(0.0)
        elif isinstance(value, str):
            kind.append(_TEXT)
            val.append(float(len(texts)))
            texts.append(value)
        else:
            kind.append(_NUMBER)
            val.append(value)
    header = orjson.dumps(
        {
            "signals": [
                specs[key].row() if key in specs else {"key": key, "name": key} for key in index
            ],
            "texts": texts,
        }
    )
    if sys.byteorder != "little":  # pragma: no cover - the file format is little-endian
        for column in (sig, ts, val, qual):
            column.byteswap()
    body = header + sig.tobytes() + ts.tobytes() + val.tobytes() + qual.tobytes() + bytes(kind)
    return _HEAD.pack(MAGIC, len(header), len(records), zlib.crc32(body)) + body


def decode(data: bytes) -> tuple[list[Record], list[SignalSpec]]:
    """Inverse of `encode`; SpoolFormatError when the bytes are not a whole batch."""
    if len(data) < _HEAD.size:
        raise SpoolFormatError("truncated header")
    magic, header_len, rows, crc = _HEAD.unpack_from(data)
    body = memoryview(data)[_HEAD.size :]
    if magic != MAGIC:
        raise SpoolFormatError("not a spool batch")
    if len(body) != header_len + rows * (4 + 8 + 8 + 2 + 1):
        raise SpoolFormatError("truncated batch")
    if zlib.crc32(body) != crc:
        raise SpoolFormatError("checksum mismatch")
    header = orjson.loads(bytes(body[:header_len]))
    specs = [SignalSpec.from_row(row) for row in header["signals"]]
    texts: list[str] = header["texts"]
    pos = header_len
    columns = []
    for code, size in (("I", 4), ("q", 8), ("d", 8), ("h", 2)):
        column = array(code)
        column.frombytes(body[pos : pos + rows * size])
        if sys.byteorder != "little":  # pragma: no cover
            column.byteswap()
        columns.append(column)
        pos += rows * size
    kinds = bytes(body[pos : pos + rows])
    sig, ts, val, qual = columns
    keys = [spec.key for spec in specs]
    records = []
    for i in range(rows):
        k = kinds[i]
        value: float | str | None = (
            val[i] if k == _NUMBER else texts[int(val[i])] if k == _TEXT else None
        )
        when = EPOCH + timedelta(microseconds=ts[i])
        records.append(Record(keys[sig[i]], when, when, value, qual[i]))
    return records, specs
