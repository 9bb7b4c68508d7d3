"""Bytes of a text document to `str`: the one decoder every text format's reader uses.

Its own module so that a reader in its own file can use it without importing the loaders, which
import the readers to register them.
"""

from __future__ import annotations

from charset_normalizer import from_bytes

from ragqa.errors import DocumentError

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def decode_text(data: bytes, name: str) -> str:
    """Text of `data`: BOM, else strict UTF-8, else GB18030 or Big5, else charset detection.

    Short Chinese text fools general detectors, so UTF-8 is tried strictly first; when both
    GB18030 and Big5 decode the bytes cleanly, charset-normalizer chooses between just those two.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    chinese: list[str] = []
    for encoding in ("gb18030", "big5"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        chinese.append(encoding)
    if len(chinese) == 1:
        return data.decode(chinese[0])
    best = from_bytes(data, cp_isolation=chinese or None).best()
    if best is None:
        raise DocumentError(
            name, "undecodable text: not UTF-8, GB18030, Big5 or a detectable encoding"
        )
    return str(best)
