"""Quality codes: the upper 16 bits of an OPC UA StatusCode as a signed smallint (docs/adr/0003).

0 is Good, positive values are Uncertain, negative values are Bad; the sub-code is kept.
"""

from __future__ import annotations

GOOD = 0
UNCERTAIN = 0x4000  # Uncertain (generic)
BAD = -0x8000  # Bad (generic, 0x80000000)


def from_status_code(code: int | None) -> int:
    """Quality for a full 32-bit OPC UA StatusCode (None means Good).

    >>> from_status_code(0)
    0
    >>> from_status_code(0x80310000)  # BadNoCommunication
    -32719
    >>> from_status_code(0x40920000)  # UncertainSubstituteValue... upper half kept
    16530
    >>> from_status_code(None)
    0
    """
    if not code:
        return GOOD
    upper = (int(code) >> 16) & 0xFFFF
    return upper - 0x10000 if upper >= 0x8000 else upper


def to_status_code(quality: int) -> int:
    """The 32-bit StatusCode (info bits zero) a quality stands for.

    >>> hex(to_status_code(-32719))
    '0x80310000'
    """
    return (quality & 0xFFFF) << 16


def severity(quality: int) -> str:
    """'good', 'uncertain' or 'bad'.

    >>> [severity(q) for q in (0, 16384, -32768)]
    ['good', 'uncertain', 'bad']
    """
    if quality < 0:
        return "bad"
    return "uncertain" if quality > 0 else "good"


# Codes the gateway itself produces (upper halves of the OPC UA StatusCodes of the same name).
BAD_NO_COMMUNICATION = from_status_code(0x80310000)  # device link lost
BAD_COMMUNICATION_ERROR = from_status_code(0x80050000)  # a read failed on a live link
BAD_CONFIGURATION_ERROR = from_status_code(0x80890000)  # e.g. Modbus illegal address
BAD_TYPE_MISMATCH = from_status_code(0x80740000)  # value cannot be decoded as configured
BAD_OUT_OF_SERVICE = from_status_code(0x808D0000)  # device reports itself offline


def from_text(text: str) -> int | None:
    """Quality for a word as devices publish it ('good', 'uncertain', 'bad', OPC UA names).

    >>> from_text("good"), from_text("Uncertain"), from_text("BAD")
    (0, 16384, -32768)
    >>> from_text("BadNoCommunication")
    -32719
    >>> from_text("wobbly") is None
    True
    """
    word = text.strip().lower()
    if word in _WORDS:
        return _WORDS[word]
    return None


_WORDS = {
    "good": GOOD,
    "ok": GOOD,
    "uncertain": UNCERTAIN,
    "bad": BAD,
    "badnocommunication": BAD_NO_COMMUNICATION,
    "badcommunicationerror": BAD_COMMUNICATION_ERROR,
    "badconfigurationerror": BAD_CONFIGURATION_ERROR,
    "badoutofservice": BAD_OUT_OF_SERVICE,
    "badsensorfailure": from_status_code(0x808B0000),
    "baddevicefailure": from_status_code(0x808C0000),
    "uncertainlastusablevalue": from_status_code(0x40900000),
    "uncertainsensornotaccurate": from_status_code(0x40930000),
}
