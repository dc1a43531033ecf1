"""Read a source file into text and write text back as the same bytes: encoding, BOM, newlines.

A file is decoded only when decoding and re-encoding gives back its exact bytes, so everything
outside the holes is rewritten byte for byte. Text keeps its newlines as they are ("\\r\\n" stays
in the str); only inserted text is converted to the file's newline style.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

# Longest first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# git's heuristic for binary content: a NUL byte among the first 8000 bytes.
_BINARY_PROBE = 8000


class Unreadable(Exception):
    """A file that is not processed; the message says why (binary, too large, undecodable)."""


@dataclass(frozen=True)
class Snapshot:
    """What a file held when it was read, to tell whether it changed before it is replaced."""

    size: int
    mtime_ns: int
    sha256: str
    # What the new file must keep; a chmod or chown meanwhile counts as a change too.
    mode: int
    uid: int
    gid: int

    @classmethod
    def of(cls, data: bytes, stat: os.stat_result) -> Snapshot:
        return cls(len(data), stat.st_mtime_ns, hashlib.sha256(data).hexdigest(), stat.st_mode & 0o7777,
                   stat.st_uid, stat.st_gid)


@dataclass(frozen=True)
class TextFile:
    path: Path
    text: str
    encoding: str
    bom: bytes
    newline: str
    snapshot: Snapshot

    def encode(self, text: str) -> bytes:
        """The bytes of `text` in this file's encoding, BOM first; UnicodeEncodeError if it cannot."""
        return self.bom + text.encode(self.encoding)

    def can_encode(self, text: str) -> bool:
        try:
            text.encode(self.encoding)
        except UnicodeEncodeError:
            return False
        return True


def split_bom(data: bytes) -> tuple[bytes, str | None]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return bom, encoding
    return b"", None


def looks_binary(data: bytes) -> bool:
    if b"\0" not in data[:_BINARY_PROBE]:
        return False
    # UTF-16 and UTF-32 text is full of NUL bytes; its BOM says it is text.
    _, encoding = split_bom(data)
    return encoding is None or encoding == "utf-8"


def newline_style(text: str) -> str:
    """The file's most common line ending; "\\n" for a file with none."""
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    best = max((lf, "\n"), (crlf, "\r\n"), (cr, "\r"), key=lambda pair: pair[0])
    return best[1] if best[0] else "\n"


def with_newlines(text: str, newline: str) -> str:
    """`text` with every line ending made `newline`."""
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    return unified if newline == "\n" else unified.replace("\n", newline)


def decode(data: bytes, fallback_encoding: str) -> tuple[str, str, bytes]:
    """(text, encoding, bom): UTF-8 or the BOM's encoding, else `fallback_encoding`."""
    bom, encoding = split_bom(data)
    candidates = [encoding] if encoding else ["utf-8", fallback_encoding]
    body = data[len(bom):]
    for candidate in candidates:
        try:
            text = body.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        # Some codecs map several byte sequences to one character; such a file cannot be
        # rewritten byte for byte, so it is not decoded with that codec at all.
        if text.encode(candidate) == body:
            return text, candidate, bom
    raise Unreadable(f"not valid {' or '.join(candidates)}; name its encoding with --encoding")


def read(path: Path, *, max_bytes: int, fallback_encoding: str = "latin-1") -> TextFile:
    """Read and decode `path`; Unreadable for binary, oversized or undecodable files."""
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        if stat.st_size > max_bytes:
            raise Unreadable(f"larger than {max_bytes} bytes ({stat.st_size}); raise --max-bytes to include it")
        data = handle.read()
    if looks_binary(data):
        raise Unreadable("binary file")
    text, encoding, bom = decode(data, fallback_encoding)
    return TextFile(path, text, encoding, bom, newline_style(text), Snapshot.of(data, stat))
