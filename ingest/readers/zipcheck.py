"""Zip bombs: check a zip-based file (a Word .docx) against the limits before a parser opens it.

A 3.4 MB .docx inflated to 6.1 GB of memory in 13 s, and a 136 KB one of 64 MB of empty
paragraphs took 2.9 GB: python-docx reads every part it is led to into memory, and lxml and
python-docx's paragraph objects take about 350 bytes per XML tag. So before python-docx
opens a file:

1. The central directory's sizes (nothing inflated yet): all members together within
   `max_inflated_mb`, and the archive at most `MAX_RATIO` times smaller than that (python-docx's
   empty document inflates 23 times, a 3,600-page one 10; a bomb up to 1,000).
2. Each member inflated here, a megabyte at a time and thrown away, to prove that it inflates
   to no more than its entry declares, and to count the tags of its XML: at most
   `TAGS_PER_MB` per MB of `max_inflated_mb`.

Why 2. is needed, measured on Python 3.11's zipfile: `ZipFile.read` of a member asks zlib for
up to 2 GiB in one call from all of its compressed bytes, then cuts the result to the
member's declared size. A member declaring 8 KB that really inflates to 1 GiB therefore costs
1 GiB at once (2.1 GB peak measured) and then reads as its first 8 KB, whose CRC the forger
can make right, so zipfile never notices. Only deflate and stored members are accepted: Word
writes nothing else, and zipfile inflates bzip2 and LZMA members without any bound on output.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator

from assistant.errors import IngestError
from ingest.limits import Limits, mb

MAX_RATIO = 100
TAGS_PER_MB = 10_000  # a 3,600-page Word report holds 563,000: 2,000,000 at the default 200 MB
_STEP = 1 << 20  # bytes inflated at a time
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a member's local header, before its name and extra field


def check_zip(data: bytes, limits: Limits) -> None:
    """Raise IngestError where the archive `data` would inflate past the limits; BadZipFile
    where it is not a zip."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = z.infolist()
    declared = sum(m.file_size for m in members)
    limits.check_inflated("the archive", declared)
    if declared > MAX_RATIO * max(len(data), 1):
        raise IngestError(f"the archive inflates {declared // max(len(data), 1):,} times over, to "
                          f"{mb(declared)} MB (more than {MAX_RATIO} times is refused as a zip bomb)")
    tags, most = 0, int(limits.inflated_mb * TAGS_PER_MB)
    view = memoryview(data)
    for m in members:
        if m.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise IngestError(f"{m.filename} is compressed with method {m.compress_type}, which Word does "
                              "not use (deflate or none)")
        xml = m.filename.lower().endswith((".xml", ".rels"))
        got = 0
        for piece in _inflate(view, m):
            got += len(piece)
            if got > m.file_size:
                raise IngestError(f"{m.filename} inflates to more than the {m.file_size:,} bytes its zip entry "
                                  "declares: a forged archive, refused")
            if xml:
                tags += piece.count(b"<")
                if tags > most:
                    raise IngestError(f"the archive's XML holds over {most:,} tags, the limit for "
                                      f"max_inflated_mb={limits.inflated_mb:g} ({TAGS_PER_MB:,} per MB)")
            limits.check_time(f"checking {m.filename}")


def _inflate(data: memoryview, m: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's inflated bytes, at most `_STEP` of them at a time."""
    start = m.header_offset
    head = data[start:start + _LOCAL_HEADER.size]
    if len(head) < _LOCAL_HEADER.size or bytes(head[:4]) != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {m.filename}")
    *_, name_len, extra_len = _LOCAL_HEADER.unpack(head)
    start += _LOCAL_HEADER.size + name_len + extra_len
    raw = data[start:start + m.compress_size]
    if m.compress_type == zipfile.ZIP_STORED:
        for i in range(0, len(raw), _STEP):
            yield bytes(raw[i:i + _STEP])
        return
    d = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        for i in range(0, len(raw), _STEP):
            pending: bytes | memoryview = raw[i:i + _STEP]
            while pending and not d.eof:
                yield d.decompress(pending, _STEP)
                pending = d.unconsumed_tail
        yield d.flush()  # what zlib still holds once all input is in: less than its 32 KB window
    except zlib.error as e:
        raise zipfile.BadZipFile(f"{m.filename}: {e}") from None
