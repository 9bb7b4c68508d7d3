"""Reading documents (files of the collection, or uploaded bytes) into cleaned `Document`s.

The type is decided by the bytes first (PDF magic, a zip holding ``word/document.xml``, HTML
markup) and by the file name second, so a mislabelled file is either read as what it really is or
refused with the list of supported types. Every limit is checked before the expensive parse: a
document bomb fails with a `DocumentError` naming the file, it does not exhaust the machine.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from enum import Enum
from pathlib import Path, PurePosixPath

from charset_normalizer import from_bytes

from index import clean
from index.documents import Document, DocumentMeta
from index.textnorm import detect_text_language
from ragqa.errors import ConfigError, DocumentError, DocumentTooLarge, UnsupportedDocumentType


class DocumentKind(Enum):
    """The formats ragqa reads."""

    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"
    PDF = "pdf"
    DOCX = "docx"


KIND_BY_SUFFIX: dict[str, DocumentKind] = {
    ".txt": DocumentKind.TEXT,
    ".text": DocumentKind.TEXT,
    ".md": DocumentKind.MARKDOWN,
    ".markdown": DocumentKind.MARKDOWN,
    ".html": DocumentKind.HTML,
    ".htm": DocumentKind.HTML,
    ".pdf": DocumentKind.PDF,
    ".docx": DocumentKind.DOCX,
}
SUPPORTED_SUFFIXES = tuple(sorted(KIND_BY_SUFFIX))  # the one list: loaders, uploads, messages
SUPPORTED_TYPES = ", ".join(SUPPORTED_SUFFIXES)

# Limits on what a small file may expand into (a 10 MiB upload can hold gigabytes compressed).
MAX_EXPANDED_BYTES = 64 * 1024 * 1024
MAX_ZIP_ENTRIES = 2000
MAX_PDF_PAGES = 2000
MAX_TEXT_CHARS = 20_000_000

_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
_DOCX_BODY = "word/document.xml"
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_HTML_DOCUMENT = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_HTML_DROPPED = "script, style, noscript, template, nav, header, footer, aside, form, iframe, svg"
_HTML_BLOCKS = (
    "p, div, br, li, ul, ol, dl, dt, dd, h1, h2, h3, h4, h5, h6, tr, table, section, article, "
    "main, blockquote, pre, figure, figcaption, hr, address, caption"
)
_BLOCK_BREAK = "\ue000"  # private-use marker: survives whitespace folding, becomes a line break
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+", re.M)


def _unsupported(name: str, what: str) -> UnsupportedDocumentType:
    return UnsupportedDocumentType(name, f"{what}; supported types: {SUPPORTED_TYPES}")


def _sniff_kind(data: bytes, filename: str, name: str) -> DocumentKind:
    """The kind of `data`, from its content first and its `filename` second (errors say `name`)."""
    suffix = PurePosixPath(filename).suffix.lower()
    named = KIND_BY_SUFFIX.get(suffix)
    if _PDF_MAGIC in data[:1024]:
        return DocumentKind.PDF
    if data.startswith(_ZIP_MAGIC):
        if _zip_has(data, _DOCX_BODY):
            return DocumentKind.DOCX
        raise _unsupported(name, f"zip archive without {_DOCX_BODY}, so not a .docx")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _unsupported(name, "binary content of an unknown type")
    if named in (DocumentKind.PDF, DocumentKind.DOCX):
        raise _unsupported(name, f"named {suffix} but the content is not a {suffix} file")
    if named is None and suffix:
        raise _unsupported(name, f"unsupported file type {suffix!r}")
    if named is DocumentKind.HTML or _HTML_DOCUMENT.match(data[:4096]):
        return DocumentKind.HTML
    return named or DocumentKind.TEXT


def _zip_has(data: bytes, member: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return member in archive.namelist()
    except zipfile.BadZipFile:
        return False


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


def _html_text_and_meta(html: str) -> tuple[str, DocumentMeta]:
    """Visible text of a page (one block element per line) and the metadata its head declares."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)

    def meta_content(*selectors: str) -> str:
        for selector in selectors:
            node = tree.css_first(selector)
            value = node.attributes.get("content") if node is not None else None
            if value and value.strip():
                return value.strip()
        return ""

    heading = tree.css_first("h1")
    page_title = tree.css_first("title")
    title = (
        meta_content('meta[property="og:title"]', 'meta[name="twitter:title"]')
        or (heading.text(strip=True) if heading is not None else "")
        or (page_title.text(strip=True) if page_title is not None else "")
    )
    time_node = tree.css_first("time[datetime]")
    date = clean.parse_date(
        meta_content(
            'meta[property="article:published_time"]',
            'meta[name="pubdate"]',
            'meta[name="publishdate"]',
            'meta[name="date"]',
            'meta[name="DC.date"]',
            'meta[name="citation_publication_date"]',
        )
        or (time_node.attributes.get("datetime") or "" if time_node is not None else "")
    )
    canonical = tree.css_first('link[rel="canonical"]')
    url = meta_content('meta[property="og:url"]') or (
        (canonical.attributes.get("href") or "") if canonical is not None else ""
    )

    for node in tree.css(_HTML_DROPPED):
        node.decompose()
    for node in tree.css(_HTML_BLOCKS):
        node.insert_before(_BLOCK_BREAK)
        node.insert_after(_BLOCK_BREAK)
    root = tree.body or tree.root
    raw = root.text(deep=True, separator="", strip=False) if root is not None else ""
    # Source line breaks are just spaces in HTML; each run of block edges is one line break.
    text = re.sub(r"\s+", " ", raw)
    text = re.sub(rf" ?{_BLOCK_BREAK}[ {_BLOCK_BREAK}]*", "\n", text)
    return text, DocumentMeta(title=title, date=date, url=url)


def _check_zip_expansion(data: bytes, name: str) -> None:
    """Refuse a .docx whose parts would expand past `MAX_EXPANDED_BYTES` (a zip bomb)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise DocumentError(name, f"docx has {len(entries)} parts, over {MAX_ZIP_ENTRIES}")
        body = archive.getinfo(_DOCX_BODY).file_size
        total = sum(entry.file_size for entry in entries)
        if body > MAX_EXPANDED_BYTES or total > MAX_EXPANDED_BYTES:
            raise DocumentError(
                name,
                f"docx expands to {max(body, total)} bytes, over the limit of {MAX_EXPANDED_BYTES}"
                " (zip bomb?)",
            )


def _docx_text(data: bytes, name: str) -> tuple[str, DocumentMeta]:
    """Paragraphs and table rows of a .docx in document order, and its core-properties title."""
    import docx
    from docx.table import Table

    _check_zip_expansion(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises bare KeyError/ValueError on broken packages
        raise DocumentError(name, f"unreadable .docx: {error}") from error
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(" ".join(cell.text for cell in row.cells) for row in block.rows)
        else:
            lines.append(block.text)
    title = (document.core_properties.title or "").strip()
    return "\n".join(lines), DocumentMeta(title=title)


def _pdf_text(data: bytes, name: str) -> tuple[str, DocumentMeta]:
    """Text of every page of a PDF, with pypdf's decompression limits and a page/size budget."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(name, "encrypted PDF: a password is needed to read it")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise DocumentError(name, f"PDF has {len(reader.pages)} pages, over {MAX_PDF_PAGES}")
        pages: list[str] = []
        size = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            size += len(text)
            if size > MAX_TEXT_CHARS:
                raise DocumentError(name, f"PDF text is over {MAX_TEXT_CHARS} characters")
            pages.append(text)
        title = ((reader.metadata.title if reader.metadata is not None else None) or "").strip()
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as error:
        raise DocumentError(name, f"unreadable PDF: {type(error).__name__}: {error}") from error
    return "\n\n".join(pages), DocumentMeta(title=title)


def _raw_text_and_meta(data: bytes, kind: DocumentKind, name: str) -> tuple[str, DocumentMeta]:
    """Uncleaned text of `data` and the metadata the format itself declares."""
    if kind is DocumentKind.PDF:
        return _pdf_text(data, name)
    if kind is DocumentKind.DOCX:
        return _docx_text(data, name)
    text = decode_text(data, name)
    if kind is DocumentKind.HTML:
        return _html_text_and_meta(text)
    if kind is DocumentKind.MARKDOWN:
        return _MARKDOWN_HEADING.sub("", text), DocumentMeta()
    return text, DocumentMeta()


def _merge_meta(declared: DocumentMeta, found: DocumentMeta) -> DocumentMeta:
    """Metadata the format declares wins over what was read off the text."""
    return DocumentMeta(
        title=declared.title or found.title,
        date=declared.date or found.date,
        source=declared.source or found.source,
        url=declared.url or found.url,
    )


def load_bytes(
    data: bytes, *, doc_id: str, filename: str, max_bytes: int | None = None
) -> Document:
    """A cleaned `Document` from the bytes of a file (an upload, or a file read from disk)."""
    if max_bytes is not None and len(data) > max_bytes:
        raise DocumentTooLarge(doc_id, f"{len(data)} bytes, over the limit of {max_bytes}")
    kind = _sniff_kind(data, filename, doc_id)
    raw, declared = _raw_text_and_meta(data, kind, doc_id)
    text = clean.clean_text(raw)
    if not text:
        raise DocumentError(doc_id, "empty")
    meta = _merge_meta(declared, clean.extract_metadata(raw, filename=filename))
    if declared.title and declared.title not in text[: len(declared.title) + 200]:
        text = f"{declared.title}\n\n{text}"  # the title is searchable like the body
    return Document(
        doc_id=doc_id,
        text=text,
        meta=meta,
        content_hash=hashlib.sha256(data).hexdigest(),
        language=detect_text_language(text),
    )


def load_document(path: Path, *, doc_id: str, max_bytes: int) -> Document:
    """A cleaned `Document` from a file, refused before reading when it is over `max_bytes`."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentTooLarge(doc_id, f"{size} bytes, over the limit of {max_bytes}")
        data = path.read_bytes()
    except OSError as error:
        raise DocumentError(doc_id, f"cannot read: {error.strerror or error}") from error
    return load_bytes(data, doc_id=doc_id, filename=path.name, max_bytes=max_bytes)


def iter_collection(root: Path) -> Iterator[tuple[str, Path]]:
    """(doc id, path) of each non-hidden file under `root`, sorted; ids are relative POSIX paths."""
    if not root.is_dir():
        raise ConfigError(f"collection folder {root} does not exist or is not a folder")
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        found.append((relative.as_posix(), path))
    yield from sorted(found)


def load_collection(root: Path, max_bytes: int) -> tuple[list[Document], list[DocumentError]]:
    """Every loadable document under `root`, and an error (path and reason) per file that is not."""
    documents: list[Document] = []
    errors: list[DocumentError] = []
    for doc_id, path in iter_collection(root):
        try:
            documents.append(load_document(path, doc_id=doc_id, max_bytes=max_bytes))
        except DocumentError as error:
            errors.append(error)
    return documents, errors
