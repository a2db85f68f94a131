"""A file's media type from its first bytes, never from its name.

The signatures are the formats' own documented magic numbers. A magic-bytes library was
tried first: puremagic 1.30 gives a pcap capture no media type, a pcapng one
`application/octet-stream`, and ranks a plain ZIP archive below fourteen Office formats of
equal confidence, so its answer cannot be held against a contract; the handful of formats
contracts name are matched here instead.
"""

from __future__ import annotations

PCAP = "application/vnd.tcpdump.pcap"
PCAPNG = "application/x-pcapng"
PNG = "image/png"
PDF = "application/pdf"
ZIP = "application/zip"
GZIP = "application/gzip"
JPEG = "image/jpeg"
TEXT = "text/plain"
OCTETS = "application/octet-stream"
# Enough of the start of a file to tell its type (and, for text, to judge the rest by).
HEAD_BYTES = 8192

# libpcap: the magic number 0xa1b2c3d4 (microseconds) or 0xa1b23c4d (nanoseconds), written in
# the capturing host's byte order (draft-ietf-opsawg-pcap, section 4).
_PCAP_MAGICS = (
    bytes.fromhex("a1b2c3d4"),
    bytes.fromhex("d4c3b2a1"),
    bytes.fromhex("a1b23c4d"),
    bytes.fromhex("4d3cb2a1"),
)
# pcapng: a Section Header Block (type 0x0a0d0d0a) whose byte-order magic 0x1a2b3c4d sits at
# offset 8 (draft-ietf-opsawg-pcapng, section 4.1).
_PCAPNG_BLOCK = bytes.fromhex("0a0d0d0a")
_PCAPNG_ORDER = (bytes.fromhex("1a2b3c4d"), bytes.fromhex("4d3c2b1a"))
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"%PDF-", PDF),
    # A local file header, an empty archive's end record, or a spanned archive's marker.
    (b"PK\x03\x04", ZIP),
    (b"PK\x05\x06", ZIP),
    (b"PK\x07\x08", ZIP),
    (b"\x1f\x8b", GZIP),
    (b"\xff\xd8\xff", JPEG),
)


def detect_media_type(head: bytes, *, complete: bool = False) -> str:
    """The media type of a file starting with `head` (`complete`: head is the whole file).

    Text is UTF-8 without NUL or other control characters than tab, line feed, carriage
    return and form feed; a multi-byte character cut by the end of a partial head still counts.
    """
    if head[:4] in _PCAP_MAGICS and len(head) >= 24:
        return PCAP
    if head[:4] == _PCAPNG_BLOCK and head[8:12] in _PCAPNG_ORDER:
        return PCAPNG
    for magic, media_type in _SIGNATURES:
        if head.startswith(magic):
            return media_type
    return TEXT if is_text(head, complete=complete) else OCTETS


def is_text(data: bytes, *, complete: bool = True) -> bool:
    """Whether the bytes are UTF-8 text (a partial chunk may end inside a character)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Only a character cut by the end of a partial chunk is forgiven.
        if complete or exc.start < len(data) - 3 or exc.reason != "unexpected end of data":
            return False
        text = data[: exc.start].decode("utf-8")
    return not any(ord(c) < 32 and c not in "\t\n\r\f" for c in text)
